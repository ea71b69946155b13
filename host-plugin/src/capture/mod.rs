//! Capture: what the plugin instruments at translation time, and what QEMU then counts inline
//! or reports through callbacks at execution time, per vCPU.
//!
//! Counts (instructions, block executions, memory accesses) use inline operations on per-vCPU
//! scoreboards: QEMU does the arithmetic in generated code, no callback runs. Traces of block
//! executions and memory accesses are appended in generated code to a per-vCPU array on a
//! QEMU with the cannonball extensions (`appended`), else go through callbacks; both end in
//! the vCPU's own buffer (`crate::buffer`), without locks, as do system calls.

mod appended;
mod block_counts;
mod blocks;
mod discontinuities;
mod exec_check;
pub mod fault;
mod filter;
mod icount;
mod memory;
pub mod partial_blocks;
pub mod probes;
mod reached;
mod syscall_arch;
mod syscall_data;
// Generated (tools/syscalls/gen.mjs): kept as the generator writes it.
#[rustfmt::skip]
mod syscall_table;
mod syscalls;
mod trace;
mod translate;

pub use appended::drain as drain_appended;
pub use block_counts::BlockCounters;
pub use blocks::BlockRegistry;
pub use discontinuities::on_discontinuity;
pub use filter::CodeFilter;
pub use icount::InstructionCounter;
pub use memory::MemoryCounters;
pub use reached::ReachedBlocks;
pub use syscall_data::SyscallTable;
pub use syscalls::{on_syscall, on_syscall_return};
pub use translate::Capture;

use std::sync::OnceLock;

static CAPTURE: OnceLock<Capture> = OnceLock::new();
/// What runs before a successful execve replaces the process (see `syscalls`).
static BEFORE_EXEC: OnceLock<fn()> = OnceLock::new();
/// Set when `BEFORE_EXEC` ran: an execve that returns after it failed anyway.
static EXEC_FINISHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes `capture` the configuration every callback reads; once per process.
pub fn install(capture: Capture, before_exec: fn()) -> Result<&'static Capture, &'static str> {
    CAPTURE.set(capture).map_err(|_| "libcannonball.so was loaded twice in one QEMU; load it once")?;
    let _ = BEFORE_EXEC.set(before_exec);
    Ok(get())
}

/// The installed configuration, for the callbacks.
pub fn get() -> &'static Capture {
    CAPTURE.get().expect("capture callback before install")
}

/// A new vCPU's thread starts (before it runs guest code).
pub fn vcpu_init(vcpu: crate::qemu::Vcpu<'_>) {
    if let Some(appended) = &get().appended {
        appended.vcpu_init(vcpu);
    }
    if let Some(probes) = &get().probes {
        probes.vcpu_init();
    }
}

/// Memory accesses QEMU's helpers could not append (see `appended`).
pub fn appended_lost() -> u64 {
    get().appended.as_ref().map_or(0, |a| a.lost())
}

fn before_exec() {
    if let Some(f) = BEFORE_EXEC.get() {
        EXEC_FINISHED.store(true, std::sync::atomic::Ordering::Relaxed);
        f();
    }
}

/// True once, for the first execve that returned after the analysis finished for it.
fn exec_failed_after_finish() -> bool {
    EXEC_FINISHED.swap(false, std::sync::atomic::Ordering::Relaxed)
}
