//! `cannonball inspect X.wasm`: what a script says about itself (name, version, description,
//! arguments, by calling its `describe` in a sandbox that grants nothing) and what it needs
//! (the interface version it was built against, the host services and WASI interfaces it
//! imports, read from the component's type).

use std::path::Path;

use anyhow::{Context, Result};
use cannonball_script_host::offline::{self, ArgumentType};
use cannonball_script_host::{component, world};

pub fn inspect(given: &str) -> Result<()> {
    let script = crate::oci::resolve(given)?;
    if let Some(origin) = &script.origin {
        println!("reference:   {}", origin.reference);
        println!("digest:      {}", origin.manifest_digest);
        println!("component:   {}", origin.layer_digest);
        for (key, value) in &origin.annotations {
            println!("annotation:  {key}={value}");
        }
    }
    inspect_file(&script.path)
}

fn inspect_file(path: &Path) -> Result<()> {
    // Compiled as the plugin compiles on our QEMU, into its cache of compiled scripts:
    // inspecting a script compiles it once for the runs that follow, and again loads it.
    let compiled = component::compile_for_qemu_runs(path)?;
    if let Some(warning) = compiled.outcome.warning() {
        eprintln!("cannonball: warning: {warning}");
    }
    let (engine, component) = (&compiled.engine, &compiled.component);
    let interface = world::interface(component, engine);
    let (services, wasi) = world::imports(component, engine);
    let info = offline::describe(&compiled)
        .with_context(|| format!("{} is not a cannonball:script component", path.display()))?;

    println!("name:        {}", info.name);
    println!("version:     {}", info.version);
    println!("description: {}", info.description);
    println!("interface:   {}", interface.as_deref().unwrap_or("cannonball:script (no host imports)"));
    println!("host services: {}", if services.is_empty() { "none".into() } else { services.join(", ") });
    println!("wasi imports:  {}", if wasi.is_empty() { "none".into() } else { wasi.join(", ") });
    let merge = world::export_named(component, engine, "cannonball:script/merge@");
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
