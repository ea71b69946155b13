//! Registers: every name QEMU offers for the guest CPU, found at the first vCPU init (QEMU
//! describes none before a CPU exists), and reads from vCPU callbacks.

use std::ffi::CStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use qemu_plugin_sys as sys;

use super::{ByteArray, Vcpu, g_array_free};

/// The PC register's handle (same for every vCPU), found at the first vCPU init.
static PC_REGISTER: AtomicPtr<sys::qemu_plugin_register> = AtomicPtr::new(std::ptr::null_mut());

/// Every register of the guest CPU: its name and QEMU's handle (the same for every vCPU of
/// one CPU type), in QEMU's order.
static REGISTERS: OnceLock<Vec<(String, Register)>> = OnceLock::new();

/// A register's handle from QEMU, valid for the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register(usize);

/// At each vCPU init: lists the registers once, and finds the PC among them.
pub(super) fn vcpu_init(vcpu: Vcpu<'_>) {
    let list = REGISTERS.get_or_init(|| list_registers(vcpu));
    if PC_REGISTER.load(Ordering::Relaxed).is_null()
        && let Some((_, handle)) = list.iter().find(|(name, _)| matches!(name.as_str(), "rip" | "pc" | "eip"))
    {
        PC_REGISTER.store(handle.0 as *mut sys::qemu_plugin_register, Ordering::Relaxed);
    }
}

fn list_registers(_vcpu: Vcpu<'_>) -> Vec<(String, Register)> {
    // SAFETY: in vCPU context, as the API requires; QEMU returns NULL or an array of
    // descriptors with static names, which we free.
    unsafe {
        let regs = sys::qemu_plugin_get_registers();
        if regs.is_null() {
            return Vec::new();
        }
        let descs = if (*regs).len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts((*regs).data as *const sys::qemu_plugin_reg_descriptor, (*regs).len as usize)
        };
        let list = descs
            .iter()
            .filter(|d| !d.name.is_null())
            .map(|d| (CStr::from_ptr(d.name).to_string_lossy().into_owned(), Register(d.handle as usize)))
            .collect();
        g_array_free(regs, true);
        list
    }
}

/// The guest CPU's register names, in QEMU's order; empty before the first vCPU started.
pub fn register_names() -> Vec<String> {
    REGISTERS.get().map(|l| l.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default()
}

/// The handle of register `name`; None when QEMU has no such register (or no vCPU started yet).
pub fn register(name: &str) -> Option<Register> {
    REGISTERS.get()?.iter().find(|(n, _)| n == name).map(|&(_, r)| r)
}

thread_local! {
    /// One glib array per vCPU thread for register reads.
    static READ_BUFFER: ByteArray = ByteArray::new();
}

impl Vcpu<'_> {
    /// The value of `register`, little-endian as gdb describes it, zero-extended (its low
    /// 64 bits when wider). Valid in callbacks registered to read registers.
    pub fn read_register(self, register: Register) -> Option<u64> {
        READ_BUFFER.with(|buf| {
            // SAFETY: on the vCPU's thread inside its callback (`self`); the handle came from
            // QEMU and the byte array is this thread's.
            buf.clear();
            let n =
                unsafe { sys::qemu_plugin_read_register(register.0 as *mut sys::qemu_plugin_register, buf.as_ptr()) };
            let bytes = buf.bytes();
            (n > 0 && !bytes.is_empty()).then(|| {
                let mut le = [0u8; 8];
                let len = bytes.len().min(8);
                le[..len].copy_from_slice(&bytes[..len]);
                u64::from_le_bytes(le)
            })
        })
    }

    /// This vCPU's PC, little-endian as gdb describes it. Inside a block it is the block's
    /// start: QEMU does not update it mid-block.
    pub fn read_pc(self) -> Option<u64> {
        let handle = PC_REGISTER.load(Ordering::Relaxed);
        (!handle.is_null()).then(|| self.read_register(Register(handle as usize))).flatten()
    }
}
