//! Instruction counting with QEMU inline operations: at translation, each block gets one inline
//! "add n_insns" on a per-vCPU scoreboard. No callback ever runs on the execution path.

use std::sync::atomic::{AtomicU64, Ordering};

use qemu_plugin_sys as sys;

use crate::buffer::MAX_VCPUS;
use crate::qemu::U64Scoreboard;

pub struct InstructionCounter {
    per_vcpu: U64Scoreboard,
    /// Instructions counted at block entry that never ran (see `fault.rs`), per vCPU.
    /// Atomics: QEMU reports cuts from inside its signal handler.
    corrections: Box<[AtomicU64]>,
}

impl InstructionCounter {
    pub fn new() -> Self {
        Self { per_vcpu: U64Scoreboard::new(), corrections: (0..MAX_VCPUS).map(|_| AtomicU64::new(0)).collect() }
    }

    /// # Safety
    /// `tb` must be the block handle QEMU passed to the current translation callback.
    pub unsafe fn instrument_block(&self, tb: *mut sys::qemu_plugin_tb) {
        // SAFETY: `tb` is valid during the translation callback.
        unsafe {
            let n = sys::qemu_plugin_tb_n_insns(tb) as u64;
            sys::qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
                tb,
                sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                self.per_vcpu.entry(),
                n,
            );
        }
    }

    /// Instructions of inline-counted blocks so far, per vCPU index.
    pub fn per_vcpu(&self) -> Vec<(u32, u64)> {
        self.per_vcpu.per_vcpu()
    }

    /// Takes back instructions that were counted at block entry but never ran.
    pub fn subtract(&self, vcpu: u32, n: u64) {
        if let Some(c) = self.corrections.get(vcpu as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn correction(&self, vcpu: u32) -> u64 {
        self.corrections.get(vcpu as usize).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub fn reset(&self) {
        self.per_vcpu.reset_all();
        for c in self.corrections.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }
}

impl Default for InstructionCounter {
    fn default() -> Self {
        Self::new()
    }
}
