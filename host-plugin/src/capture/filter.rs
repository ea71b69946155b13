//! Which code gets instrumented, decided once per translated block.

use std::sync::{Mutex, OnceLock};

use qemu_plugin_sys as sys;

use crate::script::AddressFilter;

pub enum CodeFilter {
    All,
    /// [start_code, end_code) of the main binary, asked from QEMU at the first translation
    /// (the API needs a running vCPU).
    MainBinary(OnceLock<(u64, u64)>),
    /// Code mapped from a file with this name or path.
    Module {
        name: String,
        maps: Mutex<Vec<Mapping>>,
    },
    Ranges(Vec<(u64, u64)>),
}

/// One file-backed mapping of the host process (guest memory lives in it in user mode).
#[derive(Debug, Clone)]
pub struct Mapping {
    start: u64,
    end: u64,
    path: String,
}

impl CodeFilter {
    pub fn from_wit(filter: Option<AddressFilter>) -> Self {
        match filter {
            None => Self::All,
            Some(AddressFilter::MainBinary) => Self::MainBinary(OnceLock::new()),
            Some(AddressFilter::Module(name)) => Self::Module {
                name,
                maps: Mutex::new(Vec::new()),
            },
            Some(AddressFilter::Ranges(ranges)) => {
                Self::Ranges(ranges.into_iter().map(|r| (r.start, r.end)).collect())
            }
        }
    }

    /// # Safety
    /// `tb` must be the block handle of the current translation callback.
    pub unsafe fn allows(&self, tb: *mut sys::qemu_plugin_tb) -> bool {
        let vaddr = unsafe { sys::qemu_plugin_tb_vaddr(tb) };
        match self {
            Self::All => true,
            Self::MainBinary(range) => {
                let &(start, end) = range.get_or_init(|| unsafe {
                    (sys::qemu_plugin_start_code(), sys::qemu_plugin_end_code())
                });
                (start..end).contains(&vaddr)
            }
            Self::Ranges(ranges) => ranges.iter().any(|&(s, e)| (s..e).contains(&vaddr)),
            Self::Module { name, maps } => {
                // The host address of the code tells which file it was mapped from.
                let haddr = unsafe {
                    let insn = sys::qemu_plugin_tb_get_insn(tb, 0);
                    sys::qemu_plugin_insn_haddr(insn) as u64
                };
                let mut maps = maps.lock().unwrap_or_else(|p| p.into_inner());
                let mut found = lookup(&maps, haddr);
                if found.is_none() {
                    *maps = read_maps();
                    found = lookup(&maps, haddr);
                }
                found.is_some_and(|path| {
                    path == name || path.rsplit('/').next() == Some(name.as_str())
                })
            }
        }
    }
}

fn lookup(maps: &[Mapping], addr: u64) -> Option<&str> {
    maps.iter()
        .find(|m| (m.start..m.end).contains(&addr))
        .map(|m| m.path.as_str())
}

fn read_maps() -> Vec<Mapping> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    text.lines().filter_map(parse_maps_line).collect()
}

fn parse_maps_line(line: &str) -> Option<Mapping> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_backed_mappings_only() {
        let m = parse_maps_line(
            "7f00-7f80 r-xp 00001000 08:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.end, m.path.as_str()),
            (0x7f00, 0x7f80, "/usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert!(parse_maps_line("7f00-7f80 rw-p 00000000 00:00 0 ").is_none());
        assert!(parse_maps_line("7f00-7f80 rw-p 00000000 00:00 0   [heap]").is_none());
    }
}
