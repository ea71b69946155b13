//! `cannonball publish SCRIPT.wasm REGISTRY/REPO:TAG`: pushes a script as a Wasm OCI artifact
//! with what it says about itself as manifest annotations, so that a registry's UI and
//! `cannonball inspect REF` show it without downloading the component.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use cannonball_script_host::{component, offline, world};
use oci_wasm::WasmConfig;

use super::registry::{self, auth, block_on, client, explain};

pub fn publish(script: &Path, target: &str, network: super::Network) -> Result<String> {
    let reference = registry::parse(target)?;
    if network.offline {
        anyhow::bail!("publish needs the network, and --offline forbids it");
    }
    let bytes = std::fs::read(script).with_context(|| format!("cannot read {}", script.display()))?;
    registry::check_component(&script.display().to_string(), &bytes)?;
    let annotations = annotations(script)?;
    let (config, layer) = WasmConfig::from_raw_component(bytes, None)
        .map_err(|e| anyhow!("{} is not a Wasm component: {e}", script.display()))?;
    let client = client(&reference, network);
    let auth = auth(&reference);
    block_on(async {
        client.push(&reference, &auth, layer, config, Some(annotations)).await?;
        client.fetch_manifest_digest(&reference, &auth).await.map_err(anyhow::Error::from)
    })
    .map_err(|e| explain(target, e))
}

/// The script's own metadata, as the standard OCI keys where one exists.
fn annotations(script: &Path) -> Result<BTreeMap<String, String>> {
    let compiled = component::compile_for_qemu_runs(script)?;
    let (engine, component) = (&compiled.engine, &compiled.component);
    let info = offline::describe(&compiled)
        .with_context(|| format!("{} is not a cannonball:script component", script.display()))?;
    let interface = world::interface(component, engine).unwrap_or_else(|| "cannonball:script (no host imports)".into());
    let merge = world::export_named(component, engine, "cannonball:script/merge@").unwrap_or_else(|| "none".into());
    let arguments: Vec<String> = info.arguments.iter().map(|a| format!("{}: {}", a.key, a.help)).collect();
    Ok(BTreeMap::from([
        ("org.opencontainers.image.title".into(), info.name.clone()),
        ("org.opencontainers.image.version".into(), info.version.clone()),
        ("org.opencontainers.image.description".into(), info.description.clone()),
        ("dev.cannonball.interface".into(), interface),
        ("dev.cannonball.arguments".into(), arguments.join("; ")),
        ("dev.cannonball.merge".into(), merge),
    ]))
}
