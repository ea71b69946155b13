//! Foreign guest architectures end to end. For every target besides x86_64, tests/programs/
//! foreign.c built with Debian's cross compiler, statically and dynamically linked (threads,
//! a fork, system calls that fail), runs under QEMU with QEMU's own plugins and
//! libcannonball.so in the same process: instructions = libinsn, block executions and inline
//! block counts = libbb, memory reads and writes = libmem, system calls by number =
//! libsyscall, for the parent; the same for a forked child (tests/programs/fork_counted.c,
//! whose parent's part after the fork is known from its assembly); memory
//! accesses = libmem's own list access by access, with the values the program stored (which
//! show the byte order). Then `cannonball run` on foreign programs: the target and library
//! root come from the ELF header and Debian's cross root, and what cannot start says why.
//!
//! Listings and disassembly per architecture: foreign_listing.rs; system call names:
//! foreign_syscalls.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::cross::{Cross, FOREIGN, Linking};
use cannonball_tests::guest::{Guest, compare};
use cannonball_tests::{TempDir, cli, oracle_plugin, plugin, plugin_arg, root, script, start_dump_with};

fn build(cross: &Cross, linking: Linking, work: &TempDir) -> PathBuf {
    build_with(cross, linking, &[], work)
}

fn build_with(cross: &Cross, linking: Linking, flags: &[&str], work: &TempDir) -> PathBuf {
    let out = work.join(&format!("foreign-{}-{linking:?}", cross.arch).to_lowercase());
    cross.compile(&root().join("tests/programs/foreign.c"), &out, linking, flags);
    out
}

/// The parent's counts exact (the child's report written), the guest's output unchanged.
fn counts_exact(cross: &Cross, linking: Linking) {
    counts_exact_with(cross, linking, &[])
}

fn counts_exact_with(cross: &Cross, linking: Linking, flags: &[&str]) {
    let work = TempDir::new(&format!("foreign-{}", cross.arch));
    let prog = build_with(cross, linking, flags, &work);
    let guest = Guest::new(&prog, &[], work.path()).foreign(cross);
    let c = compare(&guest, &work, true);
    c.assert_guest_unchanged(true);
    assert!(c.plain.stdout.contains("child exited 3"), "{}: the guest ran: {}", cross.arch, c.plain.stdout);
    assert!(c.plain.stdout.contains("open: -1 errno ENOENT"), "{}", c.plain.stdout);
    assert_eq!(c.sections, 2, "{}: QEMU's plugins report parent and child", cross.arch);
    c.assert_counts_exact();
    let child =
        c.reports.iter().filter(|r| r.starts_with("census.") && r.ends_with(".txt") && *r != "census.txt").count();
    assert_eq!(child, 1, "{}: the child's census is written beside the parent's: {:?}", cross.arch, c.reports);
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Access {
    pc: u64,
    addr: u64,
    size: u64,
    store: bool,
    value: u64,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_matches('"').trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("not hex: {s:?}: {e}"))
}

/// libmem `print-accesses=true`: `0xPC,SYMBOL,0xVADDR,0xPADDR,BITS,load|store,0xVALUE`.
fn libmem_accesses(log: &str) -> Vec<Access> {
    log.lines()
        .filter(|l| l.starts_with("0x") && (l.contains(",load,") || l.contains(",store,")))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 7, "libmem line {l:?}");
            let bits: u64 = f[4].parse().unwrap();
            // 128-bit values print as 32 digits; events carry the low 64 bits (docs/events.md).
            let value = &f[6][f[6].len().saturating_sub(16).max(2)..];
            Access { pc: hex(f[0]), addr: hex(f[2]), size: bits / 8, store: f[5] == "store", value: hex(value) }
        })
        .collect()
}

/// `cannonball dump` JSON lines: the `mem` events.
fn dumped_accesses(text: &str) -> Vec<Access> {
    let field = |l: &str, key: &str| -> String {
        let start = l.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {l}")) + key.len() + 3;
        l[start..].split([',', '}']).next().unwrap().to_owned()
    };
    text.lines()
        .filter(|l| l.contains("\"event\":\"mem\""))
        .map(|l| Access {
            pc: hex(&field(l, "pc")),
            addr: hex(&field(l, "addr")),
            size: field(l, "size").parse().unwrap(),
            store: field(l, "store") == "true",
            value: hex(&field(l, "value")),
        })
        .collect()
}

/// The address of a symbol in a (non-PIE) binary, from that architecture's `nm`.
fn symbol_address(cross: &Cross, binary: &Path, name: &str) -> u64 {
    let out = Command::new(format!("{}-nm", cross.triple)).arg(binary).output().expect("nm");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.split_whitespace().nth(2) == Some(name)).unwrap_or_else(|| panic!("{name}"));
    hex(line.split_whitespace().next().unwrap())
}

/// Every memory access, in order, equals libmem's list in the same process; the stores of
/// the program's arrays carry the values it stored, as the guest's byte order lays them out.
fn memory_exact(cross: &Cross) {
    let work = TempDir::new(&format!("foreign-mem-{}", cross.arch));
    let prog = build(cross, Linking::Static, &work);
    let (mut dump, sock, out) = start_dump_with(&work, &[]);
    let plugins = [
        plugin_arg(&oracle_plugin("mem"), &["print-accesses=true".into()]),
        plugin_arg(&plugin(), &[format!("sock={}", sock.display()), "forward=memory".into()]),
    ];
    let guest = Guest::new(&prog, &["memory"], work.path()).foreign(cross);
    let run = guest.run(&plugins, Some(&work.join("libmem.log")));
    assert!(run.status.success(), "{}: {}", cross.arch, run.stderr);
    assert!(run.stdout.starts_with("memory: "), "{}", run.stdout);
    assert!(dump.wait().success(), "cannonball dump failed");
    let ours = dumped_accesses(&std::fs::read_to_string(&out).unwrap());
    let theirs = libmem_accesses(&run.log);
    assert!(theirs.len() > 1000, "{}: libmem listed {} accesses", cross.arch, theirs.len());
    assert_eq!(ours.len(), theirs.len(), "{}: as many accesses as libmem", cross.arch);
    if let Some(i) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
        panic!("{}: access {i} differs: ours {:?}, libmem {:?}", cross.arch, ours[i], theirs[i]);
    }

    // Independent of both plugins: what the program stored, where.
    let big_endian = cross.arch == "mips";
    let stores: std::collections::BTreeMap<u64, (u64, u64)> =
        ours.iter().filter(|a| a.store).map(|a| (a.addr, (a.size, a.value))).collect();
    for (array, size, first) in [("b8", 1, 0xa0u64), ("b16", 2, 0xb1c0), ("b32", 4, 0xd2e3_f400)] {
        let base = symbol_address(cross, &prog, array);
        for i in 0..16 {
            assert_eq!(stores.get(&(base + i * size)), Some(&(size, first + i)), "{}: {array}[{i}]", cross.arch);
        }
    }
    let b64 = symbol_address(cross, &prog, "b64");
    for i in 0..16u64 {
        let value = 0x0102_0304_0506_0700 + i;
        let at = b64 + 8 * i;
        match stores.get(&at) {
            Some(&(8, v)) => assert_eq!(v, value, "{}: b64[{i}]", cross.arch),
            // A 32-bit target stores two words; which half goes first in memory is the byte order.
            Some(&(4, low_address)) => {
                let high_address = stores.get(&(at + 4)).map(|s| s.1);
                let (hi, lo) = (value >> 32, value & 0xffff_ffff);
                let expected = if big_endian { (hi, Some(lo)) } else { (lo, Some(hi)) };
                assert_eq!((low_address, high_address), expected, "{}: b64[{i}] as two words", cross.arch);
            }
            other => panic!("{}: b64[{i}] stored as {other:?}", cross.arch),
        }
    }
}

/// Faults recovered with siglongjmp in the middle of blocks (tests/programs/fault_loop.c):
/// the counts stay exact (QEMU's report of where a block was left, in our patch).
fn faults_exact(cross: &Cross) {
    let work = TempDir::new(&format!("foreign-faults-{}", cross.arch));
    let prog = work.join("fault_loop");
    cross.compile(&root().join("tests/programs/fault_loop.c"), &prog, Linking::Static, &[]);
    let c = compare(&Guest::new(&prog, &["1000"], work.path()).foreign(cross), &work, true);
    assert!(c.plain.stdout.contains("SIGSEGV 1000, SIGBUS 1000, SIGFPE "), "{}: {}", cross.arch, c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

/// A forked child's own counts exact: fork_counted.c's parent runs a tail known from its
/// assembly after the fork, so QEMU's plugins' sections give the child's own part.
fn forked_child_exact(cross: &Cross) {
    let work = TempDir::new(&format!("foreign-fork-{}", cross.arch));
    let prog = work.join("fork_counted");
    cross.compile(&root().join("tests/programs/fork_counted.c"), &prog, Linking::Static, &[]);
    let c = compare(&Guest::new(&prog, &[], work.path()).foreign(cross), &work, true);
    c.assert_guest_unchanged(true);
    assert!(c.plain.stdout.contains("child: "), "{}: {}", cross.arch, c.plain.stdout);
    c.assert_counts_exact();
    c.assert_forked_child_exact(&cannonball_tests::oracle::fork_counted_parent_tail(cross.arch));
}

macro_rules! per_arch {
    ($($name:ident: $arch:literal),* $(,)?) => {
        mod counts_static {
            $(#[test] fn $name() { super::counts_exact(&super::Cross::by_arch($arch), super::Linking::Static) })*
        }
        mod counts_dynamic {
            $(#[test] fn $name() { super::counts_exact(&super::Cross::by_arch($arch), super::Linking::Dynamic) })*
        }
        mod memory {
            $(#[test] fn $name() { super::memory_exact(&super::Cross::by_arch($arch)) })*
        }
        mod faults {
            $(#[test] fn $name() { super::faults_exact(&super::Cross::by_arch($arch)) })*
        }
        mod forked_child {
            $(#[test] fn $name() { super::forked_child_exact(&super::Cross::by_arch($arch)) })*
        }
    };
}

per_arch!(i386: "i386", aarch64: "aarch64", arm: "arm", riscv64: "riscv64", mips: "mips", mipsel: "mipsel", ppc64le: "ppc64le");

/// Debian's armhf compiler emits Thumb-2; the program in ARM code (its libc stays Thumb-2, so
/// the run switches between both).
#[test]
fn counts_arm_mode() {
    counts_exact_with(&Cross::by_arch("arm"), Linking::Static, &["-marm"]);
}

#[test]
fn every_foreign_target_is_tested() {
    // The macro above lists the targets by hand; this keeps it in step with FOREIGN.
    let listed = ["i386", "aarch64", "arm", "riscv64", "mips", "mipsel", "ppc64le"];
    assert_eq!(FOREIGN.iter().map(|c| c.arch).collect::<Vec<_>>(), listed);
    // ... and with the targets the launcher picks from ELF headers (and qemu/build.sh builds).
    let launcher: Vec<_> =
        cannonball_launcher::BUILT.iter().filter(|t| t.qemu != "x86_64").map(|t| (t.qemu, t.triple)).collect();
    assert_eq!(FOREIGN.iter().map(|c| (c.arch, c.triple)).collect::<Vec<_>>(), launcher);
}

/// `cannonball run` with a clean environment for a dynamically linked foreign program.
fn cannonball_run(args: &[&str], work: &TempDir) -> std::process::Output {
    cannonball_tests::watchdog::output(
        Command::new(cli())
            .args(args)
            .current_dir(work.path())
            .env_remove("QEMU_LD_PREFIX")
            .env_remove("RUST_BACKTRACE"),
    )
}

#[test]
fn run_picks_target_and_library_root_from_the_elf_header() {
    for arch in ["aarch64", "arm", "mips"] {
        let cross = Cross::by_arch(arch);
        let work = TempDir::new(&format!("foreign-run-{arch}"));
        let prog = build(&cross, Linking::Dynamic, &work);
        let cov = script("cov");
        let out = cannonball_run(
            &["run", "-q", "-s", cov.to_str().unwrap(), "-o", "reports", "--", prog.to_str().unwrap()],
            &work,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{arch}: {stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("child exited 3"), "{arch}");
        let listing = std::fs::read_to_string(work.join("reports/cov.txt")).unwrap();
        // mix's loop ran 4 × (20000..23000) + 10000 times in this process (the child's own report
        // holds its 30000): the listing shows the loop's instructions with that count.
        let section = listing
            .split("// symbol ")
            .find(|s| s.starts_with("mix "))
            .unwrap_or_else(|| panic!("{arch}: mix in\n{listing}"));
        let loop_lines = section.lines().filter(|l| l.split_whitespace().nth(1) == Some("96000")).count();
        assert!(loop_lines >= 5, "{arch}: mix's loop listed with its hits:\n{section}");
    }
}

#[test]
fn a_program_that_cannot_start_gets_one_line_and_no_reports() {
    let cross = Cross::by_arch("aarch64");
    let work = TempDir::new("foreign-refused");
    let prog = build(&cross, Linking::Dynamic, &work);
    let prog = prog.to_str().unwrap();
    let empty = work.join("empty-root");
    std::fs::create_dir_all(&empty).unwrap();
    let cov = script("cov");
    let cov = cov.to_str().unwrap();

    let refused = |args: &[&str], expected: &str| {
        let out = cannonball_run(args, &work);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.starts_with("cannonball: error: ") && stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!work.join("reports").exists(), "{args:?}: no reports");
    };
    let loader = "needs the dynamic loader /lib/ld-linux-aarch64.so.1, which is not under";
    refused(&["run", "-s", cov, "-o", "reports", "--sysroot", empty.to_str().unwrap(), "--", prog], loader);
    refused(&["run", "-s", cov, "-o", "reports", "-L", empty.to_str().unwrap(), "--", prog], loader);
    refused(&["run", "-s", cov, "-o", "reports", "--sysroot", "/nonexistent", "--", prog], "is not a directory");

    // Not executable; not ELF; an architecture we do not build (a big-endian POWER header).
    let copy = work.join("no-x");
    std::fs::copy(prog, &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(&["run", "-s", cov, "-o", "reports", "--", copy.to_str().unwrap()], "is not executable");
    let text = work.join("script.sh");
    std::fs::write(&text, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).unwrap();
    refused(&["run", "-s", cov, "-o", "reports", "--", text.to_str().unwrap()], "is not an ELF executable");
    let ppc = work.join("ppc64-big-endian");
    let mut bytes = std::fs::read(build(&Cross::by_arch("ppc64le"), Linking::Static, &work)).unwrap();
    bytes[5] = 2; // EI_DATA: big-endian
    bytes.swap(18, 19); // e_machine, now read big-endian
    std::fs::write(&ppc, bytes).unwrap();
    std::fs::set_permissions(&ppc, std::fs::Permissions::from_mode(0o755)).unwrap();
    refused(&["run", "-s", cov, "-o", "reports", "--", ppc.to_str().unwrap()], "a 64-bit big-endian PowerPC program");

    // QEMU_LD_PREFIX is honoured and checked like --sysroot.
    let out = cannonball_tests::watchdog::output(
        Command::new(cli())
            .args(["run", "-s", cov, "-o", "reports", "--", prog])
            .current_dir(work.path())
            .env("QEMU_LD_PREFIX", &empty),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("(QEMU_LD_PREFIX)"), "{stderr}");
}
