//! The example scripts that examples.rs checks on x86_64, on every foreign target against the
//! same independent oracles in the same QEMU process: trace = QEMU's execlog sequence,
//! hotblocks = QEMU's hotblocks, memstat = libmem's counts and execlog's addresses. The
//! program is tests/programs/foreign.c, statically linked by Debian's cross compiler. (cov and
//! branches: foreign_listing.rs; syscalls: foreign_syscalls.rs.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::cross::{Cross, Linking};
use cannonball_tests::{QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, root, run_qemu, script};

fn build(cross: &Cross, work: &TempDir) -> PathBuf {
    let out = work.join("foreign");
    cross.compile(&root().join("tests/programs/foreign.c"), &out, Linking::Static, &[]);
    out
}

fn run_script(
    cross: &Cross,
    name: &str,
    args: &[&str],
    oracles: &[String],
    prog: &Path,
    prog_args: &[&str],
    work: &TempDir,
) -> (QemuRun, PathBuf) {
    let out = work.join("out");
    let mut options = vec![format!("script={}", script(name).display()), format!("out={}", out.display())];
    options.extend(args.iter().map(|a| a.to_string()));
    let mut plugins = oracles.to_vec();
    plugins.push(plugin_arg(&plugin(), &options));
    let run = run_qemu(cross.arch, &plugins, prog, prog_args, work);
    assert!(run.output.status.success(), "{}: {}", cross.arch, run.stderr());
    (run, out)
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The executable LOAD segments of a binary, from that target's readelf.
fn code_ranges(cross: &Cross, binary: &Path) -> Vec<(u64, u64)> {
    let out = Command::new(format!("{}-readelf", cross.triple)).args(["-lW"]).arg(binary).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD") && l.contains(" E "))
        .map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            let start = hex(f[2]);
            (start, start + hex(f[5]))
        })
        .collect()
}

fn trace_matches_execlog(cross: &Cross) {
    let work = TempDir::new(&format!("fx-trace-{}", cross.arch));
    let prog = build(cross, &work);
    let oracles = [plugin_arg(&oracle_plugin("execlog"), &[])];
    let (run, out) = run_script(cross, "trace", &["module=foreign"], &oracles, &prog, &["memory"], &work);
    let ranges = code_ranges(cross, &prog);
    assert!(!ranges.is_empty(), "{}: readelf found no code segment", cross.arch);
    let expected: Vec<u64> = oracle::execlog_pcs(&run.plugin_log)
        .into_iter()
        .filter(|pc| ranges.iter().any(|&(s, e)| (s..e).contains(pc)))
        .collect();
    let traced: Vec<u64> = std::fs::read_to_string(out.join("trace.txt"))
        .unwrap()
        .lines()
        .map(|l| hex(l.split_whitespace().nth(1).unwrap()))
        .collect();
    assert!(expected.len() > 10_000, "{}: execlog listed {}", cross.arch, expected.len());
    assert_eq!(traced.len(), expected.len(), "{}: as many instructions as execlog", cross.arch);
    if let Some(i) = (0..traced.len()).find(|&i| traced[i] != expected[i]) {
        panic!("{}: instruction {i} differs: {:#x} against execlog's {:#x}", cross.arch, traced[i], expected[i]);
    }
}

fn hotblocks_match_qemu_hotblocks(cross: &Cross) {
    let work = TempDir::new(&format!("fx-hot-{}", cross.arch));
    let prog = build(cross, &work);
    let oracles = [plugin_arg(&oracle_plugin("hotblocks"), &[])];
    let (run, out) = run_script(cross, "hotblocks", &["top=100000"], &oracles, &prog, &[], &work);
    let text = std::fs::read_to_string(out.join("hotblocks.txt")).unwrap();
    let ours: HashMap<(u64, u64), u64> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<_> = l.split(", ").collect();
            ((hex(f[0]), f[2].parse().unwrap()), f[1].parse().unwrap())
        })
        .collect();
    // contrib hotblocks: "pc, tcount, icount, ecount" for its top 20, per process after a
    // "collected N entries" line. The forked child exits first and counts what it inherited
    // too (its table is a copy of the parent's): the parent's section is the last.
    let parent = run.plugin_log.rsplit("collected ").next().unwrap();
    let mut checked = 0;
    for line in parent.lines().filter(|l| l.starts_with("0x")) {
        let f: Vec<_> = line.split(", ").collect();
        let key = (hex(f[0]), f[2].parse().unwrap());
        assert_eq!(
            ours.get(&key),
            Some(&f[3].parse().unwrap()),
            "{}: block {:#x} of {} instructions",
            cross.arch,
            key.0,
            key.1
        );
        checked += 1;
    }
    assert!(checked >= 10, "{}: hotblocks printed {checked} blocks", cross.arch);
    let first = text.lines().nth(1).unwrap();
    assert!(
        first.split(", ").last().unwrap().starts_with("mix+0x"),
        "{}: the hottest block is mix's loop: {first}",
        cross.arch
    );
}

fn memstat_matches_libmem_and_execlog(cross: &Cross) {
    let work = TempDir::new(&format!("fx-mem-{}", cross.arch));
    let prog = build(cross, &work);
    let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
    let oracles = [plugin_arg(&oracle_plugin("execlog"), &[]), mem_r, mem_w];
    let (run, out) = run_script(cross, "memstat", &["top=5"], &oracles, &prog, &["memory"], &work);
    let (reads, writes) = oracle::mem_reads_writes(&run.plugin_log);
    let text = std::fs::read_to_string(out.join("memstat.txt")).unwrap();
    let value =
        |key: &str| -> u64 { text.lines().find_map(|l| l.strip_prefix(&format!("{key} "))).unwrap().parse().unwrap() };
    assert_eq!((value("reads"), value("writes")), (reads, writes), "{}: reads, writes (libmem)", cross.arch);
    let per_addr = oracle::execlog_access_counts(&run.plugin_log);
    let hot: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hot "))
        .map(|l| {
            let (a, n) = l.split_once(' ').unwrap();
            (hex(a), n.parse().unwrap())
        })
        .collect();
    assert_eq!(hot.len(), 5, "{}", cross.arch);
    assert_eq!(hot[0].1, per_addr.values().copied().max().unwrap(), "{}: the hottest address (execlog)", cross.arch);
    for (addr, n) in hot {
        assert_eq!(per_addr.get(&addr), Some(&n), "{}: accesses to {addr:#x} (execlog)", cross.arch);
    }
}

macro_rules! per_arch {
    ($($name:ident: $arch:literal),* $(,)?) => {
        mod trace { $(#[test] fn $name() { super::trace_matches_execlog(&super::Cross::by_arch($arch)) })* }
        mod hotblocks { $(#[test] fn $name() { super::hotblocks_match_qemu_hotblocks(&super::Cross::by_arch($arch)) })* }
        mod memstat { $(#[test] fn $name() { super::memstat_matches_libmem_and_execlog(&super::Cross::by_arch($arch)) })* }
    };
}

per_arch!(i386: "i386", aarch64: "aarch64", arm: "arm", riscv64: "riscv64", mips: "mips", mipsel: "mipsel", ppc64le: "ppc64le");
