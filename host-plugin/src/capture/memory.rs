//! Memory accesses: a callback per access into the vCPU's buffer (`memory` events), and
//! inline per-vCPU read/write counters (`memory-counts`).

use std::ffi::{c_uint, c_void};

use qemu_plugin_sys as sys;

use crate::buffer;
use crate::qemu::{num_vcpus, scoreboard_entry};

/// Registers the access callback on one instruction; its address travels as userdata.
///
/// # Safety
/// `insn` must come from the block of the current translation callback.
pub unsafe fn instrument_insn(insn: *mut sys::qemu_plugin_insn) {
    unsafe {
        let pc = sys::qemu_plugin_insn_vaddr(insn);
        sys::qemu_plugin_register_vcpu_mem_cb(
            insn,
            Some(on_access),
            sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
            sys::qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_RW,
            pc as usize as *mut c_void,
        );
    }
}

/// Packs QEMU's access description into `event-batch.mem-info` (see wit/types.wit). Four
/// API calls: the buffer caches the result per distinct `info` value.
pub fn pack_mem_info(info: sys::qemu_plugin_meminfo_t) -> u8 {
    // SAFETY: pure decoding functions of the plugin API.
    unsafe {
        let shift = sys::qemu_plugin_mem_size_shift(info) as u8 & 0x7;
        let store = (sys::qemu_plugin_mem_is_store(info) as u8) << 3;
        let sign = (sys::qemu_plugin_mem_is_sign_extended(info) as u8) << 4;
        let big = (sys::qemu_plugin_mem_is_big_endian(info) as u8) << 5;
        shift | store | sign | big
    }
}

fn mem_value(info: sys::qemu_plugin_meminfo_t) -> u64 {
    use sys::qemu_plugin_mem_value_type::*;
    // SAFETY: valid during the memory callback; the union member read matches `type_`.
    unsafe {
        let v = sys::qemu_plugin_mem_get_value(info);
        match v.type_ {
            QEMU_PLUGIN_MEM_VALUE_U8 => v.data.u8_ as u64,
            QEMU_PLUGIN_MEM_VALUE_U16 => v.data.u16_ as u64,
            QEMU_PLUGIN_MEM_VALUE_U32 => v.data.u32_ as u64,
            QEMU_PLUGIN_MEM_VALUE_U64 => v.data.u64_,
            QEMU_PLUGIN_MEM_VALUE_U128 => v.data.u128_.low,
        }
    }
}

unsafe extern "C" fn on_access(vcpu: c_uint, info: sys::qemu_plugin_meminfo_t, vaddr: u64, pc: *mut c_void) {
    let exec = super::get().current_exec(vcpu);
    buffer::record_memory(vcpu, exec, pc as u64, vaddr, info, mem_value(info), pack_mem_info);
}

/// Inline read and write counters: one scoreboard whose per-vCPU element is {reads, writes}.
pub struct MemoryCounters {
    score: *mut sys::qemu_plugin_scoreboard,
}

// SAFETY: QEMU owns the scoreboard memory and synchronises its growth.
unsafe impl Send for MemoryCounters {}
unsafe impl Sync for MemoryCounters {}

impl MemoryCounters {
    pub fn new() -> Self {
        // SAFETY: plain allocation call.
        Self { score: unsafe { sys::qemu_plugin_scoreboard_new(16) } }
    }

    fn reads(&self) -> sys::qemu_plugin_u64 {
        scoreboard_entry(self.score, 0)
    }

    fn writes(&self) -> sys::qemu_plugin_u64 {
        scoreboard_entry(self.score, 8)
    }

    /// # Safety
    /// `insn` must come from the block of the current translation callback.
    pub unsafe fn instrument_insn(&self, insn: *mut sys::qemu_plugin_insn) {
        use sys::qemu_plugin_mem_rw::*;
        unsafe {
            for (rw, entry) in [(QEMU_PLUGIN_MEM_R, self.reads()), (QEMU_PLUGIN_MEM_W, self.writes())] {
                sys::qemu_plugin_register_vcpu_mem_inline_per_vcpu(
                    insn,
                    rw,
                    sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                    entry,
                    1,
                );
            }
        }
    }

    /// (vCPU, reads, writes) for every vCPU.
    pub fn per_vcpu(&self) -> Vec<(u32, u64, u64)> {
        (0..num_vcpus())
            .map(|v| unsafe {
                (v, sys::qemu_plugin_u64_get(self.reads(), v), sys::qemu_plugin_u64_get(self.writes(), v))
            })
            .collect()
    }

    pub fn reset(&self) {
        for v in 0..num_vcpus() {
            unsafe {
                sys::qemu_plugin_u64_set(self.reads(), v, 0);
                sys::qemu_plugin_u64_set(self.writes(), v, 0);
            }
        }
    }
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::new()
    }
}
