//! Rust script → component: `cargo build --release --target wasm32-wasip2` gives a component
//! directly (wit-bindgen's macros embed the WIT); copy it out.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub fn build(project: &Path, output: &Path) -> Result<()> {
    let manifest = project.join("Cargo.toml");
    let metadata = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("cannot run cargo")?;
    if !metadata.status.success() {
        bail!("cargo metadata failed for {}: {}", manifest.display(), String::from_utf8_lossy(&metadata.stderr).trim());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).context("cargo metadata: bad JSON")?;
    let target_dir = metadata["target_directory"].as_str().context("cargo metadata has no target_directory")?;
    let name = package_name(&manifest)?;

    let status = Command::new(cargo())
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!(
            "cargo build failed for {} (is the target installed? rustup target add wasm32-wasip2)",
            project.display()
        );
    }
    let built = Path::new(&target_dir).join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&built, output)
        .with_context(|| format!("cannot copy {} to {}", built.display(), output.display()))?;
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The `name` of `[package]` in a Cargo.toml.
fn package_name(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    bail!("{} has no [package] name", manifest.display())
}
