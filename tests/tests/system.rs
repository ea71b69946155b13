//! System mode: the same scripts under `qemu-system-*`, on bare-metal firmware built here
//! (tests/firmware/firmware.c) for riscv64 `virt` and aarch64 `virt` (each also with two CPUs)
//! and a Cortex-M3 (`mps2-an385`). Oracles, in the same QEMU process: libinsn (instructions, per
//! CPU), libbb (block executions), libmem (reads and writes), execlog (every executed PC), the
//! firmware's own output (a total known by construction) and its exit status.

use cannonball_tests::census;
use cannonball_tests::cov::read_listing;
use cannonball_tests::system::{AARCH64, Board, CORTEX_M3, RISCV64, expected_total};
use cannonball_tests::{TempDir, libmem_reads_writes, oracle, oracle_plugin, plugin, plugin_arg, script};

/// census with every kind that exists under a system emulator (no system calls).
const SYSTEM_KINDS: &str = "kinds=blocks+trace+memory+threads+block-counts+memory-counts";

fn census_plugin(out: &std::path::Path, extra: &[&str]) -> String {
    let mut options = vec![
        format!("script={}", script("census").display()),
        format!("out={}", out.display()),
        SYSTEM_KINDS.to_owned(),
    ];
    options.extend(extra.iter().map(|s| s.to_string()));
    plugin_arg(&plugin(), &options)
}

fn long_bits(board: &Board) -> u32 {
    if board.arch == "arm" { 32 } else { 64 }
}

fn boards() -> Vec<Board> {
    vec![RISCV64, RISCV64.smp(2), AARCH64, AARCH64.smp(2), CORTEX_M3]
}

#[test]
fn firmware_counts_equal_qemus_plugins_on_every_board() {
    for board in boards() {
        let work = TempDir::new(&format!("system-counts-{}-{}", board.arch, board.cpus));
        let fw = board.firmware(&work, &[]);
        let out = work.join("out");
        let mut plugins = vec![
            plugin_arg(&oracle_plugin("insn"), &[]),
            plugin_arg(&oracle_plugin("bb"), &[]),
            census_plugin(&out, &[]),
        ];
        plugins.extend(libmem_reads_writes(&work));
        let run = board.run(&fw, &plugins, &work);
        let what = format!("{} with {} CPU(s)", board.arch, board.cpus);
        assert_eq!(run.output.status.code(), Some(3), "{what}: the firmware's exit status\n{}", run.stderr());
        let total = format!("firmware: total {:#x}", expected_total(board.cpus, long_bits(&board)));
        assert!(run.stdout().contains(&total), "{what}: expected '{total}' in:\n{}", run.stdout());
        assert!(!run.stderr().contains("cannonball: error"), "{what}: {}", run.stderr());

        let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
        let insn = oracle::insn(&run.plugin_log);
        assert_eq!(census.get("instructions"), insn.total, "{what}: instructions against libinsn");
        assert_eq!(census.get("trace-instructions"), insn.total, "{what}: the trace against libinsn");
        assert_eq!(insn.per_cpu.len(), board.cpus as usize, "{what}: libinsn's CPUs");
        for (cpu, n) in &insn.per_cpu {
            assert_eq!(census.get(&format!("instructions-vcpu-{cpu}")), *n, "{what}: CPU {cpu} against libinsn");
        }
        let bb = oracle::bb_total(&run.plugin_log);
        assert_eq!(census.get("block-execs"), bb, "{what}: block executions against libbb");
        assert_eq!(census.get("block-counts-total"), bb, "{what}: inline block counts against libbb");
        let (reads, writes) = oracle::mem_reads_writes(&run.plugin_log);
        assert_eq!(
            (census.get("mem-reads"), census.get("mem-writes")),
            (reads, writes),
            "{what}: memory against libmem"
        );
        assert_eq!(
            (census.get("inline-reads"), census.get("inline-writes")),
            (reads, writes),
            "{what}: inline memory counts against libmem"
        );
        assert_eq!(census.get("order-errors"), 0, "{what}");
        assert_eq!(census.get("threads-started"), u64::from(board.cpus), "{what}: one start per CPU");
        assert!(reads > 0 && writes > 0 && insn.total > 5_000, "{what}: the firmware did its work");
    }
}

#[test]
fn cov_lists_the_firmware_functions_with_execlogs_counts() {
    for board in [RISCV64, AARCH64, CORTEX_M3] {
        let work = TempDir::new(&format!("system-cov-{}", board.arch));
        let fw = board.firmware(&work, &[]);
        let out = work.join("out");
        let cov = plugin_arg(
            &plugin(),
            &[
                format!("script={}", script("cov").display()),
                format!("out={}", out.display()),
                format!("symbols={}", fw.display()),
            ],
        );
        let run = board.run(&fw, &[plugin_arg(&oracle_plugin("execlog"), &[]), cov], &work);
        assert_eq!(run.output.status.code(), Some(3), "{}", run.stderr());
        let hits = oracle::execlog_hits(&run.plugin_log);
        let listing = read_listing(&out);
        let names: Vec<&str> = listing.iter().map(|f| f.name.as_str()).collect();
        for name in ["_start", "firmware_main", "square_sum", "fill_and_sum", "print"] {
            assert!(names.contains(&name), "{}: {name} missing from cov.txt: {names:?}", board.arch);
        }
        assert!(!names.contains(&"never_called"), "{}: never_called never ran", board.arch);
        let mut listed = 0;
        for f in &listing {
            assert_eq!(f.module, fw.display().to_string(), "{}: {} belongs to the firmware", board.arch, f.name);
            for (address, count, text) in &f.insns {
                assert_eq!(
                    *count,
                    hits.get(address).copied().unwrap_or(0),
                    "{}: {}+{:#x} ({text}) against execlog",
                    board.arch,
                    f.name,
                    address
                );
                listed += 1;
            }
        }
        // Every executed PC of the firmware is listed (cov instruments the main binary, the first
        // symbols= image; the board's boot ROM, riscv64's at 0x1000, is not part of it).
        let listed_pcs: std::collections::HashSet<u64> =
            listing.iter().flat_map(|f| f.insns.iter().map(|i| i.0)).collect();
        for pc in hits.keys().filter(|&&pc| (board.base..board.base + 0x10_0000).contains(&pc)) {
            assert!(listed_pcs.contains(pc), "{}: executed {pc:#x} not in cov.txt", board.arch);
        }
        // square_sum's loop ran 1000 times on CPU 0: some instruction of it was hit 1000 times.
        let square_sum = listing.iter().find(|f| f.name == "square_sum").unwrap();
        assert!(square_sum.insns.iter().any(|i| i.1 == 1000), "{}: {:?}", board.arch, square_sum.insns);
        assert!(listed > 50, "{}", board.arch);
        let info = std::fs::read_to_string(out.join("cov.info")).unwrap_or_default();
        assert!(info.contains("firmware.c"), "{}: source lines from the firmware's DWARF:\n{info}", board.arch);
    }
}

#[test]
fn without_symbols_cov_lists_executed_code_as_ranges() {
    let board = RISCV64;
    let work = TempDir::new("system-cov-ranges");
    let fw = board.firmware(&work, &[]);
    let out = work.join("out");
    let cov = plugin_arg(&plugin(), &[format!("script={}", script("cov").display()), format!("out={}", out.display())]);
    let run = board.run(&fw, &[plugin_arg(&oracle_plugin("execlog"), &[]), cov], &work);
    assert_eq!(run.output.status.code(), Some(3), "{}", run.stderr());
    let hits = oracle::execlog_hits(&run.plugin_log);
    let listing = read_listing(&out);
    assert!(!listing.is_empty(), "cov.txt lists something");
    let mut seen = 0;
    for f in &listing {
        assert_eq!(f.module, "[anonymous]", "{}", f.name);
        for (address, count, text) in &f.insns {
            assert!(!text.contains("unmapped"), "{}: {address:#x} disassembled from translated code: {text}", f.name);
            assert_eq!(*count, hits.get(address).copied().unwrap_or(0), "{}: {address:#x} against execlog", f.name);
            seen += 1;
        }
    }
    assert!(seen >= hits.len(), "every executed PC is listed ({seen} of {})", hits.len());
}

#[test]
fn bad_symbols_and_system_calls_get_one_line_each() {
    let board = RISCV64;
    let work = TempDir::new("system-bad");
    let fw = board.firmware(&work, &[]);
    let garbage = work.join("garbage.bin");
    std::fs::write(&garbage, b"\x01\x02 this is neither ELF nor a map\n").unwrap();
    let cases: [(String, &str); 4] = [
        (format!("symbols={}", work.join("missing.elf").display()), "cannot read"),
        (format!("symbols={}", garbage.display()), "neither an ELF file nor a System.map"),
        (format!("symbols={}@0xnope", fw.display()), "does not parse"),
        (format!("symbols={}@", fw.display()), "does not parse"),
    ];
    for (option, expected) in cases {
        let out = work.join("out");
        let p = plugin_arg(
            &plugin(),
            &[format!("script={}", script("icount").display()), format!("out={}", out.display()), option.clone()],
        );
        let run = board.run(&fw, &[p], &work);
        assert_eq!(run.output.status.code(), Some(1), "{option}: {}", run.stderr());
        let stderr = run.stderr();
        let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("cannonball")).collect();
        assert_eq!(ours.len(), 1, "{option}: one line:\n{}", run.stderr());
        assert!(ours[0].contains(expected) && ours[0].contains("symbols="), "{option}: {}", ours[0]);
        assert!(!run.stderr().contains("panicked"), "{option}");
    }
    // In user mode the loader says where code comes from: symbols= is refused.
    let p =
        plugin_arg(&plugin(), &[format!("script={}", script("icount").display()), format!("symbols={}", fw.display())]);
    let run = cannonball_tests::run_qemu("x86_64", &[p], &cannonball_tests::program("demo"), &[], &work);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains("symbols= is for system emulators"), "{}", run.stderr());
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    // census subscribes to system calls by default: told once, the run goes on.
    let out = work.join("out-census");
    let p =
        plugin_arg(&plugin(), &[format!("script={}", script("census").display()), format!("out={}", out.display())]);
    let run = board.run(&fw, &[p], &work);
    assert_eq!(run.output.status.code(), Some(3), "{}", run.stderr());
    let stderr = run.stderr();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("system calls")).collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr());
    assert!(warnings[0].contains("census") && warnings[0].contains("gets none"), "{}", warnings[0]);
    assert!(std::fs::read_to_string(out.join("census.txt")).unwrap().contains("syscalls 0"));
}

/// Starts the endless firmware under census and libinsn, waits until it says it runs, and
/// returns QEMU with the file its serial port writes to.
fn start_endless(
    board: Board,
    work: &TempDir,
    out: &std::path::Path,
    extra_qemu: &[&str],
) -> cannonball_tests::watchdog::Watched {
    let fw = board.firmware(work, &["FOREVER"]);
    let log = work.join("qemu-plugin.log");
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), census_plugin(out, &[])];
    let mut cmd = board.command(&fw, &plugins, &log);
    cmd.args(extra_qemu).current_dir(work.path()).stdout(std::process::Stdio::piped());
    let mut child = cannonball_tests::watchdog::spawn(&mut cmd);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        if line.contains("running until stopped") {
            break;
        }
        line.clear();
    }
    assert!(line.contains("running until stopped"), "the endless firmware did not start");
    // Keep draining the console so that QEMU never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    child
}

/// The reports of a run ended from outside: census was finished, and its count is libinsn's.
fn assert_finished(work: &TempDir, out: &std::path::Path, how: &str) {
    let text = std::fs::read_to_string(out.join("census.txt")).unwrap_or_else(|_| panic!("{how}: no census.txt"));
    let census = census::parse(&text);
    let log = std::fs::read_to_string(work.join("qemu-plugin.log")).unwrap();
    assert_eq!(census.get("instructions"), oracle::insn(&log).total, "{how}: instructions against libinsn");
    assert!(census.get("instructions") > 5_000, "{how}: the firmware ran");
}

#[test]
fn signals_the_monitor_and_timeout_end_a_run_with_its_reports() {
    let board = RISCV64;
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")] {
        let work = TempDir::new(&format!("system-end-{name}"));
        let out = work.join("out");
        let mut child = start_endless(board, &work, &out, &[]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: a plain kill of our child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait();
        assert!(status.success(), "{name}: QEMU ends cleanly on it: {status:?}");
        assert_finished(&work, &out, name);
    }
    // `quit` on the monitor (here on a Unix socket; the console stays on stdout).
    let work = TempDir::new("system-end-quit");
    let out = work.join("out");
    let sock = work.join("monitor.sock");
    let monitor = format!("unix:{},server=on,wait=off", sock.display());
    let mut child = start_endless(board, &work, &out, &["-monitor", &monitor]);
    let mut conn = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    std::io::Write::write_all(&mut conn, b"quit\n").unwrap();
    let status = child.wait();
    assert!(status.success(), "quit: {status:?}");
    assert_finished(&work, &out, "quit");
    // timeout(1), as a batch job would stop a run.
    let work = TempDir::new("system-end-timeout");
    let out = work.join("out");
    let fw = board.firmware(&work, &["FOREVER"]);
    let log = work.join("qemu-plugin.log");
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), census_plugin(&out, &[])];
    let inner = board.command(&fw, &plugins, &log);
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg("2").arg(inner.get_program()).args(inner.get_args()).current_dir(work.path());
    let output = cannonball_tests::watchdog::output(&mut cmd);
    assert_eq!(output.status.code(), Some(124), "timeout stopped it");
    assert_finished(&work, &out, "timeout");
}

/// A forwarded stream of a system run stopped by SIGTERM ends with its end frame: `cannonball
/// dump` decodes it whole (it refuses a stream whose frame count disagrees with the end frame's,
/// or that has none) to libinsn's instruction total.
#[test]
fn a_stopped_system_run_ends_its_forwarded_stream() {
    let board = RISCV64;
    let work = TempDir::new("system-end-stream");
    let fw = board.firmware(&work, &["FOREVER"]);
    let stream = work.join("trace.cbal");
    let log = work.join("qemu-plugin.log");
    let fwd = plugin_arg(&plugin(), &[format!("fwd={}", stream.display()), "forward=trace".into()]);
    let mut cmd = board.command(&fw, &[plugin_arg(&oracle_plugin("insn"), &[]), fwd], &log);
    cmd.current_dir(work.path()).stdout(std::process::Stdio::piped());
    let mut child = cannonball_tests::watchdog::spawn(&mut cmd);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 && !line.contains("running until stopped") {
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: a plain kill of our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().success());
    let mut dump = std::process::Command::new(cannonball_tests::cli());
    dump.arg("dump").arg("--from").arg(&stream).arg("--count").arg("-o").arg(work.join("count.json"));
    let out = cannonball_tests::watchdog::output(&mut dump);
    assert!(out.status.success(), "dump: {}", String::from_utf8_lossy(&out.stderr));
    let summary = std::fs::read_to_string(work.join("count.json")).unwrap();
    let insns = summary
        .split("\"insns\":")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no insns in {summary}"));
    assert_eq!(insns, oracle::insn(&std::fs::read_to_string(&log).unwrap()).total, "every execution decoded (libinsn)");
}

/// `cannonball run --system` refuses what cannot run in one line each, before QEMU starts.
#[test]
fn the_command_refuses_bad_system_runs_in_one_line() {
    let work = TempDir::new("system-cli-bad");
    let text = work.join("notes.txt");
    std::fs::write(&text, "not a kernel\n").unwrap();
    let missing = work.join("missing.elf");
    let cases: [(Vec<String>, &str); 4] = [
        (vec!["--system=mips".into(), "--".into(), "-M".into(), "virt".into()], "builds system emulators for"),
        (vec!["--system".into(), "--".into(), "-M".into(), "virt".into()], "needs the target"),
        (vec!["--system".into(), "--".into(), "-kernel".into(), missing.display().to_string()], "no such file"),
        (vec!["--system".into(), "--".into(), "-kernel".into(), text.display().to_string()], "needs the target"),
    ];
    for (args, expected) in cases {
        let mut cmd = std::process::Command::new(cannonball_tests::cli());
        cmd.arg("run").arg("-s").arg(script("icount")).args(&args).stdin(std::process::Stdio::null());
        let out = cannonball_tests::watchdog::output(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
