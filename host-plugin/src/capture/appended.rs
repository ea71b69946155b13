//! Capture by appending (cannonball extensions version 2, `qemu::AppendTarget`): generated
//! code appends each traced block execution's id and each memory access's site, address and
//! value to its vCPU's array, with no call. The array is drained into the vCPU's buffer
//! (`crate::buffer`) by a conditional callback at block entry when the block could overflow
//! it, and before every event that must follow what came before it: a system call, the
//! thread's exit, a fork, the process's exit.
//!
//! Record words:
//! - a block execution: the block id (bit 31 clear);
//! - a memory access: the access site's id with bit 31 set in bits 0..31 and QEMU's
//!   `meminfo` in bits 32..63, then the address, then the value when values are captured;
//! - a cut: [`CUT_MARK`] in bits 0..31 and the number of instructions that ran in bits 32..63,
//!   appended by QEMU's report that the block execution before it ended early (a fault, or
//!   under a system emulator an I/O access that made QEMU retranslate the rest of the block).
//!
//! Execution indices (the order between kinds, `event-batch.mem-exec`, `sys-exec`) are the
//! number of block records decoded so far, so the vCPU's buffer gets exactly the order in
//! which the guest ran.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::buffer::{self, MAX_VCPUS, Owner};
use crate::qemu::{AppendTarget, ExecCallback, Insn, MemRw, Tb, Vcpu};

/// Words at which a vCPU's array is drained, at the latest.
const DRAIN_AT: usize = 1 << 15;
/// Words beyond `DRAIN_AT`, for accesses QEMU's C helpers append within one block (they
/// check the room themselves and count what did not fit).
const HELPER_ROOM: usize = 1 << 13;
/// Bit 31 of a record's first word: a memory access.
const SITE_TAG: u32 = 1 << 31;
/// Bits 0..31 of a cut's word: a site id no access gets (see `add_site`).
const CUT_MARK: u32 = u32::MAX;

fn is_cut(word: u64) -> bool {
    word as u32 == CUT_MARK
}

pub struct Appended {
    target: AppendTarget,
    /// Block records are appended: for the trace, or for execution indices.
    blocks: bool,
    trace: bool,
    memory: bool,
    values: bool,
    /// Guest address of each memory access site, by site id.
    sites: RwLock<Vec<u64>>,
    /// Per vCPU: block records decoded since the process (or the forked child) started.
    execs: Box<[AtomicU64]>,
    /// Per vCPU: a cut was appended since the last drain (block-only arrays are then scanned
    /// for it; without one, they go to the buffer in one piece).
    cut_appended: Box<[AtomicBool]>,
}

impl Appended {
    /// `blocks`: append block records (the trace, or execution indices for ordering).
    pub fn new(blocks: bool, trace: bool, memory: bool, values: bool) -> Self {
        Self {
            target: AppendTarget::new(),
            blocks,
            trace,
            memory,
            values,
            sites: RwLock::new(Vec::new()),
            execs: (0..MAX_VCPUS).map(|_| AtomicU64::new(0)).collect(),
            cut_appended: (0..MAX_VCPUS).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Whether block records give the execution indices.
    pub fn counts_execs(&self) -> bool {
        self.blocks
    }

    fn words_per_access(&self) -> usize {
        if self.values { 3 } else { 2 }
    }

    /// A new vCPU gets its array before it runs.
    pub fn vcpu_init(&self, vcpu: Vcpu<'_>) {
        self.target.provide_array(vcpu, DRAIN_AT + HELPER_ROOM);
    }

    /// Instruments a block: the drain check, its block record, its memory accesses. An
    /// instruction whose accesses cannot be appended goes to `by_callback` instead: its code
    /// loops (x86 `rep movs`: no bound on its accesses per execution), or the block alone
    /// could fill half the array. Its callback drains first, so the order stays exact.
    pub fn instrument<'a>(&self, tb: Tb<'a>, block: u32, mut by_callback: impl FnMut(Insn<'a>)) {
        let step = self.words_per_access();
        let accesses: Vec<usize> =
            if self.memory { tb.insns().map(|insn| insn.inline_mem_accesses()).collect() } else { Vec::new() };
        let bounded = accesses.iter().filter(|&&n| n != usize::MAX).fold(0usize, |sum, &n| sum.saturating_add(n));
        let appended_words = bounded.saturating_mul(step);
        let all_by_callback = appended_words > DRAIN_AT / 2;
        let bound = usize::from(self.blocks) + if all_by_callback { 0 } else { appended_words };
        if self.blocks || self.memory {
            tb.register_exec_cb_if_at_least::<Drain>(self.target.index(), (DRAIN_AT - bound) as u64, 0);
        }
        if self.blocks {
            tb.append(&self.target, u64::from(block));
        }
        for (insn, &n) in tb.insns().zip(&accesses) {
            if all_by_callback || n == usize::MAX {
                by_callback(insn);
            } else {
                // Also for instructions without inline accesses: helpers may access memory.
                let site = self.add_site(insn.vaddr());
                insn.append_mem(MemRw::QEMU_PLUGIN_MEM_RW, &self.target, site | SITE_TAG, self.values);
            }
        }
    }

    fn add_site(&self, pc: u64) -> u32 {
        let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.push(pc);
        let id = sites.len() as u32 - 1;
        assert!(id < SITE_TAG - 1, "more than 2^31 - 1 memory access sites translated");
        id
    }

    /// Records, on the vCPU's thread, that its last block execution ended after `executed`
    /// instructions (async-signal-safe).
    pub fn push_cut(&self, vcpu: u32, executed: u32) {
        self.target.push(vcpu, (u64::from(executed) << 32) | u64::from(CUT_MARK));
        if let Some(flag) = self.cut_appended.get(vcpu as usize) {
            flag.store(true, Ordering::Release);
        }
    }

    /// The index of the block execution the vCPU is in, once drained.
    pub fn current_exec(&self, vcpu: u32) -> u64 {
        self.execs.get(vcpu as usize).map_or(0, |e| e.load(Ordering::Relaxed).saturating_sub(1))
    }

    /// Moves what the vCPU appended into its buffer, cuts applied where they happened.
    pub fn drain(&self, owner: Owner<'_>) {
        self.target.drain(owner, |words| self.decode(owner, words));
    }

    fn decode(&self, owner: Owner<'_>, words: &[u64]) {
        let Some(counter) = self.execs.get(owner.vcpu() as usize) else { return };
        let cuts = self.cut_appended[owner.vcpu() as usize].swap(false, Ordering::Acquire);
        let mut execs = counter.load(Ordering::Relaxed);
        self.decode_part(owner, words, cuts, &mut execs);
        counter.store(execs, Ordering::Relaxed);
    }

    /// Runs of block records go to the buffer in bulk; memory records one by one; a cut
    /// marks the block execution before it.
    fn decode_part(&self, owner: Owner<'_>, words: &[u64], cuts: bool, execs: &mut u64) {
        if !self.memory {
            // Only block records and cuts (no other word can look like a cut): scanned for
            // them only when one was appended, the hot path stays one bulk copy.
            let mut rest = words;
            while cuts && let Some(at) = rest.iter().position(|&w| is_cut(w)) {
                *execs += at as u64;
                if self.trace {
                    buffer::record_execs_for(owner, &rest[..at]);
                    buffer::mark_cut_short(owner, (rest[at] >> 32) as u32, true);
                }
                rest = &rest[at + 1..];
            }
            *execs += rest.len() as u64;
            if self.trace {
                buffer::record_execs_for(owner, rest);
            }
            return;
        }
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        let pc_of = |head: u64| sites.get((head as u32 & !SITE_TAG) as usize).copied().unwrap_or(0);
        let step = self.words_per_access();
        let mut i = 0;
        while i < words.len() {
            let blocks = words[i..].iter().take_while(|&&w| w as u32 & SITE_TAG == 0).count();
            if blocks > 0 {
                *execs += blocks as u64;
                if self.trace {
                    buffer::record_execs_for(owner, &words[i..i + blocks]);
                }
                i += blocks;
            }
            if i < words.len() && is_cut(words[i]) {
                if self.trace {
                    buffer::mark_cut_short(owner, (words[i] >> 32) as u32, true);
                }
                i += 1;
                continue;
            }
            // The memory records up to the next block record or cut: all in the same execution.
            let mut end = i;
            while end + step <= words.len() && words[end] as u32 & SITE_TAG != 0 && !is_cut(words[end]) {
                end += step;
            }
            if end > i {
                buffer::record_memory_records_for(owner, execs.saturating_sub(1), &words[i..end], step, pc_of);
                i = end;
            } else if blocks == 0 {
                break; // a truncated record (never written by QEMU)
            }
        }
    }

    /// Records QEMU's helpers could not append (never expected: a block's helpers would have
    /// to make thousands of accesses).
    pub fn lost(&self) -> u64 {
        self.target.lost()
    }

    /// Forgets the execution counts (a forked child starts from zero).
    pub fn reset(&self) {
        for e in self.execs.iter() {
            e.store(0, Ordering::Relaxed);
        }
    }
}

/// The conditional callback at block entry: the block could overflow the array.
struct Drain;

impl ExecCallback for Drain {
    fn on_exec(vcpu: Vcpu<'_>, _: usize) {
        if let Some(appended) = &super::get().appended {
            appended.drain(Owner::Vcpu(vcpu));
        }
    }
}

/// Drains the vCPU's array if capture appends: before an event that must follow everything
/// the vCPU did so far.
pub fn drain(owner: Owner<'_>) {
    if let Some(appended) = &super::get().appended {
        appended.drain(owner);
    }
}
