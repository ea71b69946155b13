//! icount.wasm against libinsn.so (QEMU's own instruction counter, one callback per
//! instruction), both loaded into the same QEMU run so they see the same execution.

use std::path::Path;

use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, report_lines, run_qemu, script};

struct Counts {
    total: u64,
    per_vcpu: Vec<(u32, u64)>,
}

fn icount_report(out: &Path) -> Counts {
    let text = std::fs::read_to_string(out.join("icount.txt")).expect("icount.txt was not written");
    let mut total = None;
    let mut per_vcpu = Vec::new();
    for (key, value) in report_lines(&text) {
        match key.as_str() {
            "total" => total = Some(value.parse().unwrap()),
            "vcpu" => {
                let (vcpu, n) = value.split_once(' ').unwrap();
                per_vcpu.push((vcpu.parse().unwrap(), n.parse().unwrap()));
            }
            _ => panic!("unexpected line in icount.txt: {key} {value}"),
        }
    }
    Counts { total: total.expect("no total in icount.txt"), per_vcpu }
}

/// Runs `program args` under libinsn and icount at once; returns (libinsn, icount, stdout).
fn compare(program_path: &Path, args: &[&str]) -> (oracle::Insn, Counts, String) {
    let work = TempDir::new("icount");
    let out = work.join("out");
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&plugin(), &[format!("script={}", script("icount").display()), format!("out={}", out.display())]),
    ];
    let run = run_qemu("x86_64", &plugins, program_path, args, &work);
    assert!(run.output.status.success(), "qemu failed: {}\n{}", run.output.status, run.stderr());
    let insn = oracle::insn(&run.plugin_log);
    let counts = icount_report(&out);
    (insn, counts, run.stdout())
}

fn assert_same(insn: &oracle::Insn, counts: &Counts) {
    assert!(insn.total > 0);
    assert_eq!(counts.total, insn.total, "icount total differs from libinsn");
    let nonzero: Vec<_> = insn.per_cpu.iter().copied().filter(|&(_, n)| n > 0).collect();
    assert_eq!(counts.per_vcpu, nonzero, "icount per-vCPU split differs from libinsn");
}

#[test]
fn small_c_program_matches_libinsn() {
    let (insn, counts, stdout) = compare(&program("demo"), &[]);
    assert!(stdout.contains("primes below 10000: 1229"), "guest output: {stdout}");
    assert_same(&insn, &counts);
    assert_eq!(counts.per_vcpu.len(), 1);
}

#[test]
fn bin_ls_matches_libinsn() {
    let (insn, counts, stdout) = compare(Path::new("/bin/ls"), &["-la", "/usr/share/doc/bash"]);
    assert!(stdout.contains("copyright"), "guest output: {stdout}");
    assert_same(&insn, &counts);
}

#[test]
fn eight_threads_match_libinsn_per_vcpu() {
    let (insn, counts, stdout) = compare(&program("threads"), &[]);
    assert!(stdout.contains("threads: 8"), "guest output: {stdout}");
    assert_same(&insn, &counts);
    // Main plus workers: more than one vCPU did work.
    assert!(counts.per_vcpu.len() > 1, "expected several vCPUs, got {:?}", counts.per_vcpu);
}
