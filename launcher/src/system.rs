//! System emulators: which `qemu-system-*` runs a kernel or firmware image.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::elf;

/// The system emulators qemu/build.sh builds, by QEMU target name.
pub const SYSTEMS: &[&str] = &["x86_64", "aarch64", "arm", "riscv64"];

/// The system emulator for a kernel or firmware image: from its ELF header (a 32-bit x86 image
/// runs on qemu-system-x86_64 too); `Ok(None)` when the file is not ELF (a bzImage, a raw
/// binary): the caller must be told the target.
pub fn system_arch_of(image: &Path) -> Result<Option<&'static str>> {
    let header = elf::read_header(image).with_context(|| format!("cannot read {}", image.display()))?;
    let Some(h) = header else { return Ok(None) };
    let arch = match (h.machine, h.class64, h.big_endian) {
        (elf::EM_X86_64, true, false) | (elf::EM_386, false, false) => "x86_64",
        (elf::EM_AARCH64, true, false) => "aarch64",
        (elf::EM_ARM, false, false) => "arm",
        (elf::EM_RISCV, true, false) => "riscv64",
        _ => bail!(
            "{} is {}: Cannonball builds system emulators for {} only",
            image.display(),
            h.describe(),
            SYSTEMS.join(", ")
        ),
    };
    Ok(Some(arch))
}
