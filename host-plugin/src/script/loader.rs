//! Loading a script component and calling its exports.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

use super::bindings::exports::{
    Argument, Block, EventBatch, RunInfo, RunSummary, Script, ScriptInfo, ScriptPre, Subscription, ThreadEvent,
};
use super::host_api::HostState;
use crate::console;
use crate::sink::OutDir;

/// A compiled and linked script, ready to be instantiated: once at start, and again in the
/// child of every fork (where the script starts afresh).
pub struct ScriptFactory {
    engine: Engine,
    pre: ScriptPre<HostState>,
    name: String,
    arch: String,
    out: OutDir,
}

impl ScriptFactory {
    /// Compiles the component at `path` and links it against the host. Every way a file can
    /// be unusable (missing, not Wasm, a core module, another world) becomes one error here.
    pub fn load(path: &Path, arch: &str, out: OutDir) -> Result<Self> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
        let bytes = std::fs::read(path).with_context(|| format!("cannot read script {}", path.display()))?;
        if !bytes.starts_with(b"\0asm") {
            bail!("script {} is not a WebAssembly file", path.display());
        }
        // Bytes 4..8 are the version/layer: 1 for core modules, 0x0001000d for components.
        if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
            bail!(
                "script {} is a core Wasm module, not a component: build it with a Cannonball SDK (see docs/)",
                path.display()
            );
        }

        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(|e| anyhow!("{e:#}")).context("cannot create the Wasm engine")?;
        let component = Component::new(&engine, &bytes)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("script {} is not a valid component", path.display()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("{e:#}"))?;
        Script::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(|e| anyhow!("{e:#}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ScriptPre::new)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("script {} does not fit the cannonball:script@0.1.0 world", path.display()))?;
        Ok(Self { engine, pre, name, arch: arch.to_owned(), out })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh instance. In a forked child, `forked_pid` names its reports.
    pub fn instantiate(&self, forked_pid: Option<u32>) -> Result<ScriptHost> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(self.name.clone(), self.arch.clone(), self.out.clone(), forked_pid),
        );
        let script = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("cannot instantiate script {}", self.name))?;
        Ok(ScriptHost { store, script, broken: false })
    }
}

/// One live script instance.
pub struct ScriptHost {
    store: Store<HostState>,
    script: Script,
    /// Set after a trap: wasmtime refuses every further call into the instance.
    broken: bool,
}

impl ScriptHost {
    pub fn name(&self) -> &str {
        &self.store.data().script_name
    }

    /// Calls the script's `describe`.
    pub fn describe(&mut self) -> Result<ScriptInfo> {
        let name = self.name().to_owned();
        self.script.call_describe(&mut self.store).map_err(|e| anyhow!("script {name}: describe trapped: {e:#}"))
    }

    /// Calls the script's `init`; its error string becomes ours.
    pub fn init(&mut self, info: &RunInfo, args: &[Argument]) -> Result<Subscription> {
        let name = self.name().to_owned();
        self.script
            .call_init(&mut self.store, info, args)
            .map_err(|e| anyhow!("script {name}: init trapped: {e:#}"))?
            .map_err(|msg| anyhow!("script {name}: {msg}"))
    }

    /// Reports a trap once and stops calling the instance.
    fn trapped(&mut self, export: &str, err: wasmtime::Error) {
        self.broken = true;
        console::line(&format!(
            "cannonball: error: script {}: {export} trapped, no further events are delivered: {}",
            self.name(),
            format!("{err:#}").replace('\n', " ")
        ));
    }

    pub fn on_blocks(&mut self, blocks: &[Block]) {
        if !self.broken {
            if let Err(e) = self.script.call_on_blocks(&mut self.store, blocks) {
                self.trapped("on-blocks", e);
            }
        }
    }

    pub fn on_events(&mut self, batch: &EventBatch) {
        if !self.broken {
            if let Err(e) = self.script.call_on_events(&mut self.store, batch) {
                self.trapped("on-events", e);
            }
        }
    }

    pub fn on_thread(&mut self, vcpu: u32, event: ThreadEvent) {
        if !self.broken {
            if let Err(e) = self.script.call_on_thread(&mut self.store, vcpu, event) {
                self.trapped("on-thread", e);
            }
        }
    }

    /// Calls the script's `finish`.
    pub fn finish(&mut self, summary: &RunSummary) -> Result<()> {
        let name = self.name().to_owned();
        if self.broken {
            bail!("script {name}: not finished, it trapped earlier");
        }
        self.script
            .call_finish(&mut self.store, summary)
            .map_err(|e| anyhow!("script {name}: finish trapped: {e:#}"))?
            .map_err(|msg| anyhow!("script {name}: finish failed: {msg}"))
    }
}
