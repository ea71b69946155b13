//! Loading a script component and calling its exports.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use cannonball_script_host::component;
use cannonball_script_host::{OrAnyhow, world};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::compat;
use super::host_api::HostState;
use super::limits::{self, Limits, OnError};
use crate::console;
use crate::events::bindings::exports::{
    Argument, Block, EventBatch, RunInfo, RunSummary, Script, ScriptInfo, ScriptPre, Subscription, ThreadEvent,
};
use crate::events::bindings::{v0_1, v0_2};
use crate::sink::OutDir;
use crate::sink::forward::Forwarding;

/// A compiled and linked script, ready to be instantiated: once at start, and again in the
/// child of every fork (where the script starts afresh).
pub struct ScriptFactory {
    engine: Engine,
    pre: Pre,
    name: String,
    arch: String,
    out: OutDir,
    forwarding: Forwarding,
    limits: Limits,
}

impl ScriptFactory {
    /// Compiles the component at `path` (or loads it from the `cache` of compiled scripts) and
    /// links it against the host. Every way a file can be unusable (missing, not Wasm, a core
    /// module, another world) becomes one error here.
    pub fn load(
        path: &Path,
        arch: &str,
        out: OutDir,
        limits: Limits,
        forwarding: Forwarding,
        cache: &super::CacheSetting,
    ) -> Result<Self> {
        let name = component::name(path);
        let bytes = component::read(path)?;
        // Guard pages and signals only where QEMU passes a script's faults on to wasmtime.
        let traps = crate::qemu::extensions::script_traps();
        let engine = component::engine(traps)?;
        let traps_note = match traps {
            cannonball_script_cache::Traps::Signals => "signal-based traps",
            cannonball_script_cache::Traps::Explicit => "explicit bounds checks",
        };
        crate::startup::mark_with("engine", traps_note);
        let (component, outcome) = component::compile_bytes(&engine, path, &bytes, cache)?;
        if let Some(warning) = outcome.warning() {
            console::warning(&warning.to_string());
        }
        crate::startup::mark_with("compile", &outcome.describe());

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).or_anyhow()?;
        crate::startup::mark("link wasi");
        Script::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).or_anyhow()?;
        v0_2::Script::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).or_anyhow()?;
        v0_1::Script::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).or_anyhow()?;
        // The current world first; a component that does not fit it may be a 0.2.x or 0.1.0
        // script (wasmtime compares the exports' types, so the check is exact).
        let pre = linker
            .instantiate_pre(&component)
            .and_then(|pre| match ScriptPre::new(pre.clone()) {
                Ok(current) => Ok(Pre::Current(current)),
                Err(e) => v0_2::ScriptPre::new(pre.clone())
                    .map(Pre::V0_2)
                    .or_else(|_| v0_1::ScriptPre::new(pre).map(Pre::V0_1))
                    .map_err(|_| e),
            })
            .or_anyhow()
            .with_context(|| format!("script {} {}", path.display(), world::mismatch(&component, &engine)))?;
        crate::startup::mark("link");
        Ok(Self { engine, pre, name, arch: arch.to_owned(), out, forwarding, limits })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh instance. In a forked child, `forked_pid` names its reports.
    pub fn instantiate(&self, forked_pid: Option<u32>) -> Result<ScriptHost> {
        // Outside the analysis thread: the script's traps need the fault signals.
        let _faults = crate::threads::FaultsUnblocked::new();
        limits::ensure_ticker(&self.engine);
        crate::startup::mark("ticker");
        let state = HostState::new(
            self.name.clone(),
            self.arch.clone(),
            self.out.clone(),
            self.forwarding.clone(),
            forked_pid,
            &self.limits,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(self.limits.call_ticks());
        let script = match &self.pre {
            Pre::Current(pre) => pre.instantiate(&mut store).map(Instance::Current),
            Pre::V0_2(pre) => pre.instantiate(&mut store).map(Instance::V0_2),
            Pre::V0_1(pre) => pre.instantiate(&mut store).map(Instance::V0_1),
        }
        .or_anyhow()
        .with_context(|| format!("cannot instantiate script {}", self.name))?;
        crate::startup::mark("instantiate");
        Ok(ScriptHost { store, script, broken: false, limits: self.limits.clone() })
    }
}

/// A linked script of either interface version.
enum Pre {
    Current(ScriptPre<HostState>),
    V0_2(v0_2::ScriptPre<HostState>),
    V0_1(v0_1::ScriptPre<HostState>),
}

/// A live instance of either interface version.
enum Instance {
    Current(Script),
    V0_2(v0_2::Script),
    V0_1(v0_1::Script),
}

/// One live script instance.
pub struct ScriptHost {
    store: Store<HostState>,
    script: Instance,
    /// Set after a trap: wasmtime refuses every further call into the instance.
    broken: bool,
    limits: Limits,
}

impl ScriptHost {
    pub fn name(&self) -> &str {
        &self.store.data().script_name
    }

    /// Gives the next call its full time budget.
    fn arm(&mut self) {
        self.store.set_epoch_deadline(self.limits.call_ticks());
    }

    /// Calls the script's `describe`. A trap here is fatal: without a description the
    /// arguments cannot be checked.
    pub fn describe(&mut self) -> Result<ScriptInfo> {
        // Outside the analysis thread: the script's traps need the fault signals.
        let _faults = crate::threads::FaultsUnblocked::new();
        self.arm();
        let described = match &self.script {
            Instance::Current(s) => s.call_describe(&mut self.store),
            Instance::V0_2(s) => s.call_describe(&mut self.store).map(compat::v0_2::script_info),
            Instance::V0_1(s) => s.call_describe(&mut self.store).map(compat::v0_1::script_info),
        };
        match described {
            Ok(info) => Ok(info),
            Err(e) => bail!("{}", self.failure("describe", &e)),
        }
    }

    /// Calls the script's `init`; its error string becomes ours (bad input: fatal). A trap
    /// follows `on-error`: detached, the guest runs without the script (`None`).
    pub fn init(&mut self, info: &RunInfo, args: &[Argument]) -> Result<Option<Subscription>> {
        // Outside the analysis thread: the script's traps need the fault signals.
        let _faults = crate::threads::FaultsUnblocked::new();
        self.arm();
        let name = self.name().to_owned();
        let result = match &self.script {
            Instance::Current(s) => s.call_init(&mut self.store, info, args),
            Instance::V0_2(s) => s
                .call_init(&mut self.store, &compat::v0_2::run_info(info), &compat::v0_2::arguments(args))
                .map(|r| r.map(compat::v0_2::subscription)),
            Instance::V0_1(s) => s
                .call_init(&mut self.store, &compat::v0_1::run_info(info), &compat::v0_1::arguments(args))
                .map(|r| r.map(compat::v0_1::subscription)),
        };
        self.store.data_mut().initialized = true;
        match result {
            Ok(result) => result.map(Some).map_err(|msg| anyhow!("script {name}: {msg}")),
            Err(e) => {
                self.trapped("init", e);
                Ok(None)
            }
        }
    }

    /// The probes the script asked for in `init`.
    pub fn take_probes(&mut self) -> Vec<crate::events::Probe> {
        std::mem::take(&mut self.store.data_mut().probes)
    }

    /// The probe hits `probe-hits` hands out during the next `on-events`.
    pub fn set_probe_hits(&mut self, hits: crate::events::ProbeBatch) {
        self.store.data_mut().probe_hits = Some(hits);
    }

    /// Whether the script wants memory values (`memory-values`, called from `init`).
    pub fn wants_memory_values(&self) -> bool {
        self.store.data().memory_values
    }

    /// One line naming the script, what went wrong, and where in the script.
    fn failure(&self, export: &str, err: &wasmtime::Error) -> String {
        let what = if self.store.data().memory.exceeded {
            format!("exceeded its memory limit of {} MiB (script-memory=MiB)", self.limits.memory_bytes >> 20)
        } else if matches!(err.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
            format!("exceeded its time limit of {} per call (script-time=SECONDS)", self.limits.describe_time())
        } else {
            match err.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => format!("trapped: {trap}"),
                // A host error: the innermost cause says what it was.
                None => format!("failed: {}", err.chain().last().map(|c| c.to_string()).unwrap_or_default()),
            }
        };
        let backtrace = err
            .downcast_ref::<wasmtime::WasmBacktrace>()
            .map(|bt| {
                // Innermost first; the language runtime's abort/panic frames say nothing about
                // where the script failed, so they are left out.
                let frames: Vec<String> = bt
                    .to_string()
                    .lines()
                    .filter_map(|l| l.split_once(" - ").map(|(_, f)| f.trim().to_owned()))
                    .filter(|f| !is_runtime_frame(f))
                    .take(8)
                    .collect();
                format!("; wasm backtrace: {}", frames.join(" <- "))
            })
            .unwrap_or_default();
        format!("script {}: {export} {what}{backtrace}", self.name())
    }

    /// Applies `on-error` after a failed call: detach (report once, stop calling the
    /// instance; wasmtime refuses further calls anyway) or abort (report, hand the forwarder
    /// what it has, exit 1).
    fn trapped(&mut self, export: &str, err: wasmtime::Error) {
        self.broken = true;
        let line = self.failure(export, &err);
        match self.limits.on_error {
            OnError::Detach => console::error(&format!("{line}; detached, the guest runs on without it")),
            OnError::Abort => {
                console::error(&format!("{line}; aborting (on-error=abort)"));
                self.store.data().forwarding.finish(Vec::new(), None);
                // SAFETY: _exit ends the process at once; QEMU's state needs no cleanup.
                unsafe { libc::_exit(1) };
            }
        }
    }

    pub fn on_blocks(&mut self, blocks: &[Block]) {
        if !self.broken {
            self.arm();
            let result = match &self.script {
                Instance::Current(s) => s.call_on_blocks(&mut self.store, blocks),
                Instance::V0_2(s) => s.call_on_blocks(&mut self.store, &compat::v0_2::blocks(blocks)),
                Instance::V0_1(s) => s.call_on_blocks(&mut self.store, &compat::v0_1::blocks(blocks)),
            };
            if let Err(e) = result {
                self.trapped("on-blocks", e);
            }
        }
    }

    /// `batch` is mutable only to lend its columns to an older script; it comes back whole.
    pub fn on_events(&mut self, batch: &mut EventBatch) {
        if !self.broken {
            self.arm();
            let result = match &self.script {
                Instance::Current(s) => s.call_on_events(&mut self.store, batch),
                Instance::V0_2(s) => compat::v0_2::with_old_batch(batch, |old| s.call_on_events(&mut self.store, old)),
                Instance::V0_1(s) => compat::v0_1::with_old_batch(batch, |old| s.call_on_events(&mut self.store, old)),
            };
            if let Err(e) = result {
                self.trapped("on-events", e);
            }
        }
        self.store.data_mut().probe_hits = None;
    }

    pub fn on_thread(&mut self, vcpu: u32, event: ThreadEvent) {
        if !self.broken {
            self.arm();
            let result = match &self.script {
                Instance::Current(s) => s.call_on_thread(&mut self.store, vcpu, event),
                Instance::V0_2(s) => s.call_on_thread(&mut self.store, vcpu, compat::v0_2::thread_event(event)),
                Instance::V0_1(s) => s.call_on_thread(&mut self.store, vcpu, compat::v0_1::thread_event(event)),
            };
            if let Err(e) = result {
                self.trapped("on-thread", e);
            }
        }
    }

    /// Calls the script's `finish`. A trap follows `on-error`; an error the script returns is
    /// reported as one line.
    pub fn finish(&mut self, summary: &RunSummary) -> Result<()> {
        // Outside the analysis thread: the script's traps need the fault signals.
        let _faults = crate::threads::FaultsUnblocked::new();
        let name = self.name().to_owned();
        if self.broken {
            return Ok(()); // already reported when it failed
        }
        self.arm();
        let result = match &self.script {
            Instance::Current(s) => s.call_finish(&mut self.store, summary),
            Instance::V0_2(s) => s.call_finish(&mut self.store, &compat::v0_2::run_summary(summary)),
            Instance::V0_1(s) => s.call_finish(&mut self.store, &compat::v0_1::run_summary(summary)),
        };
        match result {
            Ok(result) => result.map_err(|msg| anyhow!("script {name}: finish failed: {msg}")),
            Err(e) => {
                self.trapped("finish", e);
                Ok(())
            }
        }
    }
}

/// Frames of the guest language's panic and abort machinery (Rust std, AssemblyScript's
/// abort, libc's abort).
fn is_runtime_frame(frame: &str) -> bool {
    let name = frame.split_once('!').map_or(frame, |(_, name)| name);
    ["std[", "core[", "__rust", "__rustc", "rust_panic", "abort", "std::", "core::"].iter().any(|p| name.starts_with(p))
}
