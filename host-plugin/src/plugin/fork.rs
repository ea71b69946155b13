//! A guest fork: the parent delivers what it buffered, the child starts its own analysis
//! with a fresh script instance and its own forwarded stream.

use cannonball_protocol::Hello;

use super::{RUN, run};
use crate::capture::fault;
use crate::events::RunInfo;
use crate::qemu::fork_gate;
use crate::{batch, buffer, console};

/// Before the guest forks (QEMU has stopped every vCPU executing guest code, and the fork
/// gate now waits out and holds back the callbacks that run outside it): deliver everything
/// buffered, so that the parent's events are neither lost nor inherited by the child.
pub(super) extern "C" fn before_fork() {
    if RUN.get().is_none() {
        return;
    }
    fork_gate::close();
    // SAFETY: QEMU's fork_start() holds the exclusive section and the gate is closed.
    let stopped = unsafe { buffer::Stopped::assume() };
    for vcpu in buffer::vcpus() {
        crate::capture::drain_appended(buffer::Owner::Stopped(&stopped, vcpu));
    }
    buffer::flush_all(&stopped, false, None, |_| {});
    batch::wait_until_delivered();
    run().forwarding.prepare_fork(run().endpoint.as_ref());
}

pub(super) extern "C" fn in_parent_after_fork() {
    if RUN.get().is_none() {
        return;
    }
    run().forwarding.parent_after_fork();
    fork_gate::reopen();
    for vcpu in fork_gate::take_deferred_exits() {
        super::lifecycle::finish_exit_deferred_by_fork(vcpu);
    }
}

/// In the child: no analysis thread exists, and the script holds the parent's state. Start
/// from zero with a fresh instance whose reports carry the child's pid.
pub(super) extern "C" fn in_forked_child() {
    let Some(run) = RUN.get() else { return };
    fork_gate::reopen_in_child();
    console::forked_child(std::process::id());
    // Threads started here (analysis, forwarding) inherit a mask that blocks every signal.
    let _blocked = crate::threads::SignalsBlocked::new();
    batch::forget_after_fork();
    crate::progress::forget_after_fork();
    fault::forget_pending_cuts();
    // SAFETY: the child has a single thread.
    let stopped = unsafe { buffer::Stopped::assume() };
    buffer::reset_all(&stopped);
    crate::capture::get().reset_counts();
    if let Some(blocks) = &crate::capture::get().blocks {
        blocks.redeliver_all();
    }
    let pid = std::process::id();
    // The forking thread survives alone; its tid is the child's pid.
    crate::services::thread_ids::forked_child(crate::qemu::this_vcpu(), i64::from(pid));
    let info = RunInfo { pid, forked: true, ..run.info.clone() };
    let script_name = run.factory.as_ref().map(|f| f.name().to_owned()).unwrap_or_default();
    let hello = Hello { pid, forked: true, arch: info.arch.clone(), script: script_name };
    run.forwarding.child_after_fork(run.endpoint.as_ref(), &hello);
    let Some(factory) = &run.factory else {
        batch::start(None, super::undelivered_blocks(), run.forwarding.clone());
        return;
    };
    let started =
        factory.instantiate(Some(pid)).and_then(|mut script| Ok(script.init(&info, &run.args)?.map(|_| script)));
    match started {
        Ok(script) => batch::start(script, super::undelivered_blocks(), run.forwarding.clone()),
        Err(err) => {
            console::error(&format!(
                "in forked child {pid}: {}; the child runs without analysis",
                console::one_line(&err)
            ));
            batch::start(None, super::undelivered_blocks(), run.forwarding.clone());
        }
    }
}
