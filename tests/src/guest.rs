//! Running one guest command line twice, exactly the same way, under plain QEMU and under
//! QEMU with plugins, and comparing what the guest did: its exit status (a code, or the signal
//! it died of), its output, and QEMU's plugins' counts against the script's.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use cannonball_launcher::QemuCommand;

use crate::census::{self, Census};
use crate::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, qemu, script};

/// A guest command line with its whole environment, working directory and input.
#[derive(Clone, Debug)]
pub struct Guest {
    /// QEMU's target name (`qemu-<arch>`): x86_64 unless [`Guest::foreign`] says otherwise.
    pub arch: String,
    /// QEMU's `-L`: where a foreign program's dynamic loader and libraries are.
    pub library_root: Option<PathBuf>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub stdin: Vec<u8>,
}

impl Guest {
    /// A guest with a small fixed environment (no variable of the caller leaks in).
    pub fn new(program: impl Into<PathBuf>, args: &[&str], cwd: &Path) -> Guest {
        Guest {
            arch: "x86_64".into(),
            library_root: None,
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("LC_ALL".into(), "C".into()),
                ("HOME".into(), cwd.display().to_string()),
                ("TZ".into(), "UTC".into()),
                ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
                ("PYTHONHASHSEED".into(), "0".into()),
            ],
            cwd: cwd.to_path_buf(),
            stdin: Vec::new(),
        }
    }

    /// Runs under `qemu-<arch>` with the cross toolchain's library root.
    pub fn foreign(mut self, cross: &crate::cross::Cross) -> Guest {
        self.arch = cross.arch.into();
        self.library_root = Some(cross.sysroot());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Guest {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `qemu-ARCH [-L ROOT] [-d plugin -D LOG] [-plugin P]... program args`, environment
    /// cleared and set to the guest's, stdin/stdout/stderr not yet configured.
    pub fn command(&self, plugins: &[String], log: Option<&Path>) -> Command {
        let mut launch = QemuCommand::new(qemu(&self.arch), &self.program)
            .library_root(self.library_root.as_ref())
            .plugins(plugins.iter().cloned());
        if let Some(log) = log {
            launch = launch.plugin_log(log);
        }
        let mut cmd = launch.args(&self.args).command();
        cmd.current_dir(&self.cwd).env_clear();
        // The capture path under test (`cargo xtask test` runs the oracle tests on both):
        // QEMU reads it, the guest sees it in its environment too, and so does the oracle's
        // run in the same process.
        if let Some(path) = std::env::var_os("CANNONBALL_CAPTURE") {
            cmd.env("CANNONBALL_CAPTURE", path);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the guest to its end.
    pub fn run(&self, plugins: &[String], log: Option<&Path>) -> GuestRun {
        let mut child = self
            .command(plugins, log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start qemu");
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let watchdog = crate::watchdog::Watchdog::start(child.id(), format!("{}", self.program.display()));
        let output = child.wait_with_output().unwrap();
        watchdog.finish();
        feeder.join().unwrap();
        GuestRun {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            log: log.map(|l| std::fs::read_to_string(l).unwrap_or_default()).unwrap_or_default(),
        }
    }
}

pub struct GuestRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// QEMU's `-d plugin` log: what QEMU's C plugins printed.
    pub log: String,
}

/// How a process ended: `exit N` or `signal N`, comparable across runs.
pub fn ending(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => format!("{status:?}"),
    }
}

/// The guest's stderr without the lines the plugin itself printed there (`cannonball: ...`
/// and `[script] ...`).
pub fn guest_stderr(stderr: &str, script_name: &str) -> String {
    let prefix = format!("[{script_name}] ");
    stderr
        .lines()
        .filter(|l| !l.starts_with("cannonball: ") && !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// QEMU's oracles for one process: libinsn, libbb and libmem (reads, writes) totals,
/// libsyscall's table.
pub type Oracle = oracle::Process;

/// The oracles loaded before libcannonball.so: libinsn, libbb, libmem twice (reads, then
/// writes: copies of the library in `work`, as one library loads once), libsyscall. `inline`
/// makes libinsn, libbb and libmem count with inline operations (much faster, still exact: an
/// inline add precedes each instruction, each block's entry, and follows each access).
pub fn oracle_plugins(inline: bool, work: &TempDir) -> Vec<String> {
    let opt = |on: bool| if on { vec!["inline=true".to_string()] } else { vec![] };
    let mem = |track: &str| {
        let copy = work.join(&format!("libmem_{track}.so"));
        std::fs::copy(oracle_plugin("mem"), &copy).unwrap();
        let mut options = vec![format!("track={track}")];
        options.extend(if inline { opt(true) } else { vec!["callback=true".to_string()] });
        plugin_arg(&copy, &options)
    };
    vec![
        plugin_arg(&oracle_plugin("insn"), &opt(inline)),
        plugin_arg(&oracle_plugin("bb"), &opt(inline)),
        mem("r"),
        mem("w"),
        plugin_arg(&oracle_plugin("syscall"), &[]),
    ]
}

/// Per-process oracle sections of a log, in exit order.
pub fn oracles(log: &str) -> Vec<Oracle> {
    oracle::sections(log).iter().map(|s| Oracle::of(s)).collect()
}

/// A guest run under plain QEMU and under the oracles plus census at once.
pub struct Compared {
    pub plain: GuestRun,
    pub observed: GuestRun,
    /// How many processes QEMU's plugins reported (oracle sections).
    pub sections: usize,
    /// The oracles of the last process to exit: the guest's first process when it waits for
    /// all its children. (Children that exit at once interleave their lines in the shared
    /// log, so only the last section, written after every child's, is read.)
    pub main: Option<Oracle>,
    pub out: PathBuf,
    pub census: Option<Census>,
    /// Report file names in `out`.
    pub reports: Vec<String>,
}

impl Compared {
    /// The main process ended the same way and wrote the same stdout (and stderr if
    /// `stderr_too`: some guests print timings or counts there).
    pub fn assert_guest_unchanged(&self, stderr_too: bool) {
        assert_eq!(
            ending(&self.observed.status),
            ending(&self.plain.status),
            "the guest ends as under plain QEMU\nplain stderr:\n{}\nobserved stderr:\n{}",
            self.plain.stderr,
            self.observed.stderr
        );
        assert_eq!(self.observed.stdout, self.plain.stdout, "the guest's stdout is unchanged");
        if stderr_too {
            assert_eq!(
                guest_stderr(&self.observed.stderr, "census"),
                self.plain.stderr,
                "the guest's stderr is unchanged"
            );
        }
    }

    /// census.txt (the first process) equals the last oracle section exactly.
    pub fn assert_counts_exact(&self) {
        let c = self.census.as_ref().unwrap_or_else(|| {
            panic!("census.txt was not written; reports: {:?}\nstderr:\n{}", self.reports, self.observed.stderr)
        });
        let o = self.main.as_ref().unwrap_or_else(|| panic!("no oracle section in:\n{}", self.observed.log));
        assert_census_equals(c, o, "the process");
    }

    /// For a guest that forks once and whose parent runs `parent_tail` after the fork
    /// (tests/programs/fork_counted.c): the child's census equals its own part of QEMU's
    /// plugins' sections ([`oracle::Process::forked_child_own`]).
    pub fn assert_forked_child_exact(&self, parent_tail: &Oracle) {
        let sections = oracles(&self.observed.log);
        assert_eq!(sections.len(), 2, "the child's section, then the parent's:\n{}", self.observed.log);
        let own = sections[0].forked_child_own(&sections[1], parent_tail);
        let name = self
            .reports
            .iter()
            .find(|r| r.starts_with("census.") && r.ends_with(".txt") && *r != "census.txt")
            .unwrap_or_else(|| panic!("no child's census in {:?}", self.reports));
        let text = std::fs::read_to_string(self.out.join(name)).unwrap();
        assert_census_equals(&crate::census::parse(&text), &own, "the forked child");
    }
}

/// Every count census reports for a process (`who`, named in messages) equals QEMU's plugins'
/// for it: instructions (libinsn), block executions (libbb), memory reads and writes (libmem),
/// system calls and their errors (libsyscall).
pub fn assert_census_equals(c: &Census, o: &Oracle, who: &str) {
    assert_eq!(c.get("instructions"), o.insns, "{who}: instruction total = libinsn");
    assert_eq!(c.get("trace-instructions"), o.insns, "{who}: instructions of the trace = libinsn");
    assert_eq!(c.get("block-counts-total"), o.bbs, "{who}: inline block counts = libbb");
    assert_eq!(c.get("block-execs"), o.bbs, "{who}: block executions of the trace = libbb");
    assert_eq!(c.get("mem-reads"), o.reads, "{who}: memory read events = libmem track=r");
    assert_eq!(c.get("mem-writes"), o.writes, "{who}: memory write events = libmem track=w");
    assert_eq!(c.get("order-errors"), 0, "{who}: every memory access points at the block execution it ran in");
    let ours: std::collections::BTreeMap<i64, (u64, u64)> =
        c.syscalls.iter().map(|(&n, &(calls, errors, _))| (n, (calls, errors))).collect();
    assert_eq!(ours, o.syscalls, "{who}: system calls by number, (calls, errors) = libsyscall");
    assert_eq!(c.get("threads-started"), c.get("threads-exited"), "{who}: each thread start has its exit");
}

/// Census kinds used for real programs: the trace, memory accesses (without their values,
/// which census does not read), system calls, threads and inline block counts.
pub const CENSUS_KINDS: &str = "kinds=trace+memory+syscalls+threads+block-counts";

/// Runs `guest` under plain QEMU, then under the oracles and census in one QEMU process.
pub fn compare(guest: &Guest, work: &TempDir, inline_oracles: bool) -> Compared {
    let plain = guest.run(&[], None);
    let out = work.join("out");
    let log = work.join("oracles.log");
    let mut plugins = oracle_plugins(inline_oracles, work);
    plugins.push(plugin_arg(
        &plugin(),
        &[
            format!("script={}", script("census").display()),
            format!("out={}", out.display()),
            CENSUS_KINDS.into(),
            "values=false".into(),
        ],
    ));
    let observed = guest.run(&plugins, Some(&log));
    let all = oracle::sections(&observed.log);
    let main = all.last().map(|s| Oracle::of(s));
    let sections = all.len();
    let reports = report_names(&out);
    let census = std::fs::read_to_string(out.join("census.txt")).ok().map(|t| census::parse(&t));
    Compared { plain, observed, sections, main, out, census, reports }
}

/// The file names in a report directory, sorted (empty when it does not exist).
pub fn report_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}
