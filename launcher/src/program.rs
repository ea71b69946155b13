//! The guest program: where it is, which QEMU target runs it and where its libraries come
//! from. Everything is decided before QEMU starts, so that a program that cannot run gets one
//! line saying why (and what to install or pass) instead of a QEMU error over empty reports.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::elf::{self, ElfHeader};

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

/// A guest target QEMU runs and Debian cross-compiles for.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// QEMU's target name: the binary is `qemu-<name>`.
    pub qemu: &'static str,
    /// GNU triple of Debian's cross toolchain; its library root is `/usr/<triple>`.
    pub triple: &'static str,
    /// Debian's architecture name: the cross C library is `libc6-<deb>-cross`.
    pub deb: &'static str,
}

const fn target(qemu: &'static str, triple: &'static str, deb: &'static str) -> Target {
    Target { qemu, triple, deb }
}

static X86_64: Target = target("x86_64", "x86_64-linux-gnu", "amd64");
static I386: Target = target("i386", "i686-linux-gnu", "i386");
static AARCH64: Target = target("aarch64", "aarch64-linux-gnu", "arm64");
static ARMHF: Target = target("arm", "arm-linux-gnueabihf", "armhf");
static ARMEL: Target = target("arm", "arm-linux-gnueabi", "armel");
static RISCV64: Target = target("riscv64", "riscv64-linux-gnu", "riscv64");
static MIPS: Target = target("mips", "mips-linux-gnu", "mips");
static MIPSEL: Target = target("mipsel", "mipsel-linux-gnu", "mipsel");
static PPC64LE: Target = target("ppc64le", "powerpc64le-linux-gnu", "ppc64el");

static ALL: [&Target; 9] = [&X86_64, &I386, &AARCH64, &ARMHF, &ARMEL, &RISCV64, &MIPS, &MIPSEL, &PPC64LE];

/// One toolchain per QEMU target qemu/build.sh builds (arm: the hard-float one), in its order.
pub static BUILT: [&Target; 8] = [&X86_64, &I386, &AARCH64, &ARMHF, &RISCV64, &MIPS, &MIPSEL, &PPC64LE];

impl Target {
    /// The target QEMU calls `name` (for `--arch`); arm is the hard-float one.
    pub fn by_qemu_name(name: &str) -> Result<&'static Target> {
        ALL.into_iter()
            .find(|t| t.qemu == name)
            .with_context(|| format!("unknown target {name} (Cannonball builds {SUPPORTED})"))
    }
}

/// QEMU's names of the targets qemu/build.sh builds.
pub const SUPPORTED: &str = "x86_64, i386, aarch64, arm, riscv64, mips, mipsel, ppc64le";

/// The target for an ELF header: machine, class, byte order and (for ARM and MIPS) the ABI in
/// the flags. Anything QEMU could run but our build does not include is refused by name.
pub fn target_of(h: &ElfHeader) -> Result<&'static Target> {
    use elf::{EM_386, EM_AARCH64, EM_ARM, EM_MIPS, EM_PPC64, EM_RISCV, EM_X86_64};
    let found = match (h.machine, h.class64, h.big_endian) {
        (EM_X86_64, true, false) => &X86_64,
        (EM_386, false, false) => &I386,
        (EM_AARCH64, true, false) => &AARCH64,
        (EM_ARM, false, false) if h.flags & elf::EF_ARM_ABI_FLOAT_SOFT != 0 => &ARMEL,
        (EM_ARM, false, false) => &ARMHF,
        (EM_RISCV, true, false) => &RISCV64,
        // n32 (ABI2) needs qemu-mipsn32, which we do not build; o32 is the rest.
        (EM_MIPS, false, big) if h.flags & elf::EF_MIPS_ABI2 == 0 => {
            if big {
                &MIPS
            } else {
                &MIPSEL
            }
        }
        (EM_PPC64, true, false) => &PPC64LE,
        _ => bail!("it is {}, not one of the targets Cannonball builds ({SUPPORTED})", h.describe()),
    };
    Ok(found)
}

/// The QEMU target for an ELF executable (found as [`resolve_program`] does).
pub fn arch_of(program: &Path) -> Result<&'static str> {
    Ok(GuestImage::inspect(program)?.target.qemu)
}

/// A guest program checked for what QEMU needs to start it.
#[derive(Debug)]
pub struct GuestImage {
    pub path: PathBuf,
    pub target: &'static Target,
    /// The dynamic loader the program names (`PT_INTERP`), for dynamically linked programs.
    pub interpreter: Option<PathBuf>,
}

impl GuestImage {
    /// Reads the program's ELF header: refuses what is not an executable ELF file of a
    /// supported target, with the reason in the error.
    pub fn inspect(program: &Path) -> Result<GuestImage> {
        GuestImage::inspect_as(program, None)
    }

    /// As [`inspect`](Self::inspect), with the target forced by QEMU name (`--arch`) instead
    /// of read from the header.
    pub fn inspect_as(program: &Path, arch: Option<&str>) -> Result<GuestImage> {
        let path = resolve_program(program)?;
        let shown = path.display();
        let meta = std::fs::metadata(&path).with_context(|| format!("cannot open {shown}"))?;
        if !meta.is_file() {
            bail!("{shown} is not a file");
        }
        let header = elf::read_header(&path).with_context(|| format!("cannot read {shown}"))?;
        let Some(header) = header else { bail!("{shown} is not an ELF executable") };
        let target = match arch {
            Some(name) => Target::by_qemu_name(name)?,
            None => target_of(&header).with_context(|| format!("cannot run {shown}"))?,
        };
        if meta.permissions().mode() & 0o111 == 0 {
            bail!("{shown} is not executable (chmod +x {shown})");
        }
        Ok(GuestImage { path, target, interpreter: header.interpreter })
    }

    /// The guest library root QEMU should use (its `-L`): `explicit` (`--sysroot`), else
    /// `QEMU_LD_PREFIX`, else Debian's cross root `/usr/<triple>` for a foreign target when
    /// it exists. Fails, saying what to install or pass, when the program's dynamic loader
    /// is found neither there nor on the host.
    pub fn library_root(&self, explicit: Option<&Path>) -> Result<Option<PathBuf>> {
        let env = std::env::var_os("QEMU_LD_PREFIX").filter(|v| !v.is_empty()).map(PathBuf::from);
        let cross = Path::new("/usr").join(self.target.triple);
        let native = self.target.qemu == std::env::consts::ARCH;
        let (root, from) = match (explicit, env) {
            (Some(dir), _) => (Some(dir.to_path_buf()), "--sysroot"),
            (None, Some(dir)) => (Some(dir), "QEMU_LD_PREFIX"),
            (None, None) if !native && cross.is_dir() => (Some(cross.clone()), "the cross root"),
            (None, None) => (None, ""),
        };
        if let Some(dir) = &root
            && !dir.is_dir()
        {
            bail!("{from} {} is not a directory", dir.display());
        }
        let Some(interp) = &self.interpreter else { return Ok(root) };
        // QEMU looks a path up under the root first, then on the host.
        let under_root = root.as_ref().is_some_and(|r| r.join(interp.strip_prefix("/").unwrap_or(interp)).exists());
        if under_root || (native && interp.exists()) {
            return Ok(root);
        }
        let package = format!("libc6-{}-cross", self.target.deb);
        let (prog, loader) = (self.path.display(), interp.display());
        match &root {
            Some(dir) => bail!(
                "{prog} needs the dynamic loader {loader}, which is not under {} ({from}): pass the guest's root \
                 file system with --sysroot DIR{}",
                dir.display(),
                if from == "the cross root" {
                    format!(", or install the Debian package {package}")
                } else {
                    String::new()
                }
            ),
            None => bail!(
                "{prog} is a dynamically linked {} program and needs {loader}: install the Debian package {package} \
                 (its root {} is then used), or pass the guest's root file system with --sysroot DIR",
                self.target.qemu,
                cross.display()
            ),
        }
    }
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
        let image = GuestImage::inspect(Path::new("sh")).unwrap();
        assert!(image.interpreter.is_some(), "the host's shell is dynamically linked");
        assert_eq!(image.library_root(None).unwrap(), None, "a native program needs no root");
        let err = arch_of(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))).unwrap_err();
        assert!(err.to_string().ends_with("Cargo.toml is not an ELF executable"), "{err}");
    }

    fn header(machine: u16, class64: bool, big_endian: bool, flags: u32) -> ElfHeader {
        ElfHeader { machine, class64, big_endian, flags, interpreter: None }
    }

    #[test]
    fn picks_the_target_from_class_byte_order_machine_and_flags() {
        let pick = |h| target_of(&h).map(|t| (t.qemu, t.triple)).map_err(|e| e.to_string());
        assert_eq!(pick(header(elf::EM_386, false, false, 0)), Ok(("i386", "i686-linux-gnu")));
        assert_eq!(pick(header(elf::EM_ARM, false, false, 0x0500_0400)), Ok(("arm", "arm-linux-gnueabihf")));
        assert_eq!(pick(header(elf::EM_ARM, false, false, 0x0500_0200)), Ok(("arm", "arm-linux-gnueabi")));
        assert_eq!(pick(header(elf::EM_MIPS, false, true, 0x7000_1007)), Ok(("mips", "mips-linux-gnu")));
        assert_eq!(pick(header(elf::EM_MIPS, false, false, 0x7000_1007)), Ok(("mipsel", "mipsel-linux-gnu")));
        assert_eq!(pick(header(elf::EM_PPC64, true, false, 2)), Ok(("ppc64le", "powerpc64le-linux-gnu")));
        assert_eq!(pick(header(elf::EM_RISCV, true, false, 5)), Ok(("riscv64", "riscv64-linux-gnu")));
        let refused = pick(header(elf::EM_PPC64, true, true, 1)).unwrap_err();
        assert!(refused.starts_with("it is a 64-bit big-endian PowerPC program, not one of"), "{refused}");
        let n32 = pick(header(elf::EM_MIPS, false, true, 0x20)).unwrap_err();
        assert!(n32.contains("n32"), "{n32}");
    }
}
