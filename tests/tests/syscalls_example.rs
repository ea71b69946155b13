//! The AssemblyScript example `syscalls` (an strace for guests) on real programs, against two
//! independent oracles: QEMU's libsyscall.so in the same run (calls and errors per number) and
//! strace -f on the native program (Debian package strace): the names of the calls made after
//! the dynamic loader finished, and the fd, length and result of every write().

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_launcher::QemuCommand;
use cannonball_tests::{QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// One line of the trace: `[vcpu N] name(a, b) = ret`.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    vcpu: Option<u32>,
    name: String,
    args: Vec<String>,
    /// None for `= ?` (never returned).
    ret: Option<String>,
}

/// A syscalls.txt: the trace, then the summary rows number -> (name, calls, errors).
struct Report {
    calls: Vec<Call>,
    summary: BTreeMap<i64, (String, u64, u64)>,
    total: (u64, u64),
}

fn parse_report(text: &str) -> Report {
    let (trace, summary) = text.split_once("  calls  errors  number  syscall\n").expect("summary header");
    let calls =
        trace.lines().filter(|l| !l.is_empty()).map(|l| parse_call(l).unwrap_or_else(|| panic!("{l}"))).collect();
    let mut rows = BTreeMap::new();
    let mut total = None;
    for line in summary.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [c, e, "total"] => total = Some((c.parse().unwrap(), e.parse().unwrap())),
            [c, e, n, name] => {
                rows.insert(n.parse().unwrap(), (name.to_string(), c.parse().unwrap(), e.parse().unwrap()));
            }
            _ => panic!("bad summary line {line:?}"),
        }
    }
    Report { calls, summary: rows, total: total.expect("total line") }
}

fn parse_call(line: &str) -> Option<Call> {
    let (vcpu, rest) = match line.strip_prefix("[vcpu ") {
        Some(r) => {
            let (n, rest) = r.split_once("] ")?;
            (Some(n.parse().ok()?), rest)
        }
        None => (None, line),
    };
    let (name, rest) = rest.split_once('(')?;
    let (args, ret) = rest.rsplit_once(") = ")?;
    // Strings may contain ", ": split where strace would.
    let args = cannonball_tests::strace::split_args(args);
    let ret = (ret != "?").then(|| ret.to_owned());
    Some(Call { vcpu, name: name.to_owned(), args, ret })
}

/// Runs `program` under QEMU with libinsn (to split the log per process), libsyscall and the
/// script; returns the run, the out directory and libsyscall's counts per process.
fn observe(program: &Path, args: &[&str], script_args: &[&str], work: &TempDir) -> (QemuRun, PathBuf, Vec<Counts>) {
    let out = work.join("out");
    let mut options = vec![format!("script={}", script("syscalls").display()), format!("out={}", out.display())];
    options.extend(script_args.iter().map(|s| s.to_string()));
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("syscall"), &[]),
        plugin_arg(&plugin(), &options),
    ];
    let run = run_qemu("x86_64", &plugins, program, args, work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let oracles = oracle::sections(&run.plugin_log).iter().map(|s| oracle::syscalls(s)).collect();
    (run, out, oracles)
}

type Counts = BTreeMap<i64, (u64, u64)>;

fn read_report(path: &Path) -> Report {
    parse_report(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The summary's counts equal libsyscall's, and the trace has one line per counted call.
fn assert_counts(report: &Report, oracle: &Counts) {
    let ours: Counts = report.summary.iter().map(|(&n, (_, c, e))| (n, (*c, *e))).collect();
    assert_eq!(&ours, oracle, "calls and errors per system call number (libsyscall)");
    let mut per_name: BTreeMap<&str, u64> = BTreeMap::new();
    for call in &report.calls {
        *per_name.entry(&call.name).or_default() += 1;
    }
    let summary_names: BTreeMap<&str, u64> = report.summary.values().map(|(n, c, _)| (n.as_str(), *c)).collect();
    assert_eq!(per_name, summary_names, "trace lines per name equal the summary");
    let calls: u64 = oracle.values().map(|&(c, _)| c).sum();
    let errors: u64 = oracle.values().map(|&(_, e)| e).sum();
    assert_eq!(report.total, (calls, errors));
}

/// Only exit and exit_group stay unreturned, and they print `= ?`.
fn assert_unreturned(report: &Report) {
    for call in report.calls.iter().filter(|c| c.ret.is_none()) {
        assert!(call.name == "exit" || call.name == "exit_group", "{call:?} never returned");
    }
    assert_eq!(report.calls.last().map(|c| c.name.as_str()), Some("exit_group"));
}

/// `strace -f -qq` of the native program: per pid, the calls (name, args text, result text).
fn strace(program: &Path, args: &[&str], work: &TempDir) -> BTreeMap<u32, Vec<(String, String, String)>> {
    let log = work.join("strace.txt");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg(program)
        .args(args)
        .current_dir(work.path())
        .env("LC_ALL", "C")
        .output()
        .expect("cannot run strace: install the Debian package strace")
        .status;
    assert!(status.success(), "strace {} failed", program.display());
    let mut out: BTreeMap<u32, Vec<(String, String, String)>> = BTreeMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let (pid, rest) = line.split_once(char::is_whitespace).unwrap();
        let rest = rest.trim_start();
        // Signals, exits and the second half of interrupted calls are not calls.
        if rest.starts_with("---") || rest.starts_with("+++") || rest.starts_with("<...") {
            continue;
        }
        let Some((name, tail)) = rest.split_once('(') else { continue };
        let (args, ret) = match tail.rsplit_once(") = ") {
            Some((a, r)) => (a.to_owned(), r.trim().to_owned()),
            None => (tail.to_owned(), "?".to_owned()),
        };
        out.entry(pid.parse().unwrap()).or_default().push((name.to_owned(), args, ret));
    }
    out
}

/// The names of the calls after the dynamic loader's last mprotect (RELRO): from there on,
/// native and emulated runs execute the same libc code.
fn after_loader<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let names: Vec<&str> = names.collect();
    let start = names.iter().rposition(|&n| n == "mprotect").map_or(0, |i| i + 1);
    names[start..].to_vec()
}

/// write() as strace shows it: `1, "text"..., 71` = 71 -> (fd, length, result).
fn strace_writes(calls: &[(String, String, String)]) -> Vec<(String, String, String)> {
    calls
        .iter()
        .filter(|(n, _, _)| n == "write")
        .map(|(_, args, ret)| {
            let fd = args.split(", ").next().unwrap().to_owned();
            let len = args.rsplit(", ").next().unwrap().to_owned();
            (fd, len, ret.clone())
        })
        .collect()
}

fn our_writes(calls: &[Call]) -> Vec<(String, String, String)> {
    calls
        .iter()
        .filter(|c| c.name == "write")
        .map(|c| (c.args[0].clone(), c.args[2].clone(), c.ret.clone().unwrap()))
        .collect()
}

#[test]
fn demo_matches_libsyscall_and_strace() {
    let work = TempDir::new("syscalls-demo");
    let demo = program("demo");
    let (_, out, oracles) = observe(&demo, &[], &[], &work);
    assert_eq!(oracles.len(), 1);
    let report = read_report(&out.join("syscalls.txt"));
    assert_counts(&report, &oracles[0]);
    assert_unreturned(&report);
    assert!(report.calls.iter().all(|c| c.vcpu.is_none()), "one vCPU: no prefixes");
    assert!(report.calls.iter().any(|c| c.name == "access" && c.ret.as_deref() == Some("-1 ENOENT")), "errno names");

    let native = strace(&demo, &[], &work);
    assert_eq!(native.len(), 1, "one process");
    let native = native.values().next().unwrap();
    let ours = after_loader(report.calls.iter().map(|c| c.name.as_str()));
    assert!(ours.len() >= 5, "{ours:?}");
    assert_eq!(
        ours,
        after_loader(native.iter().map(|(n, _, _)| n.as_str())),
        "calls after the dynamic loader (strace)"
    );
    let writes = our_writes(&report.calls);
    assert_eq!(writes, strace_writes(native), "write(fd, _, length) = result (strace)");
    assert_eq!(writes, [("1".to_string(), "71".to_string(), "71".to_string())]);
}

#[test]
fn threads_are_prefixed_and_counted() {
    let work = TempDir::new("syscalls-threads");
    let (_, out, oracles) = observe(&program("threads"), &[], &[], &work);
    let report = read_report(&out.join("syscalls.txt"));
    assert_counts(&report, &oracles[0]);
    assert_unreturned(&report);
    let clones = report.calls.iter().filter(|c| c.name == "clone").count();
    assert_eq!(clones, 8, "eight threads");
    // Once a second vCPU started, every line carries its vCPU.
    let first_prefixed = report.calls.iter().position(|c| c.vcpu.is_some()).expect("prefixed lines");
    assert!(report.calls[first_prefixed..].iter().all(|c| c.vcpu.is_some()));
    assert!(report.calls.iter().any(|c| c.vcpu.is_some_and(|v| v > 0) && c.name == "exit"), "workers exit");
}

#[test]
fn fork_child_gets_its_own_trace() {
    let work = TempDir::new("syscalls-fork");
    let fork = program("fork");
    let (_, out, oracles) = observe(&fork, &[], &[], &work);
    let mut reports: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "syscalls.txt")
        .collect();
    assert_eq!(reports.len(), 1, "one child report: {reports:?}");
    let child = read_report(&out.join(reports.pop().unwrap()));
    let parent = read_report(&out.join("syscalls.txt"));
    // The child exits first, so its libsyscall section comes first.
    assert_eq!(oracles.len(), 2);
    assert_counts(&parent, &oracles[1]);
    assert_unreturned(&parent);
    assert_unreturned(&child);

    // libsyscall's counters in the child start from the parent's at fork time; ours start
    // afresh. The difference is exactly the parent's calls up to and including the fork.
    let fork_at = parent.calls.iter().position(|c| c.name == "clone").expect("fork's clone");
    let mut pre_fork: Counts = BTreeMap::new();
    let number_of = |name: &str| parent.summary.iter().find(|(_, (n, _, _))| n == name).map(|(&k, _)| k).unwrap();
    for call in &parent.calls[..=fork_at] {
        let e = pre_fork.entry(number_of(&call.name)).or_default();
        e.0 += 1;
        e.1 += u64::from(call.ret.as_deref().is_some_and(|r| r.starts_with('-')));
    }
    let mut child_counts: Counts = child.summary.iter().map(|(&n, (_, c, e))| (n, (*c, *e))).collect();
    for (n, (c, e)) in pre_fork {
        let entry = child_counts.entry(n).or_default();
        entry.0 += c;
        entry.1 += e;
    }
    assert_eq!(child_counts, oracles[0], "child + parent before fork = libsyscall in the child");

    let native = strace(&fork, &[], &work);
    assert_eq!(native.len(), 2, "two processes under strace");
    let (&native_parent, _) = native.iter().find(|(_, calls)| calls.iter().any(|(n, _, _)| n == "wait4")).unwrap();
    let native_child = native.iter().find(|&(&pid, _)| pid != native_parent).unwrap().1;
    let child_names: Vec<&str> = child.calls.iter().map(|c| c.name.as_str()).collect();
    let native_child_names: Vec<&str> = native_child.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(child_names, native_child_names, "the child's whole trace (strace)");
    assert_eq!(our_writes(&child.calls), strace_writes(native_child));
    assert_eq!(our_writes(&parent.calls), strace_writes(&native[&native_parent]));
}

#[test]
fn bin_ls() {
    let work = TempDir::new("syscalls-ls");
    let args = ["-la", "/usr/share/doc/bash"];
    let (run, out, oracles) = observe(Path::new("/bin/ls"), &args, &[], &work);
    let report = read_report(&out.join("syscalls.txt"));
    assert_counts(&report, &oracles[0]);
    assert_unreturned(&report);
    let native = strace(Path::new("/bin/ls"), &args, &work);
    let native = native.values().next().unwrap();
    let writes = our_writes(&report.calls);
    assert_eq!(writes, strace_writes(native), "write(fd, _, length) = result (strace)");
    let written: usize = writes.iter().map(|(_, len, _)| len.parse::<usize>().unwrap()).sum();
    assert_eq!(written, run.output.stdout.len());
}

#[test]
fn summary_only_and_help() {
    let work = TempDir::new("syscalls-summary");
    let (_, out, oracles) = observe(Path::new("/bin/true"), &[], &["summary-only=true"], &work);
    let text = std::fs::read_to_string(out.join("syscalls.txt")).unwrap();
    assert!(text.starts_with("  calls  errors  number  syscall\n"), "{text}");
    let report = parse_report(&text);
    assert!(report.calls.is_empty());
    let ours: Counts = report.summary.iter().map(|(&n, (_, c, e))| (n, (*c, *e))).collect();
    assert_eq!(ours, oracles[0], "libsyscall");

    let help = cannonball_tests::watchdog::output(
        &mut QemuCommand::new(cannonball_tests::qemu("x86_64"), "/bin/true")
            .plugin(plugin_arg(&plugin(), &[format!("script={}", script("syscalls").display()), "help=true".into()]))
            .command(),
    );
    let text = String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    assert!(text.contains("summary-only"), "{text}");
}

/// The aarch64 name table, on a static aarch64 build of the demo program (needs the Debian
/// package gcc-aarch64-linux-gnu, which `cargo xtask test` installs). Numbers differ from x86_64 (write is
/// 64, exit_group 94), so matching names and libsyscall's counts checks the table.
#[test]
fn aarch64_names() {
    let work = TempDir::new("syscalls-aarch64");
    let demo = work.join("demo-aarch64");
    let source = cannonball_tests::root().join("tests/programs/demo.c");
    let cc = Command::new("aarch64-linux-gnu-gcc")
        .args(["-O1", "-static", "-o"])
        .arg(&demo)
        .arg(&source)
        .status()
        .expect("aarch64-linux-gnu-gcc not found: install gcc-aarch64-linux-gnu (cargo xtask test does)");
    assert!(cc.success());
    let out = work.join("out");
    let options = [format!("script={}", script("syscalls").display()), format!("out={}", out.display())];
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("syscall"), &[]),
        plugin_arg(&plugin(), &options),
    ];
    let run = run_qemu("aarch64", &plugins, &demo, &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let oracle = oracle::syscalls(&oracle::sections(&run.plugin_log)[0]);
    let report = read_report(&out.join("syscalls.txt"));
    assert_counts(&report, &oracle);
    assert_unreturned(&report);
    let number = |name: &str| report.summary.iter().find(|(_, (n, _, _))| n == name).map(|(&k, _)| k);
    assert_eq!(number("write"), Some(64));
    assert_eq!(number("exit_group"), Some(94));
    assert!(report.calls.iter().all(|c| !c.name.starts_with("syscall_")), "every number has a name");
    assert_eq!(our_writes(&report.calls), [("1".to_string(), "71".to_string(), "71".to_string())]);
}
