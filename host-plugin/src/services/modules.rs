//! Which file a guest address belongs to, and which ELF symbol.
//!
//! Modules come from the host's `/proc/self/maps` (guest memory is mapped into QEMU's address
//! space), re-read whenever an address is not found, so libraries loaded late are found too.
//! Symbols come from each module's ELF file: `.symtab` when present, else `.dynsym`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

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
}

/// A module's symbols with addresses relative to its first loadable segment's page.
struct SymbolTable {
    first_segment: u64,
    /// (relative start, size, name), sorted by start.
    symbols: Vec<(u64, u64, String)>,
}

impl SymbolTable {
    fn load(path: &str) -> Option<Self> {
        let data = std::fs::read(path).ok()?;
        let file = object::File::parse(&*data).ok()?;
        let first_segment = file.segments().map(|s| s.address()).min().unwrap_or(0) & !0xfff;
        let mut symbols: Vec<_> = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| matches!(s.kind(), SymbolKind::Text | SymbolKind::Data) && s.size() > 0 && s.address() > 0)
            .filter_map(|s| Some((s.address() - first_segment, s.size(), s.name().ok()?.to_owned())))
            .collect();
        symbols.sort();
        symbols.dedup_by_key(|s| s.0);
        Some(Self { first_segment, symbols })
    }

    fn find(&self, rel: u64) -> Option<&(u64, u64, String)> {
        let i = self.symbols.partition_point(|s| s.0 <= rel);
        self.symbols[..i].iter().rev().take(8).find(|s| rel < s.0 + s.1)
    }
}

pub struct Modules {
    maps: Mutex<Vec<Mapping>>,
    tables: Mutex<HashMap<String, Option<Arc<SymbolTable>>>>,
}

pub static MODULES: LazyLock<Modules> =
    LazyLock::new(|| Modules { maps: Mutex::new(Vec::new()), tables: Mutex::new(HashMap::new()) });

impl Modules {
    /// The path of the file mapped at host address `host`.
    pub fn path_at_host(&self, host: u64) -> Option<String> {
        self.with_mapping(host, |m, _| m.path.clone())
    }

    /// Finds the mapping containing `host` (re-reading the maps once on a miss) and passes it
    /// with the module's lowest host address.
    fn with_mapping<R>(&self, host: u64, f: impl FnOnce(&Mapping, u64) -> R) -> Option<R> {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        if !maps.iter().any(|m| (m.start..m.end).contains(&host)) {
            *maps = read_maps();
        }
        let m = maps.iter().find(|m| (m.start..m.end).contains(&host))?;
        let base = maps.iter().filter(|o| o.path == m.path).map(|o| o.start).min().unwrap_or(m.start);
        Some(f(m, base))
    }

    pub fn symbolize(&self, guest: u64) -> Option<Location> {
        let (path, base_host) = self.with_mapping(to_host(guest), |m, base| (m.path.clone(), base))?;
        let module_base = to_guest(base_host);
        let table = {
            let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            tables.entry(path.clone()).or_insert_with(|| SymbolTable::load(&path).map(Arc::new)).clone()
        };
        let symbol = table.and_then(|t| {
            // Load bias: where the first segment's page landed, minus where the file says.
            let bias = module_base.wrapping_sub(t.first_segment);
            let rel = guest.wrapping_sub(module_base);
            t.find(rel).map(|(start, size, name)| Symbol {
                name: name.clone(),
                start: (start + t.first_segment).wrapping_add(bias),
                size: *size,
            })
        });
        Some(Location { module: path, module_base, offset: guest - module_base, symbol })
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
