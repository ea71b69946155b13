//! Expanding block executions into instruction addresses, the way the Rust SDK's BlockTable
//! does inside a script: the stream carries one id per block execution, the table turns it
//! back into the block's instruction PCs.

use cannonball_protocol::{Block, Execs};

/// The blocks of one connection, by id. The host numbers blocks densely from 0 per process,
/// so a vector indexed by id is the map (one lookup per execution is the consumer's hot
/// path). Keep one table per connection.
#[derive(Default)]
pub struct BlockTable {
    blocks: Vec<Option<Block>>,
    /// Instructions per block id (0 for unknown ids), for counting without expanding.
    sizes: Vec<u32>,
}

impl BlockTable {
    pub fn insert(&mut self, blocks: Vec<Block>) {
        for block in blocks {
            let id = block.id as usize;
            if id >= self.blocks.len() {
                // Ids come from the producer: grow for what arrived, not for what is claimed.
                let len = (id + 1).max(self.blocks.len() * 2).min(id + 1 + (1 << 16));
                self.blocks.resize_with(len, || None);
                self.sizes.resize(len, 0);
            }
            self.sizes[id] = block.insn_sizes.len() as u32;
            self.blocks[id] = Some(block);
        }
    }

    pub fn get(&self, id: u32) -> Option<&Block> {
        self.blocks.get(id as usize).and_then(Option::as_ref)
    }

    /// Every instruction address the executions ran, in order. An id the stream never
    /// described contributes nothing (the host always describes a block before its use).
    /// A last execution cut short by a fault (`execs.cut_short`) yields only the instructions
    /// that ran.
    pub fn pcs<'a>(&'a self, execs: &'a Execs) -> impl Iterator<Item = u64> + 'a {
        let last = execs.ids.len().wrapping_sub(1);
        execs.ids.iter().enumerate().filter_map(|(i, &id)| Some((i, self.get(id)?))).flat_map(move |(i, b)| {
            let n = match execs.cut_short {
                Some(executed) if i == last => executed as usize,
                _ => usize::MAX,
            };
            b.pcs().take(n)
        })
    }

    /// Instructions the executions ran, without producing their addresses.
    pub fn instruction_count(&self, execs: &Execs) -> u64 {
        let size = |id: u32| u64::from(self.sizes.get(id as usize).copied().unwrap_or(0));
        let total: u64 = execs.ids.iter().map(|&id| size(id)).sum();
        match (execs.cut_short, execs.ids.last()) {
            (Some(executed), Some(&last)) => total - size(last) + u64::from(executed).min(size(last)),
            _ => total,
        }
    }
}
