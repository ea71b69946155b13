//! Which code gets instrumented, decided once per translated block.

use std::sync::OnceLock;

use qemu_plugin_sys as sys;

use crate::events::AddressFilter;
use crate::services::modules::MODULES;

pub enum CodeFilter {
    All,
    /// [start_code, end_code) of the main binary, asked from QEMU at the first translation
    /// (the API needs a running vCPU).
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

    /// # Safety
    /// `tb` must be the block handle of the current translation callback.
    pub unsafe fn allows(&self, tb: *mut sys::qemu_plugin_tb) -> bool {
        let vaddr = unsafe { sys::qemu_plugin_tb_vaddr(tb) };
        match self {
            Self::All => true,
            Self::MainBinary(range) => {
                let &(start, end) =
                    range.get_or_init(|| unsafe { (sys::qemu_plugin_start_code(), sys::qemu_plugin_end_code()) });
                (start..end).contains(&vaddr)
            }
            Self::Ranges(ranges) => ranges.iter().any(|&(s, e)| (s..e).contains(&vaddr)),
            Self::Module(name) => {
                // The host address of the code tells which file it was mapped from.
                let haddr = unsafe { sys::qemu_plugin_insn_haddr(sys::qemu_plugin_tb_get_insn(tb, 0)) as u64 };
                MODULES
                    .path_at_host(haddr)
                    .is_some_and(|path| path == *name || path.rsplit('/').next() == Some(name.as_str()))
            }
        }
    }
}
