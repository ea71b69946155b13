//! System calls: entry and return callbacks, paired per vCPU in its buffer.

use std::ffi::c_uint;

use qemu_plugin_sys as sys;

use crate::buffer;

#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn on_syscall(
    _id: sys::qemu_plugin_id_t,
    vcpu: c_uint,
    num: i64,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
    a6: u64,
    _a7: u64,
    _a8: u64,
) {
    // Remember where this call returns to: a guest that dies right there died of a signal
    // delivered at the call's return (abort, kill), not of a fault inside a block.
    if !crate::qemu::extensions::available() {
        buffer::note_syscall_return_pc(vcpu, super::fault::read_pc().unwrap_or(0));
    }
    if crate::plugin::capture().kinds.contains(crate::script::EventKinds::SYSCALLS) {
        buffer::record_syscall_entry(vcpu, num, [a1, a2, a3, a4, a5, a6]);
    }
    if crate::plugin::capture().execve_numbers.contains(&num) {
        crate::plugin::before_exec();
    }
}

/// execve and execveat for a QEMU target.
pub fn execve_numbers(arch: &str) -> [i64; 2] {
    match arch {
        "aarch64" | "riscv64" => [221, 281],
        "x86_64" => [59, 322],
        _ => [-1, -1],
    }
}

pub unsafe extern "C" fn on_syscall_return(_id: sys::qemu_plugin_id_t, vcpu: c_uint, num: i64, ret: i64) {
    if crate::plugin::capture().kinds.contains(crate::script::EventKinds::SYSCALLS) {
        buffer::record_syscall_return(vcpu, num, ret);
    }
}
