//! Every event kind against QEMU's own plugins, loaded into the same run as libcannonball.so
//! with the census script: libinsn (instructions, one callback per instruction), libbb (block
//! executions), libmem twice (reads, writes; one callback per access), libsyscall (calls and
//! errors by number).

use std::path::{Path, PathBuf};

use cannonball_tests::census::{self, Census};
use cannonball_tests::{QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu_env, script};

/// What QEMU's plugins counted for one process.
type Oracle = oracle::Process;

struct Observed {
    run: QemuRun,
    /// One per process, in exit order.
    oracles: Vec<Oracle>,
    out: PathBuf,
    _work: TempDir,
}

impl Observed {
    fn census(&self, name: &str) -> Census {
        let path = self.out.join(name);
        census::parse(&std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} missing", path.display())))
    }

    fn reports(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("census"))
            .collect();
        names.sort();
        names
    }
}

fn observe(program: &Path, args: &[&str], census_args: &[&str]) -> Observed {
    observe_env(program, args, census_args, &[])
}

fn observe_env(program: &Path, args: &[&str], census_args: &[&str], env: &[(&str, &str)]) -> Observed {
    let work = TempDir::new("capture");
    let out = work.join("out");
    let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
    let mut options = vec![format!("script={}", script("census").display()), format!("out={}", out.display())];
    options.extend(census_args.iter().map(|s| s.to_string()));
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        mem_r,
        mem_w,
        plugin_arg(&oracle_plugin("syscall"), &[]),
        plugin_arg(&oracle_plugin("bb"), &[]),
        plugin_arg(&plugin(), &options),
    ];
    let run = run_qemu_env("x86_64", &plugins, program, args, &work, env);
    let oracles = oracle::sections(&run.plugin_log).iter().map(|s| Oracle::of(s)).collect();
    Observed { run, oracles, out, _work: work }
}

/// Every count of one process equals QEMU's plugins' count, the inline memory counts too.
fn assert_matches(c: &Census, o: &Oracle) {
    cannonball_tests::guest::assert_census_equals(c, o, "the process");
    assert_eq!(c.get("inline-reads"), o.reads, "inline read counts (libmem track=r)");
    assert_eq!(c.get("inline-writes"), o.writes, "inline write counts (libmem track=w)");
}

/// Only exit (60) and exit_group (231) may stay unreturned on x86_64.
fn assert_pairing(c: &Census) {
    for (&num, &(_, _, unreturned)) in &c.syscalls {
        if unreturned > 0 {
            assert!(num == 60 || num == 231, "syscall {num} never returned {unreturned} times");
        }
    }
}

#[test]
fn single_threaded_program() {
    let obs = observe(&program("demo"), &[], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    assert_eq!(obs.oracles.len(), 1);
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    assert_pairing(&c);
    assert_eq!(c.syscalls[&231], (1, 0, 1), "exit_group: one call, never returned");
    assert_eq!(c.get("threads-started"), 1);
}

#[test]
fn eight_threads() {
    let obs = observe(&program("threads"), &[], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    assert_pairing(&c);
    assert_eq!(c.get("threads-started"), 9, "main and eight workers");
    assert_eq!(c.syscalls[&56].0, 8, "eight clone calls");
}

#[test]
fn bin_ls() {
    let obs = observe(Path::new("/bin/ls"), &["-la", "/usr/share/doc/bash"], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    assert_pairing(&c);
}

#[test]
fn death_by_sigsegv_mid_block() {
    let obs = observe(&program("segv"), &[], &[]);
    assert!(!obs.run.output.status.success());
    assert!(obs.run.stdout().contains("about to crash"));
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    assert!(c.get("mem-writes") > 0);
}

#[test]
fn death_by_sigsegv_without_trace() {
    // Without the trace the host finds the faulting block from its translations.
    let obs = observe(&program("segv"), &[], &["kinds=none"]);
    let c = obs.census("census.txt");
    assert_eq!(c.get("instructions"), obs.oracles[0].insns);
}

#[test]
fn death_by_abort() {
    // SIGABRT arrives as tgkill returns: no block was cut short, nothing to correct.
    let obs = observe(&program("segv"), &["abort"], &[]);
    assert!(!obs.run.output.status.success());
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    let obs = observe(&program("segv"), &["abort"], &["kinds=none"]);
    assert_eq!(obs.census("census.txt").get("instructions"), obs.oracles[0].insns);
}

#[test]
fn fork_gives_each_process_its_own_report() {
    let obs = observe(&program("fork"), &[], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    let stdout = obs.run.stdout();
    assert!(stdout.contains("child: ") && stdout.contains("parent: "), "{stdout}");
    let reports = obs.reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports.contains(&"census.txt".to_string()));
    let child_report = reports.iter().find(|n| *n != "census.txt").unwrap();
    let child_pid: u32 = child_report.trim_start_matches("census.").trim_end_matches(".txt").parse().unwrap();
    assert!(child_pid > 0);

    // The child exits first (the parent waits for it), so its oracle section comes first.
    assert_eq!(obs.oracles.len(), 2);
    let (oracle_child, oracle_parent) = (&obs.oracles[0], &obs.oracles[1]);
    let parent = obs.census("census.txt");
    let child = obs.census(child_report);

    // The parent's report covers exactly the parent's whole run.
    assert_matches(&parent, oracle_parent);
    assert_pairing(&parent);
    assert_pairing(&child);

    // QEMU's plugins in the child also count what the parent did before the fork (their
    // counters are copied); ours start from zero there. So for every count, oracle_child -
    // ours_child is the parent's pre-fork part, which must be positive and smaller than the
    // parent's total, and the same pre-fork part for the trace and the inline totals.
    let pre = |oracle: u64, ours: u64| {
        assert!(ours > 0 && ours < oracle, "child count {ours} vs oracle {oracle}");
        oracle - ours
    };
    let pre_insns = pre(oracle_child.insns, child.get("instructions"));
    assert!(pre_insns < oracle_parent.insns);
    assert_eq!(pre_insns, oracle_child.insns - child.get("trace-instructions"));
    let pre_bbs = pre(oracle_child.bbs, child.get("block-execs"));
    assert!(pre_bbs < oracle_parent.bbs);
    assert_eq!(pre_bbs, oracle_child.bbs - child.get("block-counts-total"));
    let pre_reads = pre(oracle_child.reads, child.get("mem-reads"));
    assert!(pre_reads < oracle_parent.reads);
    // The pre-fork system calls are a part of the parent's, ending with the fork's clone.
    for (num, &(calls, _)) in &oracle_child.syscalls {
        let ours = child.syscalls.get(num).map_or(0, |s| s.0);
        let pre = calls - ours;
        let parent_calls = oracle_parent.syscalls.get(num).map_or(0, |s| s.0);
        assert!(pre <= parent_calls, "syscall {num}: pre-fork {pre} > parent's {parent_calls}");
    }
    assert!(!child.syscalls.contains_key(&56), "the clone belongs to the parent");
    assert_eq!(parent.syscalls[&56].0, 1);
    assert_eq!(child.syscalls[&231], (1, 0, 1), "the child's exit_group");
}

#[test]
fn forked_child_counts_exact_against_the_parents_known_tail() {
    // fork_counted.c's parent runs, after the fork, one block of assembly: 11 instructions in
    // 3 blocks, no memory access, wait4 and exit_group. Subtracting that from QEMU's plugins'
    // parent section gives the pre-fork part their child section starts from.
    let obs = observe(&program("fork_counted"), &[], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    assert!(obs.run.stdout().contains("child: "), "{}", obs.run.stdout());
    let reports = obs.reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let child_report = reports.iter().find(|n| *n != "census.txt").unwrap();
    assert_eq!(obs.oracles.len(), 2, "the child's section, then the parent's");
    let (oracle_child, oracle_parent) = (&obs.oracles[0], &obs.oracles[1]);
    let parent = obs.census("census.txt");
    assert_matches(&parent, oracle_parent);
    let child = obs.census(child_report);
    assert_matches(&child, &oracle_child.forked_child_own(oracle_parent, &oracle::fork_counted_parent_tail("x86_64")));
    assert_pairing(&child);
}

#[test]
fn forks_while_other_threads_start_and_exit() {
    // Two threads keep starting and ending threads while the main thread forks 150 times;
    // every child starts a thread of its own and exits. A fork used to copy a lock that an
    // exiting thread held (QEMU's clone_lock, and our exit lock): the child hung, as in
    // CPython's test_is_alive_after_fork.
    let obs = observe(&program("fork_while_threads_exit"), &["150"], &[]);
    assert_eq!(obs.run.stdout().trim(), "forks 150 hung 0 wrong 0", "{}", obs.run.stderr());
    assert!(obs.run.output.status.success());
    assert_eq!(obs.oracles.len(), 151, "one oracle section per process");
    assert_eq!(obs.reports().len(), 151, "one report per process");
    let parent = obs.census("census.txt");
    assert_matches(&parent, obs.oracles.last().unwrap());
    assert!(parent.get("threads-started") > 150, "threads ran during the forks");
    for name in obs.reports() {
        let child = obs.census(&name);
        assert_eq!(child.get("threads-started"), child.get("threads-exited"), "{name}");
        assert_pairing(&child);
    }
}

#[test]
fn slow_script_loses_nothing() {
    // The script burns time on every block execution, far slower than the eight guest
    // threads produce them: the vCPUs must wait for it (backpressure), and every event
    // still arrives.
    let obs = observe_env(&program("threads"), &[], &["spin=300"], &[("CANNONBALL_PIPELINE_STATS", "1")]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    let stats = obs.run.stderr();
    let line = stats.lines().find(|l| l.starts_with("cannonball: pipeline: ")).unwrap_or_else(|| panic!("{stats}"));
    let waited: u64 = line.split(", ").nth(1).and_then(|w| w.split(' ').next()).unwrap().parse().unwrap();
    assert!(waited > 0, "the channel to the script filled and vCPUs waited: {line}");
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
}

#[test]
fn exit_group_from_a_worker_thread() {
    // Other threads are still running when a worker calls exit(): their buffers are flushed
    // at exit, and every count still equals QEMU's plugins'.
    let obs = observe(&program("exit_from_thread"), &[], &[]);
    assert!(obs.run.output.status.success(), "{}", obs.run.stderr());
    assert!(obs.run.stdout().contains("finisher: "));
    let c = obs.census("census.txt");
    assert_matches(&c, &obs.oracles[0]);
    assert_eq!(c.get("threads-started"), 5);
    assert_eq!(c.syscalls[&231], (1, 0, 1), "one exit_group, never returned");
}

/// One run of `threads` with `oracles` and census (`census_args` added) in the same QEMU, on
/// the capture path `setting` (`CANNONBALL_CAPTURE`, none: our QEMU's default), with the
/// start-up line on: (stderr, the oracles' log, census.txt).
fn run_on_path(setting: Option<&str>, oracles: Vec<String>, census_args: &[String]) -> (String, String, Census) {
    let work = TempDir::new("capture-path");
    let out = work.join("out");
    let mut census = vec![format!("script={}", script("census").display()), format!("out={}", out.display())];
    census.extend(census_args.iter().cloned());
    let mut plugins = oracles;
    plugins.push(plugin_arg(&plugin(), &census));
    let log = work.join("qemu-plugin.log");
    let mut cmd = cannonball_tests::qemu_command("x86_64", &plugins, &program("threads"), &[], &log);
    cmd.current_dir(work.path()).env("LC_ALL", "C").env_remove("RUST_BACKTRACE");
    cmd.env("CANNONBALL_STARTUP_TIMES", "1").env_remove("CANNONBALL_CAPTURE");
    if let Some(setting) = setting {
        cmd.env("CANNONBALL_CAPTURE", setting);
    }
    let output = cannonball_tests::watchdog::output(&mut cmd);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let log = std::fs::read_to_string(&log).unwrap();
    let c = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    (stderr, log, c)
}

/// Our QEMU carries the appending operations (qemu/patches/0006-*): trace and memory events
/// are appended in generated code; `CANNONBALL_CAPTURE=callbacks` (how `cargo xtask test`
/// runs the oracle tests a second time) switches to the callbacks a QEMU without the patch
/// gets, and scripts to explicit bounds checks instead of signal-based traps (patch 0007).
/// Each path reports itself, and both give the oracles' counts.
#[test]
fn both_capture_paths_are_real_and_agree() {
    let paths = [
        (None, "appended in generated code", "signal-based traps"),
        (Some("callbacks"), "callbacks", "explicit bounds checks"),
    ];
    for (setting, path, traps) in paths {
        let work = TempDir::new("capture-oracles");
        let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
        let oracles =
            vec![plugin_arg(&oracle_plugin("insn"), &[]), mem_r, mem_w, plugin_arg(&oracle_plugin("bb"), &[])];
        let (stderr, log, c) = run_on_path(setting, oracles, &[]);
        assert!(stderr.contains(&format!("({path}")), "capture path {path:?} reported: {stderr}");
        // Patch 0007 comes with 0006 here; a QEMU without it gets explicit bounds checks.
        assert!(stderr.contains(&format!("({traps})")), "scripts with {traps}: {stderr}");
        let oracles: Vec<Oracle> = oracle::sections(&log).iter().map(|s| Oracle::of(s)).collect();
        assert_eq!(c.get("trace-instructions"), oracles[0].insns, "{path}: trace = libinsn");
        assert_eq!(c.get("block-execs"), oracles[0].bbs, "{path}: block executions = libbb");
        assert_eq!(c.get("mem-reads"), oracles[0].reads, "{path}: reads = libmem");
        assert_eq!(c.get("mem-writes"), oracles[0].writes, "{path}: writes = libmem");
        assert_eq!(c.get("order-errors"), 0, "{path}: every access in the block execution it ran in");
    }
}

/// A script that declines memory values (`memory-values`, WIT 0.2.3) still gets every
/// access (counts = libmem), on both capture paths, and the capture reports it skips them;
/// one that keeps them (census' default) gets them.
#[test]
fn memory_values_only_for_scripts_that_want_them() {
    for setting in [None, Some("callbacks")] {
        for (values, note) in [("false", "memory without values"), ("true", "memory with values")] {
            let work = TempDir::new("memory-values");
            let oracles = cannonball_tests::libmem_reads_writes(&work).to_vec();
            let args = ["kinds=memory".to_owned(), format!("values={values}")];
            let (stderr, log, c) = run_on_path(setting, oracles, &args);
            assert!(stderr.contains(note), "values={values} {setting:?}: {stderr}");
            let (reads, writes) = oracle::mem_reads_writes(&log);
            assert_eq!((c.get("mem-reads"), c.get("mem-writes")), (reads, writes), "values={values} {setting:?}");
        }
    }
}
