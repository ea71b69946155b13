//! Loading a script component and calling its exports.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

use super::bindings::exports::{Argument, RunInfo, RunSummary, Script};
use super::host_api::HostState;
use crate::sink::OutDir;

/// A loaded, instantiated script.
pub struct ScriptHost {
    store: Store<HostState>,
    script: Script,
}

impl ScriptHost {
    /// Compiles and instantiates the component at `path`. Every way a file can be unusable
    /// (missing, not Wasm, a core module, another world) becomes one error line here.
    pub fn load(path: &Path, out: OutDir) -> Result<Self> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script".into());
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read script {}", path.display()))?;
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
        let engine = Engine::new(&config)
            .map_err(|e| anyhow!("{e:#}"))
            .context("cannot create the Wasm engine")?;
        let component = Component::new(&engine, &bytes)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("script {} is not a valid component", path.display()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("{e:#}"))?;
        Script::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| anyhow!("{e:#}"))?;

        let mut store = Store::new(&engine, HostState::new(name, out));
        let script = Script::instantiate(&mut store, &component, &linker)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "script {} does not fit the cannonball:script@0.1.0 world",
                    path.display()
                )
            })?;
        Ok(Self { store, script })
    }

    pub fn name(&self) -> &str {
        &self.store.data().script_name
    }

    /// Calls the script's `init`; its error string becomes ours.
    pub fn init(&mut self, info: &RunInfo, args: &[Argument]) -> Result<()> {
        let name = self.name().to_owned();
        self.script
            .call_init(&mut self.store, info, args)
            .map_err(|e| anyhow!("script {name}: init trapped: {e:#}"))?
            .map_err(|msg| anyhow!("script {name}: {msg}"))
    }

    /// Calls the script's `finish`.
    pub fn finish(&mut self, summary: &RunSummary) -> Result<()> {
        let name = self.name().to_owned();
        self.script
            .call_finish(&mut self.store, summary)
            .map_err(|e| anyhow!("script {name}: finish trapped: {e:#}"))?
            .map_err(|msg| anyhow!("script {name}: finish failed: {msg}"))
    }
}
