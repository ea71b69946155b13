//! System call strings and buffers (`syscall-data`): the syscalls example against
//! `strace -f -s 32` of the same program run natively, call by call; on aarch64 against the
//! same source's native x86_64 run; without a subscription nothing is captured (an old 0.1.0
//! script, and the forwarded stream without `syscall-data`).

use std::path::Path;
use std::process::Command;

use cannonball_tests::strace::split_args;
use cannonball_tests::{TempDir, plugin, plugin_arg, program, root, run_qemu, script};

/// `name(args) = ret` lines (strace's or ours) -> (name, the string and string-array
/// arguments). Lines that are no calls (signals, exits, the summary) are skipped.
fn string_args(lines: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in lines.lines() {
        // strace -f prefixes the pid; ours prefixes [vcpu N] only with threads.
        let line = line.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start();
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        let Some((name, tail)) = line.split_once('(') else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        // strace pads short calls: `rmdir("d")          = 0`.
        let args = match tail.rsplit_once(" = ") {
            Some((a, _)) => a.trim_end().strip_suffix(')').unwrap_or(a),
            None => tail.trim_end().trim_end_matches(')'),
        };
        let strings = split_args(args).into_iter().filter(|a| a.starts_with('"') || a.starts_with("[\"")).collect();
        out.push((name.to_owned(), strings));
    }
    out
}

/// The calls from the first that names the program's data file on: the program's own part,
/// the same natively and under QEMU (the dynamic loader's part differs in what it opens).
fn from_data_file(calls: Vec<(String, Vec<String>)>) -> Vec<(String, Vec<String>)> {
    let start = calls.iter().position(|(_, s)| s.iter().any(|a| a.contains("data \\\"file\\\""))).expect("data file");
    calls[start..].iter().filter(|(n, _)| n != "getrandom").cloned().collect()
}

fn native_strace(program: &Path, work: &TempDir) -> String {
    let log = work.join("strace.txt");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-s", "32", "-o"])
        .arg(&log)
        .arg(program)
        .current_dir(work.path())
        .env("LC_ALL", "C")
        .status()
        .expect("cannot run strace: install the Debian package strace");
    assert!(status.success(), "strace {} failed", program.display());
    std::fs::read_to_string(&log).unwrap()
}

fn ours(arch: &str, program: &Path, script_path: &Path, work: &TempDir) -> String {
    let out = work.join("out");
    let options = [format!("script={}", script_path.display()), format!("out={}", out.display())];
    let run = run_qemu(arch, &[plugin_arg(&plugin(), &options)], program, &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(run.stdout(), "done\n");
    let text = std::fs::read_to_string(out.join("syscalls.txt")).unwrap();
    text.split("\n  calls  errors").next().unwrap().to_owned()
}

#[test]
fn strings_and_buffers_match_strace() {
    let work = TempDir::new("sysdata-strace");
    let prog = program("strings");
    let native = from_data_file(string_args(&native_strace(&prog, &work)));
    let trace = ours("x86_64", &prog, &script("syscalls"), &work);
    let emulated = from_data_file(string_args(&trace));
    assert_eq!(emulated, native, "string arguments call by call (strace -s 32)\nours:\n{trace}");

    // What the comparison covers, spelled out (strace's own notation).
    let lines: Vec<&str> = trace.lines().collect();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    for expected in [
        r#"openat(AT_FDCWD, "data \"file\".txt", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = "#,
        r#", "line one\nline two\ttab \"q\" back\\s"..., 51) = 51"#,
        r#", "\0\1\n\0027\177\377z", 8) = 8"#,
        r#", "line one\nl", 10) = 10"#,
        r#"openat(AT_FDCWD, "no/such dir/file", O_RDONLY) = -1 ENOENT"#,
        r#"readlink("a link", "data \"file\".txt", 256) = 15"#,
        r#"openat(AT_FDCWD, 0x10, O_RDONLY) = -1 EFAULT"#,
        r#"write(1, "done\n", 5) = 5"#,
    ] {
        assert!(has(expected), "no line contains {expected}\n{trace}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("read(") && l.contains(r#", "ine two\ttab \"q\" back\\slash and m"..., 256) = 49"#)),
        "{trace}"
    );
    let cwd = work.path().canonicalize().unwrap();
    assert!(has(&format!("getcwd(\"{}\", 256)", cwd.display())), "{trace}");
}

#[test]
fn execve_path_and_argv() {
    let work = TempDir::new("sysdata-execve");
    let prog = program("fork_exec");
    let native: Vec<_> = string_args(&native_strace(&prog, &work)).into_iter().filter(|(n, _)| n == "execve").collect();
    let out = work.join("out");
    let options = [format!("script={}", script("syscalls").display()), format!("out={}", out.display())];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &prog, &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let mut text = String::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        text += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    let emulated: Vec<_> = string_args(&text).into_iter().filter(|(n, _)| n == "execve").collect();
    // strace sees the first execve (of the program itself) too; QEMU runs it before any plugin.
    assert!(!emulated.is_empty(), "{text}");
    assert_eq!(emulated[..], native[native.len() - emulated.len()..], "execve(path, argv) (strace)\n{text}");
}

#[test]
fn aarch64_strings_match_the_native_run() {
    let work = TempDir::new("sysdata-aarch64");
    let prog = work.join("strings-aarch64");
    let cc = Command::new("aarch64-linux-gnu-gcc")
        .args(["-O1", "-static", "-o"])
        .arg(&prog)
        .arg(root().join("tests/programs/strings.c"))
        .status()
        .expect("aarch64-linux-gnu-gcc not found: install gcc-aarch64-linux-gnu (cargo xtask test does)");
    assert!(cc.success());
    let trace = ours("aarch64", &prog, &script("syscalls"), &work);
    // aarch64 has only the *at calls (mkdirat for mkdir, ...): compare the strings in order.
    let flat = |calls: Vec<(String, Vec<String>)>| -> Vec<String> { calls.into_iter().flat_map(|(_, s)| s).collect() };
    let emulated = flat(from_data_file(string_args(&trace)));
    let native = flat(from_data_file(string_args(&native_strace(&program("strings"), &work))));
    assert_eq!(emulated, native, "string arguments in order (native x86_64 strace)\nours:\n{trace}");
    assert!(trace.contains(r#"mkdirat(AT_FDCWD, "sub dir", 493) = 0"#), "{trace}");
}

#[test]
fn scripts_that_do_not_subscribe_get_no_data() {
    // A script built for 0.1.0 (before syscall-data existed) loads and runs, with numbers only.
    let work = TempDir::new("sysdata-old-script");
    let old = root().join("tests/fixtures/syscalls-0.1.0.wasm");
    let trace = ours("x86_64", &program("strings"), &old, &work);
    assert!(trace.lines().any(|l| l.starts_with("openat(-100, 0x")), "{trace}");
    assert!(!trace.contains('"'), "no strings:\n{trace}");

    // The forwarded stream carries data only when asked for.
    let dump = |forward: &str| {
        let out = work.join(&format!("{forward}.jsonl"));
        let status = cannonball_tests::watchdog::status(
            Command::new(cannonball_tests::cli())
                .args(["dump", "--forward", forward, "-o"])
                .arg(&out)
                .arg("--")
                .arg(program("strings"))
                .current_dir(work.path()),
        );
        assert!(status.success());
        std::fs::read_to_string(out).unwrap()
    };
    let plain = dump("syscalls");
    assert!(plain.contains(r#""event":"syscall""#) && !plain.contains(r#""data":"#), "{plain}");
    let with_data = dump("syscall-data");
    let open = with_data.lines().find(|l| l.contains(r#""text":"no/such dir/file""#)).expect(&with_data);
    assert!(open.contains(r#""arg":1,"info":1,"#), "{open}");
}
