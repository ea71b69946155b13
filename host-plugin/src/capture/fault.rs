//! Exact instruction counts when the guest dies of a fault.
//!
//! Counts are added per block, at block entry. When an instruction in the middle of a block
//! faults (SIGSEGV, SIGBUS, SIGFPE) and the signal kills the guest, the instructions after it
//! were counted but never ran. QEMU's per-instruction counters (libinsn) count up to and
//! including the faulting instruction; so do we, by subtracting the rest at exit.
//!
//! At exit we know which thread is exiting and its PC, which QEMU has restored to the faulting
//! instruction. If the PC is where the thread's last system call returns to, the exit is
//! normal (exit, exit_group) or a signal delivered at that return (abort, kill): no
//! correction. Otherwise the block is the vCPU's last executed one when the trace is on, or
//! else the latest translation containing the PC. (Without the trace, an asynchronous signal
//! from another process that kills the guest at a block boundary is indistinguishable from a
//! fault at the block's first instruction.)

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use qemu_plugin_sys as sys;

unsafe extern "C" {
    // glib, provided by the QEMU process.
    fn g_byte_array_new() -> *mut sys::GByteArray;
    fn g_byte_array_free(array: *mut sys::GByteArray, free_segment: bool) -> *mut u8;
    fn g_array_free(array: *mut sys::GArray, free_segment: bool) -> *mut std::ffi::c_char;
}

thread_local! {
    /// The vCPU this thread runs, set at vCPU init.
    static THIS_VCPU: Cell<Option<u32>> = const { Cell::new(None) };
}

/// The PC register's handle (same for every vCPU), found at the first vCPU init.
static PC_REGISTER: AtomicPtr<sys::qemu_plugin_register> = AtomicPtr::new(std::ptr::null_mut());

/// Instruction sizes of the latest translation starting at each address.
pub struct BlockShapes {
    by_start: Mutex<BTreeMap<u64, Vec<u8>>>,
}

/// Where a fault cut a block execution short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Instructions of the block that executed, the faulting one included.
    pub executed: u32,
    /// Instructions of the block that were counted but did not execute.
    pub skipped: u32,
}

impl BlockShapes {
    pub fn new() -> Self {
        Self { by_start: Mutex::new(BTreeMap::new()) }
    }

    /// # Safety
    /// `tb` must be the block handle of the current translation callback.
    pub unsafe fn record(&self, tb: *mut sys::qemu_plugin_tb) {
        unsafe {
            let n = sys::qemu_plugin_tb_n_insns(tb);
            let sizes = (0..n).map(|i| sys::qemu_plugin_insn_size(sys::qemu_plugin_tb_get_insn(tb, i)) as u8).collect();
            self.by_start.lock().unwrap_or_else(|p| p.into_inner()).insert(sys::qemu_plugin_tb_vaddr(tb), sizes);
        }
    }

    /// The cut at `pc` in the latest translation containing it.
    pub fn cut_at(&self, pc: u64) -> Option<Cut> {
        let map = self.by_start.lock().unwrap_or_else(|p| p.into_inner());
        map.range(..=pc).rev().take(64).find_map(|(&start, sizes)| cut_in(start, sizes, pc))
    }
}

impl Default for BlockShapes {
    fn default() -> Self {
        Self::new()
    }
}

/// The cut at `pc` in a block starting at `start` with these instruction sizes, if `pc` is one
/// of its instructions.
pub fn cut_in(start: u64, sizes: &[u8], pc: u64) -> Option<Cut> {
    let mut addr = start;
    for (i, &size) in sizes.iter().enumerate() {
        if addr == pc {
            return Some(Cut { executed: i as u32 + 1, skipped: (sizes.len() - i - 1) as u32 });
        }
        addr += u64::from(size);
    }
    None
}

/// Called at vCPU init, on the vCPU's thread.
pub fn vcpu_init(vcpu: u32) {
    THIS_VCPU.with(|v| v.set(Some(vcpu)));
    if PC_REGISTER.load(Ordering::Relaxed).is_null() {
        if let Some(handle) = find_pc_register() {
            PC_REGISTER.store(handle, Ordering::Relaxed);
        }
    }
}

/// The vCPU of the calling thread, if it is a vCPU thread.
pub fn this_vcpu() -> Option<u32> {
    THIS_VCPU.with(Cell::get)
}

fn find_pc_register() -> Option<*mut sys::qemu_plugin_register> {
    // SAFETY: called in vCPU context (init callback), as the API requires.
    unsafe {
        let regs = sys::qemu_plugin_get_registers();
        if regs.is_null() {
            return None;
        }
        let descs =
            std::slice::from_raw_parts((*regs).data as *const sys::qemu_plugin_reg_descriptor, (*regs).len as usize);
        let found = descs
            .iter()
            .find(|d| matches!(CStr::from_ptr(d.name).to_bytes(), b"rip" | b"pc" | b"eip"))
            .map(|d| d.handle);
        g_array_free(regs, true);
        found
    }
}

/// The calling vCPU's PC, little-endian as gdb describes it.
pub fn read_pc() -> Option<u64> {
    let handle = PC_REGISTER.load(Ordering::Relaxed);
    if handle.is_null() {
        return None;
    }
    // SAFETY: called on a vCPU thread; the byte array is ours.
    unsafe {
        let buf = g_byte_array_new();
        let n = sys::qemu_plugin_read_register(handle, buf);
        let bytes = std::slice::from_raw_parts((*buf).data, (*buf).len as usize);
        let pc = (n >= 4 && bytes.len() >= 4).then(|| {
            let mut le = [0u8; 8];
            let len = bytes.len().min(8);
            le[..len].copy_from_slice(&bytes[..len]);
            u64::from_le_bytes(le)
        });
        g_byte_array_free(buf, true);
        pc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_the_faulting_instruction() {
        // Four instructions at 0x100 (3 bytes), 0x103 (2), 0x105 (5), 0x10a (1).
        let sizes = [3, 2, 5, 1];
        assert_eq!(cut_in(0x100, &sizes, 0x100), Some(Cut { executed: 1, skipped: 3 }));
        assert_eq!(cut_in(0x100, &sizes, 0x105), Some(Cut { executed: 3, skipped: 1 }));
        assert_eq!(cut_in(0x100, &sizes, 0x10a), Some(Cut { executed: 4, skipped: 0 }));
        assert_eq!(cut_in(0x100, &sizes, 0x104), None, "not an instruction boundary");
        assert_eq!(cut_in(0x100, &sizes, 0x10b), None, "past the block");
    }

    #[test]
    fn latest_translation_containing_pc_wins() {
        let shapes = BlockShapes::new();
        shapes.by_start.lock().unwrap().insert(0x100, vec![4, 4, 4]);
        shapes.by_start.lock().unwrap().insert(0x200, vec![1]);
        assert_eq!(shapes.cut_at(0x104), Some(Cut { executed: 2, skipped: 1 }));
        assert_eq!(shapes.cut_at(0x150), None);
    }
}
