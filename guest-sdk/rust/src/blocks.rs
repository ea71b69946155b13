//! Turning block executions back into instructions and branches.
//!
//! The host sends each translated block's static facts once ([`Block`]) and then only block
//! ids per execution. [`BlockTable`] keeps the facts; with it a script expands the trace into
//! instruction addresses ([`BlockTable::for_each_pc`]) or branches ([`BranchTracker`]).

use std::collections::HashMap;

use crate::{Block, EventBatch};

/// The static facts of one translated block that trace expansion needs.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    pub vaddr: u64,
    /// Address of each instruction, in order.
    pub insn_addrs: Vec<u64>,
    /// Address just past the last instruction: where execution falls through to.
    pub end: u64,
    pub symbol: Option<String>,
}

impl BlockInfo {
    pub fn from_block(block: &Block) -> Self {
        let mut addr = block.vaddr;
        let insn_addrs = block
            .insn_sizes
            .iter()
            .map(|&size| {
                let this = addr;
                addr += u64::from(size);
                this
            })
            .collect();
        Self { vaddr: block.vaddr, insn_addrs, end: addr, symbol: block.symbol.clone() }
    }

    /// Address of the block's last instruction: where its branch, if any, is.
    pub fn last_insn(&self) -> u64 {
        self.insn_addrs.last().copied().unwrap_or(self.vaddr)
    }
}

/// Block facts by id. Feed it every `on_blocks` call.
#[derive(Debug, Default)]
pub struct BlockTable {
    blocks: Vec<Option<BlockInfo>>,
}

impl BlockTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, blocks: &[Block]) {
        for block in blocks {
            let id = block.id as usize;
            if self.blocks.len() <= id {
                self.blocks.resize(id + 1, None);
            }
            self.blocks[id] = Some(BlockInfo::from_block(block));
        }
    }

    pub fn get(&self, id: u32) -> Option<&BlockInfo> {
        self.blocks.get(id as usize).and_then(Option::as_ref)
    }

    /// Every block seen so far, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &BlockInfo)> {
        self.blocks.iter().enumerate().filter_map(|(id, b)| Some((id as u32, b.as_ref()?)))
    }

    /// Calls `f` with the address of every executed instruction of `batch`, in order. A last
    /// block execution cut short by a fatal fault (`batch.cut_short`) yields only the
    /// instructions that ran.
    pub fn for_each_pc(&self, batch: &EventBatch, mut f: impl FnMut(u64)) {
        self.for_each_execution(batch, |pcs| pcs.iter().for_each(|&pc| f(pc)));
    }

    /// Calls `f` once per block execution of `batch`, in order, with the addresses of the
    /// instructions that ran (all of the block's, or those up to a fatal fault for a last
    /// execution cut short). Cheaper than [`for_each_pc`](Self::for_each_pc) for work that
    /// can take a block's instructions at once.
    pub fn for_each_execution(&self, batch: &EventBatch, mut f: impl FnMut(&[u64])) {
        let last = batch.execs.len().wrapping_sub(1);
        for (i, &id) in batch.execs.iter().enumerate() {
            if let Some(block) = self.get(id) {
                let n = match batch.cut_short {
                    Some(executed) if i == last => (executed as usize).min(block.insn_addrs.len()),
                    _ => block.insn_addrs.len(),
                };
                f(&block.insn_addrs[..n]);
            }
        }
    }
}

/// One control transfer at the end of a block execution.
///
/// Defined from consecutive block executions A, B of one vCPU: `source` is A's last
/// instruction, `target` is B's first, `fallthrough` is the address after A, and `taken` is
/// `target != fallthrough`. Blocks also end without a branch (size limits, page ends, after
/// system calls); those show up as not taken, with `target == fallthrough`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Branch {
    pub source: u64,
    pub target: u64,
    pub fallthrough: u64,
    pub taken: bool,
}

/// Derives branches from the trace, remembering each vCPU's last block across batches.
#[derive(Debug, Default)]
pub struct BranchTracker {
    last: HashMap<u32, u32>,
}

impl BranchTracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn for_each_branch(&mut self, table: &BlockTable, batch: &EventBatch, mut f: impl FnMut(Branch)) {
        let mut prev = self.last.get(&batch.vcpu).copied();
        for &id in &batch.execs {
            if let (Some(a), Some(b)) = (prev.and_then(|p| table.get(p)), table.get(id)) {
                f(Branch { source: a.last_insn(), target: b.vaddr, fallthrough: a.end, taken: b.vaddr != a.end });
            }
            prev = Some(id);
        }
        if let Some(p) = prev {
            self.last.insert(batch.vcpu, p);
        }
    }

    /// Forgets a vCPU's last block (call on thread exit: its index may be reused).
    pub fn forget(&mut self, vcpu: u32) {
        self.last.remove(&vcpu);
    }
}
