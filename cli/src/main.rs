//! `cannonball`: the command-line tool. For now it builds scripts written in C into
//! components (`cannonball build`); running, dumping and inspecting come next.

mod build_c;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cannonball", version, about = "Instrument programs under QEMU with Wasm scripts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a C script project (its .c files plus the C SDK) into one .wasm component.
    Build {
        /// The project directory: every .c file in it is compiled.
        dir: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
        /// The repository's wit/ directory and guest-sdk/c (default: next to this tool's source).
        #[arg(long)]
        sdk_root: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Build { dir, output, sdk_root } => {
            let root = sdk_root.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
            build_c::build(&root, &dir, &output)
        }
    };
    if let Err(err) = result {
        eprintln!("cannonball: error: {err:#}");
        std::process::exit(1);
    }
}
