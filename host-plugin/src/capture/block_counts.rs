//! Execution count of every block, by inline operations (no callbacks).
//!
//! A scoreboard element is per vCPU and of fixed size, so counters live in chunks: each chunk
//! is a scoreboard whose per-vCPU element holds `CHUNK` u64 counters; block `id` uses slot
//! `id % CHUNK` of chunk `id / CHUNK`.

use std::sync::Mutex;

use qemu_plugin_sys as sys;

use crate::qemu::{num_vcpus, scoreboard_entry};

const CHUNK: usize = 8192;

struct Chunk(*mut sys::qemu_plugin_scoreboard);
// SAFETY: QEMU owns the scoreboard memory and synchronises its growth.
unsafe impl Send for Chunk {}

pub struct BlockCounters {
    chunks: Mutex<Vec<Chunk>>,
}

impl BlockCounters {
    pub fn new() -> Self {
        Self { chunks: Mutex::new(Vec::new()) }
    }

    fn entry(&self, id: u32) -> sys::qemu_plugin_u64 {
        let (chunk, slot) = (id as usize / CHUNK, id as usize % CHUNK);
        let mut chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
        while chunks.len() <= chunk {
            // SAFETY: plain allocation call.
            chunks.push(Chunk(unsafe { sys::qemu_plugin_scoreboard_new(CHUNK * 8) }));
        }
        scoreboard_entry(chunks[chunk].0, slot * 8)
    }

    /// # Safety
    /// `tb` must be the block handle of the current translation callback.
    pub unsafe fn instrument_block(&self, tb: *mut sys::qemu_plugin_tb, id: u32) {
        let entry = self.entry(id);
        unsafe {
            sys::qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
                tb,
                sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                entry,
                1,
            );
        }
    }

    /// Executions of block `id` by one vCPU.
    pub fn get(&self, id: u32, vcpu: u32) -> u64 {
        unsafe { sys::qemu_plugin_u64_get(self.entry(id), vcpu) }
    }

    /// Executions of blocks `0..count`, summed over vCPUs.
    pub fn totals(&self, count: u32) -> Vec<u64> {
        (0..count).map(|id| unsafe { sys::qemu_plugin_u64_sum(self.entry(id)) }).collect()
    }

    pub fn reset(&self) {
        let chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in chunks.iter() {
            for slot in 0..CHUNK {
                for vcpu in 0..num_vcpus() {
                    unsafe { sys::qemu_plugin_u64_set(scoreboard_entry(chunk.0, slot * 8), vcpu, 0) };
                }
            }
        }
    }
}

impl Default for BlockCounters {
    fn default() -> Self {
        Self::new()
    }
}
