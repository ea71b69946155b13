//! Exact counts when a block execution ends early.
//!
//! Counts are added per block, at block entry. When an instruction in the middle of a block
//! faults (SIGSEGV, SIGBUS, SIGFPE, ...), the instructions after it were counted but never
//! ran — whether the guest survives the fault in its own handler (JITs, garbage collectors,
//! sandboxes) or dies of it. QEMU's per-instruction counters (libinsn) count up to and
//! including the faulting instruction; so do we, by subtracting the rest.
//!
//! With the cannonball extensions (qemu/patches/0002-*), QEMU reports every such cut as it
//! happens ([`on_tb_cut`]): the vCPU, the faulting instruction and how much of the block ran.
//! The callback may run inside QEMU's host signal handler, so it only touches atomics and the
//! vCPU's own append array: it corrects the instruction count at once; with appending capture
//! it appends a cut record after the cut execution's records (`appended`), else it leaves the
//! trace's correction pending for the vCPU's next ordinary callback ([`apply_pending_cut`]).
//! Either way the vCPU's last block execution is marked as cut short
//! (`event-batch.cut-short`) and the batch ends there.
//!
//! On a QEMU without the extensions only fatal faults can be corrected, at exit
//! ([`correct_fatal_fault_at_exit`]): QEMU has restored the exiting thread's PC to the faulting
//! instruction. If the PC is where the thread's last system call returns to, the exit is
//! normal (exit, exit_group) or a signal delivered at that return (abort, kill): no
//! correction. Otherwise the block is the vCPU's last executed one when the trace is on, or
//! else the latest translation containing the PC. (Without the trace, an asynchronous signal
//! from another process that kills the guest at a block boundary is indistinguishable from a
//! fault at the block's first instruction.)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::BlockRegistry;
use crate::buffer::{self, MAX_VCPUS, Owner};
use crate::events::EventKinds;
use crate::qemu::{Tb, Vcpu};

/// Instruction sizes of the latest translation starting at each address.
pub struct BlockShapes {
    by_start: Mutex<BTreeMap<u64, Vec<u8>>>,
}

/// Where a fault cut a block execution short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Instructions of the block that executed, the faulting one included.
    pub executed: u32,
    /// Instructions of the block that were counted but did not execute.
    pub skipped: u32,
}

impl BlockShapes {
    pub fn new() -> Self {
        Self { by_start: Mutex::new(BTreeMap::new()) }
    }

    pub fn record(&self, tb: Tb<'_>) {
        let sizes = tb.insns().map(|insn| insn.size() as u8).collect();
        self.by_start.lock().unwrap_or_else(|p| p.into_inner()).insert(tb.vaddr(), sizes);
    }

    /// The cut at `pc` in the latest translation containing it.
    pub fn cut_at(&self, pc: u64) -> Option<Cut> {
        let map = self.by_start.lock().unwrap_or_else(|p| p.into_inner());
        map.range(..=pc).rev().take(64).find_map(|(&start, sizes)| cut_in(start, sizes, pc))
    }
}

impl Default for BlockShapes {
    fn default() -> Self {
        Self::new()
    }
}

/// The cut at `pc` in a block starting at `start` with these instruction sizes, if `pc` is one
/// of its instructions.
pub fn cut_in(start: u64, sizes: &[u8], pc: u64) -> Option<Cut> {
    let mut addr = start;
    for (i, &size) in sizes.iter().enumerate() {
        if addr == pc {
            return Some(Cut { executed: i as u32 + 1, skipped: (sizes.len() - i - 1) as u32 });
        }
        addr += u64::from(size);
    }
    None
}

/// A cut the trace has not taken into account yet, per vCPU: instructions executed (0: none)
/// and the faulting instruction's address.
static PENDING_EXECUTED: [AtomicU32; MAX_VCPUS] = [const { AtomicU32::new(0) }; MAX_VCPUS];
static PENDING_PC: [AtomicU64; MAX_VCPUS] = [const { AtomicU64::new(0) }; MAX_VCPUS];

/// QEMU's report that a block execution of `vcpu` ended at the instruction at `pc`, after
/// `executed` of its `n_insns` instructions (the one at `pc` included). Registered only on a
/// QEMU with the cannonball extensions. Runs on the vCPU's thread, possibly inside QEMU's
/// host signal handler: atomics only.
pub fn on_tb_cut(vcpu: u32, pc: u64, executed: u32, n_insns: u32) {
    let skipped = n_insns.saturating_sub(executed);
    if skipped == 0 || vcpu as usize >= MAX_VCPUS {
        return;
    }
    let capture = super::get();
    capture.icount.subtract(vcpu, u64::from(skipped));
    if capture.block_counts.is_some() && crate::services::system_mode() {
        super::partial_blocks::record(pc, executed);
    }
    // Appending capture: the cut goes into the vCPU's array right after the records of the
    // execution it cut, however many cuts come before the next drain (under a system
    // emulator every I/O access in the middle of a block is one).
    if let Some(appended) = capture.appended.as_ref().filter(|_| capture.kinds.contains(EventKinds::TRACE)) {
        appended.push_cut(vcpu, executed);
        return;
    }
    // Keep the first cut since the vCPU's last traced block execution: only it can belong to
    // that execution (a later fault happened after execution left the block). Later ones
    // are in code the trace does not see (filtered out).
    if capture.kinds.contains(EventKinds::TRACE) && PENDING_EXECUTED[vcpu as usize].load(Ordering::Acquire) == 0 {
        PENDING_PC[vcpu as usize].store(pc, Ordering::Relaxed);
        PENDING_EXECUTED[vcpu as usize].store(executed, Ordering::Release);
    }
}

/// Whether `vcpu` has a cut the trace has not taken into account. Cheap: one load, on the
/// trace's hot path.
#[inline]
pub fn has_pending_cut(vcpu: u32) -> bool {
    PENDING_EXECUTED.get(vcpu as usize).is_some_and(|p| p.load(Ordering::Relaxed) != 0)
}

/// Marks the vCPU's last traced block execution as cut short, if the pending cut happened in
/// it, and ends the batch there so that the mark refers to that execution. From a callback
/// of that vCPU outside signal handlers, or while all vCPUs are stopped (`owner`).
pub fn apply_pending_cut(owner: Owner<'_>, blocks: &BlockRegistry) {
    let vcpu = owner.vcpu();
    let Some(pending) = PENDING_EXECUTED.get(vcpu as usize) else { return };
    let executed = pending.swap(0, Ordering::Acquire);
    if executed == 0 {
        return;
    }
    let pc = PENDING_PC[vcpu as usize].load(Ordering::Relaxed);
    let Some(last) = buffer::last_exec_in_batch(owner) else { return };
    let in_last = blocks.shape(last).and_then(|(start, sizes)| cut_in(start, &sizes, pc));
    if in_last.is_some_and(|cut| cut.executed == executed) {
        buffer::mark_cut_short(owner, executed, true);
    }
}

/// Forgets pending cuts (a forked child starts afresh).
pub fn forget_pending_cuts() {
    for p in &PENDING_EXECUTED {
        p.store(0, Ordering::Relaxed);
    }
    for (pc, count) in SYSCALL_RETURN_PC.iter().zip(&COUNT_AT_SYSCALL) {
        pc.store(0, Ordering::Relaxed);
        count.store(0, Ordering::Relaxed);
    }
}

/// Without the extensions, per vCPU: where its last system call returns to (0: none yet),
/// and its instruction count when it made the call.
static SYSCALL_RETURN_PC: [AtomicU64; MAX_VCPUS] = [const { AtomicU64::new(0) }; MAX_VCPUS];
static COUNT_AT_SYSCALL: [AtomicU64; MAX_VCPUS] = [const { AtomicU64::new(0) }; MAX_VCPUS];

/// Without the extensions, at each system call: where it returns to, and how many instructions
/// the vCPU had counted, so that the exit path can tell a signal delivered as the call returned
/// (nothing ran since) from a fault at that same address later.
pub fn note_syscall(capture: &super::Capture, cpu: Vcpu<'_>) {
    let vcpu = cpu.index() as usize;
    if vcpu < MAX_VCPUS {
        SYSCALL_RETURN_PC[vcpu].store(cpu.read_pc().unwrap_or(0), Ordering::Relaxed);
        COUNT_AT_SYSCALL[vcpu].store(capture.icount.count(cpu.index()), Ordering::Relaxed);
    }
}

/// Without the extensions: if the exiting thread dies of a fault in the middle of a block,
/// takes back the block's instructions after the faulting one (see the module docs). From
/// the exit callback, on the exiting vCPU's thread.
pub fn correct_fatal_fault_at_exit(capture: &super::Capture, cpu: Vcpu<'_>) {
    let vcpu = cpu.index();
    let Some(pc) = cpu.read_pc() else { return };
    let i = (vcpu as usize).min(MAX_VCPUS - 1);
    // The exit, exit_group or a signal delivered as the system call returned: nothing ran after
    // the call. The same address reached again later (a block that starts there and faults at
    // once) has been counted since, and is corrected like any other fault.
    if SYSCALL_RETURN_PC[i].load(Ordering::Relaxed) == pc
        && COUNT_AT_SYSCALL[i].load(Ordering::Relaxed) == capture.icount.count(vcpu)
    {
        return;
    }
    let traced = capture.kinds.contains(EventKinds::TRACE);
    let cut = match (&capture.blocks, traced) {
        // With the trace, the block is known exactly: the vCPU's last execution.
        (Some(blocks), true) => buffer::last_exec(Owner::Vcpu(cpu))
            .and_then(|id| blocks.shape(id))
            .and_then(|(start, sizes)| cut_in(start, &sizes, pc)),
        _ => capture.shapes.as_ref().and_then(|s| s.cut_at(pc)),
    };
    if let Some(cut) = cut.filter(|c| c.skipped > 0) {
        capture.icount.subtract(vcpu, u64::from(cut.skipped));
        if traced {
            buffer::mark_cut_short(Owner::Vcpu(cpu), cut.executed, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_the_faulting_instruction() {
        // Four instructions at 0x100 (3 bytes), 0x103 (2), 0x105 (5), 0x10a (1).
        let sizes = [3, 2, 5, 1];
        assert_eq!(cut_in(0x100, &sizes, 0x100), Some(Cut { executed: 1, skipped: 3 }));
        assert_eq!(cut_in(0x100, &sizes, 0x105), Some(Cut { executed: 3, skipped: 1 }));
        assert_eq!(cut_in(0x100, &sizes, 0x10a), Some(Cut { executed: 4, skipped: 0 }));
        assert_eq!(cut_in(0x100, &sizes, 0x104), None, "not an instruction boundary");
        assert_eq!(cut_in(0x100, &sizes, 0x10b), None, "past the block");
    }

    #[test]
    fn latest_translation_containing_pc_wins() {
        let shapes = BlockShapes::new();
        shapes.by_start.lock().unwrap().insert(0x100, vec![4, 4, 4]);
        shapes.by_start.lock().unwrap().insert(0x200, vec![1]);
        assert_eq!(shapes.cut_at(0x104), Some(Cut { executed: 2, skipped: 1 }));
        assert_eq!(shapes.cut_at(0x150), None);
    }
}
