//! `cargo xtask build`: every artifact, each step skipped when up to date.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths;

pub fn all() -> Result<()> {
    qemu()?;
    plugin()?;
    scripts()?;
    programs()?;
    Ok(())
}

/// Runs a command, failing with its name when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// QEMU and its C plugins, built by the project's own script (cached by a stamp).
pub fn qemu() -> Result<()> {
    run(&mut Command::new(paths::root().join("qemu/build.sh")))
}

/// target/release/libcannonball.so
pub fn plugin() -> Result<()> {
    eprintln!("xtask: building libcannonball.so");
    run(cargo().current_dir(paths::root()).args(["build", "--release", "--quiet", "-p", "cannonball-plugin"]))
}

fn ensure_rust_target(target: &str) -> Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output().context("cannot run rustup")?;
    if !String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == target) {
        eprintln!("xtask: installing the Rust target {target} (rustup target add)");
        run(&mut Command::new("rustup").args(["target", "add", target]))?;
    }
    Ok(())
}

/// Every example script, as target/scripts/<name>.wasm: the Rust ones (a Cargo.toml) with
/// cargo, the C ones (.c files) with `cannonball build`.
pub fn scripts() -> Result<()> {
    let root = paths::root();
    let examples = root.join("example-scripts");
    let (rust, c) = script_dirs(&examples)?;
    fs::create_dir_all(paths::scripts())?;

    ensure_rust_target("wasm32-wasip2")?;
    eprintln!("xtask: building the Rust example scripts");
    let wasm_target = paths::target().join("wasm");
    run(cargo().current_dir(&root).args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"]).args([
        "--manifest-path".as_ref(),
        examples.join("Cargo.toml").as_os_str(),
        "--target-dir".as_ref(),
        wasm_target.as_os_str(),
    ]))?;
    for name in rust {
        let built = wasm_target.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
        let dest = paths::scripts().join(format!("{name}.wasm"));
        fs::copy(&built, &dest).with_context(|| format!("cannot copy {}", built.display()))?;
    }

    if !c.is_empty() {
        // clang for wasm32-wasi and wasi-libc (bookworm's is too old: backports).
        run(Command::new(root.join("qemu/deps.sh")).args([
            "clang-19",
            "lld-19",
            "libclang-rt-19-dev-wasm32",
            "wasi-libc@backports",
        ]))?;
        eprintln!("xtask: building the C example scripts");
        run(cargo().current_dir(&root).args(["build", "--release", "--quiet", "-p", "cannonball-cli"]))?;
        for name in c {
            let out = paths::scripts().join(format!("{name}.wasm"));
            run(Command::new(paths::target().join("release/cannonball"))
                .arg("build")
                .arg(examples.join(&name))
                .arg("-o")
                .arg(&out))?;
        }
    }
    Ok(())
}

/// The example script directories: (Rust ones with a Cargo.toml, C ones with .c files).
fn script_dirs(dir: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let (mut rust, mut c) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.join("Cargo.toml").is_file() {
            rust.push(name);
        } else if path.is_dir()
            && fs::read_dir(&path)?.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "c")))
        {
            c.push(name);
        }
    }
    rust.sort();
    c.sort();
    Ok((rust, c))
}

/// The guest programs in tests/programs/*.c, compiled for x86_64 into target/programs/.
/// Not position-independent, so that their addresses match `objdump` and `readelf` output.
pub fn programs() -> Result<()> {
    let src_dir = paths::root().join("tests/programs");
    fs::create_dir_all(paths::programs())?;
    for entry in fs::read_dir(&src_dir)? {
        let src = entry?.path();
        if src.extension().is_none_or(|e| e != "c") {
            continue;
        }
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let out = paths::programs().join(&name);
        if is_newer(&out, &src) {
            continue;
        }
        eprintln!("xtask: compiling tests/programs/{name}.c");
        run(&mut Command::new("gcc").args(["-O1", "-g", "-pthread", "-no-pie", "-o"]).arg(&out).arg(&src))?;
    }
    Ok(())
}

fn is_newer(out: &Path, src: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(out), modified(src)), (Some(o), Some(s)) if o >= s)
}
