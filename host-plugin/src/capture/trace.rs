//! The block-execution trace: one callback per executed block, appending the block's id to the
//! vCPU's buffer. Per-instruction facts were recorded once at translation, so scripts expand
//! the trace into instruction addresses without a callback per instruction.

use crate::buffer;
use crate::qemu::{ExecCallback, Vcpu};

/// The exec callback of traced blocks; its userdata is the block id.
pub struct BlockTrace;

impl ExecCallback for BlockTrace {
    #[inline]
    fn on_exec(vcpu: Vcpu<'_>, id: usize) {
        if super::fault::has_pending_cut(vcpu.index())
            && let Some(blocks) = &super::get().blocks
        {
            super::fault::apply_pending_cut(buffer::Owner::Vcpu(vcpu), blocks);
        }
        buffer::record_exec(vcpu, id as u32);
    }
}
