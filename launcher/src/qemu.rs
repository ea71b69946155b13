//! The QEMU command line.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `qemu-ARCH [-d plugin -D LOG] [-plugin P]... PROGRAM [ARGS]`, built into a
/// [`std::process::Command`] that the caller finishes (working directory, environment,
/// stdio) and spawns.
///
/// Several plugins in one run see the very same execution: that is what lets the tests
/// compare libcannonball.so exactly with QEMU's own plugins, even for threaded guests.
/// Their order is kept: QEMU installs them in it and runs their exit callbacks in reverse.
#[derive(Clone, Debug)]
pub struct QemuCommand {
    qemu: PathBuf,
    plugin_log: Option<PathBuf>,
    library_root: Option<PathBuf>,
    plugins: Vec<String>,
    program: OsString,
    args: Vec<OsString>,
}

impl QemuCommand {
    /// Runs `program` (a path: QEMU does not search `PATH`) with the QEMU binary `qemu`.
    pub fn new(qemu: impl Into<PathBuf>, program: impl AsRef<OsStr>) -> QemuCommand {
        QemuCommand {
            qemu: qemu.into(),
            plugin_log: None,
            library_root: None,
            plugins: Vec::new(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
        }
    }

    /// Sends what plugins print with `qemu_plugin_outs` to `log` (`-d plugin -D LOG`).
    /// QEMU's C plugins print their counts only there; without it they print nothing.
    pub fn plugin_log(mut self, log: impl Into<PathBuf>) -> QemuCommand {
        self.plugin_log = Some(log.into());
        self
    }

    /// Where the guest's dynamic loader and libraries are looked up first (`-L DIR`), as
    /// [`GuestImage::library_root`](crate::GuestImage::library_root) decides.
    pub fn library_root(mut self, dir: Option<impl Into<PathBuf>>) -> QemuCommand {
        self.library_root = dir.map(Into::into);
        self
    }

    /// Loads a plugin: a `-plugin` value, as [`plugin_arg`](crate::plugin_arg) makes.
    pub fn plugin(mut self, arg: impl Into<String>) -> QemuCommand {
        self.plugins.push(arg.into());
        self
    }

    /// Loads several plugins, in this order after those already added.
    pub fn plugins<I>(mut self, args: I) -> QemuCommand
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.plugins.extend(args.into_iter().map(Into::into));
        self
    }

    /// Appends arguments for the guest program.
    pub fn args<I>(mut self, args: I) -> QemuCommand
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The QEMU binary this command runs.
    pub fn qemu(&self) -> &Path {
        &self.qemu
    }

    /// The command line, ready for the caller's own settings.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.qemu);
        if let Some(log) = &self.plugin_log {
            cmd.arg("-d").arg("plugin").arg("-D").arg(log);
        }
        if let Some(dir) = &self.library_root {
            cmd.arg("-L").arg(dir);
        }
        for plugin in &self.plugins {
            cmd.arg("-plugin").arg(plugin);
        }
        cmd.arg(&self.program).args(&self.args);
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_before_the_program_and_plugins_keep_their_order() {
        let cmd = QemuCommand::new("/q/qemu-x86_64", "/bin/ls")
            .plugin("a.so,x=1")
            .plugin_log("log")
            .plugins(["b.so"])
            .args(["-l", "/"])
            .command();
        assert_eq!(cmd.get_program(), "/q/qemu-x86_64");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["-d", "plugin", "-D", "log", "-plugin", "a.so,x=1", "-plugin", "b.so", "/bin/ls", "-l", "/"]);
    }
}
