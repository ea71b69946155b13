//! More than 64 guest threads alive at once (tests/programs/many_threads.c: 150 threads wait at
//! a barrier until all of them run): instructions per thread, block executions, the trace and
//! memory accesses equal QEMU's plugins in the same process, and every thread's start and exit
//! is seen.

use cannonball_tests::{TempDir, census, census_with_oracles, oracle, program, run_qemu};

#[test]
fn counts_stay_exact_with_150_threads_alive_at_once() {
    let work = TempDir::new("many-threads");
    let out = work.join("out");
    let threads = 150u64;
    let plugins = census_with_oracles(&work, &out, "blocks+trace+memory+threads+block-counts");
    let run = run_qemu("x86_64", &plugins, &program("many_threads"), &[&threads.to_string()], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    assert!(run.stdout().contains(&format!("{threads} threads, sum ")), "{}", run.stdout());
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let insn = oracle::insn(&run.plugin_log);
    assert_eq!(census.get("instructions"), insn.total, "instructions against libinsn");
    assert!(insn.per_cpu.len() as u64 > 64, "more than 64 vCPUs at once: {}", insn.per_cpu.len());
    for (cpu, n) in &insn.per_cpu {
        assert_eq!(census.get(&format!("instructions-vcpu-{cpu}")), *n, "vCPU {cpu} against libinsn");
        assert_eq!(census.get(&format!("trace-instructions-vcpu-{cpu}")), *n, "vCPU {cpu}'s trace against libinsn");
    }
    assert_eq!(census.get("trace-instructions"), insn.total, "the trace against libinsn");
    assert_eq!(census.get("block-execs"), oracle::bb_total(&run.plugin_log), "block executions against libbb");
    assert_eq!(
        census.get("block-counts-total"),
        oracle::bb_total(&run.plugin_log),
        "inline block counts against libbb"
    );
    let (reads, writes) = oracle::mem_reads_writes(&run.plugin_log);
    assert_eq!((census.get("mem-reads"), census.get("mem-writes")), (reads, writes), "memory against libmem");
    assert_eq!(census.get("order-errors"), 0);
    assert_eq!(census.get("threads-started"), threads + 1, "every thread's start");
    assert_eq!(census.get("threads-exited"), threads + 1, "every thread's exit");
}
