//! A run's life after install: blocks translated, guest threads starting and ending, and the
//! end of the process (exit in any form, or a successful execve), where everything buffered is
//! delivered, the script's `finish` runs and the forwarded stream ends.

use crate::capture::{Capture, fault};
use crate::events::{EventKinds, RunSummary, VcpuInstructions, VcpuMemory};
use crate::qemu::{Tb, Vcpu};
use crate::script::ScriptHost;
use crate::{batch, buffer, console, startup};

pub(super) fn on_translate(tb: Tb<'_>) {
    crate::capture::get().instrument(tb);
}

fn wants_threads() -> bool {
    crate::capture::get().kinds.contains(EventKinds::THREADS)
}

pub(super) fn on_vcpu_init(cpu: Vcpu<'_>) {
    let vcpu = cpu.index();
    crate::capture::vcpu_init(cpu);
    buffer::thread_started(vcpu);
    // On the new thread: the guest thread's tid is this host thread's.
    batch::submit_thread_start(vcpu, crate::services::thread_ids::current_tid(), wants_threads());
}

/// A guest thread's exit and the process's exit never overlap: QEMU wakes a thread's joiner
/// (clearing its `child_tidptr`) before it calls the vCPU exit callback, so the joiner may
/// reach `exit_group` — and the process exit callback may flush every buffer — while the
/// exiting thread still flushes its own (possibly waiting on a slow script). Whoever comes
/// second sees the first one's result: a flushed buffer and the thread no longer alive, or a
/// stopped pipeline and the thread's exit already reported.
static THREAD_OR_PROCESS_EXIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exit_lock() -> std::sync::MutexGuard<'static, ()> {
    THREAD_OR_PROCESS_EXIT.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn on_vcpu_exit(cpu: Vcpu<'_>) {
    thread_exit(buffer::Owner::Vcpu(cpu));
}

/// A guest thread's exit that met a fork in progress (`qemu::fork_gate`), finished by the
/// forking thread in the parent once the fork is over.
pub(super) fn finish_exit_deferred_by_fork(vcpu: u32) {
    // SAFETY: the exiting thread left its exit to us and no longer touches its buffer; QEMU
    // gives the index to no new thread before `fork_end`, which runs after the fork handlers.
    let departed = unsafe { buffer::Departed::assume(vcpu) };
    thread_exit(buffer::Owner::Departed(&departed));
}

fn thread_exit(owner: buffer::Owner<'_>) {
    let _exclusive = exit_lock();
    crate::capture::drain_appended(owner);
    if let Some(blocks) = &crate::capture::get().blocks {
        fault::apply_pending_cut(owner, blocks);
    }
    buffer::thread_exited(owner);
    batch::submit_thread_exit(owner.vcpu(), wants_threads());
}

/// Runs when the guest exits for any reason (exit, exit_group in any thread, fatal signal),
/// after QEMU stopped every other vCPU and removed all other callbacks.
pub(super) fn on_exit(exiting: Option<Vcpu<'_>>) {
    // SAFETY: QEMU runs the exit callback after stopping all vCPUs.
    unsafe { finish_process(true, exiting) };
}

/// A single-threaded guest calls execve: a successful exec replaces the process without
/// QEMU's exit path, so this process's analysis ends here (reports, the forwarded stream's
/// end). Should the exec fail, the process runs on unobserved.
pub fn before_exec() {
    if buffer::alive_count() <= 1 {
        // SAFETY: the only guest thread is the caller, inside its system call.
        unsafe { finish_process(false, None) };
    }
}

/// Delivers everything, calls the script's `finish`, ends the forwarded stream. Once per
/// process (an exec that failed leaves nothing for the exit callback to do). `exiting` is the
/// vCPU whose thread runs the exit callback.
///
/// # Safety
/// No other vCPU may run.
unsafe fn finish_process(at_exit: bool, exiting: Option<Vcpu<'_>>) {
    static FINISHED_IN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if FINISHED_IN.swap(std::process::id(), std::sync::atomic::Ordering::SeqCst) == std::process::id() {
        return;
    }
    let _exclusive = exit_lock();
    startup::begin();
    if let (true, Some(cpu)) = (at_exit && !crate::qemu::extensions::available(), exiting) {
        fault::correct_fatal_fault_at_exit(crate::capture::get(), cpu);
    }
    // SAFETY: as above.
    let stopped = unsafe { buffer::Stopped::assume() };
    for vcpu in buffer::vcpus() {
        crate::capture::drain_appended(buffer::Owner::Stopped(&stopped, vcpu));
    }
    if let Some(blocks) = &crate::capture::get().blocks {
        for vcpu in buffer::vcpus() {
            fault::apply_pending_cut(buffer::Owner::Stopped(&stopped, vcpu), blocks);
        }
    }
    // Prefix blocks of cut executions go out with the last flush, before `finish`.
    if let (Some(blocks), Some(_)) = (&crate::capture::get().blocks, &crate::capture::get().block_counts) {
        crate::capture::partial_blocks::register_prefixes(blocks);
    }
    buffer::flush_all(&stopped, true, exiting.map(Vcpu::index), |vcpu| {
        batch::submit_thread_exit(vcpu, wants_threads())
    });
    startup::mark("flush");
    let lost = crate::capture::appended_lost();
    if lost > 0 {
        console::warning(&format!(
            "{lost} memory accesses made by QEMU helpers did not fit the vCPU's array and are missing from the events"
        ));
    }
    if let Some(probes) = &crate::capture::get().probes {
        report_probes(probes);
    }
    let script: Option<ScriptHost> = batch::stop();
    startup::mark("analysis thread");
    let summary = summary(crate::capture::get());
    if let Some(mut script) = script
        && let Err(err) = script.finish(&summary)
    {
        console::error(&console::one_line(&err));
    }
    startup::mark("finish");
    if let (Some(out), Some(reached)) = (&super::run().coverage, &crate::capture::get().reached) {
        crate::sink::coverage::write(out, reached.sorted(), super::run().info.pid);
        startup::mark("coverage");
    }
    crate::progress::finish(summary.instructions.iter().map(|c| c.instructions).sum());
    // After finish, which may still emit; waits until the sink took everything.
    let exit = if at_exit { crate::qemu::extensions::user_exit_status() } else { None };
    super::run().forwarding.finish(summary.instructions.iter().map(|c| (c.vcpu, c.instructions)).collect(), exit);
    startup::mark("sink");
    startup::report("exit");
}

/// Probes that never fired for want of a definition, and returns that went unseen.
fn report_probes(probes: &crate::capture::probes::Probes) {
    for site in probes.never_found() {
        console::warning(&format!("probe {site}: no module this process loaded defines it; it never fired"));
    }
    let late = probes.unobservable_returns();
    if late > 0 {
        console::warning(&format!(
            "{late} return site(s) had been translated before a probed call returned there: those returns were not seen (their calls show as unreturned)"
        ));
    }
}

fn summary(capture: &Capture) -> RunSummary {
    let instructions = capture
        .instructions_per_vcpu()
        .into_iter()
        .map(|(vcpu, instructions)| VcpuInstructions { vcpu, instructions })
        .collect();
    let memory = capture.memory_counts.as_ref().map_or_else(Vec::new, |m| {
        m.per_vcpu().into_iter().map(|(vcpu, reads, writes)| VcpuMemory { vcpu, reads, writes }).collect()
    });
    let (block_ids, block_execs) = match (&capture.block_counts, &capture.blocks) {
        (Some(counts), Some(blocks)) => {
            let n = blocks.count();
            let mut execs = counts.totals(n);
            crate::capture::partial_blocks::adjust(&mut execs);
            ((0..n).collect(), execs)
        }
        _ => (Vec::new(), Vec::new()),
    };
    RunSummary { instructions, memory, block_ids, block_execs }
}
