//! Finding what a run needs: the QEMU build, libcannonball.so, and the guest's architecture.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The Cannonball tree: `$CANNONBALL_HOME`, else the source tree this binary was built from.
pub fn root() -> PathBuf {
    match std::env::var_os("CANNONBALL_HOME") {
        Some(home) => PathBuf::from(home),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
    }
}

/// `qemu-ARCH` as built by qemu/build.sh.
pub fn qemu(arch: &str) -> Result<PathBuf> {
    let path = root().join("target/qemu/bin").join(format!("qemu-{arch}"));
    if !path.is_file() {
        bail!("{} not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)", path.display());
    }
    Ok(path)
}

/// libcannonball.so: next to this executable (both in target/release), else in the tree.
pub fn plugin() -> Result<PathBuf> {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("libcannonball.so")));
    let candidates = beside.into_iter().chain([root().join("target/release/libcannonball.so")]);
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("libcannonball.so not found: build it with `cargo xtask build` (or set CANNONBALL_HOME)")
}

/// The QEMU target for an ELF executable, from its header's e_machine.
pub fn arch_of(program: &Path) -> Result<&'static str> {
    let resolved = resolve_program(program)?;
    let mut header = [0u8; 20];
    let file = std::fs::File::open(&resolved).with_context(|| format!("cannot open {}", resolved.display()))?;
    std::io::Read::read_exact(&mut &file, &mut header)
        .ok()
        .filter(|_| header.starts_with(b"\x7fELF"))
        .with_context(|| format!("{} is not an ELF executable", resolved.display()))?;
    let machine = u16::from_le_bytes([header[18], header[19]]);
    Ok(match machine {
        62 => "x86_64",
        183 => "aarch64",
        m => bail!("{}: ELF machine {m} is not supported (x86_64, aarch64); pass --arch", resolved.display()),
    })
}

/// A program name as the shell would find it: a path, or a name looked up in PATH.
pub fn resolve_program(program: &Path) -> Result<PathBuf> {
    if program.components().count() > 1 || program.is_file() {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("program {} not found", program.display()))
}

/// QEMU's `-plugin` value: the plugin path and comma-joined `key=value` options. QEMU splits
/// at commas, so a value containing one cannot be passed.
pub fn plugin_arg(plugin: &Path, options: &[String]) -> Result<String> {
    let mut arg = plugin.display().to_string();
    for option in options {
        if option.contains(',') {
            bail!("plugin option '{option}' contains a comma, which QEMU's -plugin syntax cannot carry");
        }
        arg.push(',');
        arg.push_str(option);
    }
    Ok(arg)
}
