//! The trace checksum: every executed instruction's address, in order, per vCPU.
//!
//! A polynomial hash modulo 2^64, `H = pc_0·B^(n-1) + pc_1·B^(n-2) + … + pc_(n-1)`, depends on
//! every PC and its position. Unlike FNV it composes: a block's instructions contribute
//! `H ← H·B^k + d` where `d` is the hash of the block's k addresses alone, so each block's
//! `(B^k, d)` is computed once when the block arrives and an execution costs one multiply-add,
//! whatever its length — the same value as folding PC by PC (the tests compare it with a hash
//! of QEMU's execlog computed that way). Each vCPU has its own hash, so the result does not
//! depend on how the vCPUs' batches interleave; the report combines them in vCPU order.

use std::collections::BTreeMap;

use cannonball_sdk::{Block, BlockTable, EventBatch};

/// The polynomial's base (odd, so that multiplying by it loses nothing modulo 2^64).
const BASE: u64 = 0x100_0000_01b3;

/// A block's contribution: `H ← H·power + digest`, and how many instructions it adds.
#[derive(Clone, Copy)]
struct Step {
    power: u64,
    digest: u64,
    insns: u64,
}

/// A block id nobody described contributes nothing.
const IDENTITY: Step = Step { power: 1, digest: 0, insns: 0 };

/// One PC folded into a hash.
fn fold_pc(hash: u64, pc: u64) -> u64 {
    hash.wrapping_mul(BASE).wrapping_add(pc)
}

/// Every vCPU's trace hash and instruction count.
#[derive(Default)]
pub struct TraceChecksum {
    steps: Vec<Step>,
    per_vcpu: BTreeMap<u32, (u64, u64)>,
}

impl TraceChecksum {
    /// Precomputes the steps of newly translated blocks.
    pub fn add_blocks(&mut self, blocks: &[Block]) {
        for block in blocks {
            let id = block.id as usize;
            if self.steps.len() <= id {
                self.steps.resize(id + 1, IDENTITY);
            }
            let (mut power, mut digest, mut pc) = (1u64, 0u64, block.vaddr);
            for &size in &block.insn_sizes {
                digest = fold_pc(digest, pc);
                power = power.wrapping_mul(BASE);
                pc += u64::from(size);
            }
            self.steps[id] = Step { power, digest, insns: block.insn_sizes.len() as u64 };
        }
    }

    /// Folds a batch's block executions into its vCPU's hash.
    pub fn fold_batch(&mut self, table: &BlockTable, batch: &EventBatch) {
        self.fold(table, batch.vcpu, &batch.execs, batch.cut_short);
    }

    /// Folds block executions into `vcpu`'s hash; a last execution cut short by a fault
    /// (`cut_short`: the instructions that ran) adds only those, one by one.
    fn fold(&mut self, table: &BlockTable, vcpu: u32, execs: &[u32], cut_short: Option<u32>) {
        let (hash, insns) = self.per_vcpu.entry(vcpu).or_default();
        let (mut h, mut n) = (*hash, *insns);
        let (whole, last) = match cut_short {
            Some(_) if !execs.is_empty() => execs.split_at(execs.len() - 1),
            _ => (execs, &[][..]),
        };
        for &id in whole {
            let step = self.steps.get(id as usize).unwrap_or(&IDENTITY);
            h = h.wrapping_mul(step.power).wrapping_add(step.digest);
            n += step.insns;
        }
        if let (Some(&id), Some(executed)) = (last.first(), cut_short)
            && let Some(block) = table.get(id)
        {
            for &pc in block.insn_addrs.iter().take(executed as usize) {
                h = fold_pc(h, pc);
                n += 1;
            }
        }
        (*hash, *insns) = (h, n);
    }

    /// Instructions folded, all vCPUs together.
    pub fn instructions(&self) -> u64 {
        self.per_vcpu.values().map(|&(_, n)| n).sum()
    }

    /// `(vcpu, instructions)` in vCPU order.
    pub fn instructions_per_vcpu(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.per_vcpu.iter().map(|(&v, &(_, n))| (v, n))
    }

    /// `(vcpu, hash)` in vCPU order.
    pub fn per_vcpu(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.per_vcpu.iter().map(|(&v, &(h, _))| (v, h))
    }

    /// The vCPUs' hashes combined in vCPU order (FNV-1a over each vCPU's number and hash).
    pub fn combined(&self) -> u64 {
        const FNV_PRIME: u64 = 0x100_0000_01b3;
        self.per_vcpu().fold(0xcbf2_9ce4_8422_2325, |c, (vcpu, hash)| {
            ((c ^ u64::from(vcpu)).wrapping_mul(FNV_PRIME) ^ hash).wrapping_mul(FNV_PRIME)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: u32, vaddr: u64, sizes: &[u8]) -> Block {
        Block {
            id,
            vaddr,
            insn_sizes: sizes.to_vec(),
            insn_bytes: vec![0; sizes.iter().map(|&s| s as usize).sum()],
            disassembly: vec![],
            symbol: None,
            privilege: None,
        }
    }

    #[test]
    fn a_block_at_a_time_equals_pc_by_pc_and_a_cut_short_execution_counts_what_ran() {
        let blocks = [block(0, 0x1000, &[4, 2, 3]), block(1, 0x2000, &[1]), block(2, 0x3000, &[5, 5])];
        let mut table = BlockTable::new();
        table.add(&blocks);
        let mut sum = TraceChecksum::default();
        sum.add_blocks(&blocks);
        sum.fold(&table, 0, &[0, 1, 0, 2], None);
        sum.fold(&table, 0, &[1, 2], Some(1));
        let pcs = [0x1000, 0x1004, 0x1006, 0x2000, 0x1000, 0x1004, 0x1006, 0x3000, 0x3005, 0x2000, 0x3000];
        let expected = pcs.iter().fold(0, |h, &pc| fold_pc(h, pc));
        assert_eq!(sum.per_vcpu().collect::<Vec<_>>(), [(0, expected)]);
        assert_eq!(sum.instructions(), pcs.len() as u64);

        // Order matters; other vCPUs' hashes are their own.
        let mut swapped = TraceChecksum::default();
        swapped.add_blocks(&blocks);
        swapped.fold(&table, 0, &[1, 0, 0, 2], None);
        swapped.fold(&table, 3, &[1], None);
        assert_ne!(swapped.per_vcpu().next().unwrap().1, expected);
        assert_eq!(swapped.per_vcpu().nth(1), Some((3, 0x2000)));
    }
}
