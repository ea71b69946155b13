//! Which code gets instrumented, decided once per translated block.

use std::sync::OnceLock;

use crate::events::AddressFilter;
use crate::qemu::Tb;
use crate::services::{images, modules::MODULES, system_mode};

pub enum CodeFilter {
    All,
    /// [start_code, end_code) of the main binary, asked from QEMU at the first translation
    /// (the API needs a running vCPU); in system mode the first `symbols=` image.
    MainBinary(OnceLock<(u64, u64)>),
    /// Code mapped from a file with this name or path.
    Module(String),
    Ranges(Vec<(u64, u64)>),
}

impl CodeFilter {
    pub fn from_wit(filter: Option<AddressFilter>) -> Self {
        match filter {
            None => Self::All,
            Some(AddressFilter::MainBinary) => Self::MainBinary(OnceLock::new()),
            Some(AddressFilter::Module(name)) => Self::Module(name),
            Some(AddressFilter::Ranges(ranges)) => Self::Ranges(ranges.into_iter().map(|r| (r.start, r.end)).collect()),
        }
    }

    pub fn allows(&self, tb: Tb<'_>) -> bool {
        let vaddr = tb.vaddr();
        match self {
            Self::All => true,
            Self::MainBinary(range) => {
                let &(start, end) = range.get_or_init(|| match system_mode() {
                    true => images::first_extent().unwrap_or((0, u64::MAX)),
                    false => tb.main_binary_code(),
                });
                (start..end).contains(&vaddr)
            }
            Self::Ranges(ranges) => ranges.iter().any(|&(s, e)| (s..e).contains(&vaddr)),
            Self::Module(name) if system_mode() => images::is_in_module(vaddr, name),
            Self::Module(name) => {
                // The host address of the code tells which file it was mapped from.
                let haddr = tb.insn(0).haddr();
                MODULES
                    .path_at_host(haddr)
                    .is_some_and(|path| path == *name || path.rsplit('/').next() == Some(name.as_str()))
            }
        }
    }
}
