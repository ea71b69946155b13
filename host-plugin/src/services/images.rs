//! The modules of a system-mode run: images the user names with `symbols=FILE[@ADDRESS]`
//! (repeatable). A system emulator has no loader to ask where code came from, so the user says
//! it: an ELF file (firmware, `vmlinux`, a program inside the guest) at its link address or with
//! its lowest loadable segment placed at ADDRESS, or a symbol list in `System.map` form
//! (`/proc/kallsyms` too: a trailing `[module]` column is allowed), at its addresses or with its
//! lowest code symbol placed at ADDRESS (a kernel with KASLR).
//!
//! Symbols, disassembly (32-bit ARM instruction sets from the ELF), source lines and drcov
//! module offsets then work as for user-mode modules; reads of guest memory inside an ELF
//! image's loaded bytes are answered from the file.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, bail};
use object::{Object, ObjectSegment};

use super::functions::{Function, Origin};
use super::symbol_table::SymbolTable;

/// One image, placed.
struct Image {
    path: String,
    /// Guest addresses [start, end) that belong to the image.
    start: u64,
    end: u64,
    /// Placed address minus linked address.
    bias: u64,
    table: Arc<SymbolTable>,
    /// Loadable segments' file bytes at their linked addresses (ELF only).
    segments: Vec<(u64, Vec<u8>)>,
}

static IMAGES: OnceLock<Vec<Image>> = OnceLock::new();

/// Loads every `symbols=` image; each bad one is an error naming it.
pub fn load(specs: &[String]) -> Result<()> {
    let images =
        specs.iter().map(|spec| load_one(spec).with_context(|| format!("symbols={spec}"))).collect::<Result<_>>()?;
    let _ = IMAGES.set(images);
    Ok(())
}

/// The image containing `guest`: its path, module base (where its first segment's page
/// landed) and symbol table with the load bias.
pub(super) fn module_at(guest: u64) -> Option<(String, u64, (Arc<SymbolTable>, u64))> {
    let image = find(guest)?;
    let base = image.table.first_segment.wrapping_add(image.bias);
    Some((image.path.clone(), base, (image.table.clone(), image.bias)))
}

/// The [start, end) of the first image, the run's "main binary" (`filter: main-binary`).
pub fn first_extent() -> Option<(u64, u64)> {
    IMAGES.get()?.first().map(|i| (i.start, i.end))
}

/// True if `guest` lies in an image whose file is called `name` (a path, or its last part).
pub fn is_in_module(guest: u64, name: &str) -> bool {
    find(guest).is_some_and(|i| i.path == name || i.path.rsplit('/').next() == Some(name))
}

/// `len` bytes at `guest` from an ELF image's loaded bytes, if all of them are there.
pub fn read(guest: u64, len: usize) -> Option<Vec<u8>> {
    let image = find(guest)?;
    let linked = guest.wrapping_sub(image.bias);
    let end = linked.checked_add(len as u64)?;
    image.segments.iter().find_map(|(start, bytes)| {
        (*start <= linked && end <= start + bytes.len() as u64)
            .then(|| bytes[(linked - start) as usize..(end - start) as usize].to_vec())
    })
}

fn find(guest: u64) -> Option<&'static Image> {
    IMAGES.get()?.iter().find(|i| (i.start..i.end).contains(&guest))
}

/// `FILE` or `FILE@ADDRESS`. A file whose own name contains `@` is taken whole when it exists.
fn split_spec(spec: &str) -> Result<(&str, Option<u64>)> {
    if spec.is_empty() {
        bail!("needs a file: symbols=FILE or symbols=FILE@ADDRESS");
    }
    if Path::new(spec).exists() {
        return Ok((spec, None));
    }
    match spec.rsplit_once('@') {
        Some((file, address)) => {
            let parsed = match address.strip_prefix("0x").or_else(|| address.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
                None => address.parse().ok(),
            };
            match parsed {
                Some(a) => Ok((file, Some(a))),
                None => bail!("ADDRESS '{address}' does not parse (hex with 0x, or decimal)"),
            }
        }
        None => Ok((spec, None)),
    }
}

fn load_one(spec: &str) -> Result<Image> {
    let (file, address) = split_spec(spec)?;
    let data = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
    if data.starts_with(b"\x7fELF") {
        let elf = object::File::parse(&*data).map_err(|e| anyhow::anyhow!("{file}: not a readable ELF file: {e}"))?;
        return elf_image(file, &elf, address);
    }
    let text =
        std::str::from_utf8(&data).map_err(|_| anyhow::anyhow!("{file}: neither an ELF file nor a System.map"))?;
    symbol_map_image(file, text, address)
}

fn elf_image(path: &str, elf: &object::File<'_>, address: Option<u64>) -> Result<Image> {
    let loaded: Vec<_> = elf.segments().filter(|s| s.size() > 0).collect();
    let Some(low) = loaded.iter().map(|s| s.address()).min() else {
        bail!(
            "{path}: an ELF file without loadable segments (a relocatable object?): link it, or give its symbols as a System.map"
        )
    };
    let high = loaded.iter().map(|s| s.address() + s.size()).max().unwrap_or(low);
    let bias = address.map_or(0, |a| a.wrapping_sub(low));
    let segments = loaded
        .iter()
        .filter_map(|s| Some((s.address(), s.data().ok()?.to_vec())))
        .filter(|(_, bytes)| !bytes.is_empty())
        .collect();
    let table = SymbolTable::from_elf(path, elf);
    Ok(Image {
        path: path.to_owned(),
        start: low.wrapping_add(bias),
        end: high.wrapping_add(bias),
        bias,
        table: Arc::new(table),
        segments,
    })
}

/// One `System.map` (or `/proc/kallsyms`) line: address, type letter, name.
fn parse_map_line(line: &str) -> Option<(u64, char, &str)> {
    let mut fields = line.split_whitespace();
    let address = u64::from_str_radix(fields.next()?, 16).ok()?;
    let kind = fields.next()?;
    let kind = if kind.len() == 1 { kind.chars().next()? } else { return None };
    let name = fields.next()?;
    match fields.next() {
        None => {}
        Some(module) if module.starts_with('[') && module.ends_with(']') && fields.next().is_none() => {}
        Some(_) => return None,
    }
    Some((address, kind, name))
}

fn symbol_map_image(path: &str, text: &str, address: Option<u64>) -> Result<Image> {
    // Code symbols with their rank among aliases: global (T) before weak (W, w) before local (t),
    // then the first in the file.
    let mut code: Vec<(u64, u8, usize, String)> = Vec::new();
    let mut data = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Some((addr, kind, name)) = parse_map_line(line) else {
            bail!("{path}: neither an ELF file nor a System.map (line {}: '{}')", n + 1, line.trim());
        };
        match kind {
            'T' => code.push((addr, 0, n, name.to_owned())),
            'W' | 'w' => code.push((addr, 1, n, name.to_owned())),
            't' => code.push((addr, 2, n, name.to_owned())),
            'd' | 'D' | 'b' | 'B' | 'r' | 'R' | 'v' | 'V' | 'g' | 'G' | 's' | 'S' => data.push((addr, name.to_owned())),
            _ => {}
        }
    }
    code.retain(|c| c.0 != 0);
    if code.is_empty() {
        bail!("{path}: a symbol list without code symbols (types t, T, w, W)");
    }
    code.sort();
    code.dedup_by_key(|c| c.0);
    let code: Vec<(u64, String)> = code.into_iter().map(|(addr, _, _, name)| (addr, name)).collect();
    let low = code[0].0;
    // Per-CPU variables and absolute symbols sit near 0, far below the code: not ours.
    data.retain(|(a, _)| *a >= low);
    data.sort();
    let mut all: Vec<u64> = code.iter().chain(&data).map(|s| s.0).collect();
    all.sort_unstable();
    all.dedup();
    // Each symbol runs to the next one; the last one is given one byte.
    let next = |a: u64| all.get(all.partition_point(|&x| x <= a)).copied().unwrap_or(a + 1);
    let first_segment = low & !0xfff;
    let high = all.last().map_or(low, |&a| a + 1);
    let functions = code
        .iter()
        .map(|(start, name)| Function {
            start: *start,
            end: next(*start),
            name: name.clone(),
            origin: Origin::SymbolTable,
        })
        .collect();
    let data = data.iter().map(|(start, name)| (*start, next(*start) - start, name.clone())).collect();
    let bias = address.map_or(0, |a| a.wrapping_sub(low));
    Ok(Image {
        path: path.to_owned(),
        start: low.wrapping_add(bias),
        end: high.wrapping_add(bias),
        bias,
        table: Arc::new(SymbolTable::from_list(first_segment, functions, data)),
        segments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_parse_as_system_map_and_kallsyms_write_them() {
        assert_eq!(parse_map_line("ffffffff81000000 T _text"), Some((0xffffffff81000000, 'T', "_text")));
        assert_eq!(parse_map_line("ffffffffc0a01000 t foo_init\t[foo]"), Some((0xffffffffc0a01000, 't', "foo_init")));
        assert_eq!(parse_map_line("hello world"), None);
        assert_eq!(parse_map_line("ffff TT x"), None);
        assert_eq!(parse_map_line("ffff T x y"), None);
    }

    #[test]
    fn a_system_map_places_symbols_and_relocates() {
        let map = "0000000000000000 D __per_cpu_start\nffffffff81000000 T _text\nffffffff81000100 t helper\nffffffff81000180 t __do_alias\nffffffff81000180 T __ia32_alias\nffffffff81000180 T __x64_alias\nffffffff81002000 D some_data\nffffffff81003000 B _end\n";
        let image = symbol_map_image("System.map", map, None).unwrap();
        assert_eq!((image.start, image.end), (0xffffffff81000000, 0xffffffff81003001));
        let helper = image.table.functions.iter().find(|f| f.name == "helper").unwrap();
        assert_eq!(
            (helper.start + image.table.first_segment, helper.end + image.table.first_segment),
            (0xffffffff81000100, 0xffffffff81000180)
        );
        let names: Vec<&str> = image.table.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["_text", "helper", "__ia32_alias"], "aliases: the first global one");
        let moved = symbol_map_image("System.map", map, Some(0xffffffff9a000000)).unwrap();
        assert_eq!(moved.start, 0xffffffff9a000000);
        assert_eq!(moved.bias, 0x19000000);
        let err = symbol_map_image("x", "not a map\n", None).err().expect("refused");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(symbol_map_image("x", "0000000000001000 D only_data\n", None).is_err());
    }

    #[test]
    fn specs_split_at_the_address() {
        assert_eq!(split_spec("/nonexistent/fw.elf@0x8000_0000").unwrap(), ("/nonexistent/fw.elf", Some(0x8000_0000)));
        assert_eq!(split_spec("/nonexistent/fw.elf@4096").unwrap(), ("/nonexistent/fw.elf", Some(4096)));
        assert_eq!(split_spec("/nonexistent/fw.elf").unwrap(), ("/nonexistent/fw.elf", None));
        assert!(split_spec("/nonexistent/fw.elf@0xzz").unwrap_err().to_string().contains("does not parse"));
        assert!(split_spec("").is_err());
    }
}
