//! The PC register: found at the first vCPU init, read from vCPU callbacks.

use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};

use qemu_plugin_sys as sys;

use super::{ByteArray, Vcpu, g_array_free};

/// The PC register's handle (same for every vCPU), found at the first vCPU init.
static PC_REGISTER: AtomicPtr<sys::qemu_plugin_register> = AtomicPtr::new(std::ptr::null_mut());

/// At each vCPU init: looks the PC register up once.
pub(super) fn vcpu_init(vcpu: Vcpu<'_>) {
    if PC_REGISTER.load(Ordering::Relaxed).is_null()
        && let Some(handle) = find_pc_register(vcpu)
    {
        PC_REGISTER.store(handle, Ordering::Relaxed);
    }
}

fn find_pc_register(_vcpu: Vcpu<'_>) -> Option<*mut sys::qemu_plugin_register> {
    // SAFETY: in vCPU context, as the API requires; QEMU returns NULL or an array of
    // descriptors with static names, which we free.
    unsafe {
        let regs = sys::qemu_plugin_get_registers();
        if regs.is_null() {
            return None;
        }
        let descs = if (*regs).len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts((*regs).data as *const sys::qemu_plugin_reg_descriptor, (*regs).len as usize)
        };
        let found = descs
            .iter()
            .find(|d| matches!(CStr::from_ptr(d.name).to_bytes(), b"rip" | b"pc" | b"eip"))
            .map(|d| d.handle);
        g_array_free(regs, true);
        found
    }
}

impl Vcpu<'_> {
    /// This vCPU's PC, little-endian as gdb describes it. Inside a block it is the block's
    /// start: QEMU does not update it mid-block.
    pub fn read_pc(self) -> Option<u64> {
        let handle = PC_REGISTER.load(Ordering::Relaxed);
        if handle.is_null() {
            return None;
        }
        let buf = ByteArray::new();
        // SAFETY: on the vCPU's thread inside its callback (`self`); the handle came from
        // QEMU and the byte array is ours.
        let n = unsafe { sys::qemu_plugin_read_register(handle, buf.as_ptr()) };
        let bytes = buf.bytes();
        (n >= 4 && bytes.len() >= 4).then(|| {
            let mut le = [0u8; 8];
            let len = bytes.len().min(8);
            le[..len].copy_from_slice(&bytes[..len]);
            u64::from_le_bytes(le)
        })
    }
}
