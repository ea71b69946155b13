//! One vCPU's buffer: an event batch being filled, and a system call waiting for its return.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::events::{Blobs, EventBatch, clear_batch, empty_batch, is_empty};

/// Flush thresholds: large enough that the cost of a call into the script vanishes per event,
/// small enough that many vCPUs' buffers stay within a few MB each.
const EXEC_CAP: usize = 1 << 16;
const MEM_CAP: usize = 1 << 11;
const SYS_CAP: usize = 1 << 10;
/// Bytes of system call data (`syscall-data`) in one batch before it goes out.
const SYS_DATA_CAP: usize = 1 << 20;

struct PendingSyscall {
    exec: u64,
    number: i64,
    args: [u64; 6],
}

pub struct Slot {
    vcpu: u32,
    alive: AtomicBool,
    /// Where the vCPU's last system call returns to (0: none yet).
    syscall_return_pc: AtomicU64,
    /// The last block id of the vCPU's last flushed batch (u32::MAX: none).
    last_flushed_exec: AtomicU32,
    /// The memory columns are full but the batch holds block executions: flush at the next
    /// block boundary, so that a batch never ends in the middle of a block execution (a
    /// fault later in that block must still find it as the batch's last, see
    /// `capture::fault`).
    flush_at_next_exec: AtomicBool,
    batch: UnsafeCell<Box<EventBatch>>,
    pending: UnsafeCell<Option<PendingSyscall>>,
    /// The strings and buffers of the pending call (empty unless subscribed to syscall-data).
    pending_data: UnsafeCell<Blobs>,
    /// QEMU's raw access descriptions -> packed `mem-info`, direct-mapped: a program uses a
    /// handful of distinct values, and decoding one costs four calls into QEMU.
    info_cache: UnsafeCell<[(u32, u8); INFO_CACHE]>,
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

// SAFETY: the cells are touched only by the owning vCPU thread, or by one thread while all
// vCPUs are stopped (see the module docs of `buffer`).
unsafe impl Sync for Slot {}

impl Slot {
    pub fn new(vcpu: u32) -> Self {
        Self {
            vcpu,
            alive: AtomicBool::new(false),
            syscall_return_pc: AtomicU64::new(0),
            last_flushed_exec: AtomicU32::new(u32::MAX),
            flush_at_next_exec: AtomicBool::new(false),
            batch: UnsafeCell::new(empty_batch(vcpu)),
            pending: UnsafeCell::new(None),
            pending_data: UnsafeCell::new(Blobs::default()),
            info_cache: UnsafeCell::new([(u32::MAX, 0); INFO_CACHE]),
        }
    }

    pub fn vcpu(&self) -> u32 {
        self.vcpu
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    pub fn set_alive(&self, alive: bool) {
        self.alive.store(alive, Ordering::Relaxed)
    }

    pub fn set_syscall_return_pc(&self, pc: u64) {
        self.syscall_return_pc.store(pc, Ordering::Relaxed)
    }

    pub fn syscall_return_pc(&self) -> Option<u64> {
        Some(self.syscall_return_pc.load(Ordering::Relaxed)).filter(|&pc| pc != 0)
    }

    /// The id of the vCPU's last executed block, if the trace is on.
    ///
    /// # Safety
    /// Only on the owning thread, or while all vCPUs are stopped.
    pub unsafe fn last_exec(&self) -> Option<u32> {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let b = unsafe { self.batch() };
        b.execs
            .last()
            .copied()
            .or_else(|| Some(self.last_flushed_exec.load(Ordering::Relaxed)).filter(|&id| id != u32::MAX))
    }

    /// The id of the last block execution in the batch being filled.
    ///
    /// # Safety
    /// As for `last_exec`.
    pub unsafe fn last_exec_in_batch(&self) -> Option<u32> {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        unsafe { self.batch() }.execs.last().copied()
    }

    /// Marks the last block execution as cut short after `executed` instructions.
    ///
    /// # Safety
    /// As for `last_exec`.
    pub unsafe fn set_cut_short(&self, executed: u32) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        unsafe { self.batch() }.cut_short = Some(executed);
    }

    #[allow(clippy::mut_from_ref)]
    unsafe fn batch(&self) -> &mut EventBatch {
        // SAFETY: the caller holds this function's contract (the owning thread, or all vCPUs
        // stopped), so no other reference to the batch exists while it uses this one.
        unsafe { &mut *self.batch.get() }
    }

    /// # Safety
    /// Only on the owning thread (see `Sync` above).
    #[inline]
    pub unsafe fn record_exec(&self, block: u32) {
        // Flush before appending, never after: the batch then always ends with a complete
        // block execution's events and still holds the execution a fault may cut short.
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let b = unsafe { self.batch() };
        if b.execs.len() >= EXEC_CAP || self.flush_at_next_exec.load(Ordering::Relaxed) {
            // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no
            // other reference into the cells is alive across the call.
            unsafe { self.flush(false) };
        }
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        unsafe { self.batch() }.execs.push(block);
    }

    /// Block executions in bulk: the block ids in the low 32 bits of `words` (appended by
    /// generated code, see `capture::appended`). Flushes as `record_exec` does, before an
    /// execution that would not fit.
    ///
    /// # Safety
    /// Only on the owning thread, or while all vCPUs are stopped.
    pub unsafe fn record_execs(&self, words: &[u64]) {
        let mut rest = words;
        while !rest.is_empty() {
            // SAFETY: per this function's contract; no other reference into the cells is
            // alive across the call.
            let full = unsafe { self.batch() }.execs.len() >= EXEC_CAP;
            if full || self.flush_at_next_exec.load(Ordering::Relaxed) {
                // SAFETY: as above.
                unsafe { self.flush(false) };
            }
            // SAFETY: as above.
            let b = unsafe { self.batch() };
            let (now, later) = rest.split_at((EXEC_CAP - b.execs.len()).min(rest.len()));
            b.execs.extend(now.iter().map(|&w| w as u32));
            rest = later;
        }
    }

    /// # Safety
    /// Only on the owning thread.
    #[inline]
    pub unsafe fn packed_mem_info(&self, info: u32) -> u8 {
        // SAFETY: per this function's contract: only the owning thread touches the cache.
        packed_cached(unsafe { &mut *self.info_cache.get() }, info)
    }

    /// # Safety
    /// Only on the owning thread.
    #[inline]
    pub unsafe fn record_memory(&self, exec: u64, pc: u64, addr: u64, info: u8, value: u64) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let b = unsafe { self.batch() };
        b.mem_exec.push(exec);
        b.mem_pc.push(pc);
        b.mem_addr.push(addr);
        b.mem_info.push(info);
        b.mem_value.push(value);
        if b.mem_exec.len() >= MEM_CAP {
            if b.execs.is_empty() {
                // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped);
                // no other reference into the cells is alive across the call.
                unsafe { self.flush(false) };
            } else {
                self.flush_at_next_exec.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Memory accesses in bulk, all in block execution `exec`: `records` holds `step` words
    /// per access as generated code appended them (see `capture::appended`): a head word
    /// (QEMU's meminfo in bits 32..63; `pc_of` maps it to the instruction's address), the
    /// address, and the value when `step` is 3.
    ///
    /// # Safety
    /// Only on the owning thread, or while all vCPUs are stopped.
    pub unsafe fn record_memory_records(&self, exec: u64, records: &[u64], step: usize, pc_of: impl Fn(u64) -> u64) {
        let mut rest = records;
        while !rest.is_empty() {
            // SAFETY: per this function's contract; no other reference into the cells is
            // alive across the call.
            let b = unsafe { self.batch() };
            // A batch without block executions may end anywhere: fill it to the cap. One
            // with them ends at a block boundary only, so the columns may grow past the cap.
            let room = if b.execs.is_empty() { MEM_CAP.saturating_sub(b.mem_exec.len()).max(1) } else { usize::MAX };
            let (now, later) = rest.split_at((room.saturating_mul(step)).min(rest.len()));
            let accesses = now.chunks_exact(step);
            let n = accesses.len();
            b.mem_exec.extend(std::iter::repeat_n(exec, n));
            b.mem_pc.extend(accesses.clone().map(|r| pc_of(r[0])));
            b.mem_addr.extend(accesses.clone().map(|r| r[1]));
            // SAFETY: only the owning thread touches the cache (this function's contract).
            let cache = unsafe { &mut *self.info_cache.get() };
            b.mem_info.extend(accesses.clone().map(|r| packed_cached(cache, (r[0] >> 32) as u32)));
            if step >= 3 {
                b.mem_value.extend(accesses.map(|r| r[2]));
            } else {
                b.mem_value.extend(std::iter::repeat_n(0, n));
            }
            rest = later;
            if b.mem_exec.len() >= MEM_CAP {
                if b.execs.is_empty() {
                    // SAFETY: as above.
                    unsafe { self.flush(false) };
                } else {
                    self.flush_at_next_exec.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// `data` captures the call's strings and buffers at entry (syscall-data).
    ///
    /// # Safety
    /// Only on the owning thread.
    pub unsafe fn record_syscall_entry(&self, exec: u64, number: i64, args: [u64; 6], data: impl FnOnce(&mut Blobs)) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let pending = unsafe { &mut *self.pending.get() };
        if let Some(unreturned) = pending.take() {
            // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no
            // other reference into the cells is alive across the call.
            unsafe { self.push_syscall(unreturned, None) };
        }
        // SAFETY: per this function's contract; `data` gets the only reference to the pending
        // blobs.
        data(unsafe { &mut *self.pending_data.get() });
        *pending = Some(PendingSyscall { exec, number, args });
    }

    /// `data` captures what the call wrote, given its arguments (syscall-data).
    ///
    /// # Safety
    /// Only on the owning thread.
    pub unsafe fn record_syscall_return(&self, number: i64, ret: i64, data: impl FnOnce(&[u64; 6], &mut Blobs)) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let pending = unsafe { &mut *self.pending.get() };
        match pending.take() {
            Some(call) if call.number == number => {
                // SAFETY: per this function's contract; `data` gets the only reference to the
                // pending blobs.
                data(&call.args, unsafe { &mut *self.pending_data.get() });
                // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped);
                // no other reference into the cells is alive across the call.
                unsafe { self.push_syscall(call, Some(ret)) }
            }
            Some(other) => {
                // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped);
                // no other reference into the cells is alive across the call.
                unsafe { self.push_syscall(other, None) };
            }
            None => {}
        }
    }

    unsafe fn push_syscall(&self, call: PendingSyscall, ret: Option<i64>) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let b = unsafe { self.batch() };
        b.sys_exec.push(call.exec);
        b.sys_number.push(call.number);
        b.sys_args.extend_from_slice(&call.args);
        b.sys_ret.push(ret.unwrap_or(0));
        b.sys_returned.push(ret.is_some());
        // SAFETY: per this function's contract; `flush` below does not touch the pending blobs.
        let data = unsafe { &mut *self.pending_data.get() };
        if !data.is_empty() {
            let call = (b.sys_number.len() - 1) as u32;
            b.sys_data_call.extend(std::iter::repeat_n(call, data.info.len()));
            b.sys_data_info.extend_from_slice(&data.info);
            b.sys_data_len.extend_from_slice(&data.len);
            b.sys_data.extend_from_slice(&data.data);
            data.clear();
        }
        if b.sys_exec.len() >= SYS_CAP || b.sys_data.len() >= SYS_DATA_CAP {
            // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no
            // other reference into the cells is alive across the call.
            unsafe { self.flush(false) };
        }
    }

    /// Hands the batch to the analysis thread (blocking while it is behind: backpressure, not
    /// loss). With `final_`, a system call still waiting for its return goes out as
    /// unreturned: the thread or the process is ending.
    ///
    /// # Safety
    /// Only on the owning thread, or while all vCPUs are stopped.
    pub unsafe fn flush(&self, final_: bool) {
        if final_ {
            // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no
            // other reference into the cells is alive across the call.
            if let Some(call) = unsafe { (*self.pending.get()).take() } {
                // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped);
                // no other reference into the cells is alive across the call.
                unsafe { self.push_syscall(call, None) };
            }
        }
        self.flush_at_next_exec.store(false, Ordering::Relaxed);
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        let b = unsafe { &mut *self.batch.get() };
        if is_empty(b) && b.cut_short.is_none() {
            return;
        }
        if let Some(&last) = b.execs.last() {
            self.last_flushed_exec.store(last, Ordering::Relaxed);
        }
        let next_first_exec = b.first_exec + b.execs.len() as u64;
        let handoff = super::handoff();
        let mut fresh = (handoff.recycled)().unwrap_or_else(|| empty_batch(self.vcpu));
        fresh.vcpu = self.vcpu;
        fresh.first_exec = next_first_exec;
        let full = std::mem::replace(b, fresh);
        (handoff.submit)(full);
    }

    /// # Safety
    /// Only while all vCPUs are stopped.
    pub unsafe fn reset(&self) {
        // SAFETY: per this function's contract (the owning thread, or all vCPUs stopped); no other
        // reference into the cells is alive across the call.
        unsafe {
            clear_batch(self.batch());
            *self.pending.get() = None;
            (*self.pending_data.get()).clear();
        }
        self.set_alive(false);
        self.syscall_return_pc.store(0, Ordering::Relaxed);
        self.last_flushed_exec.store(u32::MAX, Ordering::Relaxed);
    }
}
