//! C script -> component, with no CLI installed: wit-bindgen's C generator and wit-component
//! run here as libraries; clang (clang-19, wasm32-wasi, wasi-libc) compiles.
//!
//! Steps: generate `script.h`/`script.c`/`script_component_type.o` from wit/; compile the
//! SDK glue (guest-sdk/c/cannonball.c) and the project's .c files into a WASI preview 1
//! reactor module; wrap it into a component with the preview 1 reactor adapter.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use wit_parser::Resolve;

pub fn build(root: &Path, project: &Path, output: &Path) -> Result<()> {
    let gen_dir = project.join("target/cannonball");
    fs::create_dir_all(&gen_dir)?;
    generate_bindings(&root.join("wit"), &gen_dir)?;

    let mut sources: Vec<PathBuf> = fs::read_dir(project)
        .with_context(|| format!("cannot read {}", project.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    if sources.is_empty() {
        bail!("no .c files in {}", project.display());
    }
    sources.sort();
    // A script that defines `cb_merge` exports the optional merge step (WIT 0.2.2): the
    // `merger` world's bindings join the `script` world's, and the glue implements it.
    let merges = sources.iter().any(|p| fs::read_to_string(p).is_ok_and(|t| t.contains("cb_merge(")));
    let sdk = root.join("guest-sdk/c");
    let core = gen_dir.join("core.wasm");
    let mut clang = Command::new(clang()?);
    clang
        .args(["--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2", "-Wall", "-Wl,--strip-debug"])
        .arg("-I")
        .arg(&gen_dir)
        .arg("-I")
        .arg(&sdk)
        .args(&sources)
        .arg(sdk.join("cannonball.c"))
        .arg(gen_dir.join("script.c"))
        .arg(gen_dir.join("script_component_type.o"));
    if merges {
        clang.arg("-DCB_WITH_MERGE").arg(gen_dir.join("merger.c")).arg(gen_dir.join("merger_component_type.o"));
    }
    let status = clang.arg("-o").arg(&core).status().context("cannot run clang")?;
    if !status.success() {
        bail!("clang failed for {}", project.display());
    }

    let module = fs::read(&core)?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
        .context("cannot make a component")?;
    fs::write(output, component).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

fn clang() -> Result<&'static str> {
    for c in ["clang-19", "clang"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Ok(c);
        }
    }
    bail!("clang not found: install clang-19, lld-19, libclang-rt-19-dev-wasm32 and wasi-libc")
}

/// script.h, script.c and script_component_type.o for the `script` world; merger.h,
/// merger.c and merger_component_type.o for the `merger` world (the optional merge step).
fn generate_bindings(wit: &Path, out: &Path) -> Result<()> {
    for world in ["script", "merger"] {
        let mut resolve = Resolve::default();
        let (pkg, _) = resolve.push_dir(wit).with_context(|| format!("cannot read {}", wit.display()))?;
        let world = resolve.select_world(&[pkg], Some(world))?;
        let mut files = wit_bindgen_core::Files::default();
        let mut generator = wit_bindgen_c::Opts::default().build();
        generator.generate(&mut resolve, world, &mut files)?;
        for (name, contents) in files.iter() {
            fs::write(out.join(name), contents)?;
        }
    }
    Ok(())
}
