//! System calls: entry and return callbacks, paired per vCPU in its buffer, with their
//! strings and buffers for scripts subscribed to `syscall-data` (`syscall_data`).

use super::syscall_data::{Arg, capture_entry, capture_return};
use crate::buffer;
use crate::qemu::{GuestMemory, Vcpu};

/// At each system call's entry, on the calling vCPU's thread.
pub fn on_syscall(cpu: Vcpu<'_>, num: i64, args: [u64; 6]) {
    let vcpu = cpu.index();
    super::appended::drain(buffer::Owner::Vcpu(cpu));
    let capture = super::get();
    if capture.mapping_numbers.contains(&num) {
        crate::services::modules::MODULES.mappings_changing();
    }
    // Where this call returns to: a guest that dies right there, with nothing run since, died
    // of a signal delivered at the call's return (abort, kill), not of a fault inside a block.
    if !crate::qemu::extensions::available() {
        super::fault::note_syscall(capture, cpu);
    }
    if capture.kinds.contains(crate::events::EventKinds::SYSCALLS) {
        let exec = capture.current_exec(vcpu);
        // Scripts without syscall-data have no table: no guest memory is read for them.
        match capture.syscall_data.as_ref().map(|t| (t, t.get(num))).filter(|(_, spec)| !spec.is_empty()) {
            Some((table, spec)) => buffer::record_syscall_entry(cpu, exec, num, args, |blobs| {
                let mut memory = GuestMemory::new(cpu);
                capture_entry(spec, &table.addresses(&args), table.layout(), &mut memory, blobs)
            }),
            None => buffer::record_syscall_entry(cpu, exec, num, args, |_| {}),
        }
    }
    // Finish only before an execve that can replace the process: a failed one returns, and
    // the process (and its analysis) goes on.
    if capture.execve_numbers.contains(&num)
        && capture
            .syscall_arch
            .is_none_or(|arch| super::exec_check::exec_may_succeed(arch, num, &args, &mut GuestMemory::new(cpu)))
    {
        super::before_exec();
    }
}

/// execve and execveat for a QEMU target (generated from the kernel headers).
pub fn execve_numbers(arch: &str) -> [i64; 2] {
    super::syscall_data::arch(arch).map_or([-1, -1], |a| a.execve)
}

/// The guest's system calls that map or unmap memory (mmap, mmap2, munmap, mremap, shmat,
/// shmdt, remap_file_pages): after them, `/proc/self/maps` must be read again to tell which
/// file code comes from.
pub fn mapping_numbers(arch: &str) -> Vec<i64> {
    const NAMES: [&str; 7] = ["mmap", "mmap2", "munmap", "mremap", "shmat", "shmdt", "remap_file_pages"];
    (0..1100)
        .filter(|&n| crate::services::syscall_names::syscall_name(arch, n).is_some_and(|name| NAMES.contains(&name)))
        .collect()
}

/// At each system call's return, on the calling vCPU's thread.
pub fn on_syscall_return(cpu: Vcpu<'_>, num: i64, ret: i64) {
    let capture = super::get();
    if capture.mapping_numbers.contains(&num) {
        crate::services::modules::MODULES.mappings_changing();
    }
    if capture.execve_numbers.contains(&num) && super::exec_failed_after_finish() {
        crate::console::warning(&format!(
            "an execve failed ({}) after the analysis had finished for it: what the process runs after it is not captured",
            capture
                .syscall_arch
                .and_then(|a| crate::services::syscall_names::errno_name(a.arch, ret.saturating_neg() as i32))
                .unwrap_or("error")
        ));
    }
    if !capture.kinds.contains(crate::events::EventKinds::SYSCALLS) {
        return;
    }
    super::appended::drain(buffer::Owner::Vcpu(cpu));
    let table = capture.syscall_data.as_ref();
    let spec = table.map_or(&[][..], |t| t.get(num));
    // Only calls that write to the guest have anything to read at their return.
    if let Some(table) =
        table.filter(|_| ret > 0 && spec.iter().any(|a| matches!(a, Arg::OutBuffer(_) | Arg::OutPath(_))))
    {
        buffer::record_syscall_return(cpu, num, ret, |args, blobs| {
            let mut memory = GuestMemory::new(cpu);
            capture_return(spec, &table.addresses(args), ret, &mut memory, blobs)
        });
    } else {
        buffer::record_syscall_return(cpu, num, ret, |_, _| {});
    }
}
