//! Which file a guest address belongs to, and which ELF symbol.
//!
//! Modules come from the host's `/proc/self/maps` (guest memory is mapped into QEMU's address
//! space), re-read whenever an address is not found, so libraries loaded late are found too.
//! Symbols come from each module's ELF file: its functions as `functions/` recovers them (symbol
//! tables, the debug file's for a stripped file, PLT stubs, unwind tables, ...: every byte of
//! code lies in one), and its sized data objects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use super::arm_isa::Isa;
use super::disasm::{self, Instruction};
use super::functions::Origin;
use super::symbol_table::SymbolTable;
use super::{to_guest, to_host};

/// One file-backed mapping of our process, in host addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub path: String,
}

pub fn read_maps() -> Vec<Mapping> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    text.lines().filter_map(parse_maps_line).collect()
}

pub fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let path = fields.nth(4)?;
    if !path.starts_with('/') {
        return None;
    }
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        path: path.to_owned(),
    })
}

/// A guest address resolved to its module and symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub module: String,
    pub module_base: u64,
    pub offset: u64,
    pub symbol: Option<Symbol>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub start: u64,
    pub size: u64,
    /// Where the function's start and name came from; None for a data object.
    pub origin: Option<Origin>,
}

/// A module's symbol table and its load bias (where it landed minus where the file says).
type BiasedSymbols = (Arc<SymbolTable>, u64);

pub struct Modules {
    /// The host's mappings as last read, with the value of `changes` they were read at.
    maps: Mutex<(Vec<Mapping>, u64)>,
    /// Bumped whenever the guest may have changed its mappings (mmap, munmap, mremap...):
    /// a cached mapping can then be stale even where it covers an address (a library loaded
    /// by dlopen where `/etc/ld.so.cache` was mapped before).
    changes: AtomicU64,
    tables: Mutex<HashMap<String, Option<Arc<SymbolTable>>>>,
}

pub static MODULES: LazyLock<Modules> = LazyLock::new(|| Modules {
    maps: Mutex::new((Vec::new(), 0)),
    changes: AtomicU64::new(0),
    tables: Mutex::new(HashMap::new()),
});

impl Modules {
    /// The path of the file mapped at host address `host`.
    pub fn path_at_host(&self, host: u64) -> Option<String> {
        self.with_mapping(host, |m, _| m.path.clone())
    }

    /// The guest maps or unmaps memory (called at the system call's entry and at its return,
    /// so that a lookup by another vCPU in between cannot keep the old maps): the next lookup
    /// reads the maps again.
    pub fn mappings_changing(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// Finds the mapping containing `host` (re-reading the maps once on a miss, and after the
    /// guest changed its mappings) and passes it
    /// with the module's lowest host address. (User mode only: in system mode QEMU's own
    /// files are all that is mapped.)
    fn with_mapping<R>(&self, host: u64, f: impl FnOnce(&Mapping, u64) -> R) -> Option<R> {
        if super::system_mode() {
            return None;
        }
        let mut guard = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let changes = self.changes.load(Ordering::Acquire);
        if guard.1 != changes || !guard.0.iter().any(|m| (m.start..m.end).contains(&host)) {
            *guard = (read_maps(), changes);
        }
        let maps = &guard.0;
        let m = maps.iter().find(|m| (m.start..m.end).contains(&host))?;
        let base = maps.iter().filter(|o| o.path == m.path).map(|o| o.start).min().unwrap_or(m.start);
        Some(f(m, base))
    }

    /// The module containing guest address `guest` and the address's offset in it (as drcov
    /// counts), without reading the module's ELF file.
    pub fn module_offset(&self, guest: u64) -> Option<(String, u64)> {
        if super::system_mode() {
            return super::images::module_at(guest).map(|(path, base, _)| (path, guest - base));
        }
        self.with_mapping(to_host(guest), |m, base| (m.path.clone(), guest.wrapping_sub(to_guest(base))))
    }

    /// The module containing guest address `guest`: its path, guest base, and symbol table
    /// with the load bias (where the first segment's page landed, minus where the file says).
    fn module_at(&self, guest: u64) -> Option<(String, u64, Option<BiasedSymbols>)> {
        if super::system_mode() {
            return super::images::module_at(guest).map(|(path, base, table)| (path, base, Some(table)));
        }
        let (path, base_host) = self.with_mapping(to_host(guest), |m, base| (m.path.clone(), base))?;
        let module_base = to_guest(base_host);
        let table = {
            let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            tables.entry(path.clone()).or_insert_with(|| SymbolTable::load(&path).map(Arc::new)).clone()
        };
        let table = table.map(|t| {
            let bias = module_base.wrapping_sub(t.first_segment);
            (t, bias)
        });
        Some((path, module_base, table))
    }

    /// The path of the module containing `guest` and its load bias (guest address minus the
    /// address the ELF file gives), for mapping to link-time addresses (DWARF).
    pub fn module_bias(&self, guest: u64) -> Option<(String, u64)> {
        let (path, _, table) = self.module_at(guest)?;
        Some((path, table?.1))
    }

    pub fn symbolize(&self, guest: u64) -> Option<Location> {
        let (path, module_base, table) = self.module_at(guest)?;
        let symbol = table.and_then(|(t, bias)| {
            let rel = guest.wrapping_sub(module_base);
            t.find(rel).map(|(start, size, name, origin)| Symbol {
                name: name.to_owned(),
                start: (start + t.first_segment).wrapping_add(bias),
                size,
                origin,
            })
        });
        Some(Location { module: path, module_base, offset: guest - module_base, symbol })
    }

    /// The guest address of the function called `name` in the module containing `guest`
    /// (its symbol tables' names and aliases, and the names `symbolize` gives: `sub_...`,
    /// `f@plt`).
    /// Two on PowerPC64 ELFv2: the global and the local entry point. With each, whether the
    /// symbol is an IFUNC: the address is then a resolver's, which returns the function's.
    pub fn function_addresses(&self, guest: u64, name: &str) -> Vec<(u64, bool)> {
        let Some((_, _, Some((t, bias)))) = self.module_at(guest) else { return Vec::new() };
        t.addresses_of(name)
            .into_iter()
            .map(|rel| ((rel + t.first_segment).wrapping_add(bias), t.is_ifunc(rel)))
            .collect()
    }

    /// Disassembles guest code at `address` for target `arch`; 32-bit ARM code in the
    /// instruction sets the module's ELF file gives (`disasm::disassemble`).
    pub fn disassemble(&self, arch: &str, address: u64, code: &[u8]) -> anyhow::Result<Vec<Instruction>> {
        let elf = match arch {
            "arm" => self.arm_isa_ranges(address, address + code.len() as u64),
            _ => Vec::new(),
        };
        disasm::disassemble(arch, address, code, &elf)
    }

    /// What the ELF file of the module containing `start` says about 32-bit ARM instruction
    /// sets in [start, end): guest ranges, sorted, clipped to [start, end).
    fn arm_isa_ranges(&self, start: u64, end: u64) -> Vec<(u64, u64, Isa)> {
        let Some((_, module_base, Some((t, _)))) = self.module_at(start) else { return Vec::new() };
        // Relative addresses in the table are relative to the first segment's page, which is
        // where the module's lowest mapping starts.
        let (rs, re) = (start - module_base, end - module_base);
        t.isa
            .iter()
            .filter(|r| r.1 > rs && r.0 < re)
            .map(|&(s, e, isa)| (s.max(rs) + module_base, e.min(re) + module_base, isa))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_backed_mappings_only() {
        let m = parse_maps_line("7f00-7f80 r-xp 00001000 08:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(m, Mapping { start: 0x7f00, end: 0x7f80, path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into() });
        assert!(parse_maps_line("7f00-7f80 rw-p 00000000 00:00 0 ").is_none());
        assert!(parse_maps_line("7f00-7f80 rw-p 00000000 00:00 0   [heap]").is_none());
    }

    #[test]
    fn symbolizes_a_function_of_this_process() {
        // Our own test binary is mapped from a file like any module (guest base 0 here).
        let addr = symbolizes_a_function_of_this_process as *const () as usize as u64;
        let loc = MODULES.symbolize(addr).expect("the test binary is a mapped file");
        assert!(loc.module.contains("cannonball"), "{loc:?}");
        let sym = loc.symbol.expect("test binaries keep their symbol table");
        assert!(sym.name.contains("symbolizes_a_function_of_this_process"), "{sym:?}");
        assert!(sym.start <= addr && addr < sym.start + sym.size);
    }
}
