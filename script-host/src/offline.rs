//! Running a script outside QEMU, in a sandbox whose WASI grants nothing (no files, network,
//! environment or arguments): its `describe` (for `cannonball inspect`) and its optional
//! merge step (for `cannonball merge -s`, and corpus runs).
//!
//! Both hosts are built from the component's own imports rather than from generated bindings:
//! a script built for any 0.2.x imports `host@0.2.x` and exports `merge@0.2.x` under its own
//! version, and defining exactly what it imports keeps the semver-aware linker from shadowing
//! a WASI interface it imports at a newer 0.2.x (wasmtime's `define_unknown_imports_as_traps`
//! matches names exactly).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentType, Lift, Linker, LinkerInstance, Lower, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::OrAnyhow;
use crate::component::Compiled;

mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "script" });
}

pub use bindings::cannonball::script::types::{ArgumentSpec, ArgumentType, ScriptInfo};

/// The store state outside QEMU: WASI that grants nothing.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl Sandbox {
    pub fn new() -> Self {
        Self { wasi: WasiCtx::builder().build(), table: ResourceTable::new() }
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A store over the sandbox. The engine checks epochs (the plugin's time limit); nothing
/// advances them here.
fn store(engine: &Engine) -> Store<Sandbox> {
    let mut store = Store::new(engine, Sandbox::new());
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// A linker with WASI, and each function of the component's `cannonball:script/host` import
/// defined by `define(linker instance, function name)`.
fn linker_with_host(
    compiled: &Compiled,
    mut define: impl FnMut(&mut LinkerInstance<'_, Sandbox>, &str) -> Result<()>,
) -> Result<Linker<Sandbox>> {
    let engine = &compiled.engine;
    let mut linker = Linker::<Sandbox>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).or_anyhow()?;
    for (import, item) in compiled.component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else { continue };
        if !import.starts_with("cannonball:script/host") {
            continue;
        }
        let mut host = linker.instance(import).or_anyhow()?;
        for (func, export) in instance.exports(engine) {
            if matches!(export.ty, ComponentItem::ComponentFunc(_)) {
                define(&mut host, func)?;
            }
        }
    }
    Ok(linker)
}

/// What the script says about itself: its `describe`, with every host service trapping.
pub fn describe(compiled: &Compiled) -> Result<ScriptInfo> {
    let linker = linker_with_host(compiled, |host, func| {
        let name = func.to_owned();
        host.func_new(func, move |_, _, _, _| {
            Err(wasmtime::format_err!("host service {name} is not available to describe"))
        })
        .or_anyhow()
    })?;
    let mut store = store(&compiled.engine);
    let script = bindings::Script::instantiate(&mut store, &compiled.component, &linker)
        .or_anyhow()
        .context("not a cannonball:script component")?;
    script.call_describe(&mut store).or_anyhow().context("describe trapped")
}

/// One report file as the merge step passes it.
#[derive(ComponentType, Lower, Lift, Clone, Debug, PartialEq, Eq)]
#[component(record)]
pub struct Report {
    pub name: String,
    pub contents: Vec<u8>,
}

/// The reports of one run.
#[derive(ComponentType, Lower, Lift, Clone, Debug, PartialEq, Eq)]
#[component(record)]
pub struct ReportSet {
    pub run: String,
    pub reports: Vec<Report>,
}

/// The export's name before its version (any 0.2.x from 0.2.2 on).
const MERGE_EXPORT: &str = "cannonball:script/merge@";

/// What the merge step did.
pub enum Merged {
    /// The merged reports by name: those the call returned and those it wrote through
    /// `write-report` / `append-report`.
    Reports(BTreeMap<String, Vec<u8>>),
    /// The script has no merge step: why, in words.
    NoMergeStep(String),
}

/// Runs the script's merge step over `sets`. Of the host services only `log` (to stderr, as
/// `cannonball: script NAME (LEVEL): ...`), `write-report` and `append-report` work; the
/// others need a guest and fail the call.
pub fn merge(compiled: &Compiled, name: &str, sets: Vec<ReportSet>) -> Result<Merged> {
    let engine = &compiled.engine;
    let Some(export) = crate::world::export_named(&compiled.component, engine, MERGE_EXPORT) else {
        let built_for = crate::world::interface(&compiled.component, engine);
        return Ok(Merged::NoMergeStep(format!(
            "script {name} has no merge step{}",
            built_for.map(|v| format!(" (built for {v})")).unwrap_or_default()
        )));
    };
    let written: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let linker = linker_with_host(compiled, |host, func| {
        let (func_name, script_name, written) = (func.to_owned(), name.to_owned(), written.clone());
        host.func_new(func, move |_, _, params, results| match (func_name.as_str(), params) {
            ("log", [Val::Enum(level), Val::String(message)]) => {
                eprintln!("cannonball: script {script_name} ({level}): {message}");
                Ok(())
            }
            ("write-report" | "append-report", [Val::String(report), Val::List(contents)]) => {
                let bytes = contents.iter().map(|v| if let Val::U8(b) = v { *b } else { 0 });
                let mut written = written.lock().unwrap_or_else(|p| p.into_inner());
                let entry = written.entry(report.clone()).or_default();
                if func_name == "write-report" {
                    entry.clear();
                }
                entry.extend(bytes);
                if let Some(r) = results.first_mut() {
                    *r = Val::Result(Ok(None));
                }
                Ok(())
            }
            _ => Err(wasmtime::format_err!("host service {func_name} is not available during a merge")),
        })
        .or_anyhow()
    })?;
    let mut store = store(engine);
    let instance = linker
        .instantiate(&mut store, &compiled.component)
        .or_anyhow()
        .with_context(|| format!("cannot instantiate script {name} for its merge step"))?;
    let func = compiled
        .component
        .get_export_index(None, &export)
        .and_then(|i| compiled.component.get_export_index(Some(&i), "merge"))
        .ok_or_else(|| anyhow!("script {name} exports {export} without its merge function"))?;
    let merge = instance
        .get_typed_func::<(Vec<ReportSet>,), (Result<Vec<Report>, String>,)>(&mut store, &func)
        .or_anyhow()
        .with_context(|| format!("script {name}: {export} has another type than cannonball:script/merge"))?;
    let (result,) = merge.call(&mut store, (sets,)).map_err(|e| {
        anyhow!("script {name}: merge trapped: {}", e.chain().last().map(|c| c.to_string()).unwrap_or_default())
    })?;
    let reports = result.map_err(|message| anyhow!("script {name}: merge failed: {message}"))?;
    let mut all = std::mem::take(&mut *written.lock().unwrap_or_else(|p| p.into_inner()));
    all.extend(reports.into_iter().map(|r| (r.name, r.contents)));
    Ok(Merged::Reports(all))
}
