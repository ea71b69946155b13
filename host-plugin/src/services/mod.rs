//! Host services a script can call besides logging and reports: where an address lies
//! (module, symbol, source line), reading guest memory, disassembling, system call and errno
//! names of the guest's architecture, the Linux thread id of the thread on a vCPU.
//!
//! In system mode (`qemu-system-*`) there is no module map and guest memory is not at a fixed
//! offset: modules are the images given with `symbols=` (`images`), and memory reads are
//! answered from those images and from the code the vCPUs translated (`code_seen`).
//!
//! In user mode QEMU maps guest memory into its own address space at a fixed offset
//! (`guest_base`, usually 0 for a 64-bit guest on a 64-bit host). The capture stage learns it
//! from the first translated instruction; these services translate guest addresses with it.

pub mod arm_isa;
pub mod calling_convention;
pub mod code_seen;
pub mod debug_files;
pub mod devices;
pub mod disasm;
pub mod functions;
pub mod images;
pub mod memory;
pub mod modules;
pub mod source_lines;
mod symbol_table;
pub mod syscall_names;
pub mod thread_ids;
// Generated (tools/syscalls/gen.mjs): kept as the generator writes it.
#[rustfmt::skip]
mod syscall_names_table;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static GUEST_BASE: AtomicU64 = AtomicU64::new(0);
static SYSTEM_MODE: AtomicBool = AtomicBool::new(false);

/// Records that QEMU is a system emulator (set once, at install).
pub fn set_system_mode(system: bool) {
    SYSTEM_MODE.store(system, Ordering::Relaxed);
}

/// True under a system emulator: the services answer from `symbols=` images and seen code.
pub fn system_mode() -> bool {
    SYSTEM_MODE.load(Ordering::Relaxed)
}

/// Records host address - guest address, learned at translation.
pub fn set_guest_base(base: u64) {
    GUEST_BASE.store(base, Ordering::Relaxed);
}

pub fn to_host(guest: u64) -> u64 {
    guest.wrapping_add(GUEST_BASE.load(Ordering::Relaxed))
}

pub fn to_guest(host: u64) -> u64 {
    host.wrapping_sub(GUEST_BASE.load(Ordering::Relaxed))
}
