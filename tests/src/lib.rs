//! Helpers for the end-to-end tests: where the artifacts are, how to run the real QEMU with
//! libcannonball.so and with QEMU's own plugins (the oracles), and how to read their output.
//!
//! Artifacts come from `cargo xtask build` (see README); the tests never build QEMU themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use cannonball_launcher::{self as launcher, Tree};

pub mod browser;
pub mod census;
pub mod cov;
pub mod cross;
pub mod guest;
pub mod kernel_boot;
pub mod ltrace;
pub mod objdump;
pub mod oracle;
pub mod shards;
pub mod strace;
pub mod system;
pub mod watchdog;

/// The workspace root.
pub fn root() -> PathBuf {
    Tree::source().root().to_path_buf()
}

fn artifact(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run `cargo xtask build` (or `cargo xtask test`)", path.display());
    path
}

pub fn qemu(arch: &str) -> PathBuf {
    artifact(Tree::source().qemu(arch))
}

pub fn plugin() -> PathBuf {
    artifact(Tree::source().plugin())
}

/// One of QEMU's C plugins, e.g. `oracle_plugin("insn")` for libinsn.so.
pub fn oracle_plugin(name: &str) -> PathBuf {
    artifact(Tree::source().qemu_plugin(name))
}

/// libmem.so loaded twice, counting reads then writes with a callback per access
/// (`oracle::mem_reads_writes` reads their lines). QEMU loads a path once, so the second
/// instance is a copy in `work`.
pub fn libmem_reads_writes(work: &TempDir) -> [String; 2] {
    let (reads, writes) = (work.join("libmem_r.so"), work.join("libmem_w.so"));
    std::fs::copy(oracle_plugin("mem"), &reads).unwrap();
    std::fs::copy(oracle_plugin("mem"), &writes).unwrap();
    [
        plugin_arg(&reads, &["track=r".into(), "callback=true".into()]),
        plugin_arg(&writes, &["track=w".into(), "callback=true".into()]),
    ]
}

/// QEMU's libinsn, libbb and libmem (reads, writes), then census with `kinds` writing to
/// `out`: the plugins of a run whose counts, trace and memory are compared exactly.
pub fn census_with_oracles(work: &TempDir, out: &Path, kinds: &str) -> Vec<String> {
    let mut plugins = vec![plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&oracle_plugin("bb"), &[])];
    plugins.extend(libmem_reads_writes(work));
    plugins.push(plugin_arg(
        &plugin(),
        &[format!("script={}", script("census").display()), format!("out={}", out.display()), format!("kinds={kinds}")],
    ));
    plugins
}

/// The `cannonball` command.
pub fn cli() -> PathBuf {
    artifact(Tree::source().cli())
}

pub fn script(name: &str) -> PathBuf {
    artifact(Tree::source().script(name))
}

pub fn program(name: &str) -> PathBuf {
    artifact(Tree::source().program(name))
}

/// `cannonball new --lang LANG NAME` in `work`, its source file `source` replaced by
/// tests/fixtures/sdk_units/`fixture`, then `cannonball build NAME`: the script as a user of the
/// C or AssemblyScript SDK builds it.
pub fn build_sdk_fixture(lang: &str, name: &str, fixture: &str, source: &str, work: &TempDir) -> PathBuf {
    let run = |args: &[&str]| {
        let out = watchdog::output(Command::new(cli()).args(args).current_dir(work.path()));
        assert!(out.status.success(), "cannonball {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["new", "--lang", lang, name]);
    std::fs::copy(root().join("tests/fixtures/sdk_units").join(fixture), work.join(name).join(source)).unwrap();
    let wasm = format!("{name}.wasm");
    run(&["build", name, "-o", &wasm]);
    work.join(&wasm)
}

/// A fresh directory under target/test-tmp/, removed when dropped, except by a failing test:
/// its QEMU log, reports and outputs stay for a look (the path is printed), since a rare
/// failure may not come back.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Tree::source().target().join("test-tmp").join(format!("{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failing test's directory {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `-plugin` argument: the library and its `key=value` options ([`launcher::plugin_arg`];
/// the tests' options never hold a comma).
pub fn plugin_arg(lib: &Path, options: &[String]) -> String {
    launcher::plugin_arg(lib, options).unwrap()
}

/// `qemu-<arch> -d plugin -D <log> -plugin P1 -plugin P2 ... program args`, for [`run_qemu`]
/// and the tests that need to start QEMU themselves.
pub fn qemu_command(arch: &str, plugins: &[String], program: &Path, args: &[&str], log: &Path) -> Command {
    launcher::QemuCommand::new(qemu(arch), program)
        .plugin_log(log)
        .plugins(plugins.iter().cloned())
        .args(args)
        .command()
}

/// The result of one QEMU run.
pub struct QemuRun {
    pub output: Output,
    /// What plugins printed with `qemu_plugin_outs` (QEMU's `-d plugin -D FILE`).
    pub plugin_log: String,
}

impl QemuRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs `qemu-<arch> -d plugin -D <log> -plugin P1 -plugin P2 ... program args`.
/// Several plugins in one run see the very same execution, which is what makes exact
/// comparisons against QEMU's own plugins possible even for multi-threaded guests.
pub fn run_qemu(arch: &str, plugins: &[String], program: &Path, args: &[&str], work: &TempDir) -> QemuRun {
    run_qemu_env(arch, plugins, program, args, work, &[])
}

/// [`run_qemu`] with variables added to QEMU's environment.
pub fn run_qemu_env(
    arch: &str,
    plugins: &[String],
    program: &Path,
    args: &[&str],
    work: &TempDir,
    env: &[(&str, &str)],
) -> QemuRun {
    let log = work.join("qemu-plugin.log");
    let mut cmd = qemu_command(arch, plugins, program, args, &log);
    cmd.current_dir(work.path());
    // A stable environment: the guest's work must not depend on the caller's locale.
    cmd.env("LC_ALL", "C").env_remove("RUST_BACKTRACE").envs(env.iter().copied());
    let output = watchdog::output(&mut cmd);
    let plugin_log = std::fs::read_to_string(&log).unwrap_or_default();
    QemuRun { output, plugin_log }
}

/// Parses `key value` lines of a report into pairs.
pub fn report_lines(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// `cannonball dump --count` listening on a fresh socket in `work`, its totals going to a
/// file: (the dump process, the socket, the totals file). Returns once it listens.
pub fn start_dump(work: &TempDir) -> (watchdog::Watched, PathBuf, PathBuf) {
    start_dump_with(work, &["--count"])
}

/// As [`start_dump`], with `cannonball dump`'s own options (none: every event as a JSON line).
pub fn start_dump_with(work: &TempDir, options: &[&str]) -> (watchdog::Watched, PathBuf, PathBuf) {
    let sock = work.join("s.sock");
    let out = work.join("dump.json");
    let child = watchdog::spawn(
        Command::new(cli())
            .arg("dump")
            .args(options)
            .arg("--sock")
            .arg(&sock)
            .arg("-o")
            .arg(&out)
            .env_remove("RUST_BACKTRACE")
            .stderr(std::process::Stdio::piped()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sock.exists() {
        assert!(std::time::Instant::now() < deadline, "dump did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, sock, out)
}
