//! The block-execution trace: one callback per executed block, appending the block's id to the
//! vCPU's buffer. Per-instruction facts were recorded once at translation, so scripts expand
//! the trace into instruction addresses without a callback per instruction.

use std::ffi::{c_uint, c_void};

use crate::buffer;

pub unsafe extern "C" fn on_block_exec(vcpu: c_uint, id: *mut c_void) {
    if super::fault::has_pending_cut(vcpu) {
        if let Some(blocks) = &super::get().blocks {
            // SAFETY: on the vCPU's own thread, in an ordinary callback.
            unsafe { super::fault::apply_pending_cut(vcpu, blocks) };
        }
    }
    buffer::record_exec(vcpu, id as usize as u32);
}
