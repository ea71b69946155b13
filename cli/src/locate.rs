//! Finding what a run needs (the tree, QEMU, libcannonball.so, the guest's target) and the
//! QEMU command that `run` and `dump` start. The paths and the command line themselves are
//! cannonball-launcher's; what is the command's own is how a missing piece is explained.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use cannonball_launcher::{QemuCommand, Tree, arch_of, plugin_arg, resolve_program};

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
fn plugin() -> Result<PathBuf> {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("libcannonball.so")));
    let candidates = beside.into_iter().chain([Tree::from_env().plugin()]);
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("libcannonball.so not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)")
}

/// The program a run starts: found as the shell would, with the QEMU target that runs it.
pub struct Guest {
    program: PathBuf,
    args: Vec<OsString>,
    arch: String,
}

impl Guest {
    /// `command` is the program and its arguments (what follows `--`); `arch` overrides the
    /// target named by the program's ELF header.
    pub fn new(command: &[OsString], arch: Option<&str>) -> Result<Guest> {
        let program = resolve_program(Path::new(&command[0]))?;
        let arch = match arch {
            Some(arch) => arch.to_owned(),
            None => arch_of(&program)?.to_owned(),
        };
        Ok(Guest { program, args: command[1..].to_vec(), arch })
    }

    /// `qemu-ARCH -plugin libcannonball.so,OPTIONS... PROGRAM ARGS`.
    pub fn command(&self, options: &[String]) -> Result<Command> {
        let qemu = qemu(&self.arch)?;
        let plugin = plugin_arg(&plugin()?, options)?;
        Ok(QemuCommand::new(qemu, &self.program).plugin(plugin).args(&self.args).command())
    }
}
