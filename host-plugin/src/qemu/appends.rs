//! Targets of the appending inline operations (cannonball extensions version 2, see
//! `extensions` and qemu/patches/0006-*): generated code appends words to a per-vCPU array
//! with no call, and the plugin takes them when it chooses.
//!
//! QEMU's contract (qemu-plugin.h): per vCPU, a scoreboard element holds `index` (words
//! appended so far), `base` (the array's address), `capacity` (its size in words) and `lost`
//! (records QEMU's C helpers could not append for lack of room). Generated code trusts the
//! plugin to drain in time; helpers check the capacity.

use qemu_plugin_sys as sys;

use super::{Counter, Scoreboard, Vcpu};

const INDEX: usize = 0;
const BASE: usize = 1;
const CAPACITY: usize = 2;
const LOST: usize = 3;

/// The right to take what a vCPU appended: held on the vCPU's own thread inside one of its
/// callbacks, or while no vCPU runs (`buffer::Owner` is the plugin's proof of either).
///
/// # Safety
/// An implementation guarantees that while a value exists, no generated code appends to the
/// array of [`DrainRight::vcpu`] and no other thread drains it.
pub unsafe trait DrainRight {
    fn vcpu(&self) -> u32;
}

/// One array per vCPU that generated code appends to.
pub struct AppendTarget {
    score: Scoreboard,
}

impl AppendTarget {
    pub fn new() -> Self {
        Self { score: Scoreboard::new(4) }
    }

    /// The handle the append operations take (the `index` field, the others follow it).
    pub(super) fn entry(&self) -> sys::qemu_plugin_u64 {
        self.score.counter(INDEX).raw()
    }

    /// Words appended by each vCPU since its last drain (for conditional callbacks).
    pub fn index(&self) -> Counter {
        self.score.counter(INDEX)
    }

    /// Gives `vcpu` an array of `capacity` words unless it has one; from the vCPU's init
    /// callback, before it runs instrumented code. The array lives until the process ends
    /// (a thread that gets a reused vCPU index keeps using it).
    pub fn provide_array(&self, vcpu: Vcpu<'_>, capacity: usize) {
        let element = self.element(vcpu.index());
        // SAFETY: the vCPU's own element, on its thread before it runs guest code.
        unsafe {
            if *element.add(BASE) == 0 {
                let array: &'static mut [u64] = Box::leak(vec![0u64; capacity].into_boxed_slice());
                *element.add(BASE) = array.as_mut_ptr() as u64;
                *element.add(CAPACITY) = capacity as u64;
                *element.add(INDEX) = 0;
            }
        }
    }

    /// Lends the words the vCPU of `right` appended since the last drain to `f`, then empties
    /// its array.
    pub fn drain(&self, right: impl DrainRight, f: impl FnOnce(&[u64])) {
        let element = self.element(right.vcpu());
        // SAFETY: `DrainRight`'s contract: nobody appends meanwhile. QEMU grows scoreboards
        // in an exclusive section, which waits for vCPUs executing guest code but not for
        // one in a system call or thread exit callback (drains happen there too): our QEMU
        // reserves every scoreboard for 4096 vCPUs (patch 0015), so growing never moves the
        // element; the index reset below once landed in the freed old array, and the same
        // words were taken again at the next drain.
        unsafe {
            let n = *element.add(INDEX) as usize;
            let base = *element.add(BASE) as *const u64;
            if n == 0 || base.is_null() {
                return;
            }
            f(std::slice::from_raw_parts(base, n));
            *element.add(INDEX) = 0;
        }
    }

    /// Appends `word` to the array of the vCPU whose thread calls this, inside one of its
    /// callbacks (QEMU's host signal handler included: plain stores); counted as lost when
    /// the array is full.
    pub fn push(&self, vcpu: u32, word: u64) {
        let element = self.element(vcpu);
        // SAFETY: the calling thread is the vCPU's own, inside a callback: generated code is not
        // appending meanwhile, and only this thread drains.
        unsafe {
            let n = *element.add(INDEX);
            let base = *element.add(BASE) as *mut u64;
            if base.is_null() || n >= *element.add(CAPACITY) {
                *element.add(LOST) += 1;
                return;
            }
            std::ptr::write_volatile(base.add(n as usize), word);
            std::ptr::write_volatile(element.add(INDEX), n + 1);
        }
    }

    /// Records QEMU's helpers could not append, over all vCPUs.
    pub fn lost(&self) -> u64 {
        self.score.counter(LOST).sum()
    }

    fn element(&self, vcpu: u32) -> *mut u64 {
        // SAFETY: QEMU returns the address of the vCPU's element; the scoreboard lives until
        // the process ends.
        unsafe { sys::qemu_plugin_scoreboard_find(self.score.raw(), vcpu).cast::<u64>() }
    }
}

impl Default for AppendTarget {
    fn default() -> Self {
        Self::new()
    }
}
