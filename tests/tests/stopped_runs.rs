//! Runs stopped by a signal keep their results: every signal whose default action ends the
//! guest goes through QEMU's exit path (qemu/patches/0002-*), so the script's `finish` runs,
//! reports are written, the forwarded stream ends with an `end` frame naming the signal, and
//! the process still dies of that signal. SIGKILL cannot be caught: a consumer then has every
//! frame flushed before it and sees that the end frame is missing.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use cannonball_tests::*;

/// Starts `qemu -d plugin -D log -plugin ... spin [args]` and waits until the guest runs.
fn start_spin(plugins: &[String], spin_args: &[&str], work: &TempDir) -> watchdog::Watched {
    let mut cmd = qemu_command("x86_64", plugins, &program("spin"), spin_args, &work.join("qemu-plugin.log"));
    cmd.current_dir(work.path()).env_remove("RUST_BACKTRACE").stdout(Stdio::piped()).stderr(Stdio::piped());
    // The signals sent below end QEMU only with their default action: a test process started
    // with one of them ignored (under nohup, SIGHUP) must not pass that on.
    // SAFETY: signal() is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGALRM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let mut child = watchdog::spawn(&mut cmd);
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn send(child: &std::process::Child, signal: i32) {
    // SAFETY: kill on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// The end frame at the end of a one-vCPU stream file: (instructions, status, signal).
fn end_frame(stream: &[u8]) -> (u64, i32, u32) {
    let end = &stream[stream.len() - 45..];
    assert_eq!(end[4], 8, "the stream ends with an end frame");
    let u32_at = |at: usize| u32::from_le_bytes(end[at..at + 4].try_into().unwrap());
    (u64::from_le_bytes(end[13..21].try_into().unwrap()), u32_at(37) as i32, u32_at(41))
}

/// Sends host `signal` to a QEMU running `spin`; the guest sees `guest_signal` (the same
/// number but for real-time signals, which QEMU maps onto other guest numbers).
fn stopped_by(signal: i32, guest_signal: i32, spin_args: &[&str]) {
    let work = TempDir::new("stopped");
    let stream = work.join("stream.cbal");
    let census = [
        format!("script={}", script("census").display()),
        format!("out={}", work.path().display()),
        "kinds=trace+syscalls+block-counts".to_string(),
        format!("fwd={}", stream.display()),
        "forward=trace+syscalls".to_string(),
    ];
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("bb"), &[]),
        plugin_arg(&plugin(), &census),
    ];
    let child = start_spin(&plugins, spin_args, &work);
    send(&child, signal);
    let output = child.wait_with_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), Some(signal), "QEMU dies of the signal, as plain QEMU does: {stderr}");

    let log = std::fs::read_to_string(work.join("qemu-plugin.log")).unwrap();
    let libinsn = oracle::insn(&log).total;
    let report = std::fs::read_to_string(work.join("census.txt")).expect("finish ran and wrote its report");
    let census = census::parse(&report);
    assert_eq!(census.get("instructions"), libinsn, "instruction total = libinsn");
    assert_eq!(census.get("trace-instructions"), libinsn, "trace = libinsn");
    assert_eq!(census.get("block-execs"), oracle::bb_total(&log), "block executions = libbb");
    assert_eq!(census.get("block-counts-total"), oracle::bb_total(&log), "inline block counts = libbb");

    let bytes = std::fs::read(&stream).unwrap();
    let (instructions, status, sig) = end_frame(&bytes);
    assert_eq!(instructions, libinsn, "end frame's instructions");
    assert_eq!((status, sig), (128 + guest_signal, guest_signal as u32), "end frame names the guest's signal");
}

#[test]
fn sigterm_while_computing() {
    stopped_by(libc::SIGTERM, libc::SIGTERM, &[]);
}

#[test]
fn sigint_while_computing() {
    stopped_by(libc::SIGINT, libc::SIGINT, &[]);
}

#[test]
fn sighup_while_waiting_in_a_system_call() {
    stopped_by(libc::SIGHUP, libc::SIGHUP, &["wait"]);
}

#[test]
fn sigterm_while_waiting_in_a_system_call() {
    stopped_by(libc::SIGTERM, libc::SIGTERM, &["wait"]);
}

#[test]
fn sigalrm_sigusr1_and_a_real_time_signal() {
    stopped_by(libc::SIGALRM, libc::SIGALRM, &[]);
    stopped_by(libc::SIGUSR1, libc::SIGUSR1, &[]);
    // QEMU keeps the two lowest host real-time signals for itself: host SIGRTMIN+2+k is the
    // guest's signal 32+k (linux-user/signal.c, signal_table_init).
    stopped_by(libc::SIGRTMIN() + 3, 33, &[]);
}

/// SIGKILL: nothing of the exit path runs. The consumer got every frame written before the
/// kill, and says the end frame is missing.
#[test]
fn sigkill_leaves_the_flushed_frames_and_no_end_frame() {
    let work = TempDir::new("sigkill");
    let (dump, sock, json) = start_dump(&work);
    let options = [format!("sock={}", sock.display()), "forward=trace".to_string()];
    let mut child = start_spin(&[plugin_arg(&plugin(), &options)], &[], &work);
    // Wait until frames went out to the consumer: QEMU's characters written (/proc/PID/io,
    // sockets included) grow by the stream, not by a time that a loaded machine may miss.
    let wchar = || -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap();
        io.lines().find_map(|l| l.strip_prefix("wchar: ")).unwrap().trim().parse().unwrap()
    };
    let before = wchar();
    let deadline = std::time::Instant::now() + Duration::from_secs(15 * 60);
    while wchar() < before + (16 << 10) {
        assert!(std::time::Instant::now() < deadline, "no frames left QEMU in 15 minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    send(&child, libc::SIGKILL);
    assert_eq!(child.wait().signal(), Some(libc::SIGKILL));
    let out = dump.wait_with_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "dump fails on a stream without its end frame");
    // Killed between frames or in the middle of one: either way the end frame is missing.
    assert!(stderr.contains("ended without its end frame"), "{stderr}");
    // Count mode prints its totals before it reports the missing end frame.
    let totals = std::fs::read_to_string(&json).unwrap();
    let field = |key: &str| -> u64 {
        let at = totals.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key} in {totals}"));
        totals[at + key.len() + 3..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    assert_eq!(field("connections"), 1);
    assert!(field("block_execs") > 0, "flushed trace frames arrived before the kill: {totals}");
    assert_eq!(field("end_instructions"), 0, "no end frame: {totals}");
}
