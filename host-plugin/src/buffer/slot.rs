//! One vCPU's buffer: an event batch being filled, and a system call waiting for its return.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::Owner;
use super::probes::{Entry, ProbeCells};
use crate::events::{Blobs, DiscontinuityKind, EventBatch, clear_batch, empty_batch, is_empty};

/// Flush thresholds: large enough that the cost of a call into the script vanishes per event,
/// small enough that many vCPUs' buffers stay within a few MB each.
pub(super) const EXEC_CAP: usize = 1 << 16;
const MEM_CAP: usize = 1 << 11;
const SYS_CAP: usize = 1 << 10;
const DISC_CAP: usize = 1 << 10;
/// Bytes of system call data (`syscall-data`) in one batch before it goes out.
const SYS_DATA_CAP: usize = 1 << 20;

struct PendingSyscall {
    exec: u64,
    number: i64,
    args: [u64; 6],
}

/// A vCPU's buffer. What other threads read (liveness, where the last system call returns,
/// whether to flush soon) is atomic; the rest (`Cells`) belongs to whoever holds the
/// [`Owner`] proof for the vCPU, and every method that touches it takes that proof.
///
/// Aligned to a cache line (and so a whole number of them): slots are allocated by the
/// threads that first use them, and two neighbours in the heap would otherwise share the line
/// between them across vCPUs.
#[repr(align(64))]
pub struct Slot {
    shared: Shared,
    cells: UnsafeCell<Cells>,
}

struct Shared {
    vcpu: u32,
    alive: AtomicBool,
    /// The last block id of the vCPU's last flushed batch (u32::MAX: none).
    last_flushed_exec: AtomicU32,
    /// The memory columns are full but the batch holds block executions: flush at the next
    /// block boundary, so that a batch never ends in the middle of a block execution (a
    /// fault later in that block must still find it as the batch's last, see
    /// `capture::fault`).
    flush_at_next_exec: AtomicBool,
}

/// What only the owner touches.
struct Cells {
    batch: Box<EventBatch>,
    pending: Option<PendingSyscall>,
    /// The strings and buffers of the pending call (empty unless subscribed to syscall-data).
    pending_data: Blobs,
    /// QEMU's raw access descriptions -> packed `mem-info`, direct-mapped: a program uses a
    /// handful of distinct values, and decoding one costs four calls into QEMU.
    info_cache: [(u32, u8); INFO_CACHE],
    /// Probe hits and the calls still open, made at the vCPU's first probe hit: a run without
    /// probes keeps the buffer as it was.
    probes: Option<Box<ProbeCells>>,
}

const INFO_CACHE: usize = 64;

#[inline]
fn packed_cached(cache: &mut [(u32, u8); INFO_CACHE], info: u32) -> u8 {
    let entry = &mut cache[((info ^ (info >> 16) ^ (info >> 6)) as usize) % INFO_CACHE];
    if entry.0 != info {
        *entry = (info, crate::qemu::pack_mem_info(info));
    }
    entry.1
}

// SAFETY: the cells are reached only through `Slot::cells`, which takes the `Owner` proof:
// one thread at a time. Everything else is atomic.
unsafe impl Sync for Slot {}

impl Slot {
    pub fn new(vcpu: u32) -> Self {
        Self {
            shared: Shared {
                vcpu,
                alive: AtomicBool::new(false),
                last_flushed_exec: AtomicU32::new(u32::MAX),
                flush_at_next_exec: AtomicBool::new(false),
            },
            cells: UnsafeCell::new(Cells {
                batch: empty_batch(vcpu),
                pending: None,
                pending_data: Blobs::default(),
                info_cache: [(u32::MAX, 0); INFO_CACHE],
                probes: None,
            }),
        }
    }

    /// The owner's access to the cells: the one place the proof turns into a reference.
    ///
    /// Each method below calls this once and does not call another such method while it holds
    /// the reference, so at most one `&mut Cells` exists at a time.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    fn cells(&self, owner: Owner<'_>) -> &mut Cells {
        debug_assert_eq!(owner.vcpu(), self.shared.vcpu, "an Owner proof for another vCPU's buffer");
        // SAFETY: `owner` proves the caller is the vCPU's own thread inside one of its
        // callbacks, or the one thread running while every vCPU is stopped, or the one
        // finisher of a departed vCPU: no other thread touches the cells meanwhile, and (see
        // above) no other reference into them is alive on this thread.
        unsafe { &mut *self.cells.get() }
    }

    pub fn vcpu(&self) -> u32 {
        self.shared.vcpu
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Relaxed)
    }

    pub fn set_alive(&self, alive: bool) {
        self.shared.alive.store(alive, Ordering::Relaxed)
    }

    /// The id of the vCPU's last executed block, if the trace is on.
    pub fn last_exec(&self, owner: Owner<'_>) -> Option<u32> {
        let last_flushed = Some(self.shared.last_flushed_exec.load(Ordering::Relaxed)).filter(|&id| id != u32::MAX);
        self.cells(owner).batch.execs.last().copied().or(last_flushed)
    }

    /// The id of the last block execution in the batch being filled.
    pub fn last_exec_in_batch(&self, owner: Owner<'_>) -> Option<u32> {
        self.cells(owner).batch.execs.last().copied()
    }

    /// Marks the last block execution as cut short after `executed` instructions; with
    /// `end_batch`, the batch ends there.
    pub fn set_cut_short(&self, owner: Owner<'_>, executed: u32, end_batch: bool) {
        let cells = self.cells(owner);
        cells.batch.cut_short = Some(executed);
        if end_batch {
            cells.flush(&self.shared, false);
        }
    }

    #[inline]
    pub fn record_exec(&self, owner: Owner<'_>, block: u32) {
        self.cells(owner).record_exec(&self.shared, block)
    }

    /// Block executions in bulk: the block ids in the low 32 bits of `words` (appended by
    /// generated code, see `capture::appended`). Flushes as `record_exec` does, before an
    /// execution that would not fit.
    pub fn record_execs(&self, owner: Owner<'_>, words: &[u64]) {
        self.cells(owner).record_execs(&self.shared, words)
    }

    /// `info` is QEMU's raw access description; the packed `mem-info` comes from the cache.
    #[inline]
    pub fn record_memory(&self, owner: Owner<'_>, exec: u64, pc: u64, addr: u64, info: u32, value: u64) {
        self.cells(owner).record_memory(&self.shared, exec, pc, addr, info, value, None)
    }

    /// `record_memory` with the physical address and device (`memory-physical`).
    #[inline]
    pub fn record_memory_physical(&self, owner: Owner<'_>, access: (u64, u64, u64, u32, u64), phys: u64, device: u16) {
        let (exec, pc, addr, info, value) = access;
        self.cells(owner).record_memory(&self.shared, exec, pc, addr, info, value, Some((phys, device)))
    }

    /// An interrupt, exception or host call (`discontinuities`).
    pub fn record_discontinuity(&self, owner: Owner<'_>, exec: u64, kind: DiscontinuityKind, from: u64, to: u64) {
        let cells = self.cells(owner);
        let b = &mut cells.batch;
        b.disc_exec.push(exec);
        b.disc_kind.push(kind);
        b.disc_from.push(from);
        b.disc_to.push(to);
        if b.disc_exec.len() >= DISC_CAP {
            cells.flush_soon(&self.shared);
        }
    }

    /// Memory accesses in bulk, all in block execution `exec`: `records` holds `step` words
    /// per access as generated code appended them (see `capture::appended`): a head word
    /// (QEMU's meminfo in bits 32..63; `pc_of` maps it to the instruction's address), the
    /// address, and the value when `step` is 3.
    pub fn record_memory_records(
        &self,
        owner: Owner<'_>,
        exec: u64,
        records: &[u64],
        step: usize,
        pc_of: impl Fn(u64) -> u64,
    ) {
        self.cells(owner).record_memory_records(&self.shared, exec, records, step, pc_of)
    }

    /// `data` captures the call's strings and buffers at entry (syscall-data).
    pub fn record_syscall_entry(
        &self,
        owner: Owner<'_>,
        exec: u64,
        number: i64,
        args: [u64; 6],
        data: impl FnOnce(&mut Blobs),
    ) {
        let cells = self.cells(owner);
        if let Some(unreturned) = cells.pending.take() {
            cells.push_syscall(&self.shared, unreturned, None);
        }
        data(&mut cells.pending_data);
        cells.pending = Some(PendingSyscall { exec, number, args });
    }

    /// `data` captures what the call wrote, given its arguments (syscall-data).
    pub fn record_syscall_return(
        &self,
        owner: Owner<'_>,
        number: i64,
        ret: i64,
        data: impl FnOnce(&[u64; 6], &mut Blobs),
    ) {
        let cells = self.cells(owner);
        match cells.pending.take() {
            Some(call) if call.number == number => {
                data(&call.args, &mut cells.pending_data);
                cells.push_syscall(&self.shared, call, Some(ret))
            }
            Some(other) => cells.push_syscall(&self.shared, other, None),
            None => {}
        }
    }

    /// A probed function's entry.
    pub fn record_probe_entry(&self, owner: Owner<'_>, entry: &Entry<'_>) {
        let cells = self.cells(owner);
        let probes = cells.probes.get_or_insert_with(|| Box::new(ProbeCells::new()));
        probes.entry(entry);
        if probes.full() {
            cells.flush_soon(&self.shared);
        }
    }

    /// A return site of some probed call runs (see `ProbeCells::maybe_return`).
    pub fn record_probe_return(
        &self,
        owner: Owner<'_>,
        address: u64,
        sp: u64,
        exec: u64,
        values: impl FnOnce(u32, &mut Vec<u64>),
    ) {
        let cells = self.cells(owner);
        let Some(probes) = cells.probes.as_mut() else { return };
        probes.maybe_return(address, sp, exec, values);
        if probes.full() {
            cells.flush_soon(&self.shared);
        }
    }

    /// Whether this vCPU has a call open that returns to `address`.
    pub fn awaits_return(&self, owner: Owner<'_>, address: u64) -> bool {
        self.cells(owner).probes.as_ref().is_some_and(|p| p.awaits(address))
    }

    /// Hands the batch to the analysis thread (blocking while it is behind: backpressure, not
    /// loss). With `final_`, a system call still waiting for its return goes out as
    /// unreturned: the thread or the process is ending.
    pub fn flush(&self, owner: Owner<'_>, final_: bool) {
        self.cells(owner).flush(&self.shared, final_)
    }

    /// Forgets everything buffered (a forked child starts afresh).
    pub fn reset(&self, owner: Owner<'_>) {
        let cells = self.cells(owner);
        clear_batch(&mut cells.batch);
        cells.pending = None;
        cells.pending_data.clear();
        cells.probes = None;
        self.set_alive(false);
        self.shared.last_flushed_exec.store(u32::MAX, Ordering::Relaxed);
    }
}

impl Cells {
    #[inline]
    fn record_exec(&mut self, shared: &Shared, block: u32) {
        // Flush before appending, never after: the batch then always ends with a complete
        // block execution's events and still holds the execution a fault may cut short.
        if self.batch.execs.len() >= EXEC_CAP || shared.flush_at_next_exec.load(Ordering::Relaxed) {
            self.flush(shared, false);
        }
        self.batch.execs.push(block);
    }

    fn record_execs(&mut self, shared: &Shared, words: &[u64]) {
        let mut rest = words;
        while !rest.is_empty() {
            if self.batch.execs.len() >= EXEC_CAP || shared.flush_at_next_exec.load(Ordering::Relaxed) {
                self.flush(shared, false);
            }
            let (now, later) = rest.split_at((EXEC_CAP - self.batch.execs.len()).min(rest.len()));
            self.batch.execs.extend(now.iter().map(|&w| w as u32));
            rest = later;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn record_memory(
        &mut self,
        shared: &Shared,
        exec: u64,
        pc: u64,
        addr: u64,
        info: u32,
        value: u64,
        physical: Option<(u64, u16)>,
    ) {
        let packed = packed_cached(&mut self.info_cache, info);
        let b = &mut self.batch;
        b.mem_exec.push(exec);
        b.mem_pc.push(pc);
        b.mem_addr.push(addr);
        b.mem_info.push(packed);
        b.mem_value.push(value);
        if let Some((phys, device)) = physical {
            b.mem_phys.push(phys);
            b.mem_device.push(device);
        }
        self.after_memory(shared);
    }

    fn record_memory_records(
        &mut self,
        shared: &Shared,
        exec: u64,
        records: &[u64],
        step: usize,
        pc_of: impl Fn(u64) -> u64,
    ) {
        let mut rest = records;
        while !rest.is_empty() {
            let b = &mut self.batch;
            // A batch without block executions may end anywhere: fill it to the cap. One
            // with them ends at a block boundary only, so the columns may grow past the cap.
            let room = if b.execs.is_empty() { MEM_CAP.saturating_sub(b.mem_exec.len()).max(1) } else { usize::MAX };
            let (now, later) = rest.split_at((room.saturating_mul(step)).min(rest.len()));
            let accesses = now.chunks_exact(step);
            let n = accesses.len();
            b.mem_exec.extend(std::iter::repeat_n(exec, n));
            b.mem_pc.extend(accesses.clone().map(|r| pc_of(r[0])));
            b.mem_addr.extend(accesses.clone().map(|r| r[1]));
            let cache = &mut self.info_cache;
            b.mem_info.extend(accesses.clone().map(|r| packed_cached(cache, (r[0] >> 32) as u32)));
            if step >= 3 {
                b.mem_value.extend(accesses.map(|r| r[2]));
            } else {
                b.mem_value.extend(std::iter::repeat_n(0, n));
            }
            rest = later;
            self.after_memory(shared);
        }
    }

    /// Full memory columns: flush now when the batch has no block execution to keep whole,
    /// else at the next block boundary.
    fn after_memory(&mut self, shared: &Shared) {
        if self.batch.mem_exec.len() >= MEM_CAP {
            self.flush_soon(shared);
        }
    }

    /// A full column: flush now when the batch has no block execution to keep whole, else at
    /// the next block boundary.
    fn flush_soon(&mut self, shared: &Shared) {
        if self.batch.execs.is_empty() {
            self.flush(shared, false);
        } else {
            shared.flush_at_next_exec.store(true, Ordering::Relaxed);
        }
    }

    fn push_syscall(&mut self, shared: &Shared, call: PendingSyscall, ret: Option<i64>) {
        let b = &mut self.batch;
        b.sys_exec.push(call.exec);
        b.sys_number.push(call.number);
        b.sys_args.extend_from_slice(&call.args);
        b.sys_ret.push(ret.unwrap_or(0));
        b.sys_returned.push(ret.is_some());
        let data = &mut self.pending_data;
        if !data.is_empty() {
            let call = (b.sys_number.len() - 1) as u32;
            b.sys_data_call.extend(std::iter::repeat_n(call, data.info.len()));
            b.sys_data_info.extend_from_slice(&data.info);
            b.sys_data_len.extend_from_slice(&data.len);
            b.sys_data.extend_from_slice(&data.data);
            data.clear();
        }
        if b.sys_exec.len() >= SYS_CAP || b.sys_data.len() >= SYS_DATA_CAP {
            self.flush(shared, false);
        }
    }

    fn flush(&mut self, shared: &Shared, final_: bool) {
        if final_ && let Some(call) = self.pending.take() {
            self.push_syscall(shared, call, None);
        }
        if let (true, Some(probes)) = (final_, self.probes.as_mut()) {
            let last = (self.batch.first_exec + self.batch.execs.len() as u64).saturating_sub(1);
            probes.close_all(last);
        }
        shared.flush_at_next_exec.store(false, Ordering::Relaxed);
        let b = &mut self.batch;
        let no_hits = self.probes.as_ref().is_none_or(|p| p.is_empty());
        if is_empty(b) && b.cut_short.is_none() && no_hits {
            return;
        }
        if let Some(&last) = b.execs.last() {
            shared.last_flushed_exec.store(last, Ordering::Relaxed);
        }
        let next_first_exec = b.first_exec + b.execs.len() as u64;
        let handoff = super::handoff();
        let mut fresh = (handoff.recycled)().unwrap_or_else(|| empty_batch(shared.vcpu));
        fresh.vcpu = shared.vcpu;
        fresh.first_exec = next_first_exec;
        let full = std::mem::replace(b, fresh);
        let hits = self.probes.as_mut().filter(|p| !p.is_empty()).map(|p| p.take());
        (handoff.submit)(full, hits);
    }
}
