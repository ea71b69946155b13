//! Which instruction set 32-bit ARM code at a guest address is in: ARM (A32), Thumb (T32), or
//! data (a literal pool). Capstone decodes the same bytes differently in each mode, and a
//! script calling `disassemble` on a Thumb function must get Thumb.
//!
//! What the ELF file says comes first (`modules.rs`: mapping symbols `$a`/`$t`/`$d`, else a
//! function symbol's low bit). For code without ELF information (a stripped file's internal
//! functions, generated code) we remember how QEMU translated it: every arm block's mode is
//! recorded at translation ([`record_block`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    Arm,
    Thumb,
    /// Bytes that are not instructions (mapping symbol `$d`): shown as `.word` like objdump.
    Data,
}

/// Translated arm blocks: start -> (end, translated as Thumb).
static TRANSLATED: Mutex<BTreeMap<u64, (u64, bool)>> = Mutex::new(BTreeMap::new());

/// Records how QEMU translated the arm block at `vaddr` with these instruction sizes and bytes.
/// `qemu_text` gives QEMU's own disassembly of the first instruction, asked only when the
/// sizes and bytes cannot tell; `thumb_mnemonic` decodes 4 bytes as Thumb (the disassembler,
/// which depends on this module, not the other way round).
pub fn record_block(
    vaddr: u64,
    sizes: &[u8],
    bytes: &[u8],
    qemu_text: impl FnOnce() -> String,
    thumb_mnemonic: impl FnOnce(&[u8]) -> Option<String>,
) {
    let end = vaddr + sizes.iter().map(|&s| u64::from(s)).sum::<u64>();
    let thumb = translated_as_thumb(sizes, bytes, qemu_text, thumb_mnemonic);
    TRANSLATED.lock().unwrap_or_else(|p| p.into_inner()).insert(vaddr, (end, thumb));
}

/// Whether a block was Thumb code. A 2-byte instruction proves Thumb. A 4-byte Thumb
/// instruction's first halfword starts with 0b11101, 0b11110 or 0b11111, so a 4-byte
/// instruction whose first halfword does not proves ARM. When every instruction could be
/// either, QEMU's disassembly of the first one (QEMU disassembles in the mode it translated
/// in) decides: the mode whose decoding has the same mnemonic.
pub fn translated_as_thumb(
    sizes: &[u8],
    bytes: &[u8],
    qemu_text: impl FnOnce() -> String,
    thumb_mnemonic: impl FnOnce(&[u8]) -> Option<String>,
) -> bool {
    if sizes.contains(&2) {
        return true;
    }
    let mut at = 0usize;
    for &size in sizes {
        let Some(insn) = bytes.get(at..at + usize::from(size)) else { break };
        at += usize::from(size);
        if size == 4 && !matches!(insn[1] >> 3, 0b11101..=0b11111) {
            return false;
        }
    }
    let (Some(&first), Some(code)) = (sizes.first(), bytes.get(..4)) else { return false };
    if first != 4 {
        return false;
    }
    let qemu = qemu_text();
    let qemu_mnemonic = qemu.split_whitespace().next().unwrap_or("");
    thumb_mnemonic(code).as_deref() == Some(qemu_mnemonic)
}

/// How QEMU translated the block containing `addr`, if it did.
pub fn translated_isa(addr: u64) -> Option<Isa> {
    let blocks = TRANSLATED.lock().unwrap_or_else(|p| p.into_inner());
    let (_, &(end, thumb)) = blocks.range(..=addr).next_back()?;
    (addr < end).then_some(if thumb { Isa::Thumb } else { Isa::Arm })
}

/// Splits [start, end) into runs of one instruction set. `elf` holds what the ELF file says
/// (sorted, non-overlapping guest ranges); gaps take the mode QEMU translated their first
/// address in, else the previous run's, else ARM (Thumb if the address is not 4-aligned).
pub fn split(start: u64, end: u64, elf: &[(u64, u64, Isa)]) -> Vec<(u64, u64, Isa)> {
    let mut runs: Vec<(u64, u64, Isa)> = Vec::new();
    let mut push = |s: u64, e: u64, isa: Isa| match runs.last_mut() {
        Some(last) if last.1 == s && last.2 == isa => last.1 = e,
        _ => runs.push((s, e, isa)),
    };
    let gap_isa = |at: u64, prev: Option<Isa>| {
        translated_isa(at).or(prev).unwrap_or(if at.is_multiple_of(4) { Isa::Arm } else { Isa::Thumb })
    };
    let mut at = start;
    let mut prev = None;
    for &(s, e, isa) in elf.iter().filter(|r| r.1 > start && r.0 < end) {
        if s > at {
            let g = gap_isa(at, prev);
            push(at, s.min(end), g);
        }
        let (s, e) = (s.max(at), e.min(end));
        push(s, e, isa);
        if isa != Isa::Data {
            prev = Some(isa);
        }
        at = e;
    }
    if at < end {
        let g = gap_isa(at, prev);
        push(at, end, g);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_first_halfwords_tell_thumb_from_arm() {
        // Thumb: push {r4, lr} (2 bytes)
        let never = |_: &[u8]| -> Option<String> { unreachable!() };
        assert!(translated_as_thumb(&[2, 4], &[0x10, 0xb5, 0, 0, 0, 0], || unreachable!(), never));
        // ARM: push {r4, lr} = e92d4010; its first halfword 0x4010 is no Thumb-2 prefix
        assert!(!translated_as_thumb(&[4], &[0x10, 0x40, 0x2d, 0xe9], || unreachable!(), never));
        // Thumb-2 bl (f000 f800): could be either by its bits; QEMU's text decides
        let bl = [0x00, 0xf0, 0x00, 0xf8];
        let thumb = |code: &[u8]| crate::services::disasm::thumb_mnemonic(code);
        assert!(translated_as_thumb(&[4], &bl, || "bl #0x4".into(), thumb));
        assert!(!translated_as_thumb(&[4], &bl, || "andeq r0, r0, r0".into(), thumb));
    }

    #[test]
    fn splits_ranges_by_elf_marks_and_fills_gaps() {
        let elf = [(0x1000, 0x1010, Isa::Thumb), (0x1010, 0x1018, Isa::Data), (0x1020, 0x1040, Isa::Arm)];
        assert_eq!(
            split(0x1008, 0x1030, &elf),
            [
                (0x1008, 0x1010, Isa::Thumb),
                (0x1010, 0x1018, Isa::Data),
                (0x1018, 0x1020, Isa::Thumb),
                (0x1020, 0x1030, Isa::Arm)
            ]
        );
        assert_eq!(split(0x7000_0000, 0x7000_0008, &[]), [(0x7000_0000, 0x7000_0008, Isa::Arm)]);
        assert_eq!(split(0x7000_0002, 0x7000_0008, &[]), [(0x7000_0002, 0x7000_0008, Isa::Thumb)]);
    }

    #[test]
    fn remembers_translated_blocks() {
        record_block(0x5000_0000, &[2, 2, 4], &[0; 8], || unreachable!(), |_| unreachable!());
        assert_eq!(translated_isa(0x5000_0006), Some(Isa::Thumb));
        assert_eq!(translated_isa(0x5000_0008), None);
        assert_eq!(split(0x5000_0000, 0x5000_0010, &[]), [(0x5000_0000, 0x5000_0010, Isa::Thumb)]);
    }
}
