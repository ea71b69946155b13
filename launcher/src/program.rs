//! The guest program: where it is, and which QEMU target runs it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A program name as the shell would find it: a path (anything with a `/`, or a file in
/// the current directory), else the first match in `PATH`.
///
/// QEMU itself does not search `PATH`, so `cannonball run -- ls` needs this.
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

/// The QEMU target for an ELF executable (found as [`resolve_program`] does), from its
/// header's `e_machine`: `x86_64` or `aarch64`, the targets qemu/build.sh builds.
pub fn arch_of(program: &Path) -> Result<&'static str> {
    let resolved = resolve_program(program)?;
    let mut header = [0u8; 20];
    let mut file = std::fs::File::open(&resolved).with_context(|| format!("cannot open {}", resolved.display()))?;
    file.read_exact(&mut header)
        .ok()
        .filter(|_| header.starts_with(b"\x7fELF"))
        .with_context(|| format!("{} is not an ELF executable", resolved.display()))?;
    // e_machine is at offset 18 in both ELF classes; little-endian for both targets.
    let machine = u16::from_le_bytes([header[18], header[19]]);
    Ok(match machine {
        62 => "x86_64",
        183 => "aarch64",
        m => bail!("{}: ELF machine {m} is not supported (x86_64, aarch64); pass --arch", resolved.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_name_in_path_and_keeps_a_path() {
        assert!(resolve_program(Path::new("sh")).unwrap().is_absolute());
        assert_eq!(resolve_program(Path::new("./nowhere/x")).unwrap(), Path::new("./nowhere/x"));
        let err = resolve_program(Path::new("no-such-program-anywhere")).unwrap_err();
        assert_eq!(err.to_string(), "program no-such-program-anywhere not found");
    }

    #[test]
    fn reads_the_machine_from_the_elf_header() {
        // The host's own shell: this crate is only built on x86-64 and aarch64 hosts.
        assert_eq!(arch_of(Path::new("sh")).unwrap(), std::env::consts::ARCH);
        let err = arch_of(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))).unwrap_err();
        assert!(err.to_string().ends_with("Cargo.toml is not an ELF executable"), "{err}");
    }
}
