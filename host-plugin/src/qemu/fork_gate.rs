//! Keeps a guest fork from cutting through a callback that runs outside generated code.
//!
//! QEMU's `fork_start()` stops every vCPU that *executes* guest code (`start_exclusive`), but
//! system call entry and return, vCPU init and vCPU exit callbacks run outside that section:
//! one guest thread may be inside its `futex` or `exit` callback while another calls `fork()`.
//! Whatever that callback held at the instant of the fork (our thread/process exit lock, a
//! half-appended buffer, a channel's lock) would be copied held into the child, whose only
//! thread then blocks forever at its first use (found by CPython's
//! `test_is_alive_after_fork`: a thread exits while the main thread forks).
//!
//! So those callbacks pass through this gate, and the fork closes it: `close` waits until no
//! callback is inside and keeps new ones waiting at the door until the fork is over. A
//! callback inside never waits for something the forking thread holds (it may wait for the
//! analysis thread, which is not a vCPU), so the wait ends.
//!
//! The vCPU exit callback is the exception at the door: QEMU calls it holding its `clone_lock`,
//! which a child would inherit held had the thread waited there during the fork. An exit that
//! finds the gate closed is left with the forking thread instead ([`defer_exit`]), which hands
//! it over after the fork ([`take_deferred_exits`]); the exiting thread no longer touches its
//! buffer, and QEMU cannot give its vCPU index to a new thread before the fork ends (the
//! forking thread holds the CPU list lock until then).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

static FORKING: AtomicBool = AtomicBool::new(false);
static INSIDE: AtomicU32 = AtomicU32::new(0);

/// A callback's passage; the gate counts it until dropped.
pub(super) struct Passage(());

impl Drop for Passage {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, SeqCst);
    }
}

/// Enters the gate unless a fork is in progress.
#[inline]
pub(super) fn try_pass() -> Option<Passage> {
    INSIDE.fetch_add(1, SeqCst);
    if !FORKING.load(SeqCst) {
        return Some(Passage(()));
    }
    INSIDE.fetch_sub(1, SeqCst);
    None
}

/// Enters the gate, waiting while a fork is in progress.
#[inline]
pub(super) fn pass() -> Passage {
    loop {
        INSIDE.fetch_add(1, SeqCst);
        if !FORKING.load(SeqCst) {
            return Passage(());
        }
        INSIDE.fetch_sub(1, SeqCst);
        wait_while(|| FORKING.load(SeqCst));
    }
}

/// Before `fork()`: no callback is inside once this returns, and none enters until
/// [`reopen`] (in the parent) or [`reopen_in_child`].
pub fn close() {
    FORKING.store(true, SeqCst);
    wait_while(|| INSIDE.load(SeqCst) != 0);
}

/// After `fork()`, in the parent: the waiting callbacks go on. Then collect
/// [`take_deferred_exits`] (in this order: an exit deferred until the gate opens is then
/// either seen by the collection or taken back by its own thread, never neither).
pub fn reopen() {
    FORKING.store(false, SeqCst);
}

/// After `fork()`, in the child: its only thread is the one that forked; the parent's other
/// threads, exiting or not, do not exist here.
pub fn reopen_in_child() {
    for word in &DEFERRED {
        word.store(0, SeqCst);
    }
    INSIDE.store(0, SeqCst);
    FORKING.store(false, SeqCst);
}

/// vCPUs whose exit met a closed gate, one bit each (a lock here could itself be copied held).
static DEFERRED: [AtomicU64; super::MAX_VCPUS / 64] = [const { AtomicU64::new(0) }; super::MAX_VCPUS / 64];

/// The exit of `vcpu` met a closed gate: leave it to the forking thread. Returns false when
/// the fork ended meanwhile and the exit is the caller's again (try the gate again).
pub(super) fn defer_exit(vcpu: u32) -> bool {
    let (word, bit) = (vcpu as usize / 64, 1u64 << (vcpu % 64));
    DEFERRED[word].fetch_or(bit, SeqCst);
    if FORKING.load(SeqCst) {
        // `reopen` comes later, and the forking thread collects after it.
        return true;
    }
    // The fork may be over and collected already: take it back unless the collection got it.
    DEFERRED[word].fetch_and(!bit, SeqCst) & bit == 0
}

/// The exits deferred during the fork that just ended, claimed by the caller (after
/// [`reopen`], in the parent).
pub fn take_deferred_exits() -> Vec<u32> {
    let mut vcpus = Vec::new();
    for (w, word) in DEFERRED.iter().enumerate() {
        let mut bits = word.swap(0, SeqCst);
        while bits != 0 {
            vcpus.push(w as u32 * 64 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    vcpus
}

/// Forks are rare and callbacks short: spin a little, then sleep in small steps.
fn wait_while(busy: impl Fn() -> bool) {
    let mut spins = 0u32;
    while busy() {
        if spins < 64 {
            std::thread::yield_now();
            spins += 1;
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}
