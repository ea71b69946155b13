//! Per-vCPU counters that QEMU's inline operations add to, without callbacks.
//!
//! A [`Scoreboard`] holds, for every vCPU, one element of `fields` u64 counters; QEMU grows it
//! as vCPUs (guest threads) appear. A [`Counter`] names one field of it. Scoreboards are never
//! freed (they live until the process ends), so counters are plain copyable handles.

use std::ptr::NonNull;

use qemu_plugin_sys as sys;

use super::num_vcpus;

/// The cache line size of the hosts QEMU runs on (x86_64, aarch64).
const CACHE_LINE: usize = 64;

/// Per-vCPU elements of `fields` u64 counters each.
pub struct Scoreboard {
    raw: NonNull<sys::qemu_plugin_scoreboard>,
    fields: usize,
}

// SAFETY: the scoreboard is owned by QEMU, which synchronises its growth with vCPU creation;
// reads and writes of counters are plain u64 accesses QEMU makes from any thread too.
unsafe impl Send for Scoreboard {}
// SAFETY: as for Send.
unsafe impl Sync for Scoreboard {}

impl Scoreboard {
    /// A scoreboard whose per-vCPU element holds `fields` u64 counters, all zero.
    ///
    /// Each vCPU's element is padded to whole cache lines plus one: vCPU threads add to their
    /// own counters all the time, and two vCPUs' counters in one cache line make the cores
    /// fight over it (false sharing: a 2-thread guest ran 2.5x slower spread over two cores
    /// than on one). QEMU's allocation is only malloc-aligned, so a stride of the used bytes
    /// rounded up to 64, plus 64, keeps any two vCPUs' used bytes in different lines.
    pub fn new(fields: usize) -> Self {
        assert!(fields > 0);
        let stride = (fields * size_of::<u64>()).next_multiple_of(CACHE_LINE) + CACHE_LINE;
        // SAFETY: plain allocation call of the plugin API.
        let raw = unsafe { sys::qemu_plugin_scoreboard_new(stride) };
        Self { raw: NonNull::new(raw).expect("qemu_plugin_scoreboard_new"), fields }
    }

    /// Field `field` of every vCPU's element; panics unless `field < fields`.
    #[inline]
    pub fn counter(&self, field: usize) -> Counter {
        assert!(field < self.fields, "field {field} of a scoreboard of {}", self.fields);
        Counter { entry: sys::qemu_plugin_u64 { score: self.raw.as_ptr(), offset: field * size_of::<u64>() } }
    }

    /// QEMU's handle.
    pub(super) fn raw(&self) -> *mut sys::qemu_plugin_scoreboard {
        self.raw.as_ptr()
    }

    /// Sets every field of every vCPU to zero.
    pub fn reset(&self) {
        for field in 0..self.fields {
            self.counter(field).reset();
        }
    }
}

/// One u64 counter per vCPU: a field of a [`Scoreboard`].
#[derive(Clone, Copy)]
pub struct Counter {
    entry: sys::qemu_plugin_u64,
}

// SAFETY: as for `Scoreboard`, whose memory a counter points into and which is never freed.
unsafe impl Send for Counter {}
// SAFETY: as for Send.
unsafe impl Sync for Counter {}

impl Counter {
    /// A counter in a scoreboard of its own.
    pub fn new() -> Self {
        Scoreboard::new(1).counter(0)
    }

    /// The handle QEMU's inline operations take.
    #[inline]
    pub(super) fn raw(self) -> sys::qemu_plugin_u64 {
        self.entry
    }

    /// The value of one vCPU (QEMU asserts `vcpu` exists).
    #[inline]
    pub fn get(self, vcpu: u32) -> u64 {
        // SAFETY: the scoreboard lives until the process ends.
        unsafe { sys::qemu_plugin_u64_get(self.entry, vcpu) }
    }

    pub fn set(self, vcpu: u32, value: u64) {
        // SAFETY: as in `get`.
        unsafe { sys::qemu_plugin_u64_set(self.entry, vcpu, value) }
    }

    /// The sum over all vCPUs.
    pub fn sum(self) -> u64 {
        // SAFETY: as in `get`.
        unsafe { sys::qemu_plugin_u64_sum(self.entry) }
    }

    /// (vCPU index, value) for every vCPU QEMU has created.
    pub fn per_vcpu(self) -> Vec<(u32, u64)> {
        (0..num_vcpus()).map(|vcpu| (vcpu, self.get(vcpu))).collect()
    }

    /// Sets every vCPU's value to zero.
    pub fn reset(self) {
        for vcpu in 0..num_vcpus() {
            self.set(vcpu, 0);
        }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}
