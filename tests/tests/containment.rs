//! Faulty scripts are contained: a trap anywhere, an endless loop, a memory hog, a report or
//! log flood. Detached, the guest runs on unharmed and one line names the script, the
//! failure and where in the script it happened; with on-error=abort QEMU exits 1. The
//! fixture is example-scripts/misbehave. Also the sandbox: what a script must not reach.

use cannonball_launcher::QemuCommand;
use cannonball_tests::{QemuRun, TempDir, plugin, plugin_arg, program, run_qemu, script};

fn run_misbehave(options: &[&str], work: &TempDir) -> QemuRun {
    let mut all =
        vec![format!("script={}", script("misbehave").display()), format!("out={}", work.join("out").display())];
    all.extend(options.iter().map(|o| o.to_string()));
    run_qemu("x86_64", &[plugin_arg(&plugin(), &all)], &program("demo"), &[], work)
}

/// The guest ran to its end with its own output and exit status.
fn assert_guest_unharmed(run: &QemuRun) {
    assert!(run.output.status.success(), "exit {:?}: {}", run.output.status, run.stderr());
    let out = run.stdout();
    for line in ["primes below 10000: 1229", "largest: 63, smallest: 0", "reversed: llabnonnac"] {
        assert!(out.contains(line), "guest output lost {line:?}: {out}");
    }
}

/// Exactly one `cannonball: error:` line; returned.
fn the_error_line(run: &QemuRun) -> String {
    let stderr = run.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("cannonball: error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("QEMU internal"), "{stderr}");
    errors[0].to_owned()
}

#[test]
fn a_trap_in_any_export_detaches_the_script_and_the_guest_runs_on() {
    for (at, export) in [
        ("init", "init"),
        ("blocks", "on-blocks"),
        ("events", "on-events"),
        ("thread", "on-thread"),
        ("finish", "finish"),
    ] {
        let work = TempDir::new("trap");
        let run = run_misbehave(&[&format!("at={at}")], &work);
        assert_guest_unharmed(&run);
        let line = the_error_line(&run);
        assert!(line.starts_with(&format!("cannonball: error: script misbehave: {export} trapped: ")), "{line}");
        assert!(line.contains("wasm backtrace: misbehave.wasm!misbehave::Misbehave::maybe_misbehave"), "{line}");
        assert!(line.ends_with("detached, the guest runs on without it"), "{line}");
        assert!(!work.join("out/misbehave.txt").exists(), "a detached script writes no report");
    }
}

#[test]
fn without_failures_the_fixture_finishes() {
    let work = TempDir::new("trap-none");
    let run = run_misbehave(&[], &work);
    assert_guest_unharmed(&run);
    assert!(!run.stderr().contains("cannonball: error"), "{}", run.stderr());
    let report = std::fs::read_to_string(work.join("out/misbehave.txt")).unwrap();
    assert!(report.starts_with("block-execs "), "{report}");
}

#[test]
fn on_error_abort_exits_non_zero_with_the_line() {
    for at in ["events", "finish"] {
        let work = TempDir::new("abort");
        let run = run_misbehave(&[&format!("at={at}"), "on-error=abort"], &work);
        assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
        let line = the_error_line(&run);
        assert!(line.contains("trapped") && line.ends_with("aborting (on-error=abort)"), "{line}");
    }
}

#[test]
fn an_endless_loop_is_stopped_by_the_time_limit() {
    let work = TempDir::new("loop");
    let run = run_misbehave(&["at=events", "how=loop", "script-time=0.5"], &work);
    assert_guest_unharmed(&run);
    let line = the_error_line(&run);
    assert!(line.contains("on-events exceeded its time limit of 0.5 s per call (script-time=SECONDS)"), "{line}");
    assert!(line.contains("maybe_misbehave"), "{line}");
}

#[test]
fn a_memory_hog_is_stopped_by_the_memory_limit() {
    let work = TempDir::new("hog");
    let run = run_misbehave(&["at=blocks", "how=hog", "script-memory=32"], &work);
    assert_guest_unharmed(&run);
    let line = the_error_line(&run);
    assert!(line.contains("on-blocks exceeded its memory limit of 32 MiB (script-memory=MiB)"), "{line}");
}

#[test]
fn a_report_flood_stops_at_the_report_limit() {
    let work = TempDir::new("flood");
    let run = run_misbehave(&["at=events", "how=flood", "report-limit=5"], &work);
    assert_guest_unharmed(&run);
    let flood = std::fs::metadata(work.join("out/flood.txt")).unwrap().len();
    assert_eq!(flood, 5 << 20, "exactly the limit was written");
    // The script saw its writes refused (it logs that), and its final report too.
    assert!(run.stderr().contains("[misbehave] error: append-report refused further bytes"), "{}", run.stderr());
    let line = the_error_line(&run);
    assert!(line.contains("report limit of 5 MiB reached (report-limit=MiB)"), "{line}");
}

#[test]
fn one_oversized_report_is_refused() {
    let work = TempDir::new("big-report");
    let run = run_misbehave(&["at=init", "how=big-report", "report-limit=10"], &work);
    assert_guest_unharmed(&run);
    assert!(run.stderr().contains("write-report refused: report limit of 10 MiB reached"), "{}", run.stderr());
    assert!(!work.join("out/big.txt").exists());
}

#[test]
fn a_log_flood_is_capped() {
    let work = TempDir::new("log-flood");
    let run = run_misbehave(&["at=init", "how=log-flood"], &work);
    assert_guest_unharmed(&run);
    let stderr = run.stderr();
    let lines = stderr.lines().filter(|l| l.starts_with("[misbehave]")).count();
    assert_eq!(lines, 1001, "1000 lines and the notice");
    assert!(
        stderr.contains("more than 1000 log lines; further lines are dropped"),
        "{}",
        &stderr[stderr.len() - 200..]
    );
}

#[test]
fn the_sandbox_denies_files_environment_and_network() {
    let work = TempDir::new("sandbox");
    // A port this test listens on: a connection could only fail because the sandbox denies it
    // (a closed port would be refused with networking granted, too).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // A secret in QEMU's own environment must not reach the script.
    let options = [
        format!("script={}", script("misbehave").display()),
        format!("out={}", work.join("out").display()),
        "probe=true".to_string(),
        format!("port={port}"),
    ];
    let mut cmd = QemuCommand::new(cannonball_tests::qemu("x86_64"), program("demo"))
        .plugin(plugin_arg(&plugin(), &options))
        .command();
    cmd.env("CANNONBALL_SECRET", "42");
    let out = cannonball_tests::watchdog::output(&mut cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let probe = std::fs::read_to_string(work.join("out/probe.txt")).unwrap();
    assert!(probe.contains("passwd: denied"), "{probe}");
    assert!(probe.contains("rootdir: denied"), "{probe}");
    assert!(probe.contains("env: 0 variables"), "{probe}");
    assert!(probe.contains("args: 0"), "{probe}");
    assert!(probe.contains("socket: denied"), "{probe}");
    assert!(!probe.contains("refused"), "the denial is the sandbox's, not a closed port's: {probe}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing connected to the test's port"
    );
    assert!(probe.contains("udp: denied"), "{probe}");
}

/// On our QEMU scripts run with wasmtime's signal-based traps: an out-of-bounds access is a
/// guard-page fault (SIGSEGV) and `unreachable` an illegal instruction (SIGILL) on the
/// analysis thread, which QEMU's handler passes to wasmtime (patch 0007). Also while the guest
/// itself takes SIGSEGV, SIGBUS and SIGFPE in its own handlers 300 times each (QEMU
/// re-installs its host handlers when the guest sets them), and on the callback path with
/// explicit bounds checks (`cargo xtask test` runs this file again with
/// `CANNONBALL_CAPTURE=callbacks`).
#[test]
fn traps_of_both_kinds_are_contained_while_the_guest_handles_its_own_faults() {
    for (how, trap) in [("oob", "out of bounds memory access"), ("trap", "wasm `unreachable` instruction executed")] {
        for at in ["init", "events", "finish"] {
            let work = TempDir::new("fault-traps");
            let options = [
                format!("script={}", script("misbehave").display()),
                format!("out={}", work.join("out").display()),
                format!("at={at}"),
                format!("how={how}"),
            ];
            let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("fault_loop"), &["300"], &work);
            assert!(run.output.status.success(), "{how} at {at}: exit {:?}: {}", run.output.status, run.stderr());
            assert_eq!(run.stdout().trim(), "thread 0: SIGSEGV 300, SIGBUS 300, SIGFPE 300, sum 7800", "{how} at {at}");
            let line = the_error_line(&run);
            assert!(line.contains(trap), "{how} at {at}: {line}");
            assert!(line.ends_with("detached, the guest runs on without it"), "{line}");
        }
    }
}
