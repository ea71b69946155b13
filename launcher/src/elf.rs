//! The few fields of an ELF file that decide how QEMU runs it: class, byte order, machine,
//! flags (ARM float ABI, MIPS ABI) and the dynamic loader (`PT_INTERP`). Both classes and
//! both byte orders; a truncated or inconsistent file reads as "not ELF" or as an error,
//! never a panic.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const EM_386: u16 = 3;
pub const EM_MIPS: u16 = 8;
pub const EM_PPC: u16 = 20;
pub const EM_PPC64: u16 = 21;
pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const EM_RISCV: u16 = 243;

/// ARM EABI: the soft-float calling convention (armel); hard-float sets 0x400.
pub const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x200;
/// MIPS n32: 64-bit registers, 32-bit pointers.
pub const EF_MIPS_ABI2: u32 = 0x20;

const PT_INTERP: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfHeader {
    pub machine: u16,
    pub class64: bool,
    pub big_endian: bool,
    pub flags: u32,
    pub interpreter: Option<PathBuf>,
}

impl ElfHeader {
    /// "a 32-bit big-endian MIPS program (n32 ABI)", for error messages.
    pub fn describe(&self) -> String {
        let machine = match self.machine {
            EM_386 => "x86".to_owned(),
            EM_MIPS => "MIPS".to_owned(),
            EM_PPC | EM_PPC64 => "PowerPC".to_owned(),
            EM_ARM => "ARM".to_owned(),
            EM_X86_64 => "x86-64".to_owned(),
            EM_AARCH64 => "AArch64".to_owned(),
            EM_RISCV => "RISC-V".to_owned(),
            m => format!("ELF machine {m}"),
        };
        let abi = if self.machine == EM_MIPS && self.flags & EF_MIPS_ABI2 != 0 { " (n32 ABI)" } else { "" };
        format!(
            "a {}-bit {}-endian {machine} program{abi}",
            if self.class64 { 64 } else { 32 },
            if self.big_endian { "big" } else { "little" }
        )
    }
}

/// Reads the header of `path`; `Ok(None)` when the file is not ELF.
pub fn read_header(path: &Path) -> std::io::Result<Option<ElfHeader>> {
    let mut file = std::fs::File::open(path)?;
    let mut ident = [0u8; 64];
    let n = read_up_to(&mut file, &mut ident)?;
    if n < 52 || !ident.starts_with(b"\x7fELF") || !matches!(ident[4], 1 | 2) || !matches!(ident[5], 1 | 2) {
        return Ok(None);
    }
    let class64 = ident[4] == 2;
    let big_endian = ident[5] == 2;
    if class64 && n < 64 {
        return Ok(None);
    }
    let r = Reader { big_endian };
    let machine = r.u16(&ident[18..]);
    let (phoff, flags, phentsize, phnum) = if class64 {
        (r.u64(&ident[32..]), r.u32(&ident[48..]), r.u16(&ident[54..]), r.u16(&ident[56..]))
    } else {
        (u64::from(r.u32(&ident[28..])), r.u32(&ident[36..]), r.u16(&ident[42..]), r.u16(&ident[44..]))
    };
    let mut interpreter = None;
    let entry_len = if class64 { 56 } else { 32 };
    if (entry_len..=256).contains(&usize::from(phentsize)) && phnum < 512 {
        let mut table = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
        file.seek(SeekFrom::Start(phoff))?;
        let got = read_up_to(&mut file, &mut table)?;
        for entry in table[..got].chunks_exact(usize::from(phentsize)) {
            if r.u32(entry) != PT_INTERP {
                continue;
            }
            let (offset, size) = if class64 {
                (r.u64(&entry[8..]), r.u64(&entry[32..]))
            } else {
                (u64::from(r.u32(&entry[4..])), u64::from(r.u32(&entry[16..])))
            };
            if size == 0 || size > 4096 {
                break;
            }
            let mut name = vec![0u8; size as usize];
            file.seek(SeekFrom::Start(offset))?;
            let got = read_up_to(&mut file, &mut name)?;
            name.truncate(got);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            interpreter = Some(PathBuf::from(String::from_utf8_lossy(&name[..end]).into_owned()));
            break;
        }
    }
    Ok(Some(ElfHeader { machine, class64, big_endian, flags, interpreter }))
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

struct Reader {
    big_endian: bool,
}

impl Reader {
    fn u16(&self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }
    }
    fn u32(&self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    }
    fn u64(&self, b: &[u8]) -> u64 {
        let b: [u8; 8] = b[..8].try_into().unwrap();
        if self.big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_host_shell() {
        let h = read_header(Path::new("/bin/sh")).unwrap().unwrap();
        assert!(h.class64 && !h.big_endian);
        let interp = h.interpreter.unwrap();
        assert!(interp.to_string_lossy().starts_with("/lib"), "{interp:?}");
    }

    #[test]
    fn truncated_files_are_not_elf() {
        let dir = std::env::temp_dir().join(format!("cannonball-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = std::fs::read("/bin/sh").unwrap();
        for len in [0, 4, 20, 51] {
            let p = dir.join(format!("cut{len}"));
            std::fs::write(&p, &bytes[..len]).unwrap();
            assert_eq!(read_header(&p).unwrap(), None, "{len} bytes");
        }
        // A header whose program table lies past the end: read, without an interpreter.
        let p = dir.join("cut64");
        std::fs::write(&p, &bytes[..64]).unwrap();
        assert_eq!(read_header(&p).unwrap().unwrap().interpreter, None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
