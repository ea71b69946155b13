//! The `cannonball` command: `new` → `build` → `run` for every language, `inspect` on every
//! example script, and `run`'s own behaviour (exit status, reports, progress).

use std::collections::BTreeMap;
use std::process::{Command, Output};

use cannonball_launcher::Tree;
use cannonball_tests::{TempDir, cli, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

fn cannonball(args: &[&str], work: &TempDir) -> Output {
    // Rust scripts share the example scripts' target directory (same profile), so the SDK's
    // dependencies are not compiled again for every generated project.
    cannonball_tests::watchdog::output(
        Command::new(cli())
            .args(args)
            .current_dir(work.path())
            .env("CARGO_TARGET_DIR", Tree::source().target().join("wasm")),
    )
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `new` then `build` then `run` on `program` (a build of the demo): the generated project
/// works as generated. Returns its one report and the built script.
fn new_build_run(lang: &str, program: &std::path::Path, work: &TempDir) -> (String, std::path::PathBuf) {
    let name = format!("hits_{lang}");
    ok(&cannonball(&["new", "--lang", lang, &name], work));
    let wasm = format!("{name}.wasm");
    ok(&cannonball(&["build", &name, "-o", &wasm], work));
    let out = cannonball(&["run", "-q", "-s", &wasm, "-o", "reports", "--", program.to_str().unwrap()], work);
    let stdout = ok(&out);
    assert!(stdout.contains("primes below 10000: 1229"), "the guest ran: {stdout}");
    let report = std::fs::read_dir(work.join("reports")).unwrap().next().expect("a report").unwrap().path();
    (std::fs::read_to_string(report).unwrap(), work.join(&wasm))
}

/// The generated script's report from a run of `program` in the same QEMU as `oracle` (one of
/// QEMU's plugins), and QEMU's plugin log.
fn with_oracle(wasm: &std::path::Path, program: &std::path::Path, oracle: String, work: &TempDir) -> (String, String) {
    let out = work.join("same-process");
    let ours = plugin_arg(&plugin(), &[format!("script={}", wasm.display()), format!("out={}", out.display())]);
    let run = run_qemu("x86_64", &[oracle, ours], program, &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let report = std::fs::read_dir(&out).unwrap().next().expect("a report").unwrap().path();
    (std::fs::read_to_string(report).unwrap(), run.plugin_log)
}

/// The executable segment of a non-PIE binary, from `readelf -lW`: [start, end).
fn executable_segment(binary: &std::path::Path) -> (u64, u64) {
    let out = Command::new("readelf").arg("-lW").arg(binary).output().expect("readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    text.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f[6..f.len() - 1].iter().any(|flag| flag.contains('E')))
        .map(|f| (hex(f[2]), hex(f[2]) + hex(f[5])))
        .unwrap_or_else(|| panic!("no executable segment:\n{text}"))
}

#[test]
fn new_build_run_rust() {
    // `pc count` per executed instruction of the main binary, from inline block counters.
    let work = TempDir::new("new-rust");
    let demo = program("demo");
    let (_, wasm) = new_build_run("rust", &demo, &work);
    // Oracle: QEMU's execlog in the same process: every instruction of the main binary it saw
    // run, with its count, and no other.
    let (report, log) = with_oracle(&wasm, &demo, plugin_arg(&oracle_plugin("execlog"), &[]), &work);
    let hits: BTreeMap<u64, u64> = report
        .lines()
        .map(|l| {
            let (pc, n) = l.split_once(' ').unwrap();
            (u64::from_str_radix(pc.trim_start_matches("0x"), 16).unwrap(), n.parse().unwrap())
        })
        .collect();
    assert!(hits.len() > 50, "{report}");
    let (start, end) = executable_segment(&demo);
    let mut execlog: BTreeMap<u64, u64> = BTreeMap::new();
    for pc in oracle::execlog_pcs(&log).into_iter().filter(|pc| (start..end).contains(pc)) {
        *execlog.entry(pc).or_default() += 1;
    }
    assert_eq!(hits, execlog, "per-instruction counts of the main binary = execlog's");
}

#[test]
fn new_build_run_c() {
    // A static build: all its code is the main binary, so libbb's total (every block
    // execution of the process) is the main binary's.
    let work = TempDir::new("new-c");
    let demo = work.join("demo-static");
    let built = Command::new("gcc")
        .args(["-O1", "-static", "-o"])
        .arg(&demo)
        .arg(cannonball_tests::root().join("tests/programs/demo.c"))
        .status()
        .unwrap();
    assert!(built.success());
    let (_, wasm) = new_build_run("c", &demo, &work);
    let (report, log) = with_oracle(&wasm, &demo, plugin_arg(&oracle_plugin("bb"), &["inline=true".into()]), &work);
    let n: u64 = report.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(n, oracle::bb_total(&log), "block executions of the main binary (libbb, same process)");
}

#[test]
fn new_build_run_assemblyscript() {
    let work = TempDir::new("new-as");
    let (_, wasm) = new_build_run("as", &program("demo"), &work);
    let (report, log) = with_oracle(&wasm, &program("demo"), plugin_arg(&oracle_plugin("syscall"), &[]), &work);
    let syscalls: u64 = report.lines().find_map(|l| l.strip_prefix("syscalls ")).unwrap().parse().unwrap();
    let expected: u64 = oracle::syscalls(&log).values().map(|&(calls, _)| calls).sum();
    assert_eq!(syscalls, expected, "system calls (libsyscall, same process)");
}

#[test]
fn new_refuses_bad_names_and_existing_directories() {
    let work = TempDir::new("new-bad");
    for bad in ["1abc", "a/b", ""] {
        let out = cannonball(&["new", "--lang", "rust", bad], &work);
        assert_eq!(out.status.code(), Some(1), "{bad}");
    }
    ok(&cannonball(&["new", "--lang", "c", "twice"], &work));
    let again = cannonball(&["new", "--lang", "c", "twice"], &work);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn inspect_every_example_script() {
    let work = TempDir::new("inspect");
    let mut seen = 0;
    for entry in std::fs::read_dir(Tree::source().scripts()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = ok(&cannonball(&["inspect", path.to_str().unwrap()], &work));
        assert!(text.contains(&format!("name:        {name}\n")), "{text}");
        assert!(text.contains("version:     0.1.0\n"), "{text}");
        assert!(text.contains("interface:   cannonball:script@0.3.1\n"), "{text}");
        assert!(text.contains("host services: "), "{text}");
        assert!(text.contains("arguments"), "{text}");
        seen += 1;
    }
    assert!(seen >= 9, "every example script: {seen}");
    // What a script declares and imports, exactly, for two of them.
    let cov = ok(&cannonball(&["inspect", script("cov").to_str().unwrap()], &work));
    assert!(
        cov.contains("host services: log, symbolize, source-lines, read-memory, disassemble, write-report\n"),
        "{cov}"
    );
    assert!(cov.contains("  all=BOOL  "), "{cov}");
    let syscalls = ok(&cannonball(&["inspect", script("syscalls").to_str().unwrap()], &work));
    assert!(syscalls.contains("wasi imports:  none"), "AssemblyScript scripts import no WASI: {syscalls}");
}

#[test]
fn inspect_rejects_what_is_not_a_script() {
    let work = TempDir::new("inspect-bad");
    for (arg, expected) in
        [("/bin/ls", "is not a WebAssembly file"), ("missing.wasm", "cannot read script missing.wasm")]
    {
        let out = cannonball(&["inspect", arg], &work);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn run_reports_progress_reports_and_the_guest_status() {
    let work = TempDir::new("run");
    let icount = cannonball_tests::script("icount");
    // The guest's environment as run_qemu gives it, so that libinsn's run below is the same.
    let out = cannonball_tests::watchdog::output(
        Command::new(cli())
            .args([
                "run",
                "--progress",
                "-s",
                icount.to_str().unwrap(),
                "-o",
                "r",
                "--",
                program("demo").to_str().unwrap(),
            ])
            .current_dir(work.path())
            .env("LC_ALL", "C")
            .env_remove("RUST_BACKTRACE"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("instructions, 0 events ("), "a progress line: {stderr}");
    assert!(stderr.contains("cannonball: reports in r: icount.txt"), "{stderr}");
    let report = std::fs::read_to_string(work.join("r/icount.txt")).unwrap();
    // libinsn on the same (deterministic, single-threaded) program with its output piped too.
    let o = run_qemu("x86_64", &[plugin_arg(&oracle_plugin("insn"), &[])], &program("demo"), &[], &work);
    assert_eq!(report.lines().next().unwrap(), format!("total {}", oracle::insn(&o.plugin_log).total));

    // The guest's fate is the command's: SIGSEGV → 128 + 11.
    let segv =
        cannonball(&["run", "-q", "-s", icount.to_str().unwrap(), "--", program("segv").to_str().unwrap()], &work);
    assert_eq!(segv.status.code(), Some(139));
    // A program that is not there: one line.
    let missing = cannonball(&["run", "-s", icount.to_str().unwrap(), "--", "/no/such/program"], &work);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);
}
