//! `cannonball inspect X.wasm`: what a script says about itself (name, version, description,
//! arguments, by calling its `describe` in a sandbox that grants nothing) and what it needs
//! (the interface version it was built against, the host services and WASI interfaces it
//! imports, read from the component's type).

use std::path::Path;

use anyhow::{Context, Result, bail};
use wasmtime::component::Linker;
use wasmtime::component::types::ComponentItem;
use wasmtime::{Engine, Store};

use crate::sandbox::{OrAnyhow, Sandbox};

wasmtime::component::bindgen!({ path: "../wit", world: "script" });

use cannonball::script::types::ArgumentType;

pub fn inspect(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !bytes.starts_with(b"\0asm") {
        bail!("{} is not a WebAssembly file", path.display());
    }
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        bail!("{} is a core Wasm module, not a component", path.display());
    }
    // The plugin's engine settings on our QEMU (`Traps::inside_qemu`) and its cache of compiled
    // scripts (the default directory): inspecting a script compiles it once for the runs that
    // follow, and inspecting it again loads it.
    let engine =
        Engine::new(&cannonball_script_cache::script_config(cannonball_script_cache::Traps::inside_qemu(true)))
            .or_anyhow()?;
    let compiled =
        cannonball_script_cache::compile(&engine, &bytes, &cannonball_script_cache::Setting::from_option(None))
            .or_anyhow()
            .with_context(|| format!("{} is not a valid component", path.display()))?;
    if let Some(warning) = compiled.outcome.warning() {
        eprintln!("cannonball: warning: {warning}");
    }
    let component = compiled.component;

    let mut interface = None;
    let mut services = Vec::new();
    let mut wasi = Vec::new();
    for (name, item) in component.component_type().imports(&engine) {
        if let Some(rest) = name.strip_prefix("cannonball:script/") {
            interface = rest.split_once('@').map(|(_, v)| format!("cannonball:script@{v}"));
            // The `types` interface only carries type definitions; `host` has the functions.
            if let ComponentItem::ComponentInstance(instance) = item.ty {
                services.extend(
                    instance
                        .exports(&engine)
                        .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_)))
                        .map(|(f, _)| f.to_string()),
                );
            }
        } else {
            wasi.push(name.to_string());
        }
    }

    let mut linker = Linker::<Sandbox>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).or_anyhow()?;
    // Host services trap if called: describe must not need them. Only ours: wasmtime's
    // `define_unknown_imports_as_traps` matches names exactly, so it would shadow a WASI
    // interface the script imports at a newer 0.2.x (which the semver-aware linker provides)
    // with a trap of a different resource type.
    for (name, item) in component.component_type().imports(&engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else { continue };
        if !name.starts_with("cannonball:script/host") {
            continue;
        }
        let mut host = linker.instance(name).or_anyhow()?;
        for (func, export) in instance.exports(&engine) {
            if matches!(export.ty, ComponentItem::ComponentFunc(_)) {
                let func_name = func.to_string();
                host.func_new(func, move |_, _, _, _| {
                    Err(wasmtime::format_err!("host service {func_name} is not available to describe"))
                })
                .or_anyhow()?;
            }
        }
    }
    let mut store = Store::new(&engine, Sandbox::new());
    // The engine checks epochs (the plugin's time limit); nothing advances them here.
    store.set_epoch_deadline(u64::MAX / 2);
    let script = Script::instantiate(&mut store, &component, &linker)
        .or_anyhow()
        .with_context(|| format!("{} is not a cannonball:script component", path.display()))?;
    let info = script.call_describe(&mut store).or_anyhow().context("describe trapped")?;

    println!("name:        {}", info.name);
    println!("version:     {}", info.version);
    println!("description: {}", info.description);
    println!("interface:   {}", interface.as_deref().unwrap_or("cannonball:script (no host imports)"));
    println!("host services: {}", if services.is_empty() { "none".into() } else { services.join(", ") });
    println!("wasi imports:  {}", if wasi.is_empty() { "none".into() } else { wasi.join(", ") });
    let merge = component
        .component_type()
        .exports(&engine)
        .map(|(n, _)| n.to_string())
        .find(|n| n.starts_with("cannonball:script/merge@"));
    println!("merge step:  {}", merge.as_deref().unwrap_or("none"));
    if info.arguments.is_empty() {
        println!("arguments:   none");
    } else {
        println!("arguments:");
        for a in &info.arguments {
            let kind = match a.kind {
                ArgumentType::Text => "TEXT",
                ArgumentType::Integer => "INTEGER",
                ArgumentType::Boolean => "BOOL",
                ArgumentType::Address => "ADDRESS",
            };
            let mut notes = Vec::new();
            if a.required {
                notes.push("required".to_string());
            }
            if let Some(d) = &a.default {
                notes.push(format!("default: {d}"));
            }
            let notes = if notes.is_empty() { String::new() } else { format!(" [{}]", notes.join(", ")) };
            println!("  {}={kind}  {}{notes}", a.key, a.help);
        }
    }
    Ok(())
}
