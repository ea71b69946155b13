//! `cargo xtask demo` and `cargo xtask test`.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};
use cannonball_launcher::{QemuCommand, Tree, plugin_arg};

use crate::build;

/// Runs `script` on the bundled demo program and prints its report `report`.
fn run_on_demo(script: &str, report: &str) -> Result<()> {
    let tree = Tree::source();
    let out = tree.target().join("demo");
    fs::create_dir_all(&out)?;
    let plugin = plugin_arg(
        &tree.plugin(),
        [format!("script={}", tree.script(script).display()), format!("out={}", out.display())],
    )?;
    eprintln!("\n$ qemu-x86_64 -plugin libcannonball.so,script={script}.wasm,out=target/demo target/programs/demo\n");
    build::run(&mut QemuCommand::new(tree.qemu("x86_64"), tree.program("demo")).plugin(plugin).command())?;
    let path = out.join(report);
    let text = fs::read_to_string(&path).with_context(|| format!("the script wrote no {}", path.display()))?;
    println!("\n{}:\n\n{text}", path.display());
    Ok(())
}

/// Coverage, the headline job: every function of the demo program that ran, its
/// disassembly with hit counts; then the instruction totals.
pub fn demo() -> Result<()> {
    build::all()?;
    let _ = fs::remove_dir_all(Tree::source().target().join("demo"));
    run_on_demo("cov", "cov.txt")?;
    run_on_demo("icount", "icount.txt")?;
    pictures()
}

/// The pictures the demo made, one line each: what, where, how to open it.
fn pictures() -> Result<()> {
    let demo = Tree::source().target().join("demo");
    let mut made = Vec::new();
    // genhtml's pages of cov.info (docs/pictures-lcov.md).
    let html = demo.join("lcov-html");
    if build::run(
        Command::new("genhtml").arg("--quiet").arg("--output-directory").arg(&html).arg(demo.join("cov.info")),
    )
    .is_ok()
    {
        made.push(("source-line coverage (genhtml)", html.join("index.html")));
    }
    println!("\nPictures (open in a browser):");
    for (what, path) in made {
        println!("  {what}: file://{}", path.display());
    }
    Ok(())
}

pub fn test(args: &[String]) -> Result<()> {
    build::all()?;
    // Oracles the tests compare with: strace for the syscalls example, and Debian's cross
    // compilers (with their C libraries, only recommended by the compiler packages) for the
    // foreign guests. Then the programs nobody here wrote that real_programs.rs runs (CPython
    // with its own test suite, coreutils, tar, find, bash), each by name: deps.sh installs
    // without recommends.
    let root = Tree::source().root().to_path_buf();
    let mut packages: Vec<String> =
        ["strace", "python3.11", "libpython3.11-testsuite", "coreutils", "tar", "findutils", "bash"]
            .map(String::from)
            .to_vec();
    // The pictures' tests (lcov.rs): lcov (genhtml, and gcov's counts as the oracle), Chromium
    // to render the pages headless, a font for its screenshots; binutils for the debug-file
    // test's objcopy, strip and readelf.
    packages.extend(["lcov", "chromium", "fonts-dejavu-core", "binutils"].map(String::from));
    for target in crate::preflight::foreign_targets() {
        packages.push(format!("gcc-{}", target.triple));
        packages.push(format!("libc6-dev-{}-cross", target.deb));
    }
    build::run(Command::new(root.join("qemu/deps.sh")).args(&packages))?;
    crate::preflight::check()?;
    eprintln!("xtask: running the tests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build::run(Command::new(cargo).current_dir(&root).args(["test", "--release", "--workspace"]).args(args))
}
