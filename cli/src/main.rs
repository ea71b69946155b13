//! `cannonball`: the command-line tool. Runs programs under QEMU with a script
//! (`run`), receives forwarded events (`dump`), and makes scripts (`new`, `build`,
//! `inspect`).

mod build;
mod corpus;
mod dump;
mod forward_signals;
mod inspect;
mod locate;
mod merge_step;
mod new;
mod oci;
mod run;
mod system;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cannonball", version, about = "Instrument programs under QEMU with Wasm scripts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Never ask a registry: a script reference must already be in the component cache.
    #[arg(long, global = true)]
    offline: bool,
    /// Speak plain HTTP to registries that are not on loopback (loopback ones always may).
    #[arg(long, global = true)]
    insecure_registry: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program under QEMU with a script: `cannonball run -s cov.wasm -- ./prog args`.
    Run(run::RunArgs),
    /// Receive forwarded events and print each as a JSON line (optionally running the program).
    Dump(dump::DumpArgs),
    /// Build a script project (Rust, C or AssemblyScript) into one .wasm component.
    Build {
        /// The project directory.
        dir: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
        /// The project's language (default: recognised from its files).
        #[arg(long)]
        lang: Option<build::Lang>,
    },
    /// Create a script project that builds and runs as generated.
    New {
        #[arg(long)]
        lang: build::Lang,
        /// The script's name.
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Combine the directories of corpus runs (shards) into one table and coverage, and with
    /// -s the script's reports through its merge step.
    Merge {
        /// The out directories of `cannonball run --corpus ... --shard I/N` (with -s also
        /// those of single runs).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged corpus.tsv, coverage.blocks and merged reports.
        #[arg(short, long)]
        output: PathBuf,
        /// The script the runs used (a file or a registry reference): its merge step folds
        /// their reports into one set in OUT (a script without one leaves them side by side in
        /// each DIR/runs/).
        #[arg(short, long)]
        script: Option<String>,
    },
    /// Show a script's name, version, arguments, interface version and imported services.
    Inspect {
        /// The script component: a file, or a registry reference HOST/REPO:TAG or @sha256:...
        script: String,
    },
    /// Push a script to an OCI registry as a Wasm artifact and print its digest.
    Publish {
        /// The script component.
        script: PathBuf,
        /// Where to push it: HOST[:PORT]/REPO:TAG.
        reference: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let network = oci::Network { offline: cli.offline, insecure: cli.insecure_registry };
    oci::set_network(network);
    let result: Result<i32> = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Dump(args) => dump::dump(args),
        Command::Build { dir, output, lang } => build::build(&locate::root(), &dir, &output, lang).map(|()| {
            eprintln!("cannonball: built {}", output.display());
            0
        }),
        Command::New { lang, name, dir } => new::new(&locate::root(), lang, &name, dir).map(|dir| {
            eprintln!(
                "cannonball: created {}; build it with `cannonball build {} -o {name}.wasm`",
                dir.display(),
                dir.display()
            );
            0
        }),
        Command::Merge { dirs, output, script } => script
            .as_deref()
            .map(oci::resolve)
            .transpose()
            .and_then(|script| {
                corpus::merge(&dirs, &output, script.as_ref().map(|s| s.path.as_path()))?;
                run::record_origin(&output, script.as_ref())
            })
            .map(|()| 0),
        Command::Inspect { script } => inspect::inspect(&script).map(|()| 0),
        Command::Publish { script, reference } => oci::publish(&script, &reference, network).map(|digest| {
            println!("{digest}");
            0
        }),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("cannonball: error: {err:#}");
            std::process::exit(1);
        }
    }
}
