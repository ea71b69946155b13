//! Function starts from tables that stripping leaves in place: the unwind tables (an FDE of
//! `.eh_frame` per function with its exact extent; ARM's `.ARM.exidx`, one entry per
//! function start) and the dynamic section (`DT_INIT`, `DT_FINI` and the functions the
//! init and fini arrays point at).

use addr2line::gimli::{self, UnwindSection};
use object::{Object, ObjectSection, ObjectSegment};

use super::{Candidate, Origin};

/// Starts (and sizes, for FDEs) from `.eh_frame` and `.ARM.exidx`.
pub fn unwind_starts(file: &object::File<'_>) -> Vec<Candidate> {
    let mut out = eh_frame(file);
    out.extend(arm_exidx(file));
    out
}

fn eh_frame(file: &object::File<'_>) -> Vec<Candidate> {
    let Some(section) = file.section_by_name(".eh_frame") else { return Vec::new() };
    let Ok(data) = section.data() else { return Vec::new() };
    let endian = if file.is_little_endian() { gimli::RunTimeEndian::Little } else { gimli::RunTimeEndian::Big };
    let mut eh = gimli::EhFrame::new(data, endian);
    eh.set_address_size(if file.is_64() { 8 } else { 4 });
    let mut bases = gimli::BaseAddresses::default().set_eh_frame(section.address());
    if let Some(text) = file.section_by_name(".text") {
        bases = bases.set_text(text.address());
    }
    // DW_EH_PE_datarel (i386) counts from the GOT, which `_GLOBAL_OFFSET_TABLE_` puts at .got.plt.
    if let Some(got) = file.section_by_name(".got.plt").or_else(|| file.section_by_name(".got")) {
        bases = bases.set_got(got.address());
    }
    let mut out = Vec::new();
    let mut entries = eh.entries(&bases);
    // A malformed entry ends the walk: the next one cannot be found without its length.
    while let Ok(Some(entry)) = entries.next() {
        if let gimli::CieOrFde::Fde(partial) = entry
            && let Ok(fde) = partial.parse(gimli::EhFrame::cie_from_offset)
            && fde.len() > 0
        {
            out.push(Candidate::new(fde.initial_address(), fde.len(), None, Origin::UnwindTables));
        }
    }
    out
}

/// `.ARM.exidx`: 8-byte entries whose first word is a 31-bit offset from itself to a
/// function's start.
fn arm_exidx(file: &object::File<'_>) -> Vec<Candidate> {
    let Some(section) = file.section_by_name(".ARM.exidx") else { return Vec::new() };
    let Ok(data) = section.data() else { return Vec::new() };
    data.chunks_exact(8)
        .enumerate()
        .map(|(i, entry)| {
            let word = u32::from_le_bytes(entry[..4].try_into().unwrap());
            let offset = ((word << 1) as i32 >> 1) as i64;
            let at = section.address() + 8 * i as u64;
            Candidate::new(at.wrapping_add_signed(offset), 0, None, Origin::UnwindTables)
        })
        .collect()
}

const DT_INIT: u64 = 12;
const DT_FINI: u64 = 13;
const DT_INIT_ARRAY: u64 = 25;
const DT_FINI_ARRAY: u64 = 26;
const DT_INIT_ARRAYSZ: u64 = 27;
const DT_FINI_ARRAYSZ: u64 = 28;
const DT_PREINIT_ARRAY: u64 = 32;
const DT_PREINIT_ARRAYSZ: u64 = 33;

/// `_init` and `_fini` (DT_INIT, DT_FINI: the names every ELF toolchain gives them) and the
/// functions of the init, fini and preinit arrays.
pub fn dynamic_section_starts(file: &object::File<'_>) -> Vec<Candidate> {
    let Some(dynamic) = file.section_by_name(".dynamic").and_then(|s| s.data().ok()) else { return Vec::new() };
    let width = if file.is_64() { 8 } else { 4 };
    let value = |bytes: &[u8]| -> u64 {
        match (width, file.is_little_endian()) {
            (8, true) => u64::from_le_bytes(bytes.try_into().unwrap()),
            (8, false) => u64::from_be_bytes(bytes.try_into().unwrap()),
            (_, true) => u64::from(u32::from_le_bytes(bytes.try_into().unwrap())),
            (_, false) => u64::from(u32::from_be_bytes(bytes.try_into().unwrap())),
        }
    };
    let tags: Vec<(u64, u64)> = dynamic
        .chunks_exact(2 * width)
        .map(|e| (value(&e[..width]), value(&e[width..])))
        .take_while(|e| e.0 != 0)
        .collect();
    let tag = |t: u64| tags.iter().find(|e| e.0 == t).map(|e| e.1);
    let mut out = Vec::new();
    for (t, name) in [(DT_INIT, "_init"), (DT_FINI, "_fini")] {
        if let Some(start) = tag(t) {
            out.push(Candidate::new(start, 0, Some(name.into()), Origin::DynamicSection));
        }
    }
    // Array slots hold link-time addresses; in a PIE, a RELA relative relocation holds the
    // address and the slot may hold 0.
    let relocated: std::collections::HashMap<u64, i64> =
        file.dynamic_relocations().map(|r| r.map(|(at, rel)| (at, rel.addend())).collect()).unwrap_or_default();
    for (array, size) in
        [(DT_INIT_ARRAY, DT_INIT_ARRAYSZ), (DT_FINI_ARRAY, DT_FINI_ARRAYSZ), (DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ)]
    {
        let (Some(address), Some(size)) = (tag(array), tag(size)) else { continue };
        let Some(bytes) = file.segments().find_map(|s| s.data_range(address, size).ok().flatten()) else { continue };
        for (i, slot) in bytes.chunks_exact(width).enumerate() {
            let at = address + (i * width) as u64;
            let start = match value(slot) {
                0 => relocated.get(&at).map_or(0, |&a| a as u64),
                v => v,
            };
            // The arrays' ends may hold 0 or -1 markers; `recover` drops starts outside code.
            let start = if file.architecture() == object::Architecture::Arm { start & !1 } else { start };
            out.push(Candidate::new(start, 0, None, Origin::DynamicSection));
        }
    }
    out
}
