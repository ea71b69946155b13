//! Per-block execution counts (`block-counts`) credit a block at its entry. When an execution
//! ends early they credit instructions that never ran. Under a system emulator that is
//! frequent: every I/O access by an instruction that is not its block's last makes QEMU stop
//! the block there and retranslate the rest (`cpu_io_recompile`). Each such cut is tallied here
//! by (instruction, instructions run); at exit each tally becomes a *prefix block* — the cut
//! block's first instructions, registered as a block of its own — and its count moves from the
//! block to the prefix (from every translation of the block, newest first: QEMU translates an
//! address again whenever its page is reused, and each translation holds part of the counts).
//! Every consumer of block counts (cov, profile, lcov) is then exact per instruction without
//! knowing about cuts.
//!
//! Only under a system emulator: in user mode cuts are faults, reported inside QEMU's host
//! signal handler, where the tally's lock may not be taken (and the trace handles them).

use std::collections::HashMap;
use std::sync::Mutex;

use super::BlockRegistry;

/// (address of the last instruction that ran, instructions that ran) -> times.
static CUTS: Mutex<Option<HashMap<(u64, u32), u64>>> = Mutex::new(None);
/// The blocks an execution may have been cut in, each with its prefix block, newest first,
/// and how many executions were cut.
type Move = (Vec<(u32, u32)>, u64);
/// Moves computed at exit.
static MOVES: Mutex<Vec<Move>> = Mutex::new(Vec::new());

/// A block execution of some vCPU ended after `executed` instructions, at `pc`.
pub fn record(pc: u64, executed: u32) {
    let mut cuts = CUTS.lock().unwrap_or_else(|p| p.into_inner());
    *cuts.get_or_insert_with(HashMap::new).entry((pc, executed)).or_insert(0) += 1;
}

/// Registers the prefix blocks of every tallied cut (before the final flush delivers new
/// blocks to the script) and remembers the moves for [`adjust`].
pub fn register_prefixes(blocks: &BlockRegistry) {
    let cuts = CUTS.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
    let mut moves = MOVES.lock().unwrap_or_else(|p| p.into_inner());
    // One pass over the blocks for all cuts (filtered-out code has no block: nothing to
    // correct there).
    let cut_blocks = blocks.all_containing(&cuts);
    let mut cuts: Vec<_> = cuts.into_iter().collect();
    cuts.sort_unstable();
    for (cut, times) in cuts {
        let Some(candidates) = cut_blocks.get(&cut) else { continue };
        let pairs: Vec<(u32, u32)> =
            candidates.iter().filter_map(|&block| Some((block, blocks.register_prefix(block, cut.1)?))).collect();
        moves.push((pairs, times));
    }
}

/// Moves the cut executions from their blocks to the prefixes (`counts` by block id): from
/// the newest translation first, never more than a translation ran.
pub fn adjust(counts: &mut [u64]) {
    for (pairs, times) in MOVES.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let mut left = *times;
        for &(block, prefix) in pairs {
            if let (Some(_), Some(_)) = (counts.get(block as usize), counts.get(prefix as usize)) {
                let moved = left.min(counts[block as usize]);
                counts[block as usize] -= moved;
                counts[prefix as usize] += moved;
                left -= moved;
            }
        }
    }
}
