//! `cargo xtask build`: every artifact, each step skipped when up to date.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use cannonball_launcher::{Lang, Tree};

pub fn all() -> Result<()> {
    crate::gen_as::check()?;
    qemu()?;
    kernel()?;
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
    run(&mut Command::new(Tree::source().root().join("qemu/build.sh")))
}

/// Debian's x86_64 kernel for the system-mode tests, in target/kernel/ (cached by version).
pub fn kernel() -> Result<()> {
    run(&mut Command::new(Tree::source().root().join("qemu/kernel.sh")))
}

/// target/release/libcannonball.so
pub fn plugin() -> Result<()> {
    eprintln!("xtask: building libcannonball.so");
    run(cargo().current_dir(Tree::source().root()).args(["build", "--release", "--quiet", "-p", "cannonball-plugin"]))?;
    split_debug(&Tree::source().plugin())
}

/// What ships is stripped: the release profile keeps line tables of every dependency (for
/// profiles and panics' locations), which make the plugin and the command about 180 MB each.
/// They move to `NAME.debug` beside the binary, which names it in `.gnu_debuglink`, where
/// perf and gdb find it (as distributions ship `-dbgsym` packages). Cargo links a fresh,
/// unstripped copy into place after each build, so this runs after each.
fn split_debug(binary: &Path) -> Result<()> {
    let sections = Command::new("readelf").arg("-SW").arg(binary).output().context("cannot run readelf (binutils)")?;
    if String::from_utf8_lossy(&sections.stdout).contains(".gnu_debuglink") {
        return Ok(());
    }
    let mut debug = binary.as_os_str().to_owned();
    debug.push(".debug");
    let debug = Path::new(&debug);
    run(Command::new("objcopy").arg("--only-keep-debug").arg(binary).arg(debug))?;
    run(Command::new("objcopy")
        .arg("--strip-debug")
        .arg(format!("--add-gnu-debuglink={}", debug.display()))
        .arg(binary))
}

fn ensure_rust_target(target: &str) -> Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output().context("cannot run rustup")?;
    if !String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == target) {
        eprintln!("xtask: installing the Rust target {target} (rustup target add)");
        run(Command::new("rustup").args(["target", "add", target]))?;
    }
    Ok(())
}

/// Every example script, as target/scripts/<name>.wasm: the Rust ones with cargo, in one
/// workspace; the C and AssemblyScript ones with `cannonball build`, as users build theirs.
pub fn scripts() -> Result<()> {
    let tree = Tree::source();
    let root = tree.root();
    let examples = root.join("example-scripts");
    let ScriptDirs { rust, c, assemblyscript } = script_dirs(&examples)?;
    fs::create_dir_all(tree.scripts())?;

    ensure_rust_target("wasm32-wasip2")?;
    eprintln!("xtask: building the Rust example scripts");
    let wasm_target = tree.target().join("wasm");
    run(cargo().current_dir(root).args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"]).args([
        "--manifest-path".as_ref(),
        examples.join("Cargo.toml").as_os_str(),
        "--target-dir".as_ref(),
        wasm_target.as_os_str(),
    ]))?;
    for name in rust {
        let built = wasm_target.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
        let dest = tree.script(&name);
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
        cannonball_build(&tree, &examples, &c)?;
    }

    if !assemblyscript.is_empty() {
        // node and npm run the AssemblyScript compiler (an npm package the build installs).
        // Debian's packages only when they are missing: a nodejs from elsewhere bundles npm.
        if !Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success()) {
            run(Command::new(root.join("qemu/deps.sh")).args(["nodejs", "npm"]))?;
        }
        eprintln!("xtask: building the AssemblyScript example scripts");
        cannonball_build(&tree, &examples, &assemblyscript)?;
    }
    Ok(())
}

/// `cannonball build example-scripts/NAME -o target/scripts/NAME.wasm` for each name, with
/// the command built first.
fn cannonball_build(tree: &Tree, examples: &Path, names: &[String]) -> Result<()> {
    run(cargo().current_dir(tree.root()).args(["build", "--release", "--quiet", "-p", "cannonball-cli"]))?;
    split_debug(&tree.cli())?;
    for name in names {
        run(Command::new(tree.cli()).arg("build").arg(examples.join(name)).arg("-o").arg(tree.script(name)))?;
    }
    Ok(())
}

/// The example script directories by language ([`Lang::detect`]).
struct ScriptDirs {
    rust: Vec<String>,
    c: Vec<String>,
    assemblyscript: Vec<String>,
}

fn script_dirs(dir: &Path) -> Result<ScriptDirs> {
    let (mut rust, mut c, mut assemblyscript) = (Vec::new(), Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match Lang::detect(&path)? {
            Some(Lang::Rust) => rust.push(name),
            Some(Lang::C) => c.push(name),
            Some(Lang::AssemblyScript) => assemblyscript.push(name),
            None => {}
        }
    }
    rust.sort();
    c.sort();
    assemblyscript.sort();
    Ok(ScriptDirs { rust, c, assemblyscript })
}

/// The guest programs in tests/programs/*.c, compiled for x86_64 into target/programs/.
/// Not position-independent, so that their addresses match `objdump` and `readelf` output.
pub fn programs() -> Result<()> {
    let tree = Tree::source();
    let src_dir = tree.root().join("tests/programs");
    fs::create_dir_all(tree.programs())?;
    run(Command::new(tree.root().join("qemu/deps.sh")).args(["gcc", "libc6-dev"]))?;
    for entry in fs::read_dir(&src_dir)? {
        let src = entry?.path();
        if src.extension().is_none_or(|e| e != "c") {
            continue;
        }
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let out = tree.program(&name);
        if is_newer(&out, &src) {
            continue;
        }
        eprintln!("xtask: compiling tests/programs/{name}.c");
        run(Command::new("gcc").args(["-O1", "-g", "-pthread", "-no-pie", "-o"]).arg(&out).arg(&src))?;
    }
    Ok(())
}

fn is_newer(out: &Path, src: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(out), modified(src)), (Some(o), Some(s)) if o >= s)
}
