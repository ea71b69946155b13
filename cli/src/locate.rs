//! Finding what a run needs (the tree, QEMU, libcannonball.so, the guest's target) and the
//! QEMU command that `run` and `dump` start. The paths and the command line themselves are
//! cannonball-launcher's; what is the command's own is how a missing piece is explained.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use cannonball_launcher::{GuestImage, QemuCommand, Tree, plugin_arg};

/// The Cannonball tree: `$CANNONBALL_HOME`, else the source tree this binary was built from.
pub fn root() -> PathBuf {
    Tree::from_env().root().to_path_buf()
}

/// `qemu-ARCH` as built by qemu/build.sh.
fn qemu(arch: &str) -> Result<PathBuf> {
    let path = Tree::from_env().qemu(arch);
    if !path.is_file() {
        bail!("{} not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)", path.display());
    }
    Ok(path)
}

/// libcannonball.so: next to this executable (both in target/release), else in the tree.
pub fn plugin() -> Result<PathBuf> {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("libcannonball.so")));
    let candidates = beside.into_iter().chain([Tree::from_env().plugin()]);
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("libcannonball.so not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)")
}

/// How the guest runs: options shared by `run` and `dump`.
#[derive(clap::Args, Debug, Default)]
pub struct GuestOptions {
    /// QEMU target (default: from the program's ELF header: class, byte order, machine, ABI).
    #[arg(long)]
    pub arch: Option<String>,
    /// The guest's root file system, where its dynamic loader and libraries are (QEMU's -L;
    /// default: QEMU_LD_PREFIX, else Debian's cross root /usr/<triple> for a foreign program).
    #[arg(long, short = 'L', value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
}

/// The program a run starts: found as the shell would, with the QEMU target that runs it and
/// the root its libraries come from, all checked before QEMU starts.
pub struct Guest {
    program: PathBuf,
    args: Vec<OsString>,
    arch: &'static str,
    library_root: Option<PathBuf>,
}

impl Guest {
    /// `command` is the program and its arguments (what follows `--`).
    pub fn new(command: &[OsString], options: &GuestOptions) -> Result<Guest> {
        let image = GuestImage::inspect_as(Path::new(&command[0]), options.arch.as_deref())?;
        let library_root = image.library_root(options.sysroot.as_deref())?;
        let arch = image.target.qemu;
        Ok(Guest { program: image.path, args: command[1..].to_vec(), arch, library_root })
    }

    /// `qemu-ARCH [-L ROOT] -plugin libcannonball.so,OPTIONS... PROGRAM ARGS`.
    pub fn command(&self, options: &[String]) -> Result<Command> {
        self.command_with_args(options, &self.args)
    }

    /// The program, as found.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The program's arguments as given (after `--`).
    pub fn args(&self) -> &[OsString] {
        &self.args
    }

    /// As [`command`](Self::command), with other program arguments.
    pub fn command_with_args(&self, options: &[String], args: &[OsString]) -> Result<Command> {
        let qemu = qemu(self.arch)?;
        let plugin = plugin_arg(&plugin()?, options)?;
        Ok(QemuCommand::new(qemu, &self.program)
            .library_root(self.library_root.as_ref())
            .plugin(plugin)
            .args(args)
            .command())
    }
}
