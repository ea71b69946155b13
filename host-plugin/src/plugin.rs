//! Wiring: install parses the options, loads the script, asks it what to capture and registers
//! exactly those callbacks; the exit callback drains every buffer into the script and hands it
//! the counts; the fork handlers give a forked child its own fresh script.

use std::ffi::{c_uint, c_void};
use std::sync::OnceLock;

use anyhow::{Result, bail};
use qemu_plugin_sys as sys;

use cannonball_protocol::Hello;

use crate::capture::{Capture, CodeFilter, fault, on_syscall, on_syscall_return};
use crate::script::{
    Argument, EventKinds, RunInfo, RunSummary, ScriptFactory, ScriptHost, Subscription, ThreadEvent, VcpuInstructions,
    VcpuMemory,
};
use crate::sink::OutDir;
use crate::sink::forward::{self, Endpoint};
use crate::{batch, buffer, console, options};

/// Everything that lives from install to exit.
struct Run {
    capture: Capture,
    /// None when the run only forwards raw events.
    factory: Option<ScriptFactory>,
    info: RunInfo,
    args: Vec<Argument>,
    /// The forwarding sink, reopened in forked children.
    endpoint: Option<Endpoint>,
}

static RUN: OnceLock<Run> = OnceLock::new();

fn run() -> &'static Run {
    RUN.get().expect("callback before install")
}

/// The capture configuration, for the callbacks.
pub fn capture() -> &'static Capture {
    &run().capture
}

/// Sets up the plugin. Errors are reported by the caller as one line before the guest starts.
pub fn install(id: sys::qemu_plugin_id_t, target: &str, raw_args: &[String]) -> Result<()> {
    let opts = options::parse(raw_args)?;
    if opts.host.help && opts.host.script.is_none() {
        console::line(&options::help_text());
        std::process::exit(0);
    }
    let endpoint = Endpoint::from_options(&opts.host)?;
    let forwarded = forwarded_kinds(&opts, endpoint.is_some())?;
    let script_path = match (&opts.host.script, &endpoint) {
        (None, Some(_)) => None,
        _ => Some(opts.script()?),
    };
    let out = OutDir::prepare(&opts.host.out)?;
    let (factory, mut script, args) = match script_path {
        Some(path) => {
            let limits = crate::script::Limits::from_options(&opts.host)?;
            let factory = ScriptFactory::load(path, target, out, limits)?;
            let mut script = factory.instantiate(None)?;
            let described = script.describe()?;
            if opts.host.help {
                console::line(&format!("{}{}", options::help_text(), crate::script::help_section(&described)));
                std::process::exit(0);
            }
            let args = crate::script::validate(&described, &opts.script_args)?;
            (Some(factory), Some(script), args)
        }
        None => {
            if let Some(arg) = opts.script_args.first() {
                bail!("unknown plugin argument '{}' (no script is loaded; help=true lists the options)", arg.key);
            }
            (None, None, Vec::new())
        }
    };

    let info = RunInfo { arch: target.to_owned(), pid: std::process::id(), forked: false };
    // The stream opens before `init`, so that the script may emit from there on.
    if let Some(endpoint) = &endpoint {
        let script_name = script.as_ref().map(|s| s.name().to_owned()).unwrap_or_default();
        let hello = Hello { pid: info.pid, forked: false, arch: info.arch.clone(), script: script_name };
        forward::start(endpoint.open()?, &hello, forwarded)?;
    }
    if script.is_some() && opts.host.forward_filter.is_some() {
        bail!("forward-filter= applies to the built-in forwarder only; the script chooses its own filter");
    }
    let host_filter = || opts.host.forward_filter.as_deref().map(options::parse_filter).transpose();
    let subscription = match script.as_mut().map(|s| s.init(&info, &args)).transpose()? {
        Some(Some(subscription)) => subscription,
        // init trapped and the script was detached: the guest runs without it.
        Some(None) => {
            script = None;
            Subscription { kinds: EventKinds::empty(), filter: None }
        }
        None => Subscription { kinds: EventKinds::empty(), filter: host_filter()? },
    };
    let mut kinds = subscription.kinds | forwarded;
    // System call data travels with the system call events: it implies them.
    if kinds.contains(EventKinds::SYSCALL_DATA) {
        kinds |= EventKinds::SYSCALLS;
    }

    let capture = Capture::new(kinds, CodeFilter::from_wit(subscription.filter), target);
    if RUN.set(Run { capture, factory, info, args, endpoint }).is_err() {
        bail!("libcannonball.so was loaded twice in one QEMU; load it once");
    }
    batch::start(script, run().capture.blocks.as_ref());
    if let Some(fd) = opts.host.progress_fd {
        crate::progress::start(fd, || run().capture.instructions_per_vcpu().iter().map(|&(_, n)| n).sum())?;
    }

    // SAFETY: registrations of 'static callbacks; pthread_atfork with 'static handlers.
    unsafe {
        sys::qemu_plugin_register_vcpu_tb_trans_cb(id, Some(on_translate));
        sys::qemu_plugin_register_vcpu_init_cb(id, Some(on_vcpu_init));
        sys::qemu_plugin_register_vcpu_exit_cb(id, Some(on_vcpu_exit));
        // Always: the exit path needs each thread's last system call (see capture::fault),
        // and execve ends this process's analysis.
        sys::qemu_plugin_register_vcpu_syscall_cb(id, Some(on_syscall));
        crate::qemu::extensions::register_tb_cut(id, fault::on_tb_cut);
        if kinds.contains(EventKinds::SYSCALLS) {
            sys::qemu_plugin_register_vcpu_syscall_ret_cb(id, Some(on_syscall_return));
        }
        sys::qemu_plugin_register_atexit_cb(id, Some(on_exit), std::ptr::null_mut());
        libc::pthread_atfork(Some(before_fork), Some(in_parent_after_fork), Some(in_forked_child));
    }
    Ok(())
}

/// The raw kinds the built-in forwarder passes through: `forward=`, or the whole trace when
/// a sink is given without a script.
fn forwarded_kinds(opts: &options::Options, has_sink: bool) -> Result<EventKinds> {
    match (&opts.host.forward, has_sink) {
        (Some(_), false) => bail!("forward= needs a sink: sock=PATH or fwd=FILE"),
        (Some(kinds), true) => options::parse_forward_kinds(kinds),
        (None, true) if opts.host.script.is_none() => Ok(EventKinds::TRACE | EventKinds::BLOCKS),
        (None, _) => Ok(EventKinds::empty()),
    }
}

unsafe extern "C" fn on_translate(_id: sys::qemu_plugin_id_t, tb: *mut sys::qemu_plugin_tb) {
    // SAFETY: `tb` is the block QEMU is translating right now.
    unsafe { run().capture.instrument(tb) };
}

fn wants_threads() -> bool {
    run().capture.kinds.contains(EventKinds::THREADS)
}

unsafe extern "C" fn on_vcpu_init(_id: sys::qemu_plugin_id_t, vcpu: c_uint) {
    fault::vcpu_init(vcpu);
    buffer::thread_started(vcpu);
    if wants_threads() {
        batch::submit_thread_event(vcpu, ThreadEvent::Start);
    }
}

unsafe extern "C" fn on_vcpu_exit(_id: sys::qemu_plugin_id_t, vcpu: c_uint) {
    if let Some(blocks) = &run().capture.blocks {
        // SAFETY: on the exiting vCPU's own thread.
        unsafe { fault::apply_pending_cut(vcpu, blocks) };
    }
    buffer::thread_exited(vcpu);
    if wants_threads() {
        batch::submit_thread_event(vcpu, ThreadEvent::Exit);
    }
}

/// Runs when the guest exits for any reason (exit, exit_group in any thread, fatal signal),
/// after QEMU stopped every other vCPU and removed all other callbacks.
unsafe extern "C" fn on_exit(_id: sys::qemu_plugin_id_t, _data: *mut c_void) {
    // SAFETY: QEMU runs the exit callback after stopping all vCPUs.
    unsafe { finish_process(true) };
}

/// A single-threaded guest calls execve: a successful exec replaces the process without
/// QEMU's exit path, so this process's analysis ends here (reports, the forwarded stream's
/// end). Should the exec fail, the process runs on unobserved.
pub fn before_exec() {
    if buffer::alive_count() <= 1 {
        // SAFETY: the only guest thread is the caller, inside its system call.
        unsafe { finish_process(false) };
    }
}

/// Delivers everything, calls the script's `finish`, ends the forwarded stream. Once per
/// process (an exec that failed leaves nothing for the exit callback to do).
///
/// # Safety
/// No other vCPU may run.
unsafe fn finish_process(at_exit: bool) {
    static FINISHED_IN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if FINISHED_IN.swap(std::process::id(), std::sync::atomic::Ordering::SeqCst) == std::process::id() {
        return;
    }
    let run = run();
    if at_exit && !crate::qemu::extensions::available() {
        // SAFETY: as above.
        unsafe { fault::correct_fatal_fault_at_exit(&run.capture) };
    }
    if let Some(blocks) = &run.capture.blocks {
        for vcpu in buffer::vcpus() {
            // SAFETY: as above.
            unsafe { fault::apply_pending_cut(vcpu, blocks) };
        }
    }
    // SAFETY: as above.
    unsafe {
        buffer::flush_all(true, |vcpu| {
            if wants_threads() {
                batch::submit_thread_event(vcpu, ThreadEvent::Exit);
            }
        })
    };
    let script: Option<ScriptHost> = batch::stop();
    let summary = summary(&run.capture);
    if let Some(mut script) = script
        && let Err(err) = script.finish(&summary)
    {
        console::line(&format!("cannonball: error: {}", console::one_line(&err)));
    }
    crate::progress::finish(summary.instructions.iter().map(|c| c.instructions).sum());
    // After finish, which may still emit; waits until the sink took everything.
    let exit = if at_exit { crate::qemu::extensions::user_exit_status() } else { None };
    forward::finish(summary.instructions.iter().map(|c| (c.vcpu, c.instructions)).collect(), exit);
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
            ((0..n).collect(), counts.totals(n))
        }
        _ => (Vec::new(), Vec::new()),
    };
    RunSummary { instructions, memory, block_ids, block_execs }
}

/// Before the guest forks (QEMU has stopped every other vCPU): deliver everything buffered, so
/// that the parent's events are neither lost nor inherited by the child.
unsafe extern "C" fn before_fork() {
    if RUN.get().is_none() {
        return;
    }
    // SAFETY: QEMU's fork_start() holds the exclusive section.
    unsafe { buffer::flush_all(false, |_| {}) };
    batch::wait_until_delivered();
    forward::prepare_fork(run().endpoint.as_ref());
}

unsafe extern "C" fn in_parent_after_fork() {
    if RUN.get().is_some() {
        forward::parent_after_fork();
    }
}

/// In the child: no analysis thread exists, and the script holds the parent's state. Start
/// from zero with a fresh instance whose reports carry the child's pid.
unsafe extern "C" fn in_forked_child() {
    let Some(run) = RUN.get() else { return };
    // Threads started here (analysis, forwarding) inherit a mask that blocks every signal.
    let _blocked = crate::threads::SignalsBlocked::new();
    batch::forget_after_fork();
    crate::progress::forget_after_fork();
    fault::forget_pending_cuts();
    // SAFETY: the child has a single thread.
    unsafe { buffer::reset_all() };
    run.capture.reset_counts();
    if let Some(blocks) = &run.capture.blocks {
        blocks.redeliver_all();
    }
    let pid = std::process::id();
    let info = RunInfo { pid, forked: true, ..run.info.clone() };
    let script_name = run.factory.as_ref().map(|f| f.name().to_owned()).unwrap_or_default();
    let hello = Hello { pid, forked: true, arch: info.arch.clone(), script: script_name };
    forward::child_after_fork(run.endpoint.as_ref(), &hello);
    let Some(factory) = &run.factory else {
        batch::start(None, run.capture.blocks.as_ref());
        return;
    };
    let started =
        factory.instantiate(Some(pid)).and_then(|mut script| Ok(script.init(&info, &run.args)?.map(|_| script)));
    match started {
        Ok(script) => batch::start(script, run.capture.blocks.as_ref()),
        Err(err) => {
            console::line(&format!(
                "cannonball: error: in forked child {pid}: {}; the child runs without analysis",
                console::one_line(&err)
            ));
            batch::start(None, run.capture.blocks.as_ref());
        }
    }
}
