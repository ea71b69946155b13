//! The functions of an ELF file, recovered the way disassemblers recover them, so that a
//! stripped program's code has functions too.
//!
//! Function starts come from, in order of trust: the symbol table (`.symtab`; for a stripped
//! file, the one in its separate debug file), the dynamic symbol table, PLT stubs (named
//! `name@plt` after the relocation of the GOT slot they jump through), the unwind tables
//! (`.eh_frame` FDEs, ARM's `.ARM.exidx`), the dynamic section (`DT_INIT`, `DT_FINI`, the
//! init/fini arrays) and the entry point. A start keeps the best name any source gives; a
//! function without one is `sub_<offset>`, its offset in its module (as drcov counts, so the
//! name is stable across ASLR and runs, like IDA's and Ghidra's). Each function ends where
//! its size says, else at the next start or the end of its code section.
//!
//! Code that no source covers (hand-written assembly, C runtime start-up files without CFI)
//! is still code: each gap between functions in an executable section is swept linearly
//! (`gaps.rs`), padding skipped, and split where padding follows an unconditional transfer
//! (`ret`, `jmp`). So every executed address of a module lies in some function, and a
//! coverage listing never hides code that ran.

mod gaps;
mod plt;
mod tables;

use std::collections::BTreeMap;

use object::{
    Architecture, Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags, SegmentFlags, SymbolKind,
};

/// Where a function's start (and name) came from: the `symbol-source` a script can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    SymbolTable,
    DebugFile,
    DynamicSymbols,
    Plt,
    UnwindTables,
    DynamicSection,
    EntryPoint,
    CodeGap,
}

/// One function, at link-time addresses (the file's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub start: u64,
    pub end: u64,
    pub name: String,
    pub origin: Origin,
}

/// A start some source reports: its size when the source knows it, its name when it has one.
struct Candidate {
    start: u64,
    size: u64,
    name: Option<String>,
    origin: Origin,
    /// Among aliases of one source at one start, the lowest rank names the function.
    rank: (u8, usize, usize),
}

impl Candidate {
    fn new(start: u64, size: u64, name: Option<String>, origin: Origin) -> Self {
        Candidate { start, size, name, origin, rank: (0, 0, 0) }
    }
}

/// The functions of `file`, sorted and disjoint. `debug` is its separate debug file, whose
/// symbol table stands in for a stripped file's own. `base` is the link-time address the
/// module's offsets count from (its first loadable segment's page).
pub fn recover(file: &object::File<'_>, debug: Option<&object::File<'_>>, base: u64) -> Vec<Function> {
    let code = code_ranges(file);
    let in_code = |a: u64| code.iter().any(|r| (r.0..r.1).contains(&a));
    let mut candidates = Vec::new();
    let own = symbols(file, file.symbols(), Origin::SymbolTable);
    if own.is_empty()
        && let Some(debug) = debug
    {
        candidates.extend(symbols(file, debug.symbols(), Origin::DebugFile));
    }
    candidates.extend(own);
    candidates.extend(symbols(file, file.dynamic_symbols(), Origin::DynamicSymbols));
    candidates.extend(plt::stubs(file));
    candidates.extend(tables::unwind_starts(file));
    candidates.extend(tables::dynamic_section_starts(file));
    let entry = thumb_clear(file, file.entry());
    if entry != 0 {
        candidates.push(Candidate::new(entry, 0, Some("_start".into()), Origin::EntryPoint));
    }
    candidates.retain(|c| in_code(c.start));

    // One entry per start: the best name, the size of the most trusted source that has one.
    let mut starts: BTreeMap<u64, Candidate> = BTreeMap::new();
    candidates.sort_by_key(|c| (c.origin, c.rank));
    for c in candidates {
        match starts.get_mut(&c.start) {
            None => {
                starts.insert(c.start, c);
            }
            Some(best) => {
                if best.name.is_none() && c.name.is_some() {
                    best.name = c.name;
                    best.origin = c.origin;
                }
                if best.size == 0 {
                    best.size = c.size;
                }
            }
        }
    }

    let mut out: Vec<Function> = Vec::with_capacity(starts.len());
    let list: Vec<&Candidate> = starts.values().collect();
    for (i, c) in list.iter().enumerate() {
        let Some(&(_, range_end)) = code.iter().find(|r| (r.0..r.1).contains(&c.start)) else { continue };
        let next = list.get(i + 1).map_or(range_end, |n| n.start.min(range_end));
        let end = if c.size > 0 { (c.start + c.size).min(next) } else { next };
        let name = c.name.clone().unwrap_or_else(|| sub_name(c.start, base));
        out.push(Function { start: c.start, end, name, origin: c.origin });
    }
    let arch = arch_name(file);
    let mut filled = Vec::new();
    for &(range_start, range_end) in &code {
        let mut cursor = range_start;
        let inside = out.iter().filter(|f| f.start >= range_start && f.start < range_end);
        for f in inside.map(|f| (f.start, f.end)).chain([(range_end, range_end)]) {
            if f.0 > cursor {
                let bytes = read(file, cursor, f.0 - cursor).unwrap_or_default();
                for (s, e) in gaps::split(arch, cursor, f.0, bytes) {
                    filled.push(Function { start: s, end: e, name: sub_name(s, base), origin: Origin::CodeGap });
                }
            }
            cursor = cursor.max(f.1);
        }
    }
    out.extend(filled);
    out.sort_by_key(|f| f.start);
    out
}

/// `sub_<offset>`: a function without a name, by its offset in its module.
fn sub_name(start: u64, base: u64) -> String {
    format!("sub_{:x}", start.wrapping_sub(base))
}

/// Sized data objects (`STT_OBJECT`), for addresses outside code: (start, size, name), sorted.
pub fn data_objects(file: &object::File<'_>, debug: Option<&object::File<'_>>) -> Vec<(u64, u64, String)> {
    let from = |f: &object::File<'_>| -> Vec<(u64, u64, String)> {
        f.symbols()
            .chain(f.dynamic_symbols())
            .filter(|s| s.kind() == SymbolKind::Data && s.size() > 0 && s.address() > 0)
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_owned())))
            .collect()
    };
    let mut out = from(file);
    if file.symbols().next().is_none()
        && let Some(debug) = debug
    {
        out.extend(from(debug));
    }
    out.sort();
    out.dedup_by_key(|s| s.0);
    out
}

/// Function symbols of one table, as candidates.
fn symbols<'d: 'f, 'f>(
    file: &object::File<'_>,
    table: impl Iterator<Item = object::Symbol<'d, 'f>>,
    origin: Origin,
) -> Vec<Candidate> {
    table
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
        .filter_map(|s| {
            // A full symbol table names versioned symbols `qsort@@GLIBC_2.2.5`: the name is
            // the part before the version, as .dynsym and gdb give it.
            let name = s.name().ok()?.split('@').next()?;
            // ARM and AArch64 mapping symbols ($a, $t, $d, $x) mark instruction sets, not functions.
            if name.is_empty() || name.starts_with('$') {
                return None;
            }
            // Aliases: `qsort` (global) before `__GI_qsort` (local), then fewer leading
            // underscores, then the shorter name.
            let binding = if s.is_global() {
                0
            } else if s.is_weak() {
                1
            } else {
                2
            };
            let underscores = name.len() - name.trim_start_matches('_').len();
            let mut c = Candidate::new(thumb_clear(file, s.address()), s.size(), Some(name.to_owned()), origin);
            c.rank = (binding, underscores, name.len());
            Some(c)
        })
        .collect()
}

/// A Thumb function's address has bit 0 set; its first instruction is one lower.
fn thumb_clear(file: &object::File<'_>, address: u64) -> u64 {
    if file.architecture() == Architecture::Arm { address & !1 } else { address }
}

/// Executable sections with contents, as [start, end) link-time addresses; executable
/// segments when the file has no section headers.
fn code_ranges(file: &object::File<'_>) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = file
        .sections()
        .filter(|s| {
            matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0)
                && s.file_range().is_some()
                && s.size() > 0
        })
        .map(|s| (s.address(), s.address() + s.size()))
        .collect();
    if ranges.is_empty() {
        ranges = file
            .segments()
            .filter(|s| matches!(s.flags(), SegmentFlags::Elf { p_flags } if p_flags & object::elf::PF_X != 0))
            .map(|s| (s.address(), s.address() + s.size()))
            .collect();
    }
    ranges.sort();
    ranges
}

/// `len` bytes of the file at link-time address `address`, where a segment holds them.
fn read<'d>(file: &object::File<'d>, address: u64, len: u64) -> Option<&'d [u8]> {
    file.segments().find_map(|s| s.data_range(address, len).ok().flatten())
}

/// The QEMU target name (as the disassembler knows it) of the file's architecture.
fn arch_name(file: &object::File<'_>) -> &'static str {
    match file.architecture() {
        Architecture::X86_64 => "x86_64",
        Architecture::I386 => "i386",
        Architecture::Aarch64 => "aarch64",
        Architecture::Arm => "arm",
        Architecture::Riscv64 => "riscv64",
        Architecture::Mips if file.is_little_endian() => "mipsel",
        Architecture::Mips => "mips",
        Architecture::PowerPc64 => "ppc64le",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
