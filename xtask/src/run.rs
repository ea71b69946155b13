//! `cargo xtask demo` and `cargo xtask test`.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};
use cannonball_launcher::{QemuCommand, Tree, plugin_arg};

use crate::build;

/// Runs `script` on the bundled demo program and prints its report `report`.
fn run_on_demo(script: &str, report: &str) -> Result<()> {
    let path = run_script_on_demo(script, report)?;
    let text = fs::read_to_string(&path).with_context(|| format!("the script wrote no {}", path.display()))?;
    println!("\n{}:\n\n{text}", path.display());
    Ok(())
}

/// Runs `script` on the demo program into target/demo; returns the path of its `report`.
fn run_script_on_demo(script: &str, report: &str) -> Result<std::path::PathBuf> {
    let tree = Tree::source();
    let out = tree.target().join("demo");
    fs::create_dir_all(&out)?;
    let plugin = plugin_arg(
        &tree.plugin(),
        [format!("script={}", tree.script(script).display()), format!("out={}", out.display())],
    )?;
    eprintln!("\n$ qemu-x86_64 -plugin libcannonball.so,script={script}.wasm,out=target/demo target/programs/demo\n");
    build::run(&mut QemuCommand::new(tree.qemu("x86_64"), tree.program("demo")).plugin(plugin).command())?;
    Ok(out.join(report))
}

/// Coverage, the headline job: every function of the demo program that ran, its
/// disassembly with hit counts; then the instruction totals and a profile; then the pictures
/// the scripts drew, and how to open them.
pub fn demo() -> Result<()> {
    build::all()?;
    let out = Tree::source().target().join("demo");
    let _ = fs::remove_dir_all(&out);
    run_on_demo("cov", "cov.txt")?;
    run_on_demo("icount", "icount.txt")?;
    run_on_demo("profile", "profile.txt")?;
    // A trace file, not a text report: not printed.
    run_script_on_demo("timeline", "timeline.json")?;
    pictures()
}

/// The pictures the demo made, one line each: what, where, how to open it.
fn pictures() -> Result<()> {
    let demo = Tree::source().target().join("demo");
    let mut made = Vec::new();
    // genhtml's pages of cov.info (docs/pictures-lcov.md); genhtml is Debian's lcov.
    build::run(Command::new(Tree::source().root().join("qemu/deps.sh")).arg("lcov"))?;
    let html = demo.join("lcov-html");
    if build::run(
        Command::new("genhtml").arg("--quiet").arg("--output-directory").arg(&html).arg(demo.join("cov.info")),
    )
    .is_ok()
    {
        made.push(("source-line coverage (genhtml, docs/pictures-lcov.md)", html.join("index.html")));
    }
    made.push(("coverage listing, heat-colored and sortable (docs/pictures-html.md)", demo.join("cov.html")));
    made.push(("flame graph of instructions per call stack (docs/pictures-flamegraph.md)", demo.join("profile.svg")));
    println!("\nPictures (open them in a browser, e.g. `chromium FILE`):");
    for (what, path) in made.into_iter().filter(|(_, p)| p.exists()) {
        println!("  {what}:\n    file://{}", path.display());
    }
    let timeline = demo.join("timeline.json");
    if timeline.exists() {
        println!(
            "  system calls and threads on an instruction clock (docs/pictures-timeline.md): open it in\n  \
             https://ui.perfetto.dev (\"Open trace file\") or chrome://tracing (\"Load\"):\n    {}",
            timeline.display()
        );
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
        ["strace", "python3.11", "libpython3.11-testsuite", "python3-venv", "coreutils", "tar", "findutils", "bash"]
            .map(String::from)
            .to_vec();
    // The pictures' tests (lcov.rs, cov_html.rs, profile.rs): lcov (genhtml, and gcov's counts
    // as the oracle), Chromium to render the pages headless as a person would see them, a font
    // for its screenshots; binutils for the debug-file test's objcopy, strip and readelf.
    packages.extend(["lcov", "chromium", "fonts-dejavu-core", "binutils"].map(String::from));
    // A real Slurm on loopback for the documented job array (slurm.rs): the daemons, the
    // client commands, munge for their authentication.
    packages.extend(["slurmctld", "slurmd", "slurm-client", "munge"].map(String::from));
    // ltrace: the oracle of library calls for the probes (probes.rs).
    packages.push("ltrace".into());
    // A real OCI registry on loopback and an independent client of it (sharing.rs).
    packages.extend(["docker-registry", "skopeo"].map(String::from));
    // Java for PySpark (parquet.rs runs docs/parquet.md's queries in Spark SQL too).
    packages.push("openjdk-17-jre-headless".into());
    for target in crate::preflight::foreign_targets() {
        packages.push(format!("gcc-{}", target.triple));
        packages.push(format!("libc6-dev-{}-cross", target.deb));
    }
    build::run(Command::new(root.join("qemu/deps.sh")).args(&packages))?;
    // DuckDB and PySpark read the Parquet files of `cannonball dump --parquet` in
    // tests/tests/parquet.rs; kubernetes-validate checks the docs' manifests in
    // tests/tests/kubernetes.rs.
    crate::python::ensure_packages()?;
    crate::preflight::check()?;
    eprintln!("xtask: running the tests");
    // The example scripts' own unit tests (call and return rules of every architecture, HTML
    // escaping) run on the host: the scripts' workspace builds for wasm32-wasip2 otherwise.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build::run(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--quiet", "--workspace", "--manifest-path", "example-scripts/Cargo.toml", "--target-dir"])
            .arg(Tree::source().target().join("host-examples")),
    )?;
    // The Rust SDK's own logic (trace expansion, branches, arguments), the same way; the C and
    // AssemblyScript SDKs' are tested through scripts built with them (tests/tests/sdk_units.rs).
    build::run(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--quiet", "-p", "cannonball-sdk", "--manifest-path", "example-scripts/Cargo.toml"])
            .arg("--target-dir")
            .arg(Tree::source().target().join("host-examples")),
    )?;
    // Compiled scripts go to a cache of the tests' own, not the user's ~/.cache/cannonball.
    let cache = Tree::source().target().join("test-cache");
    // --no-fail-fast: one run reports every failing test binary, not only the first.
    build::run(
        Command::new(&cargo)
            .current_dir(&root)
            .env("XDG_CACHE_HOME", &cache)
            .args(["test", "--release", "--no-fail-fast", "--workspace"])
            .args(args),
    )?;
    // Our QEMU appends trace and memory events in generated code (qemu/patches/0006-*); a
    // QEMU without the patch gets callbacks. Both must hold: the tests that compare captured
    // events with QEMU's plugins, strace and known output, and the containment tests, run
    // again with the plugin told to act as on a QEMU without them.
    if args.is_empty() {
        eprintln!(
            "xtask: the event oracle and containment tests again on the fallback path (CANNONBALL_CAPTURE=callbacks)"
        );
        let mut again = Command::new(cargo);
        again.current_dir(&root).env("XDG_CACHE_HOME", &cache).env("CANNONBALL_CAPTURE", "callbacks");
        again.args(["test", "--release", "--no-fail-fast", "-p", "cannonball-tests"]);
        for test in CALLBACK_PATH_TESTS {
            again.args(["--test", test]);
        }
        build::run(&mut again)?;
    }
    Ok(())
}

/// Test files whose oracles check trace, memory and system call events, and the containment
/// tests (run on both paths; real_programs, CPython's suites among them, adds about 5 minutes).
const CALLBACK_PATH_TESTS: &[&str] = &[
    "containment",
    "real_programs",
    "corpus",
    "capture",
    "examples",
    "foreign_examples",
    "icount",
    "syscalls_example",
    "foreign_syscalls",
    "profile",
    "lcov",
    "stripped",
    "foreign",
    "signals",
    "stopped_runs",
    "forward",
    "parquet",
    "guest_edge_cases",
    "filter",
    "syscall_data",
    "timeline",
    "system",
    "system_traps",
    "discontinuities",
    "failed_exec",
    "memory_info",
    "many_threads",
    "jit",
    "system_sdks",
    "spawn_and_dlopen",
    "probes",
];
