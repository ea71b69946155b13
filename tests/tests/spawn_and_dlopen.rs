//! Children made by vfork and posix_spawn, and a library loaded by dlopen
//! (tests/programs/spawners.c).
//!
//! Oracles: QEMU's libinsn, libbb, libmem and libsyscall in the same run for the parent's counts;
//! the program's own loop count for the dlopen'ed function's hits.

use std::process::Command;

use cannonball_tests::guest::{Guest, compare};
use cannonball_tests::{TempDir, plugin, plugin_arg, program, run_qemu, script};

/// A shared library with one function, `counted`, built into `work`.
fn counted_library(work: &TempDir) -> std::path::PathBuf {
    let src = work.join("counted.c");
    std::fs::write(&src, "int counted(int x) { return (x * 7) % 13; }\n").unwrap();
    let lib = work.join("libcounted.so");
    let status = Command::new("gcc").args(["-O1", "-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().unwrap();
    assert!(status.success());
    lib
}

#[test]
fn vfork_and_posix_spawn_leave_the_parent_exact() {
    let work = TempDir::new("spawners");
    let lib = counted_library(&work);
    let guest = Guest::new(program("spawners"), &[lib.to_str().unwrap()], work.path());
    let c = compare(&guest, &work, true);
    c.assert_guest_unchanged(true);
    assert!(c.plain.stdout.contains("vfork child exited 7"), "{}", c.plain.stdout);
    assert!(c.plain.stdout.contains("posix_spawn: 0, exited 0"), "{}", c.plain.stdout);
    assert!(c.plain.stdout.contains("counted 1000 times: 6000"), "{}", c.plain.stdout);
    // The vfork child exits under QEMU (a section of its own); posix_spawn's child executes
    // /bin/true natively, which ends its QEMU without exit callbacks.
    assert_eq!(c.sections, 2, "{}", c.observed.log);
    // The parent: instructions, blocks, memory and system calls equal QEMU's plugins'.
    c.assert_counts_exact();
    // Each child wrote its own report: the vfork child's ends with its exit_group, the
    // spawned child's with the execve that replaced it.
    let children: Vec<_> = c.reports.iter().filter(|r| r.starts_with("census.") && *r != "census.txt").collect();
    assert_eq!(children.len(), 2, "{:?}", c.reports);
    let last_calls: Vec<(i64, u64)> = children
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(c.out.join(name)).unwrap();
            let census = cannonball_tests::census::parse(&text);
            let unreturned: Vec<_> = census.syscalls.iter().filter(|(_, s)| s.2 > 0).map(|(&n, s)| (n, s.2)).collect();
            assert_eq!(unreturned.len(), 1, "{name}: one call never returned: {unreturned:?}");
            unreturned[0]
        })
        .collect();
    assert!(last_calls.contains(&(231, 1)), "the vfork child's exit_group: {last_calls:?}");
    assert!(last_calls.contains(&(59, 1)), "the spawned child's execve: {last_calls:?}");
}

#[test]
fn cov_lists_a_dlopened_library() {
    // module=NAME for a library that is not loaded at start: its code lands where other files
    // were mapped before (ld.so.cache), so the plugin must read the maps again after mmap.
    let work = TempDir::new("spawners-cov");
    let lib = counted_library(&work);
    let out = work.join("out");
    let options = [
        format!("script={}", script("cov").display()),
        format!("out={}", out.display()),
        "module=libcounted.so".into(),
    ];
    let run =
        run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("spawners"), &[lib.to_str().unwrap()], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let listing = std::fs::read_to_string(out.join("cov.txt")).unwrap();
    let section = listing
        .split("// symbol ")
        .find(|s| s.starts_with("counted "))
        .unwrap_or_else(|| panic!("counted is not listed:\n{listing}"));
    // counted has no branch: each of its instructions ran once per call, 1000 calls.
    let counts: Vec<&str> = section.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert!(counts.len() >= 5, "{section}");
    assert!(counts.iter().all(|&n| n == "1000"), "each instruction of counted ran 1000 times:\n{section}");
    // Nothing of the program or libc: only the library's code.
    assert!(listing.lines().filter(|l| l.starts_with("// symbol ")).all(|l| l.contains("libcounted.so")), "{listing}");
}
