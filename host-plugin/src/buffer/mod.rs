//! Per-vCPU event buffers. Each vCPU thread appends to its own buffer with no lock; a full
//! buffer is handed to the analysis thread (`crate::batch`) and replaced by an empty one.
//!
//! Only the owning vCPU thread touches its buffer, except at fork and at exit, when QEMU has
//! stopped every vCPU (`start_exclusive`) and one thread flushes them all.

mod slot;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::events::{Blobs, EventBatch};

pub use slot::Slot;

/// Where full batches go and emptied ones come back from (the batch pipeline), connected at
/// install: the buffers need not know the stage after them.
pub struct Handoff {
    pub submit: fn(Box<EventBatch>),
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

/// Upper bound on simultaneously existing vCPU indices (guest threads alive at once).
pub const MAX_VCPUS: usize = 4096;

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
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*existing }
        }
    }
}

#[cold]
fn too_many_threads(vcpu: u32) -> ! {
    crate::console::line(&format!(
        "cannonball: error: guest thread with vCPU index {vcpu}: more than {MAX_VCPUS} threads at once are not supported"
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
pub fn record_exec(vcpu: u32, block: u32) {
    // SAFETY: called on the vCPU's own thread.
    unsafe { slot(vcpu).record_exec(block) }
}

/// `info` is QEMU's raw access description; `pack` turns it into the packed `mem-info` byte
/// (capture knows how), and the vCPU's buffer caches the result.
#[inline]
pub fn record_memory(vcpu: u32, exec: u64, pc: u64, addr: u64, info: u32, value: u64, pack: fn(u32) -> u8) {
    let s = slot(vcpu);
    // SAFETY: called on the vCPU's own thread.
    unsafe {
        let packed = s.packed_mem_info(info, pack);
        s.record_memory(exec, pc, addr, packed, value)
    }
}

/// `data` fills in the call's strings and buffers read at entry (see `Slot`).
pub fn record_syscall_entry(vcpu: u32, exec: u64, number: i64, args: [u64; 6], data: impl FnOnce(&mut Blobs)) {
    // SAFETY: called on the vCPU's own thread.
    unsafe { slot(vcpu).record_syscall_entry(exec, number, args, data) }
}

/// `data` adds what the call wrote, from the arguments saved at entry.
pub fn record_syscall_return(vcpu: u32, number: i64, ret: i64, data: impl FnOnce(&[u64; 6], &mut Blobs)) {
    // SAFETY: called on the vCPU's own thread.
    unsafe { slot(vcpu).record_syscall_return(number, ret, data) }
}

pub fn note_syscall_return_pc(vcpu: u32, pc: u64) {
    slot(vcpu).set_syscall_return_pc(pc);
}

/// The buffer of `vcpu` (for the fault corrections in `capture::fault`).
pub fn slot_of(vcpu: u32) -> &'static Slot {
    slot(vcpu)
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
pub fn thread_exited(vcpu: u32) {
    let s = slot(vcpu);
    // SAFETY: called on the exiting vCPU's own thread.
    unsafe { s.flush(true) };
    s.set_alive(false);
}

/// Guest threads alive now.
pub fn alive_count() -> usize {
    existing_slots().filter(|s| s.is_alive()).count()
}

/// Flushes every buffer, calling `on_alive` for each vCPU whose thread is still alive. With
/// `final_` (at exit) system calls still waiting for their return go out as unreturned; at a
/// fork they stay pending, since the parent's call returns after it.
///
/// # Safety
/// No vCPU may run: QEMU is in an exclusive section (fork, exit).
pub unsafe fn flush_all(final_: bool, mut on_alive: impl FnMut(u32)) {
    for s in existing_slots() {
        unsafe { s.flush(final_) };
        if s.is_alive() {
            on_alive(s.vcpu());
        }
    }
}

/// Forgets buffered state and liveness (in a forked child, where only one thread survives and
/// the script starts afresh).
///
/// # Safety
/// As for [`flush_all`].
pub unsafe fn reset_all() {
    for s in existing_slots() {
        unsafe { s.reset() };
    }
}
