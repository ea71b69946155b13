//! A module's functions and data objects, from its ELF file (its functions as `functions/`
//! recovers them: every byte of code lies in one) or from a symbol list (`images`).

use std::path::Path;

use object::{Architecture, Object, ObjectSegment, ObjectSymbol, SymbolKind};

use super::arm_isa::Isa;
use super::debug_files;
use super::functions::{self, Function, Origin};

/// A module's functions and data objects with addresses relative to its first loadable
/// segment's page.
pub(super) struct SymbolTable {
    pub(super) first_segment: u64,
    /// Recovered functions (functions/), relative, sorted and disjoint.
    pub(super) functions: Vec<Function>,
    /// (relative start, size, name) of sized data objects, sorted.
    data: Vec<(u64, u64, String)>,
    /// 32-bit ARM only: (relative start, end, instruction set), sorted, from the mapping
    /// symbols `$a`/`$t`/`$d` (each runs to the next), else from function symbols' low bit.
    pub(super) isa: Vec<(u64, u64, Isa)>,
    /// Every function symbol's name (aliases too: glibc's `malloc` is also `__libc_malloc`,
    /// and `functions` keeps one name per address), relative like `functions`.
    /// On PowerPC64 ELFv2 a function has two entries, the global and the local one.
    names: std::collections::HashMap<String, Vec<u64>>,
    /// Functions whose symbol is an IFUNC (`STT_GNU_IFUNC`): the address is a resolver that
    /// returns the implementation (glibc's strcmp, memcpy, ...).
    ifuncs: std::collections::HashSet<u64>,
}

impl SymbolTable {
    pub(super) fn load(path: &str) -> Option<Self> {
        let data = std::fs::read(path).ok()?;
        // ELF32 and ELF64 of either byte order: `object` reads them all.
        let file = object::File::parse(&*data).ok()?;
        Some(Self::from_elf(path, &file))
    }

    /// The table of an ELF file read from `path` (its debug file is looked up from there).
    pub(super) fn from_elf(path: &str, file: &object::File<'_>) -> Self {
        let arm = file.architecture() == Architecture::Arm;
        let first_segment = file.segments().map(|s| s.address()).min().unwrap_or(0) & !0xfff;
        // A stripped file's symbol table may be in its separate debug file.
        let debug_data = (file.symbols().next().is_none())
            .then(|| debug_files::find(Path::new(path), file))
            .flatten()
            .and_then(|p| std::fs::read(p).ok());
        let debug = debug_data.as_deref().and_then(|d| object::File::parse(d).ok());
        let relative = |mut f: Function| {
            f.start -= first_segment;
            f.end -= first_segment;
            f
        };
        let functions = functions::recover(file, debug.as_ref(), first_segment).into_iter().map(relative).collect();
        let data = functions::data_objects(file, debug.as_ref())
            .into_iter()
            .filter(|d| d.0 >= first_segment)
            .map(|(start, size, name)| (start - first_segment, size, name))
            .collect();
        let isa = if arm { arm_isa_ranges(file, first_segment) } else { Vec::new() };
        let ppc64 = file.architecture() == Architecture::PowerPc64;
        let mut names = std::collections::HashMap::new();
        let mut ifuncs = std::collections::HashSet::new();
        for sym in file
            .symbols()
            .chain(file.dynamic_symbols())
            .chain(debug.iter().flat_map(|d| d.symbols()))
            .filter(|s| s.kind() == SymbolKind::Text && s.address() & !1 >= first_segment)
        {
            let Ok(name) = sym.name() else { continue };
            let address = if arm { sym.address() & !1 } else { sym.address() };
            if let object::SymbolFlags::Elf { st_info, .. } = sym.flags()
                && st_info & 0xf == object::elf::STT_GNU_IFUNC
            {
                ifuncs.insert(address - first_segment);
            }
            names.entry(name.to_owned()).or_insert_with(|| {
                let mut entries = vec![address - first_segment];
                // ELFv2: calls from code sharing the TOC enter past the TOC setup, at the
                // local entry point st_other encodes.
                if let (true, object::SymbolFlags::Elf { st_other, .. }) = (ppc64, sym.flags()) {
                    let offset = ppc64_local_entry_offset(st_other);
                    if offset > 0 {
                        entries.push(address - first_segment + offset);
                    }
                }
                entries
            });
        }
        Self { first_segment, functions, data, isa, names, ifuncs }
    }

    /// A table from a symbol list without a file behind it (a `System.map`): functions and
    /// data objects at absolute addresses, none below `first_segment`.
    pub(super) fn from_list(first_segment: u64, functions: Vec<Function>, data: Vec<(u64, u64, String)>) -> Self {
        let functions = functions
            .into_iter()
            .map(|mut f| {
                f.start -= first_segment;
                f.end -= first_segment;
                f
            })
            .collect();
        let data = data.into_iter().map(|(start, size, name)| (start - first_segment, size, name)).collect();
        Self { first_segment, functions, data, isa: Vec::new(), names: Default::default(), ifuncs: Default::default() }
    }

    /// The function, else the data object, containing relative address `rel`: (start, size,
    /// name, origin).
    /// Where the function `name` starts, relative: a name `find` gives (`sub_...`, `f@plt`
    /// included) or any alias the symbol tables have.
    /// Whether the function at relative address `rel` is an IFUNC resolver.
    pub(super) fn is_ifunc(&self, rel: u64) -> bool {
        self.ifuncs.contains(&rel)
    }

    /// Every entry address (two on PowerPC64 ELFv2: global and local).
    pub(super) fn addresses_of(&self, name: &str) -> Vec<u64> {
        if let Some(entries) = self.names.get(name) {
            return entries.clone();
        }
        self.functions.iter().find(|f| f.name == name).map(|f| vec![f.start]).unwrap_or_default()
    }

    pub(super) fn find(&self, rel: u64) -> Option<(u64, u64, &str, Option<Origin>)> {
        let i = self.functions.partition_point(|f| f.start <= rel);
        if let Some(f) = i.checked_sub(1).map(|i| &self.functions[i]).filter(|f| rel < f.end) {
            return Some((f.start, f.end - f.start, &f.name, Some(f.origin)));
        }
        let i = self.data.partition_point(|s| s.0 <= rel);
        let d = self.data[..i].iter().rev().take(8).find(|s| rel < s.0 + s.1)?;
        Some((d.0, d.1, &d.2, None))
    }
}

/// What an ARM ELF file says about its instruction sets, relative to `first_segment`.
/// PPC64_LOCAL_ENTRY_OFFSET of the ELFv2 ABI: bits 5-7 of st_other.
fn ppc64_local_entry_offset(st_other: u8) -> u64 {
    match (st_other >> 5) & 7 {
        v @ 2..=6 => (1u64 << v) >> 2 << 2,
        _ => 0,
    }
}

fn arm_isa_ranges(file: &object::File<'_>, first_segment: u64) -> Vec<(u64, u64, Isa)> {
    let mut marks: Vec<(u64, Isa)> = file
        .symbols()
        .filter(|s| s.address() >= first_segment)
        .filter_map(|s| {
            let name = s.name().ok()?;
            let isa = match name.split('.').next()? {
                "$a" => Isa::Arm,
                "$t" => Isa::Thumb,
                "$d" => Isa::Data,
                _ => return None,
            };
            Some((s.address() - first_segment, isa))
        })
        .collect();
    if !marks.is_empty() {
        marks.sort();
        marks.dedup_by_key(|m| m.0);
        let ends = marks.iter().skip(1).map(|m| m.0).chain([u64::MAX]);
        return marks.iter().zip(ends).map(|(&(start, isa), end)| (start, end, isa)).collect();
    }
    // A stripped file keeps its exported functions in .dynsym, Thumb ones with bit 0 set.
    let mut ranges: Vec<_> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0 && s.address() & !1 >= first_segment)
        .map(|s| {
            let start = (s.address() & !1) - first_segment;
            (start, start + s.size(), if s.address() & 1 == 1 { Isa::Thumb } else { Isa::Arm })
        })
        .collect();
    ranges.sort();
    // Keep them disjoint (aliases of one function share a start).
    let mut out: Vec<(u64, u64, Isa)> = Vec::new();
    for r in ranges {
        match out.last() {
            Some(last) if r.0 < last.1 => {}
            _ => out.push(r),
        }
    }
    out
}
