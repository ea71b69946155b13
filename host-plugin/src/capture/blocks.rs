//! Block ids and static facts, recorded once per translation.
//!
//! Every translation gets a new id (QEMU may translate an address again after a flush). The
//! facts are kept for the whole run: the analysis thread delivers the ones the script has not
//! seen yet before each event message, and the child of a fork, whose script starts afresh,
//! gets them all again.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::events::Block;
use crate::qemu::Tb;

pub struct BlockRegistry {
    with_disassembly: bool,
    /// Set where QEMU's own disassembly is unreliable and ours replaces it: QEMU's MIPS
    /// disassembler prints branches without their target (`beqz v0,`) and names some R2
    /// branches by R6 names (`blezl` as `bgeuc`).
    own_disassembler: Option<&'static str>,
    state: Mutex<State>,
}

struct State {
    blocks: Vec<Block>,
    /// How many of `blocks` the current script instance has received.
    delivered: usize,
}

impl BlockRegistry {
    pub fn new(with_disassembly: bool, arch: &str) -> Self {
        let own_disassembler = match arch {
            "mips" => Some("mips"),
            "mipsel" => Some("mipsel"),
            _ => None,
        };
        Self { with_disassembly, own_disassembler, state: Mutex::new(State { blocks: Vec::new(), delivered: 0 }) }
    }

    /// Records the facts of a block being translated and returns its id.
    pub fn register(&self, tb: Tb<'_>) -> u32 {
        let block = self.facts(tb);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let id = state.blocks.len() as u32;
        state.blocks.push(Block { id, ..block });
        id
    }

    fn facts(&self, tb: Tb<'_>) -> Block {
        let mut insn_sizes = Vec::with_capacity(tb.n_insns());
        let mut insn_bytes = Vec::new();
        let mut disassembly = Vec::new();
        for insn in tb.insns() {
            insn_sizes.push(insn.size() as u8);
            let at = insn_bytes.len();
            insn.append_bytes(&mut insn_bytes);
            if self.with_disassembly {
                disassembly.push(match self.own_disassembler {
                    Some(arch) => crate::services::disasm::disassemble(arch, insn.vaddr(), &insn_bytes[at..], &[])
                        .ok()
                        .and_then(|mut v| v.pop())
                        .map_or_else(String::new, |i| i.text),
                    None => insn.disas(),
                });
            }
        }
        let symbol = tb.insn(0).symbol();
        Block { id: 0, vaddr: tb.vaddr(), insn_sizes, insn_bytes, disassembly, symbol, privilege: tb.privilege() }
    }

    /// The blocks the script has not received yet, marking them delivered.
    pub fn take_undelivered(&self) -> Vec<Block> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let from = state.delivered;
        state.delivered = state.blocks.len();
        state.blocks[from..].to_vec()
    }

    /// Makes every block undelivered again (a fresh script instance in a forked child).
    pub fn redeliver_all(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).delivered = 0;
    }

    /// Start address and instruction sizes of block `id`.
    pub fn shape(&self, id: u32) -> Option<(u64, Vec<u8>)> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.blocks.get(id as usize).map(|b| (b.vaddr, b.insn_sizes.clone()))
    }

    /// Instruction count of every block, by id.
    pub fn insn_counts(&self) -> Vec<u32> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.blocks.iter().map(|b| b.insn_sizes.len() as u32).collect()
    }

    /// For each cut (pc, executed) of `cuts`, every block in which the instruction at `pc` is
    /// instruction number `executed` (counting from 1) and not the last, newest first: where
    /// an execution cut there may have run. QEMU translates an address again after its code
    /// was invalidated (under a system emulator, whenever a page is reused), so the same
    /// block may have several ids, each with part of the counts. One pass over every block's
    /// instructions.
    pub fn all_containing<V>(&self, cuts: &HashMap<(u64, u32), V>) -> HashMap<(u64, u32), Vec<u32>> {
        let mut found: HashMap<(u64, u32), Vec<u32>> = HashMap::new();
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for b in state.blocks.iter().rev() {
            let mut pc = b.vaddr;
            // The last instruction is never cut before its end.
            for (i, &size) in b.insn_sizes.iter().enumerate().take(b.insn_sizes.len().saturating_sub(1)) {
                let key = (pc, i as u32 + 1);
                if cuts.contains_key(&key) {
                    found.entry(key).or_default().push(b.id);
                }
                pc += u64::from(size);
            }
        }
        found
    }

    /// Registers the first `executed` instructions of block `id` as a block of its own.
    pub fn register_prefix(&self, id: u32, executed: u32) -> Option<u32> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let whole = state.blocks.get(id as usize)?;
        let n = (executed as usize).min(whole.insn_sizes.len());
        let bytes: usize = whole.insn_sizes[..n].iter().map(|&s| usize::from(s)).sum();
        let prefix = Block {
            id: state.blocks.len() as u32,
            vaddr: whole.vaddr,
            insn_sizes: whole.insn_sizes[..n].to_vec(),
            insn_bytes: whole.insn_bytes[..bytes.min(whole.insn_bytes.len())].to_vec(),
            disassembly: whole.disassembly.iter().take(n).cloned().collect(),
            symbol: whole.symbol.clone(),
            privilege: whole.privilege,
        };
        let new_id = prefix.id;
        state.blocks.push(prefix);
        Some(new_id)
    }

    pub fn count(&self) -> u32 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).blocks.len() as u32
    }
}
