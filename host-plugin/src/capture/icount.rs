//! Instruction counting with QEMU inline operations: at translation, each block gets one inline
//! "add n_insns" on a per-vCPU scoreboard. No callback ever runs on the execution path.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::buffer::MAX_VCPUS;
use crate::qemu::{Counter, Tb};

pub struct InstructionCounter {
    per_vcpu: Counter,
    /// Instructions counted at block entry that never ran (see `fault.rs`), per vCPU.
    /// Atomics: QEMU reports cuts from inside its signal handler.
    corrections: Box<[AtomicU64]>,
}

impl InstructionCounter {
    pub fn new() -> Self {
        Self { per_vcpu: Counter::new(), corrections: (0..MAX_VCPUS).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Adds the block's instruction count at each of its executions, inline.
    pub fn instrument_block(&self, tb: Tb<'_>) {
        tb.add_inline(self.per_vcpu, tb.n_insns() as u64);
    }

    /// Instructions of inline-counted blocks so far, per vCPU index.
    pub fn per_vcpu(&self) -> Vec<(u32, u64)> {
        self.per_vcpu.per_vcpu()
    }

    /// What `vcpu` has counted so far (before corrections).
    pub fn count(&self, vcpu: u32) -> u64 {
        self.per_vcpu.get(vcpu)
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
        self.per_vcpu.reset();
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
