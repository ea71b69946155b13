//! Execution count of every block, by inline operations (no callbacks).
//!
//! A scoreboard element is per vCPU and of fixed size, so counters live in chunks: each chunk
//! is a scoreboard whose per-vCPU element holds `CHUNK` u64 counters; block `id` uses field
//! `id % CHUNK` of chunk `id / CHUNK`.

use std::sync::Mutex;

use crate::qemu::{Counter, Scoreboard, Tb};

const CHUNK: usize = 8192;

pub struct BlockCounters {
    chunks: Mutex<Vec<Scoreboard>>,
}

impl BlockCounters {
    pub fn new() -> Self {
        Self { chunks: Mutex::new(Vec::new()) }
    }

    fn counter(&self, id: u32) -> Counter {
        let (chunk, field) = (id as usize / CHUNK, id as usize % CHUNK);
        let mut chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
        while chunks.len() <= chunk {
            chunks.push(Scoreboard::new(CHUNK));
        }
        chunks[chunk].counter(field)
    }

    pub fn instrument_block(&self, tb: Tb<'_>, id: u32) {
        tb.add_inline(self.counter(id), 1);
    }

    /// Executions of block `id` by one vCPU.
    pub fn get(&self, id: u32, vcpu: u32) -> u64 {
        self.counter(id).get(vcpu)
    }

    /// Executions of blocks `0..count`, summed over vCPUs.
    pub fn totals(&self, count: u32) -> Vec<u64> {
        (0..count).map(|id| self.counter(id).sum()).collect()
    }

    pub fn reset(&self) {
        let chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in chunks.iter() {
            chunk.reset();
        }
    }
}

impl Default for BlockCounters {
    fn default() -> Self {
        Self::new()
    }
}
