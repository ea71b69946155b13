//! Per-vCPU event buffers. Each vCPU thread appends to its own buffer with no lock; a full
//! buffer is handed to the analysis thread (`crate::batch`) and replaced by an empty one.
//!
//! Only the owning vCPU thread touches its buffer, except at fork and at exit, when QEMU has
//! stopped every vCPU (`start_exclusive`) and one thread flushes them all.

mod probes;
mod slot;
#[cfg(test)]
mod tests;

use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::events::{Blobs, EventBatch, ProbeBatch};
use crate::qemu::Vcpu;

pub use probes::Entry as ProbeEntry;
pub use slot::Slot;

/// Where full batches go (with the probe hits of the same stretch, when there are any) and
/// emptied ones come back from (the batch pipeline), connected at install: the buffers need
/// not know the stage after them.
pub struct Handoff {
    pub submit: fn(Box<EventBatch>, Option<ProbeBatch>),
    pub recycled: fn() -> Option<Box<EventBatch>>,
}

static HANDOFF: OnceLock<Handoff> = OnceLock::new();

/// Connects the buffers to the next stage; once per process.
pub fn connect(handoff: Handoff) {
    let _ = HANDOFF.set(handoff);
}

pub(crate) fn handoff() -> &'static Handoff {
    HANDOFF.get().expect("buffers used before buffer::connect")
}

pub use crate::qemu::MAX_VCPUS;

static SLOTS: [AtomicPtr<Slot>; MAX_VCPUS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_VCPUS];

/// The buffer of `vcpu`, created on first use (by the vCPU's own thread).
#[inline]
fn slot(vcpu: u32) -> &'static Slot {
    let cell = SLOTS.get(vcpu as usize).unwrap_or_else(|| too_many_threads(vcpu));
    let ptr = cell.load(Ordering::Acquire);
    if !ptr.is_null() {
        // SAFETY: slots are leaked boxes, never freed.
        return unsafe { &*ptr };
    }
    let fresh = Box::into_raw(Box::new(Slot::new(vcpu)));
    match cell.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` is now the slot's leaked box, never freed.
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: another thread's leaked box, never freed.
            unsafe { &*existing }
        }
    }
}

#[cold]
fn too_many_threads(vcpu: u32) -> ! {
    crate::console::error(&format!(
        "guest thread with vCPU index {vcpu}: more than {MAX_VCPUS} threads at once are not supported"
    ));
    std::process::exit(1)
}

fn existing_slots() -> impl Iterator<Item = &'static Slot> {
    SLOTS.iter().filter_map(|cell| {
        let ptr = cell.load(Ordering::Acquire);
        // SAFETY: as in `slot`.
        (!ptr.is_null()).then(|| unsafe { &*ptr })
    })
}

#[inline]
pub fn record_exec(vcpu: Vcpu<'_>, block: u32) {
    slot(vcpu.index()).record_exec(Owner::Vcpu(vcpu), block)
}

/// `info` is QEMU's raw access description; the vCPU's buffer caches its packed `mem-info`.
#[inline]
pub fn record_memory(vcpu: Vcpu<'_>, exec: u64, pc: u64, addr: u64, info: u32, value: u64) {
    slot(vcpu.index()).record_memory(Owner::Vcpu(vcpu), exec, pc, addr, info, value)
}

/// `record_memory` with the physical address and the device the access went to.
#[inline]
pub fn record_memory_physical(vcpu: Vcpu<'_>, access: (u64, u64, u64, u32, u64), phys: u64, device: u16) {
    slot(vcpu.index()).record_memory_physical(Owner::Vcpu(vcpu), access, phys, device)
}

/// An interrupt, exception or host call, in order with the vCPU's other events.
pub fn record_discontinuity(vcpu: Vcpu<'_>, exec: u64, kind: crate::events::DiscontinuityKind, from: u64, to: u64) {
    slot(vcpu.index()).record_discontinuity(Owner::Vcpu(vcpu), exec, kind, from, to)
}

/// Block executions in bulk (ids in the low 32 bits of each word), for whoever may touch
/// the buffer (draining appended events, see `capture::appended`).
#[inline]
pub fn record_execs_for(owner: Owner<'_>, words: &[u64]) {
    owner.slot().record_execs(owner, words)
}

/// Memory accesses in bulk, for whoever may touch the buffer (see `Slot::record_memory_records`).
#[inline]
pub fn record_memory_records_for(
    owner: Owner<'_>,
    exec: u64,
    records: &[u64],
    step: usize,
    pc_of: impl Fn(u64) -> u64,
) {
    owner.slot().record_memory_records(owner, exec, records, step, pc_of)
}

/// `data` fills in the call's strings and buffers read at entry (see `Slot`).
pub fn record_syscall_entry(vcpu: Vcpu<'_>, exec: u64, number: i64, args: [u64; 6], data: impl FnOnce(&mut Blobs)) {
    slot(vcpu.index()).record_syscall_entry(Owner::Vcpu(vcpu), exec, number, args, data)
}

/// `data` adds what the call wrote, from the arguments saved at entry.
pub fn record_syscall_return(vcpu: Vcpu<'_>, number: i64, ret: i64, data: impl FnOnce(&[u64; 6], &mut Blobs)) {
    slot(vcpu.index()).record_syscall_return(Owner::Vcpu(vcpu), number, ret, data)
}

/// A probed function's entry on `vcpu`.
pub fn record_probe_entry(vcpu: Vcpu<'_>, entry: &ProbeEntry<'_>) {
    slot(vcpu.index()).record_probe_entry(Owner::Vcpu(vcpu), entry)
}

/// A return site runs on `vcpu` with stack pointer `sp`; `values` reads what the returning
/// probe wants (see `Slot::record_probe_return`).
pub fn record_probe_return(vcpu: Vcpu<'_>, address: u64, sp: u64, exec: u64, values: impl FnOnce(u32, &mut Vec<u64>)) {
    slot(vcpu.index()).record_probe_return(Owner::Vcpu(vcpu), address, sp, exec, values)
}

/// Whether `vcpu` has a probed call open that returns to `address`.
pub fn awaits_return(vcpu: Vcpu<'_>, address: u64) -> bool {
    slot(vcpu.index()).awaits_return(Owner::Vcpu(vcpu), address)
}

/// Proof that no vCPU runs (QEMU's exclusive section at fork and exit, or the only guest
/// thread inside execve): any thread may then touch every buffer.
pub struct Stopped {
    _not_send: PhantomData<*const ()>,
}

impl Stopped {
    /// # Safety
    /// No vCPU may run while the value lives.
    pub unsafe fn assume() -> Self {
        Self { _not_send: PhantomData }
    }
}

/// Proof that a vCPU's thread has left for good and its index is not yet reused: its buffer
/// is nobody's, and one thread may finish it (an exit that met a fork, `qemu::fork_gate`).
pub struct Departed {
    vcpu: u32,
    _not_send: PhantomData<*const ()>,
}

impl Departed {
    /// # Safety
    /// The thread of `vcpu` no longer touches its buffer, no new thread gets the index while
    /// the value lives, and no other `Departed` for it exists.
    pub unsafe fn assume(vcpu: u32) -> Self {
        Self { vcpu, _not_send: PhantomData }
    }
}

/// Who touches a vCPU's buffer outside the recording functions: the vCPU's own thread inside
/// one of its callbacks, any thread while all vCPUs are stopped, or the one thread finishing
/// a departed vCPU.
#[derive(Clone, Copy)]
pub enum Owner<'a> {
    Vcpu(Vcpu<'a>),
    Stopped(&'a Stopped, u32),
    Departed(&'a Departed),
}

// SAFETY: each variant is the right to drain: the vCPU's own thread inside its callback
// (the vCPU's generated code runs on that thread only, never while one of its callbacks
// does), all vCPUs stopped (`Stopped`), or the one finisher of a departed vCPU (`Departed`).
unsafe impl crate::qemu::DrainRight for Owner<'_> {
    fn vcpu(&self) -> u32 {
        Owner::vcpu(*self)
    }
}

impl Owner<'_> {
    fn slot(self) -> &'static Slot {
        slot(self.vcpu())
    }

    /// The vCPU index whose buffer this is.
    pub fn vcpu(self) -> u32 {
        match self {
            Owner::Vcpu(vcpu) => vcpu.index(),
            Owner::Stopped(_, vcpu) => vcpu,
            Owner::Departed(departed) => departed.vcpu,
        }
    }
}

/// The id of the vCPU's last executed block, if the trace is on.
pub fn last_exec(owner: Owner<'_>) -> Option<u32> {
    owner.slot().last_exec(owner)
}

/// The id of the last block execution in the batch being filled.
pub fn last_exec_in_batch(owner: Owner<'_>) -> Option<u32> {
    owner.slot().last_exec_in_batch(owner)
}

/// Marks the vCPU's last block execution as cut short after `executed` instructions; with
/// `end_batch`, the batch ends there.
pub fn mark_cut_short(owner: Owner<'_>, executed: u32, end_batch: bool) {
    owner.slot().set_cut_short(owner, executed, end_batch)
}

/// Every vCPU index that has had a buffer.
pub fn vcpus() -> Vec<u32> {
    existing_slots().map(Slot::vcpu).collect()
}

/// A guest thread started: its buffer exists before its first event.
pub fn thread_started(vcpu: u32) {
    slot(vcpu).set_alive(true);
}

/// A guest thread exits: everything it buffered goes out now, because QEMU may give its vCPU
/// index to the next thread.
pub fn thread_exited(owner: Owner<'_>) {
    let s = owner.slot();
    s.flush(owner, true);
    s.set_alive(false);
}

/// Guest threads alive now.
pub fn alive_count() -> usize {
    existing_slots().filter(|s| s.is_alive()).count()
}

/// Flushes every buffer, calling `on_alive` for each vCPU whose thread is still alive. With
/// `final_` (at exit) system calls still waiting for their return go out as unreturned; at a
/// fork they stay pending, since the parent's call returns after it. `last` (the thread
/// running the exit) goes after every other: its final call (exit_group) came after what the
/// others still hold — a thread it joined may still hold its own `exit`. No vCPU runs meanwhile
/// (the `Stopped` proof: QEMU's exclusive section at fork and exit).
pub fn flush_all(stopped: &Stopped, final_: bool, last: Option<u32>, mut on_alive: impl FnMut(u32)) {
    let others = existing_slots().filter(|s| Some(s.vcpu()) != last);
    for s in others.chain(last.and_then(|v| existing_slots().find(|s| s.vcpu() == v))) {
        s.flush(Owner::Stopped(stopped, s.vcpu()), final_);
        if s.is_alive() {
            on_alive(s.vcpu());
        }
    }
}

/// Forgets buffered state and liveness (in a forked child, where only one thread survives and
/// the script starts afresh), with no other thread running (`Stopped`).
pub fn reset_all(stopped: &Stopped) {
    for s in existing_slots() {
        s.reset(Owner::Stopped(stopped, s.vcpu()));
    }
}
