//! Every block the guest reached, whatever the script subscribed to: the coverage a corpus run
//! compares between inputs (`coverage=true`, `cannonball run --corpus`).
//!
//! Recorded at translation, so it costs nothing while the guest runs: QEMU translates a block
//! when execution first arrives at it, so the translated blocks are the reached ones (a block
//! whose first instruction faults counts as reached). A forked child inherits the parent's
//! set, as it inherits QEMU's translations.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::qemu::Tb;

#[derive(Default)]
pub struct ReachedBlocks {
    /// (guest address, size in bytes)
    blocks: Mutex<HashSet<(u64, u64)>>,
}

impl ReachedBlocks {
    pub fn record(&self, tb: Tb<'_>) {
        let n = tb.n_insns();
        if n == 0 {
            return;
        }
        let first = tb.vaddr();
        let last = tb.insn(n - 1);
        let size = last.vaddr() + last.size() as u64 - first;
        self.blocks.lock().unwrap_or_else(|p| p.into_inner()).insert((first, size));
    }

    /// The blocks, sorted by address.
    pub fn sorted(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<_> = self.blocks.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
        v.sort_unstable();
        v
    }
}
