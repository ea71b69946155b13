//! `cannonball run --system`: a kernel or firmware under a system emulator. The QEMU machine
//! arguments after `--` pass through unchanged; we add the plugin, the symbols and, unless the
//! arguments choose a display or serial port themselves, `-nographic` so that the guest's
//! console is the terminal.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use cannonball_launcher::{SYSTEMS, Tree, system_arch_of};

/// What a system run starts.
pub struct SystemGuest {
    qemu: PathBuf,
    args: Vec<OsString>,
    /// `symbols=` values for the plugin.
    symbols: Vec<String>,
}

/// The value after `-kernel` (or `-bios`) in QEMU's arguments.
fn image_argument(args: &[OsString], flag: &str) -> Option<PathBuf> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(PathBuf::from)
}

impl SystemGuest {
    /// `arch`: `--system ARCH`, or empty to take it from the `-kernel` image's ELF header.
    /// `symbols`: `--symbols`; without any, an ELF `-kernel` image is its own symbol file.
    pub fn new(args: &[OsString], arch: &str, symbols: &[String]) -> Result<SystemGuest> {
        let kernel = image_argument(args, "-kernel");
        if let Some(k) = &kernel
            && !k.is_file()
        {
            bail!("-kernel {}: no such file", k.display());
        }
        let from_image = match &kernel {
            Some(k) => system_arch_of(k)?,
            None => None,
        };
        let arch = match (arch, from_image) {
            ("", Some(found)) => found.to_owned(),
            ("", None) => bail!(
                "--system needs the target ({}) unless -kernel names an ELF image: --system=ARCH",
                SYSTEMS.join(", ")
            ),
            (given, _) if SYSTEMS.contains(&given) => given.to_owned(),
            (given, _) => bail!("--system={given}: Cannonball builds system emulators for {}", SYSTEMS.join(", ")),
        };
        let qemu = Tree::from_env().qemu_system(&arch);
        if !qemu.is_file() {
            bail!("{} not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)", qemu.display());
        }
        let mut symbols: Vec<String> = symbols.to_vec();
        if symbols.is_empty()
            && let (Some(k), Some(_)) = (&kernel, from_image)
        {
            symbols.push(absolute(k)?.display().to_string());
        }
        Ok(SystemGuest { qemu, args: args.to_vec(), symbols })
    }

    /// `qemu-system-ARCH ARGS [-nographic] -plugin libcannonball.so,OPTIONS,symbols=...`.
    pub fn command(&self, options: &[String]) -> Result<Command> {
        let mut options = options.to_vec();
        options.extend(self.symbols.iter().map(|s| format!("symbols={s}")));
        let plugin = cannonball_launcher::plugin_arg(&crate::locate::plugin()?, &options)?;
        let mut cmd = Command::new(&self.qemu);
        cmd.args(&self.args);
        let chooses_console =
            self.args.iter().any(|a| ["-nographic", "-display", "-serial", "-daemonize"].iter().any(|f| a == f));
        if !chooses_console {
            cmd.arg("-nographic");
        }
        cmd.arg("-plugin").arg(plugin);
        Ok(cmd)
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(std::path::absolute(path)?)
}
