//! Source file and line of guest code, from DWARF: the `source-frames` and `source-lines`
//! host services.
//!
//! gimli and addr2line read the debug information; this module only finds it and maps
//! addresses. A module's DWARF is in its own file, or (Debian's `-dbgsym` packages, a
//! `strip --only-keep-debug` workflow) in a separate file found the way gdb finds it
//! (`debug_files.rs`: build-id, `.gnu_debuglink`; the user's `debug-dir=`, `/usr/lib/debug`). DWARF addresses are link-time addresses: a guest address minus the module's
//! load bias ([`MODULES`]'s, the one `symbolize` uses). Each module's context is built once
//! and kept for the run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use addr2line::gimli;
use object::{Object, ObjectSection};

use super::debug_files;
use super::modules::MODULES;

/// Section bytes are leaked: each module's DWARF is kept for the whole run anyway (the cache
/// never drops an entry), and gimli's owning readers need a feature that would rebuild
/// wasmtime's copy of gimli.
type Reader = gimli::EndianSlice<'static, gimli::RunTimeEndian>;

/// One source position (see the WIT record `source-frame`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub function: Option<String>,
}

/// A module's DWARF, ready for lookups.
struct Debug {
    context: addr2line::Context<Reader>,
}

/// Per module path: its DWARF, or `None` when neither it nor a debug file has any. The
/// contexts are not `Sync` (lazily parsed units), so lookups happen under the lock; script
/// calls never overlap anyway.
static CACHE: LazyLock<Mutex<HashMap<String, Option<Debug>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Calls `f` with the DWARF of the module containing `guest` and the link-time address of
/// `guest`; `None` when the address is in no module or the module has no DWARF.
fn with_debug<R>(guest: u64, f: impl FnOnce(&Debug, u64) -> R) -> Option<R> {
    let (path, bias) = MODULES.module_bias(guest)?;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let debug = cache.entry(path.clone()).or_insert_with(|| load(Path::new(&path))).as_ref()?;
    Some(f(debug, guest.wrapping_sub(bias)))
}

/// The frames of the code at `guest`, innermost (inlined) first.
pub fn frames(guest: u64) -> Vec<Frame> {
    with_debug(guest, |debug, probe| {
        let mut out = Vec::new();
        let Ok(mut iter) = debug.context.find_frames(probe).skip_all_loads() else { return out };
        while let Ok(Some(frame)) = iter.next() {
            let function = frame.function.as_ref().and_then(|f| f.demangle().ok()).map(|n| n.into_owned());
            let (file, line, column) = match &frame.location {
                Some(l) => (l.file.unwrap_or("").to_owned(), l.line.unwrap_or(0), l.column.unwrap_or(0)),
                None => (String::new(), 0, 0),
            };
            out.push(Frame { file, line, column, function });
        }
        out
    })
    .unwrap_or_default()
}

/// Line-table positions of many addresses, as columns: (files, file index per address or
/// `u32::MAX`, line per address or 0).
pub struct Lines {
    pub files: Vec<String>,
    pub file_index: Vec<u32>,
    pub line: Vec<u32>,
}

pub fn lines(addresses: &[u64]) -> Lines {
    let mut out = Lines { files: Vec::new(), file_index: Vec::with_capacity(addresses.len()), line: Vec::new() };
    let mut index: HashMap<String, u32> = HashMap::new();
    for &guest in addresses {
        let found = with_debug(guest, |debug, probe| match debug.context.find_location(probe) {
            Ok(Some(l)) => l.file.map(|f| (f.to_owned(), l.line.unwrap_or(0))),
            _ => None,
        })
        .flatten();
        match found {
            Some((file, line)) => {
                let next = out.files.len() as u32;
                let i = *index.entry(file).or_insert_with_key(|file| {
                    out.files.push(file.clone());
                    next
                });
                out.file_index.push(i);
                out.line.push(line);
            }
            None => {
                out.file_index.push(u32::MAX);
                out.line.push(0);
            }
        }
    }
    out
}

/// The DWARF of the file at `path`: its own, else its separate debug file's.
fn load(path: &Path) -> Option<Debug> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    if has_dwarf(&file) {
        return from_object(&file);
    }
    let debug_path = debug_files::find(path, &file)?;
    let debug_data = std::fs::read(&debug_path).ok()?;
    let debug_file = object::File::parse(&*debug_data).ok()?;
    from_object(&debug_file)
}

fn has_dwarf(file: &object::File<'_>) -> bool {
    file.section_by_name(".debug_line").is_some_and(|s| s.size() > 0)
}

/// An addr2line context over the DWARF sections of `file` (decompressed when compressed,
/// as Debian's debug files are).
fn from_object(file: &object::File<'_>) -> Option<Debug> {
    let endian = if file.is_little_endian() { gimli::RunTimeEndian::Little } else { gimli::RunTimeEndian::Big };
    let section = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        let bytes: &'static [u8] = match file.section_by_name(id.name()).and_then(|s| s.uncompressed_data().ok()) {
            Some(data) => Box::leak(data.into_owned().into_boxed_slice()),
            None => &[],
        };
        Ok(gimli::EndianSlice::new(bytes, endian))
    };
    let dwarf = gimli::Dwarf::load(section).ok()?;
    let context = addr2line::Context::from_dwarf(dwarf).ok()?;
    Some(Debug { context })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_source_line_of_this_test() {
        // Test binaries carry DWARF (line tables at least); guest base is 0 here.
        let here = line!();
        let addr = finds_the_source_line_of_this_test as *const () as usize as u64;
        let frames = frames(addr);
        let outer = frames.last().unwrap_or_else(|| panic!("no frames for {addr:#x}"));
        assert!(outer.file.ends_with("source_lines.rs"), "{frames:?}");
        // The function's first instruction belongs to its `fn` line (just above `here`).
        assert!(outer.line + 3 >= here && outer.line <= here, "{frames:?} (line!() = {here})");
        let cols = lines(&[addr, 8]);
        assert_eq!(cols.file_index[1], u32::MAX);
        assert_eq!(cols.files[cols.file_index[0] as usize], outer.file);
    }
}
