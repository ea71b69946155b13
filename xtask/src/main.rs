//! `cargo xtask`: the project's commands.
//!
//! - `build`: QEMU (cached), libcannonball.so, every example script, the test programs
//! - `demo`:  builds what is missing and runs a script on the bundled demo program
//! - `test`:  builds, then runs every test
//! - `bench`: capture overhead against plain QEMU and QEMU's C plugins; start-up cost
//! - `gen-as`: the AssemblyScript SDK's canonical-ABI layout from wit/ (`--check`: only verify)

mod bench;
mod build;
mod gen_as;
mod install;
mod preflight;
mod python;
mod run;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Cannonball project commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build QEMU (cached), libcannonball.so, the example scripts and the test programs.
    Build,
    /// Build what is missing, then run the cov and icount scripts on the bundled demo program.
    Demo,
    /// Measure capture overhead on three programs (gzip -9 of text and of compressed data,
    /// sha256sum; ratios to plain QEMU and QEMU's C plugins) and start-up cost on /bin/true
    /// (scripts compiled afresh and cached).
    Bench {
        /// Runs per configuration (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Size of the text input in MB (8 MB: gzip -9 runs about 2 s under plain QEMU).
        #[arg(long, default_value_t = 8)]
        input_mb: usize,
        /// Measure only configurations whose name contains this text (plain QEMU always runs;
        /// `start-up` for the start-up section alone).
        #[arg(long)]
        only: Option<String>,
    },
    /// Build, then install a relocatable copy under a prefix: `PREFIX/bin/cannonball` finds
    /// QEMU, the plugin and the scripts beside itself, wherever PREFIX is later moved or
    /// mounted.
    Install {
        #[arg(long, value_name = "DIR")]
        prefix: std::path::PathBuf,
    },
    /// Build, then run every test (unit and end-to-end).
    Test {
        /// Extra arguments for `cargo test` (a test name filter, `--nocapture`, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Generate the AssemblyScript SDK's canonical-ABI layout (assembly/generated/layout.ts)
    /// from wit/.
    GenAs {
        /// Only check that the checked-in file is up to date.
        #[arg(long)]
        check: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Build => build::all(),
        Command::Demo => run::demo(),
        Command::Test { args } => run::test(&args),
        Command::Bench { runs, input_mb, only } => bench::run(runs, input_mb, only.as_deref()),
        Command::GenAs { check } => gen_as::run(check),
        Command::Install { prefix } => install::run(&prefix),
    };
    if let Err(err) = result {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}
