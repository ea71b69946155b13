//! Code that ran outside every module's functions: anonymous memory (a JIT's output, code a
//! program generated or copied) has no file to take functions from. cov lists it as address
//! ranges instead, each a run of executed blocks that touch or overlap, named
//! `range_<start>_<end>`, under the module name `[anonymous]`.

use cannonball_sdk::{BlockInfo, Instruction, disassemble, read_memory};

/// The module name the ranges are listed under.
pub const MODULE: &str = "[anonymous]";

pub struct Range {
    pub name: String,
    pub insns: Vec<Instruction>,
}

/// The executed blocks as ranges, with their disassembly: decoded at each block's start (the
/// boundaries QEMU decoded), from the memory as it is at exit; where that memory is gone
/// (the JIT freed it), the block's instruction addresses with `(unmapped at exit)`.
pub fn ranges(blocks: &[&BlockInfo]) -> Vec<Range> {
    let mut sorted: Vec<&BlockInfo> = blocks.to_vec();
    sorted.sort_by_key(|b| (b.vaddr, b.end));
    sorted.dedup_by_key(|b| (b.vaddr, b.end));
    let mut groups: Vec<Vec<&BlockInfo>> = Vec::new();
    for block in sorted {
        match groups.last_mut() {
            Some(group) if block.vaddr <= group.iter().map(|b| b.end).max().unwrap_or(0) => group.push(block),
            _ => groups.push(vec![block]),
        }
    }
    groups.into_iter().map(|group| range(&group)).collect()
}

fn range(group: &[&BlockInfo]) -> Range {
    let start = group[0].vaddr;
    let end = group.iter().map(|b| b.end).max().unwrap_or(start);
    let name = format!("range_{start:x}_{end:x}");
    let mut insns: Vec<Instruction> = Vec::new();
    match read_memory(start, (end - start) as u32) {
        Ok(code) => {
            let mut cuts: Vec<u64> = group.iter().map(|b| b.vaddr).collect();
            cuts.dedup();
            cuts.push(end);
            for piece in cuts.windows(2) {
                let bytes = &code[(piece[0] - start) as usize..(piece[1] - start) as usize];
                // Overlapping blocks: keep what earlier pieces did not decode.
                let from = insns.last().map_or(0, |i| i.address + u64::from(i.size));
                insns.extend(disassemble(piece[0], bytes).into_iter().filter(|i| i.address >= from));
            }
        }
        Err(_) => {
            let mut addrs: Vec<u64> = group.iter().flat_map(|b| b.insn_addrs.iter().copied()).collect();
            addrs.sort_unstable();
            addrs.dedup();
            insns = addrs
                .into_iter()
                .map(|address| Instruction { address, size: 0, text: "(unmapped at exit)".into() })
                .collect();
        }
    }
    Range { name, insns }
}
