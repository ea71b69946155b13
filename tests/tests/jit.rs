//! Code that changes under QEMU: tests/programs/jit.c writes machine code into an anonymous
//! mapping, runs it, overwrites it with other code at the same addresses (through a writable
//! and executable mapping, and through mprotect) and runs it again, three rounds each. QEMU
//! drops its translations of the old code; counts, the trace and memory stay exact against
//! libinsn, libbb and libmem in the same process, and the program's result is known by
//! construction.

use cannonball_tests::{TempDir, census, census_with_oracles, oracle, program, run_qemu};

#[test]
fn rewritten_code_is_counted_as_it_ran() {
    let work = TempDir::new("jit");
    let out = work.join("out");
    let plugins = census_with_oracles(&work, &out, "blocks+trace+memory+block-counts");
    let run = run_qemu("x86_64", &plugins, &program("jit"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    // sum over k = 1..3 of (3·Σi + 1000k·1000) + (3·Σi − k·1000), i < 1000
    assert!(run.stdout().contains("total 14985000"), "{}", run.stdout());
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let insns = oracle::insn(&run.plugin_log).total;
    assert_eq!(census.get("instructions"), insns, "instructions against libinsn");
    assert_eq!(census.get("trace-instructions"), insns, "the trace against libinsn");
    let bb = oracle::bb_total(&run.plugin_log);
    assert_eq!(census.get("block-execs"), bb, "block executions against libbb");
    assert_eq!(census.get("block-counts-total"), bb, "inline block counts against libbb");
    let (reads, writes) = oracle::mem_reads_writes(&run.plugin_log);
    assert_eq!((census.get("mem-reads"), census.get("mem-writes")), (reads, writes), "memory against libmem");
    assert_eq!(census.get("order-errors"), 0);
}
