//! Reading a script file and compiling it, the same way for every host.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cannonball_script_cache::{Outcome, Setting, Traps};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::OrAnyhow;

/// A script's name: its file name without `.wasm` (what its log lines and reports say).
pub fn name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into())
}

/// The bytes of the component at `path`, or the one line that says why it is not one.
pub fn read(path: &Path) -> Result<Vec<u8>> {
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
    Ok(bytes)
}

/// A compiled script and the engine it was compiled for.
pub struct Compiled {
    pub engine: Engine,
    pub component: Component,
    /// What the cache of compiled scripts did (hit, stored, a warning).
    pub outcome: Outcome,
}

/// The engine every host compiles scripts with, catching traps as `traps` says.
pub fn engine(traps: Traps) -> Result<Engine> {
    Engine::new(&cannonball_script_cache::script_config(traps)).or_anyhow().context("cannot create the Wasm engine")
}

/// Compiles the component `bytes` read from `path` for `engine`, through the cache `cache` (a
/// warm start loads the native code instead).
pub fn compile_bytes(engine: &Engine, path: &Path, bytes: &[u8], cache: &Setting) -> Result<(Component, Outcome)> {
    let compiled = cannonball_script_cache::compile(engine, bytes, cache)
        .or_anyhow()
        .with_context(|| format!("script {} is not a valid component", path.display()))?;
    Ok((compiled.component, compiled.outcome))
}

/// [`read`], [`engine`] and [`compile_bytes`] in one.
pub fn compile(path: &Path, traps: Traps, cache: &Setting) -> Result<Compiled> {
    let bytes = read(path)?;
    let engine = engine(traps)?;
    let (component, outcome) = compile_bytes(&engine, path, &bytes, cache)?;
    Ok(Compiled { engine, component, outcome })
}

/// Compiled as the plugin compiles on our QEMU, into the default cache: what `cannonball
/// inspect` and the merge step use, so that their cache entries serve the plugin's runs.
pub fn compile_for_qemu_runs(path: &Path) -> Result<Compiled> {
    compile(path, Traps::inside_qemu(true), &Setting::from_option(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_that_is_no_component_gets_its_own_line() {
        let dir = std::env::temp_dir().join(format!("cannonball-script-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read(&dir.join("missing.wasm")).unwrap_err();
        assert!(format!("{missing:#}").starts_with("cannot read script"), "{missing:#}");
        std::fs::write(dir.join("text.wasm"), "hello").unwrap();
        assert!(read(&dir.join("text.wasm")).unwrap_err().to_string().contains("is not a WebAssembly file"));
        std::fs::write(dir.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
        assert!(read(&dir.join("core.wasm")).unwrap_err().to_string().contains("is a core Wasm module"));
        std::fs::write(dir.join("c.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
        assert!(read(&dir.join("c.wasm")).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
