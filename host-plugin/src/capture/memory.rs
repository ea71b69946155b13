//! Memory accesses: a callback per access into the vCPU's buffer (`memory` events), and
//! inline per-vCPU read/write counters (`memory-counts`).

use crate::buffer;
use crate::qemu::{Counter, Insn, MemAccess, MemCallback, MemRw, Scoreboard, Vcpu};

/// Registers the access callback on one instruction; its address travels as userdata.
pub fn instrument_insn(insn: Insn<'_>) {
    insn.register_mem_cb::<Accesses>(MemRw::QEMU_PLUGIN_MEM_RW, insn.vaddr() as usize);
}

/// The memory callback of `memory` events; its userdata is the instruction's address.
struct Accesses;

impl MemCallback for Accesses {
    #[inline]
    fn on_access(vcpu: Vcpu<'_>, access: MemAccess<'_>, vaddr: u64, pc: usize) {
        let capture = super::get();
        // A block too large to append its accesses: what the vCPU appended comes first.
        if let Some(appended) = &capture.appended {
            appended.drain(buffer::Owner::Vcpu(vcpu));
        }
        let exec = capture.current_exec(vcpu.index());
        let value = if capture.memory_values { access.value() } else { 0 };
        if capture.memory_physical {
            let (phys, device) = access.physical(vaddr).unwrap_or((0, None));
            let device = device.map_or(0, crate::services::devices::number);
            buffer::record_memory_physical(vcpu, (exec, pc as u64, vaddr, access.info(), value), phys, device);
        } else {
            buffer::record_memory(vcpu, exec, pc as u64, vaddr, access.info(), value);
        }
    }
}

/// Inline read and write counters: one scoreboard whose per-vCPU element is {reads, writes}.
pub struct MemoryCounters {
    score: Scoreboard,
}

impl MemoryCounters {
    pub fn new() -> Self {
        Self { score: Scoreboard::new(2) }
    }

    fn reads(&self) -> Counter {
        self.score.counter(0)
    }

    fn writes(&self) -> Counter {
        self.score.counter(1)
    }

    pub fn instrument_insn(&self, insn: Insn<'_>) {
        insn.add_mem_inline(MemRw::QEMU_PLUGIN_MEM_R, self.reads(), 1);
        insn.add_mem_inline(MemRw::QEMU_PLUGIN_MEM_W, self.writes(), 1);
    }

    /// (vCPU, reads, writes) for every vCPU.
    pub fn per_vcpu(&self) -> Vec<(u32, u64, u64)> {
        (0..crate::qemu::num_vcpus()).map(|v| (v, self.reads().get(v), self.writes().get(v))).collect()
    }

    pub fn reset(&self) {
        self.score.reset();
    }
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::new()
    }
}
