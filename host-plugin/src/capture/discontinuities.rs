//! Discontinuities: interrupts, exceptions and host calls, reported by QEMU on the vCPU's
//! thread as they are delivered. Whatever the vCPU appended before is drained first, so the
//! event lands in order with the vCPU's block executions and memory accesses.

use crate::buffer;
use crate::events::DiscontinuityKind;
use crate::qemu::{Discontinuity, Vcpu};

/// QEMU's discontinuity callback (`qemu::on_discontinuity`).
pub fn on_discontinuity(vcpu: Vcpu<'_>, kind: Discontinuity, from: u64, to: u64) {
    super::appended::drain(buffer::Owner::Vcpu(vcpu));
    let exec = super::get().current_exec(vcpu.index());
    let kind = match kind {
        Discontinuity::Interrupt => DiscontinuityKind::Interrupt,
        Discontinuity::Exception => DiscontinuityKind::Exception,
        Discontinuity::HostCall => DiscontinuityKind::HostCall,
    };
    buffer::record_discontinuity(vcpu, exec, kind, from, to);
}
