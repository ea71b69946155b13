//! Signals and threads: guest programs (tests/programs) that take POSIX timer signals on many
//! threads, sigwait for signals sent to the process, get SIGCHLD and SIGPIPE, fault and
//! recover thousands of times. Each runs under plain QEMU and under QEMU's oracle plugins
//! plus the census script in one process: the guest ends the same way with the same output,
//! and every count equals libinsn's, libbb's and libsyscall's exactly.
//!
//! And the threads QEMU's process holds besides the guest's: each must block every signal,
//! or a process-directed signal may land on it, where QEMU's host signal handler (which
//! assumes a vCPU thread) crashes or misdelivers it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use cannonball_tests::guest::{Compared, Guest, compare, ending, report_names};
use cannonball_tests::{TempDir, plugin, plugin_arg, program, script, start_dump};

fn run(name: &str, args: &[&str], inline_oracles: bool) -> (Compared, TempDir) {
    let work = TempDir::new(name);
    let guest = Guest::new(program(name), args, work.path());
    (compare(&guest, &work, inline_oracles), work)
}

#[test]
fn posix_timer_signals_on_many_threads() {
    // SIGALRM and SIGRTMIN+2 from two timers, handled on eight computing threads.
    let (c, _w) = run("timer_signals", &["300"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("each at least 300 times"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(false);
    c.assert_counts_exact();
    let census = c.census.as_ref().unwrap();
    assert_eq!(census.get("threads-started"), 9, "main and eight workers");
}

#[test]
fn sigwait_for_signals_the_process_sends_itself() {
    let (c, _w) = run("sigwait_loop", &["self", "400"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("took SIGUSR2 400 times of 400"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

/// SIGFPE sent with kill(), not a fault: when scripts run with signal-based traps, the thread
/// running the script leaves it unblocked, so some land there; QEMU's handler (patch 0007)
/// must pass them back to the process, and the guest's sigwait take every one. (With the
/// traps switched off, as now, the plugin's threads block it like every other signal.)
#[test]
fn sigwait_for_fault_signals_the_process_sends_itself() {
    // SIGSEGV and SIGBUS sent with kill() are not here: QEMU keeps them unblocked on every
    // host thread (a guest fault must never be blocked), so one lands on a thread whose
    // guest mask blocks it and stays pending there; plain QEMU never returns
    // (docs/signals.md).
    let (c, _w) = run("sigwait_loop", &["self", "400", "fpe"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("took SIGFPE 400 times of 400"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

#[test]
fn sigwait_for_signals_a_child_process_sends() {
    let (c, _w) = run("sigwait_loop", &["child", "400"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("took SIGUSR2 400 times of 400"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    // The parent waits for the sender, so its section is the last.
    c.assert_counts_exact();
    assert_eq!(c.sections, 2, "parent and the forked sender");
    assert_eq!(c.reports.len(), 2, "a report per process: {:?}", c.reports);
}

#[test]
fn sigchld_from_many_exiting_children() {
    let (c, _w) = run("sigchld_pipe", &["chld", "64"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("reaped 64 children, statuses sum 2016, SIGCHLD handled: yes"));
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
    assert_eq!(c.sections, 65, "64 children and the parent");
    assert_eq!(c.reports.len(), 65, "a report per process: {:?}", c.reports);
    // Every child, by what the program makes it do: child i (forked i-th, so the i-th pid)
    // runs its loop 1000 * (i % 7) times and calls _exit, nothing else. So its counts are
    // A + B * (i % 7) for the same A and B > 0 in every child (a lost or doubled event in any
    // child breaks the line), and its system calls are the same in every child.
    let mut children: Vec<(u32, cannonball_tests::census::Census)> = c
        .reports
        .iter()
        .filter_map(|name| {
            let pid = name.strip_prefix("census.")?.strip_suffix(".txt")?.parse().ok()?;
            let text = std::fs::read_to_string(c.out.join(name)).unwrap();
            Some((pid, cannonball_tests::census::parse(&text)))
        })
        .collect();
    children.sort_by_key(|(pid, _)| *pid);
    assert_eq!(children.len(), 64);
    for key in ["instructions", "trace-instructions", "block-execs", "block-counts-total", "mem-reads", "mem-writes"] {
        let counts: Vec<u64> = children.iter().map(|(_, census)| census.get(key)).collect();
        let base = counts[0];
        let step = counts[1] - base;
        for (i, &n) in counts.iter().enumerate() {
            assert_eq!(n, base + step * (i as u64 % 7), "{key} of child {i}: {counts:?}");
        }
        if key != "mem-reads" && key != "mem-writes" {
            assert!(step > 0, "{key}: the loop adds to every child's count");
        }
    }
    // glibc's fork makes one call in the child before returning to it, set_robust_list (273),
    // which QEMU's user mode does not implement (an error, as libsyscall counts it too).
    let expected: std::collections::BTreeMap<i64, (u64, u64, u64)> = [(273, (1, 1, 0)), (231, (1, 0, 1))].into();
    for (i, (_, census)) in children.iter().enumerate() {
        assert_eq!(census.syscalls, expected, "child {i}: set_robust_list, then one exit_group that never returned");
    }
}

#[test]
fn sigpipe_handled() {
    let (c, _w) = run("sigchld_pipe", &["pipe", "500"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("EPIPE 500 of 500, SIGPIPE handled 500 times"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

#[test]
fn sigpipe_default_kills_the_process_and_reports_are_written() {
    // The default action of SIGPIPE ends the process: QEMU must die of SIGPIPE as under plain
    // QEMU, after the exit callbacks ran (QEMU's plugins' and ours).
    let (c, _w) = run("sigchld_pipe", &["pipe-default"], false);
    assert_eq!(ending(&c.plain.status), "signal 13", "plain QEMU dies of SIGPIPE");
    c.assert_guest_unchanged(true);
    assert_eq!(c.observed.status.signal(), Some(13));
    c.assert_counts_exact();
}

/// Faults recovered with siglongjmp: every fault leaves its block after the faulting
/// instruction, and the instruction count must still be exact.
#[test]
fn faults_recovered_in_a_loop_count_exactly() {
    let (c, _w) = run("fault_loop", &["5000"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert!(c.plain.stdout.contains("SIGSEGV 5000, SIGBUS 5000, SIGFPE 5000"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

#[test]
fn faults_recovered_on_five_threads_count_exactly() {
    let (c, _w) = run("fault_loop", &["2000", "threads"], false);
    assert_eq!(ending(&c.plain.status), "exit 0", "plain QEMU: {}", c.plain.stderr);
    assert_eq!(c.plain.stdout.matches("SIGSEGV 2000, SIGBUS 2000, SIGFPE 2000").count(), 5, "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

// ---- The signal masks of QEMU's threads that are not the guest's ----

/// The signals a non-guest thread must block: bit N-1 stands for signal N. All but SIGKILL
/// (9) and SIGSTOP (19), which no thread can block, and glibc's internal 32 (SIGCANCEL) and 33
/// (SIGSETXID): glibc's sigfillset and pthread_sigmask leave them out, and they never arrive
/// process-directed from the guest (QEMU maps the guest's real-time signals to host signals
/// from SIGRTMIN+2 = 36 on, and sends its own internal ones to a given vCPU thread).
const ALL_BLOCKABLE: u64 = !((1 << 8) | (1 << 18) | (1 << 31) | (1 << 32));

struct Sink {
    options: Vec<String>,
    dump: Option<cannonball_tests::watchdog::Watched>,
}

/// The plugin's options for one subscription kind.
fn sink(kind: &str, work: &TempDir) -> Sink {
    let out = format!("out={}", work.join("out").display());
    let census = |kinds: &str| vec![format!("script={}", script("census").display()), out.clone(), kinds.to_string()];
    let options = match kind {
        "icount" => vec![format!("script={}", script("icount").display()), out.clone()],
        "cov" => vec![format!("script={}", script("cov").display()), out.clone()],
        "census-trace" => census("kinds=trace"),
        "census-memory" => census("kinds=memory"),
        "census-syscalls" => census("kinds=syscalls"),
        "census-all-emit-fwd" => {
            let mut o = census("kinds=trace+memory+syscalls+threads+block-counts+memory-counts");
            o.push("emit=true".into());
            o.push(format!("fwd={}", work.join("fwd.bin").display()));
            o
        }
        "fwd-file" => vec![format!("fwd={}", work.join("fwd.bin").display()), "forward=trace+syscalls+threads".into()],
        "sock" => {
            let (child, sock, _) = start_dump(work);
            return Sink {
                options: vec![format!("sock={}", sock.display()), "forward=trace+memory+syscalls+threads".into()],
                dump: Some(child),
            };
        }
        _ => unreachable!(),
    };
    Sink { options, dump: None }
}

/// SIGSEGV, SIGBUS, SIGILL, SIGFPE.
const FAULT_SIGNALS: u64 = (1 << (11 - 1)) | (1 << (7 - 1)) | (1 << (4 - 1)) | (1 << (8 - 1));

fn sigblk(status: &str) -> u64 {
    let hex = status.lines().find_map(|l| l.strip_prefix("SigBlk:")).expect("no SigBlk line").trim();
    u64::from_str_radix(hex, 16).unwrap()
}

/// Starts mask_probe under the plugin, reads every thread's mask while the guest waits, then
/// lets it end. Every non-guest thread must block every blockable signal.
fn probe_masks(kind: &str) {
    let work = TempDir::new(&format!("mask-{kind}"));
    let sink = sink(kind, &work);
    let guest = Guest::new(program("mask_probe"), &["6"], work.path());
    let mut child = cannonball_tests::watchdog::spawn(
        guest
            .command(&[plugin_arg(&plugin(), &sink.options)], None)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut guest_tids = BTreeSet::new();
    let mut ready = false;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if let Some(tid) = line.trim().strip_prefix("tid ") {
            guest_tids.insert(tid.parse::<u32>().unwrap());
        } else if line.trim() == "ready" {
            ready = true;
            break;
        }
        line.clear();
    }
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    if ready {
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let entry = entry.unwrap();
            let tid: u32 = entry.file_name().to_string_lossy().parse().unwrap();
            seen.insert(tid);
            if guest_tids.contains(&tid) {
                continue;
            }
            let (Ok(status), Ok(comm)) = (
                std::fs::read_to_string(entry.path().join("status")),
                std::fs::read_to_string(entry.path().join("comm")),
            ) else {
                continue; // ended meanwhile
            };
            // The analysis thread runs the script, whose traps on our QEMU are synchronous
            // SIGSEGV/SIGBUS/SIGILL/SIGFPE (signal-based, patch 0007): those four may be open
            // there, and a process-directed one that lands there goes back to the process.
            let may_be_open = if comm.trim() == "cannonball-anal" { FAULT_SIGNALS } else { 0 };
            let blocked = sigblk(&status) | may_be_open;
            if blocked & ALL_BLOCKABLE != ALL_BLOCKABLE {
                let open: Vec<u32> = (1..=64).filter(|s| ALL_BLOCKABLE & !blocked & (1 << (s - 1)) != 0).collect();
                failures.push(format!(
                    "thread {tid} ({}) SigBlk {blocked:016x}: signals {open:?} not blocked",
                    comm.trim()
                ));
            }
        }
    }
    drop(child.stdin.take()); // the guest ends when its stdin closes
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
    let output = child.wait_with_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ready, "the guest never got ready: {}\n{stderr}", ending(&output.status));
    assert_eq!(guest_tids.len(), 7, "main and six threads");
    assert!(guest_tids.is_subset(&seen), "guest threads {guest_tids:?} are QEMU's threads {seen:?}");
    assert!(seen.len() > guest_tids.len(), "QEMU has threads of its own: {seen:?}");
    assert!(
        failures.is_empty(),
        "[{kind}] threads that are not the guest's must block every signal:\n{}",
        failures.join("\n")
    );
    assert!(output.status.success(), "{}: {stderr}", ending(&output.status));
    assert!(rest.contains("done"), "{rest}");
    if let Some(dump) = sink.dump {
        let dumped = dump.wait_with_output();
        assert!(dumped.status.success(), "dump: {}", String::from_utf8_lossy(&dumped.stderr));
    }
    let reports = report_names(&work.join("out"));
    if kind.starts_with("census") || kind == "icount" || kind == "cov" {
        assert!(!reports.is_empty(), "no report written; stderr: {stderr}");
    }
    if kind.contains("fwd") {
        assert!(std::fs::metadata(work.join("fwd.bin")).unwrap().len() > 0, "forwarded stream is empty");
    }
}

#[test]
fn thread_masks_icount() {
    probe_masks("icount");
}

#[test]
fn thread_masks_cov() {
    probe_masks("cov");
}

#[test]
fn thread_masks_census_trace() {
    probe_masks("census-trace");
}

#[test]
fn thread_masks_census_memory() {
    probe_masks("census-memory");
}

#[test]
fn thread_masks_census_syscalls() {
    probe_masks("census-syscalls");
}

#[test]
fn thread_masks_census_emitting_to_a_file() {
    probe_masks("census-all-emit-fwd");
}

#[test]
fn thread_masks_forwarding_to_a_file() {
    probe_masks("fwd-file");
}

#[test]
fn thread_masks_forwarding_to_a_socket() {
    probe_masks("sock");
}

/// Plain QEMU, no plugin: its own helper thread (RCU) is the only non-guest thread. Tells
/// apart what QEMU does from what the plugin adds.
#[test]
fn thread_masks_plain_qemu_for_reference() {
    let work = TempDir::new("mask-plain");
    let guest = Guest::new(program("mask_probe"), &["2"], work.path());
    let mut child =
        cannonball_tests::watchdog::spawn(guest.command(&[], None).stdin(Stdio::piped()).stdout(Stdio::piped()));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && line.trim() != "ready" {
        line.clear();
    }
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap().count();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let status = child.wait();
    assert!(status.success());
    assert_eq!(tasks, 4, "main, two guest threads and QEMU's RCU thread");
}
