//! Guest memory reads through QEMU (`qemu_plugin_read_memory_vaddr`).

use std::marker::PhantomData;

use qemu_plugin_sys as sys;

use super::{ByteArray, Vcpu};

/// Reads of the guest's virtual memory, from a vCPU callback `'a`. One glib array per vCPU
/// thread serves every read (probes read at each call of a probed function: allocating one
/// each time showed in profiles).
pub struct GuestMemory<'a> {
    _vcpu: PhantomData<Vcpu<'a>>,
}

thread_local! {
    static ARRAY: ByteArray = ByteArray::new();
}

impl<'a> GuestMemory<'a> {
    /// Guest memory as seen by `vcpu`, for the callback it was lent to.
    pub fn new(_vcpu: Vcpu<'a>) -> Self {
        Self { _vcpu: PhantomData }
    }

    /// Appends `len` bytes at guest address `addr` to `out`; false (and `out` unchanged) if
    /// any of them is not readable.
    pub fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool {
        if len == 0 {
            return true;
        }
        ARRAY.with(|array| {
            // SAFETY: on a vCPU thread inside its callback (the `Vcpu` proof this value was
            // built from); the array is this thread's, and QEMU sets its size to `len` on
            // success.
            if !unsafe { sys::qemu_plugin_read_memory_vaddr(addr, array.as_ptr(), len) } {
                return false;
            }
            let got = array.bytes();
            if got.len() < len {
                return false;
            }
            out.extend_from_slice(&got[..len]);
            true
        })
    }
}
