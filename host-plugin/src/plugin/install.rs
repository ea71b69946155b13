//! Install: parse the options, load the script, ask it what to capture, connect the stages of
//! the data path and register exactly the callbacks the subscription needs.

use anyhow::{Result, bail};

use cannonball_protocol::Hello;

use super::lifecycle::{self, before_exec};
use super::{RUN, Run, fork, undelivered_blocks};
use crate::capture::{Capture, CodeFilter, fault, on_discontinuity, on_syscall, on_syscall_return};
use crate::events::{Argument, EventKinds, RunInfo, Subscription};
use crate::script::{ScriptFactory, ScriptHost};
use crate::sink::OutDir;
use crate::sink::forward::Forwarding;
use crate::{batch, buffer, console, options, qemu, startup};

/// Sets up the plugin, stage by stage: options, script, stream, subscription, capture,
/// analysis thread, callbacks. Errors are reported by the caller as one line before the guest
/// starts.
pub fn install(id: qemu::PluginId, target: &str, system: bool, raw_args: &[String]) -> Result<()> {
    let opts = options::parse(raw_args)?;
    crate::services::set_system_mode(system);
    if let Some(log) = &opts.host.log {
        console::log_to(log).map_err(|e| anyhow::anyhow!("log={}: {e}", log.display()))?;
    }
    if opts.host.help && opts.host.script.is_none() {
        console::line(&options::help_text());
        std::process::exit(0);
    }
    let endpoint = options::endpoint(&opts.host)?;
    let forwarded = forwarded_kinds(&opts, endpoint.is_some())?;
    let forwarding = Forwarding::default();
    let out = OutDir::prepare(&opts.host.out)?;
    if let Some(dir) = &opts.host.debug_dir {
        if !dir.is_dir() {
            bail!("debug-dir={}: not a directory", dir.display());
        }
        crate::services::debug_files::set_user_dir(dir.clone());
    }
    match (system, opts.host.symbols.is_empty()) {
        (true, _) => crate::services::images::load(&opts.host.symbols)?,
        (false, false) => {
            bail!("symbols= is for system emulators (qemu-system-*); in user mode modules come from the guest's loader")
        }
        (false, true) => {}
    }
    startup::mark("options");
    let Loaded { factory, mut script, args } = load_script(&opts, target, &out, &forwarding, endpoint.is_some())?;

    let info = RunInfo {
        arch: target.to_owned(),
        pid: std::process::id(),
        forked: false,
        system: crate::services::system_mode(),
    };
    // The stream opens before `init`, so that the script may emit from there on.
    if let Some(endpoint) = &endpoint {
        let script_name = script.as_ref().map(|s| s.name().to_owned()).unwrap_or_default();
        let hello = Hello { pid: info.pid, forked: false, arch: info.arch.clone(), script: script_name };
        forwarding.start(endpoint.open()?, &hello, forwarded)?;
    }
    let subscription = subscribe(&opts, &mut script, &info, &args)?;
    startup::mark("init");
    let mut kinds = subscription.kinds | forwarded;
    if system && kinds.intersects(EventKinds::SYSCALLS | EventKinds::SYSCALL_DATA) {
        let who = script.as_ref().map_or("the forwarder", |s| s.name());
        console::warning(&format!(
            "{who} subscribed to system calls, which do not exist under a system emulator ({target} guest CPUs run kernels, not processes): it gets none"
        ));
        kinds &= !(EventKinds::SYSCALLS | EventKinds::SYSCALL_DATA);
    }
    if !system && kinds.contains(EventKinds::MEMORY_PHYSICAL) {
        let who = script.as_ref().map_or("the forwarder", |s| s.name());
        console::warning(&format!(
            "{who} asked for physical addresses of memory accesses, which only system emulators (qemu-system-*) have: mem-phys and mem-device stay empty"
        ));
        kinds &= !EventKinds::MEMORY_PHYSICAL;
    }
    if kinds.contains(EventKinds::MEMORY_PHYSICAL) {
        kinds |= EventKinds::MEMORY;
    }
    // System call data travels with the system call events: it implies them.
    if kinds.contains(EventKinds::SYSCALL_DATA) {
        kinds |= EventKinds::SYSCALLS;
    }
    // Values of memory accesses: for the built-in forwarder, or a script that did not decline.
    let script_values =
        script.as_ref().is_some_and(|s| s.wants_memory_values()) && subscription.kinds.contains(EventKinds::MEMORY);
    let memory_values = forwarded.contains(EventKinds::MEMORY) || script_values;
    let probes = script.as_mut().map(|s| s.take_probes()).unwrap_or_default();
    let probes = crate::capture::probes::Probes::new(target, probes);
    let capture = Capture::new(
        kinds,
        CodeFilter::from_wit(subscription.filter),
        target,
        opts.host.coverage,
        memory_values,
        probes,
    );
    crate::capture::install(capture, before_exec).map_err(anyhow::Error::msg)?;
    let coverage = opts.host.coverage.then_some(out);
    if RUN.set(Run { factory, info, args, endpoint, forwarding: forwarding.clone(), coverage }).is_err() {
        bail!("libcannonball.so was loaded twice in one QEMU; load it once");
    }
    startup::mark_with("capture", &capture_path(kinds, memory_values));

    buffer::connect(buffer::Handoff { submit: batch::submit_events, recycled: batch::recycled_batch });
    batch::start(script, undelivered_blocks(), forwarding);
    startup::mark("analysis thread");
    if let Some(fd) = opts.host.progress_fd {
        crate::progress::start(fd, || crate::capture::get().instructions_per_vcpu().iter().map(|&(_, n)| n).sum())?;
    }
    register_callbacks(id, kinds, system);
    startup::mark("callbacks");
    Ok(())
}

/// The script stage's result: the compiled script (instantiated again in forked children),
/// this process's instance, and its arguments checked against its `describe`.
struct Loaded {
    factory: Option<ScriptFactory>,
    script: Option<ScriptHost>,
    args: Vec<Argument>,
}

/// Loads, instantiates and describes the script, and checks its arguments; `help=true` with
/// a script prints both option lists and exits. Without `script=` only a sink may be given
/// (the built-in forwarder runs alone), and no script arguments.
fn load_script(
    opts: &options::Options,
    target: &str,
    out: &OutDir,
    forwarding: &Forwarding,
    has_sink: bool,
) -> Result<Loaded> {
    if opts.host.script.is_none() && has_sink {
        if let Some(arg) = opts.script_args.first() {
            bail!("unknown plugin argument '{}' (no script is loaded; help=true lists the options)", arg.key);
        }
        return Ok(Loaded { factory: None, script: None, args: Vec::new() });
    }
    let path = opts.script()?;
    let limits = options::limits(&opts.host)?;
    let cache = options::cache(&opts.host)?;
    let factory = ScriptFactory::load(path, target, out.clone(), limits, forwarding.clone(), &cache)?;
    let mut script = factory.instantiate(None)?;
    let described = script.describe()?;
    startup::mark("describe");
    if opts.host.help {
        console::line(&format!("{}{}", options::help_text(), crate::script::help_section(&described)));
        std::process::exit(0);
    }
    let args = crate::script::validate(&described, &opts.script_args)?;
    Ok(Loaded { factory: Some(factory), script: Some(script), args })
}

/// What to capture: the script's `init` answer, or the built-in forwarder's filter. A script
/// whose `init` trapped is detached (`on-error=detach`): the guest runs without it.
fn subscribe(
    opts: &options::Options,
    script: &mut Option<ScriptHost>,
    info: &RunInfo,
    args: &[Argument],
) -> Result<Subscription> {
    if script.is_some() && opts.host.forward_filter.is_some() {
        bail!("forward-filter= applies to the built-in forwarder only; the script chooses its own filter");
    }
    Ok(match script.as_mut().map(|s| s.init(info, args)).transpose()? {
        Some(Some(subscription)) => subscription,
        Some(None) => {
            *script = None;
            Subscription { kinds: EventKinds::empty(), filter: None }
        }
        None => Subscription {
            kinds: EventKinds::empty(),
            filter: opts.host.forward_filter.as_deref().map(options::parse_filter).transpose()?,
        },
    })
}

/// Which capture path the trace and memory events take, for the start-up line (tests check
/// both run).
fn capture_path(kinds: EventKinds, memory_values: bool) -> String {
    let path = match &crate::capture::get().appended {
        Some(_) => "appended in generated code",
        None if kinds.intersects(EventKinds::TRACE | EventKinds::MEMORY) => "callbacks",
        None => "",
    };
    let values = if !kinds.contains(EventKinds::MEMORY) {
        ""
    } else if memory_values {
        ", memory with values"
    } else {
        ", memory without values"
    };
    format!("{path}{values}")
}

/// QEMU's callbacks: translation, vCPUs, system calls, faults cut short, exit, fork.
fn register_callbacks(id: qemu::PluginId, kinds: EventKinds, system: bool) {
    qemu::on_translate(id, lifecycle::on_translate);
    qemu::on_vcpu_init(id, lifecycle::on_vcpu_init);
    qemu::on_vcpu_exit(id, lifecycle::on_vcpu_exit);
    qemu::extensions::register_tb_cut(id, fault::on_tb_cut);
    qemu::on_exit(id, lifecycle::on_exit);
    if kinds.contains(EventKinds::DISCONTINUITIES) && !qemu::on_discontinuity(id, on_discontinuity) {
        console::warning(
            "this QEMU reports no discontinuities (it needs QEMU 10.2 or Cannonball's patches): disc-* columns stay empty",
        );
    }
    if system {
        // No system calls, no execve, no fork: the guest's processes live inside its kernel.
        return;
    }
    // Always: the exit path needs each thread's last system call (see capture::fault),
    // execve ends this process's analysis, and mmap and munmap make the module maps stale.
    qemu::on_syscall(id, on_syscall);
    qemu::on_syscall_return(id, on_syscall_return);
    // SAFETY: pthread_atfork with 'static handlers.
    unsafe {
        libc::pthread_atfork(Some(fork::before_fork), Some(fork::in_parent_after_fork), Some(fork::in_forked_child));
    }
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
