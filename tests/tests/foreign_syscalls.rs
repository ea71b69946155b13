//! System call numbers and names on every foreign guest architecture (i386, aarch64, arm,
//! riscv64, mips, mipsel, ppc64le): one static program per target (tests/programs/
//! syscall_numbers.c) under QEMU with libcannonball running the `syscalls` example and QEMU's
//! libsyscall.so in the same process. Checked against two sources that share nothing with
//! our generators: libsyscall's numbers (what the guest really called) and the cross
//! compiler's own `__NR_<name>` for every name the script printed (the number glibc compiles
//! in). Also: openat's path decoded (a pointer above 2 GiB too on 32-bit targets), execve's
//! argv (4-byte pointers on 32-bit targets, big-endian on mips), errno names of the target
//! (mips numbers them differently), and the generated tables current.

use std::collections::BTreeMap;
use std::process::Command;

use cannonball_tests::cross::{Cross, FOREIGN, Linking};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, root, run_qemu, script};

const PATH: &str = "/no/such/dir/cannonball-syscall-numbers";

/// The trace lines (name, arguments text, result) and the summary rows number -> (name, calls).
struct Report {
    calls: Vec<(String, String, String)>,
    summary: BTreeMap<i64, (String, u64)>,
}

fn parse_report(text: &str) -> Report {
    let (trace, summary) = text.split_once("  calls  errors  number  syscall\n").expect("summary header");
    let calls = trace
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, rest) = l.split_once('(').unwrap_or_else(|| panic!("{l}"));
            let (args, ret) = rest.rsplit_once(") = ").unwrap_or_else(|| panic!("{l}"));
            (name.to_owned(), args.to_owned(), ret.to_owned())
        })
        .collect();
    let summary = summary
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [c, _, n, name] => Some((n.parse().unwrap(), (name.to_string(), c.parse().unwrap()))),
            _ => None,
        })
        .collect();
    Report { calls, summary }
}

/// `__NR_<name>` for each name, as the cross compiler evaluates it (compiled to data and read
/// back from the assembly, so expressions like `(4000 + 20)` are the compiler's business).
fn compiler_numbers(cross: &Cross, names: &[&str], work: &TempDir) -> BTreeMap<String, i64> {
    let src = work.join("numbers.c");
    let mut c = String::from("#include <asm/unistd.h>\n");
    for name in names {
        c.push_str(&format!("long nr_{name} = __NR_{name};\n"));
    }
    std::fs::write(&src, c).unwrap();
    let asm = work.join("numbers.s");
    let out = Command::new(cross.gcc()).args(cross.cflags).arg("-S").arg("-o").arg(&asm).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}: {}", cross.arch, String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&asm).unwrap();
    let mut numbers = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(label) = line.strip_suffix(':').and_then(|l| l.strip_prefix("nr_")) {
            current = Some(label.to_owned());
        } else if let Some(name) = current.take() {
            // `.long 20`, `.word 4020`, `.quad 172`, `.4byte 20`, `.dword 20`.
            let value = line.split_whitespace().last().and_then(|v| v.parse().ok());
            numbers.insert(name, value.unwrap_or_else(|| panic!("{}: no number in {line:?}", cross.arch)));
        }
    }
    numbers
}

fn check(cross: &Cross) {
    let arch = cross.arch;
    let work = TempDir::new(&format!("foreign-syscalls-{arch}"));
    let prog = work.join("syscall_numbers");
    cross.compile(&root().join("tests/programs/syscall_numbers.c"), &prog, Linking::Static, &[]);
    let out = work.join("out");
    let options = [format!("script={}", script("syscalls").display()), format!("out={}", out.display())];
    let plugins = [plugin_arg(&oracle_plugin("syscall"), &[]), plugin_arg(&plugin(), &options)];
    let run = run_qemu(arch, &plugins, &prog, &[], &work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    assert!(!run.stderr().contains("warning"), "{arch}: {}", run.stderr());
    let report = parse_report(&std::fs::read_to_string(out.join("syscalls.txt")).unwrap());

    // Every call's number is the one libsyscall saw, as often.
    let ours: BTreeMap<i64, u64> = report.summary.iter().map(|(&n, (_, c))| (n, *c)).collect();
    let theirs: BTreeMap<i64, u64> = oracle::syscalls(&run.plugin_log).iter().map(|(&n, &(c, _))| (n, c)).collect();
    assert_eq!(ours, theirs, "{arch}: calls per number (ours, libsyscall)");

    // Every name is the kernel's for that number (the compiler's __NR_<name>); only the call
    // that does not exist has none.
    let named: Vec<(&str, i64)> = report
        .summary
        .iter()
        .filter(|(_, (n, _))| !n.starts_with("syscall_"))
        .map(|(&k, (n, _))| (n.as_str(), k))
        .collect();
    let names: Vec<&str> = named.iter().map(|(n, _)| *n).collect();
    let kernel = compiler_numbers(cross, &names, &work);
    for (name, number) in &named {
        assert_eq!(kernel.get(*name), Some(number), "{arch}: {name} is number {number} in our table");
    }
    for name in ["write", "openat", "getpid", "exit_group"] {
        assert!(names.contains(&name), "{arch}: {name} missing from {names:?}");
    }
    let unnamed: Vec<i64> =
        report.summary.iter().filter(|(_, (n, _))| n.starts_with("syscall_")).map(|(&k, _)| k).collect();
    // mips: QEMU answers a number beyond its table with ENOSYS before plugins see the call.
    let expected_unnamed: &[i64] = if arch.starts_with("mips") { &[] } else { &[9999] };
    assert_eq!(unnamed, expected_unnamed, "{arch}: numbers without a name");

    // openat's path is decoded, and its error named with the target's errno numbers.
    let opens: Vec<&(String, String, String)> = report.calls.iter().filter(|(n, _, _)| n == "openat").collect();
    let ours_open =
        |path: &str| opens.iter().find(|(_, args, _)| args.starts_with(&format!("AT_FDCWD, \"{path}\", O_RDONLY")));
    let open = ours_open(PATH).unwrap_or_else(|| panic!("{arch}: no openat of {PATH} in {opens:?}"));
    assert_eq!(open.2, "-1 ENOENT", "{arch}");
    // A path above 2 GiB: 32-bit targets' registers arrive sign-extended (mips o32 has no
    // such addresses; the 64-bit targets decode it anyway).
    let high = format!("{PATH}-high");
    if !arch.starts_with("mips") {
        assert!(ours_open(&high).is_some(), "{arch}: no openat of {high} in {opens:?}");
    }
    // ENOSYS is 38 on most targets and 89 on mips: QEMU answers set_robust_list with it, and
    // the call that does not exist where plugins see it.
    let enosys: Vec<&str> =
        report.calls.iter().filter(|(_, _, r)| r == "-1 ENOSYS").map(|(n, _, _)| n.as_str()).collect();
    assert!(enosys.contains(&"set_robust_list"), "{arch}: ENOSYS calls {enosys:?}");
    // An errno without a name prints as `-1 E<number>`.
    let unnamed_errno =
        report.calls.iter().find(|(_, _, r)| r.starts_with("-1 E") && r[4..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(unnamed_errno.is_none(), "{arch}: {unnamed_errno:?}");
    assert_eq!(report.calls.last().map(|c| c.0.as_str()), Some("exit_group"), "{arch}");
}

/// execve's argv is an array of guest pointers: 4 bytes on 32-bit targets, big-endian on mips.
/// tests/programs/fork_exec.c's child execs /bin/echo (natively); its report ends with the call.
fn check_argv(cross: &Cross) {
    let arch = cross.arch;
    let work = TempDir::new(&format!("foreign-argv-{arch}"));
    let prog = work.join("fork_exec");
    cross.compile(&root().join("tests/programs/fork_exec.c"), &prog, Linking::Static, &[]);
    let out = work.join("out");
    let options = [format!("script={}", script("syscalls").display()), format!("out={}", out.display())];
    let run = run_qemu(arch, &[plugin_arg(&plugin(), &options)], &prog, &[], &work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    let execs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flat_map(|f| {
            std::fs::read_to_string(f.unwrap().path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .filter(|l| l.starts_with("execve("))
        .collect();
    let expected = r#"execve("/bin/echo", ["echo", "child before exec:", "6e475add3cd7da67"], "#;
    assert!(execs.len() == 1 && execs[0].starts_with(expected), "{arch}: {execs:?}");
}

#[test]
fn numbers_names_and_paths_on_every_foreign_arch() {
    for cross in FOREIGN {
        check(cross);
        check_argv(cross);
    }
}

/// The checked-in generated files (the capture table, the example's tables, the host's name
/// table) are what tools/syscalls/gen.mjs writes from this machine's kernel headers (the
/// host's and the cross packages').
#[test]
fn generated_tables_are_current() {
    let generator = root().join("tools/syscalls/gen.mjs");
    let out = Command::new("node").arg(&generator).arg("--check").output().expect("node not found");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
