//! System calls: entry and return callbacks, paired per vCPU in its buffer, with their
//! strings and buffers for scripts subscribed to `syscall-data` (`syscall_data`).

use std::ffi::c_uint;

use qemu_plugin_sys as sys;

use super::syscall_data::{Arg, QemuMemory, capture_entry, capture_return};
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
    let capture = super::get();
    if capture.kinds.contains(crate::events::EventKinds::SYSCALLS) {
        let args = [a1, a2, a3, a4, a5, a6];
        let exec = capture.current_exec(vcpu);
        // Scripts without syscall-data have no table: no guest memory is read for them.
        match capture.syscall_data.as_ref().map(|t| t.get(num)).filter(|spec| !spec.is_empty()) {
            Some(spec) => buffer::record_syscall_entry(vcpu, exec, num, args, |blobs| {
                // SAFETY: QEMU runs this callback on the calling vCPU's thread.
                let mut memory = unsafe { QemuMemory::new() };
                capture_entry(spec, &args, &mut memory, blobs)
            }),
            None => buffer::record_syscall_entry(vcpu, exec, num, args, |_| {}),
        }
    }
    if super::get().execve_numbers.contains(&num) {
        super::before_exec();
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
    let capture = super::get();
    if capture.kinds.contains(crate::events::EventKinds::SYSCALLS) {
        let spec = capture.syscall_data.as_ref().map_or(&[][..], |t| t.get(num));
        // Only calls that write to the guest have anything to read at their return.
        if ret > 0 && spec.iter().any(|a| matches!(a, Arg::OutBuffer(_) | Arg::OutPath(_))) {
            buffer::record_syscall_return(vcpu, num, ret, |args, blobs| {
                // SAFETY: as in `on_syscall`.
                let mut memory = unsafe { QemuMemory::new() };
                capture_return(spec, args, ret, &mut memory, blobs)
            });
        } else {
            buffer::record_syscall_return(vcpu, num, ret, |_, _| {});
        }
    }
}
