//! Expanding block executions into instruction addresses, the way the Rust SDK's BlockTable
//! does inside a script: the stream carries one id per block execution, the table turns it
//! back into the block's instruction PCs.

use std::collections::HashMap;

use cannonball_protocol::{Block, Execs};

/// The blocks of one connection, by id. Ids are per process: keep one table per connection.
#[derive(Default)]
pub struct BlockTable {
    blocks: HashMap<u32, Block>,
}

impl BlockTable {
    pub fn insert(&mut self, blocks: Vec<Block>) {
        for block in blocks {
            self.blocks.insert(block.id, block);
        }
    }

    pub fn get(&self, id: u32) -> Option<&Block> {
        self.blocks.get(&id)
    }

    /// Every instruction address the executions ran, in order. An id the stream never
    /// described contributes nothing (the host always describes a block before its use).
    pub fn pcs<'a>(&'a self, execs: &'a Execs) -> impl Iterator<Item = u64> + 'a {
        execs.ids.iter().filter_map(|id| self.blocks.get(id)).flat_map(|b| b.pcs())
    }

    /// Instructions the executions ran, without producing their addresses.
    pub fn instruction_count(&self, execs: &Execs) -> u64 {
        execs.ids.iter().filter_map(|id| self.blocks.get(id)).map(|b| b.insn_sizes.len() as u64).sum()
    }
}
