//! The script's optional merge step (WIT `cannonball:script/merge`, new in 0.2.2): the
//! reports of several runs folded into one set by the script itself, outside QEMU. Used by
//! `cannonball merge DIR... -o OUT -s SCRIPT` and at the end of `cannonball run --corpus ...
//! -s SCRIPT`. A script without the export (0.2.1 and older, or one that does not merge)
//! leaves the per-run reports side by side.
//!
//! The merge runs with WASI that grants nothing, and of the host services only `log` (to
//! stderr) and `write-report` / `append-report` (added to the returned reports); the others
//! need a guest and fail the call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentType, Lift, Linker, Lower, Val};
use wasmtime::{Engine, Store};

use crate::sandbox::{OrAnyhow, Sandbox};

/// The export's name before its version (any 0.2.x from 0.2.2 on).
const EXPORT: &str = "cannonball:script/merge@";

#[derive(ComponentType, Lower, Lift, Clone)]
#[component(record)]
struct Report {
    name: String,
    contents: Vec<u8>,
}

#[derive(ComponentType, Lower, Lift, Clone)]
#[component(record)]
struct ReportSet {
    run: String,
    reports: Vec<Report>,
}

/// What the merge step did.
pub enum Outcome {
    /// The script merged; these reports were written.
    Merged(Vec<String>),
    /// The script has no merge step: the line to show.
    NoMergeStep(String),
}

/// Merges the reports of `runs` (a name and the run's directory each) with `script`'s merge
/// step into `out`.
pub fn merge(script: &Path, runs: &[(String, PathBuf)], out: &Path) -> Result<Outcome> {
    let name = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
    let bytes = std::fs::read(script).with_context(|| format!("cannot read script {}", script.display()))?;
    if !bytes.starts_with(b"\0asm") || bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        bail!("script {} is not a WebAssembly component", script.display());
    }
    let engine =
        Engine::new(&cannonball_script_cache::script_config(cannonball_script_cache::Traps::inside_qemu(true)))
            .or_anyhow()?;
    let compiled =
        cannonball_script_cache::compile(&engine, &bytes, &cannonball_script_cache::Setting::from_option(None))
            .or_anyhow()
            .with_context(|| format!("script {} is not a valid component", script.display()))?;
    let component = compiled.component;
    let ty = component.component_type();
    let Some(export) = ty.exports(&engine).map(|(n, _)| n.to_string()).find(|n| n.starts_with(EXPORT)) else {
        let interface = ty.imports(&engine).find_map(|(n, _)| {
            n.strip_prefix("cannonball:script/").and_then(|r| r.split_once('@')).map(|(_, v)| v.to_owned())
        });
        return Ok(Outcome::NoMergeStep(format!(
            "script {name} has no merge step{}",
            interface.map(|v| format!(" (built for cannonball:script@{v})")).unwrap_or_default()
        )));
    };

    let written: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let mut linker = Linker::<Sandbox>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).or_anyhow()?;
    for (import, item) in ty.imports(&engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else { continue };
        if !import.starts_with("cannonball:script/host") {
            continue;
        }
        let mut host = linker.instance(import).or_anyhow()?;
        for (func, item) in instance.exports(&engine) {
            if !matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let func_name = func.to_string();
            let script_name = name.clone();
            let written = written.clone();
            host.func_new(func, move |_, _, params, results| match (func_name.as_str(), params) {
                ("log", [Val::Enum(level), Val::String(message)]) => {
                    eprintln!("cannonball: script {script_name} ({level}): {message}");
                    Ok(())
                }
                ("write-report" | "append-report", [Val::String(report), Val::List(contents)]) => {
                    let bytes: Vec<u8> = contents.iter().map(|v| if let Val::U8(b) = v { *b } else { 0 }).collect();
                    let mut written = written.lock().unwrap();
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
            .or_anyhow()?;
        }
    }

    let mut store = Store::new(&engine, Sandbox::new());
    // The engine checks epochs (the plugin's time limit); nothing advances them here.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker
        .instantiate(&mut store, &component)
        .or_anyhow()
        .with_context(|| format!("cannot instantiate script {name} for its merge step"))?;
    let func = component
        .get_export_index(None, &export)
        .and_then(|i| component.get_export_index(Some(&i), "merge"))
        .ok_or_else(|| anyhow!("script {name} exports {export} without its merge function"))?;
    let merge = instance
        .get_typed_func::<(Vec<ReportSet>,), (Result<Vec<Report>, String>,)>(&mut store, &func)
        .or_anyhow()
        .with_context(|| format!("script {name}: {export} has another type than cannonball:script/merge"))?;

    let mut sets = Vec::with_capacity(runs.len());
    for (run, dir) in runs {
        sets.push(ReportSet { run: run.clone(), reports: read_reports(dir)? });
    }
    let (result,) = merge.call(&mut store, (sets,)).map_err(|e| {
        anyhow!("script {name}: merge trapped: {}", e.chain().last().map(|c| c.to_string()).unwrap_or_default())
    })?;
    let reports = result.map_err(|message| anyhow!("script {name}: merge failed: {message}"))?;

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut all: BTreeMap<String, Vec<u8>> = std::mem::take(&mut *written.lock().unwrap());
    all.extend(reports.into_iter().map(|r| (r.name, r.contents)));
    for (report, contents) in &all {
        if report.is_empty() || report.contains('/') || report.starts_with('.') {
            bail!("script {name}: merge returned a report named {report:?} (a plain file name is needed)");
        }
        let path = out.join(report);
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Outcome::Merged(all.into_keys().collect()))
}

/// Every regular file of a run's directory, by name (a run stopped early may have none).
fn read_reports(dir: &Path) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(reports) };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let contents = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        reports.push(Report { name: entry.file_name().to_string_lossy().into_owned(), contents });
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// The one line that says what the merge step did.
pub fn describe(outcome: &Outcome, out: &Path, side_by_side: &str) -> String {
    match outcome {
        Outcome::Merged(names) => format!("cannonball: merged reports in {}: {}", out.display(), names.join(", ")),
        Outcome::NoMergeStep(why) => {
            format!("cannonball: {why}: per-input reports stay side by side in {side_by_side}")
        }
    }
}
