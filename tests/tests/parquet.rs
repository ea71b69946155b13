//! `cannonball dump --parquet`: QEMU forwards to dump, which writes Parquet tables; DuckDB
//! (embedded, from target/py, which `cargo xtask test` makes) queries them in place, and
//! the queries reproduce what QEMU's own plugins counted in the same QEMU process:
//! instructions (libinsn), memory reads and writes (libmem), system calls by number with
//! their errors (libsyscall). The queries are those of docs/parquet.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_launcher::Tree;
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, start_dump_with};

/// Small row groups and files, so that even these short runs write several of each.
const LAYOUT: [&str; 4] = ["--row-group", "100000", "--file-rows", "250000"];

/// What QEMU's plugins counted for one process.
type Oracle = oracle::Process;

/// One run: QEMU with the oracles and libcannonball.so forwarding `forward` to
/// `cannonball dump --parquet`; the oracles per process (in exit order) and the guest's status.
struct Run {
    work: TempDir,
    oracles: Vec<Oracle>,
    status: std::process::ExitStatus,
}

impl Run {
    fn new(prog: &str, forward: &str) -> Run {
        let work = TempDir::new("parquet");
        let tables = work.join("tables");
        let mut options = vec!["--count", "--parquet", tables.to_str().unwrap()];
        options.extend(LAYOUT);
        let (dump, sock, _) = start_dump_with(&work, &options);
        let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
        let plugins = [
            plugin_arg(&oracle_plugin("insn"), &[]),
            mem_r,
            mem_w,
            plugin_arg(&oracle_plugin("syscall"), &[]),
            plugin_arg(&plugin(), &[format!("sock={}", sock.display()), format!("forward={forward}")]),
        ];
        let run = run_qemu("x86_64", &plugins, &program(prog), &[], &work);
        let out = dump.wait_with_output();
        assert!(out.status.success(), "dump failed: {}", String::from_utf8_lossy(&out.stderr));
        let oracles = oracle::sections(&run.plugin_log).iter().map(|s| Oracle::of(s)).collect();
        Run { work, oracles, status: run.output.status }
    }

    fn tables(&self) -> PathBuf {
        self.work.join("tables")
    }

    /// Runs SQL in DuckDB over the tables (one view per table, `pid` from the partition
    /// directory); each query's rows, each row its values as text.
    fn sql(&self, queries: &[&str]) -> Vec<Vec<Vec<String>>> {
        duckdb(&self.tables(), queries)
    }

    /// A query's single number.
    fn number(&self, query: &str) -> u64 {
        let rows = &self.sql(&[query])[0];
        rows[0][0].parse().unwrap_or_else(|_| panic!("{query}: {rows:?}"))
    }
}

/// The venv `cargo xtask test` makes (xtask/src/python.rs).
fn python() -> PathBuf {
    let python = Tree::source().target().join("py/bin/python3");
    assert!(python.exists(), "{} is missing: run `cargo xtask test` (it installs DuckDB there)", python.display());
    python
}

/// The same views docs/parquet.md creates, then the queries; rows come back as
/// tab-separated lines, one block per query ended by an empty line.
const DRIVER: &str = r#"
import os, sys, duckdb
root = sys.argv[1]
con = duckdb.connect()
for table in sorted(os.listdir(root)):
    con.sql(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{root}/{table}/*/*.parquet', hive_partitioning = true)")
for query in sys.argv[2:]:
    for row in con.sql(query).fetchall():
        print("\t".join("NULL" if v is None else str(v) for v in row))
    print()
"#;

/// PySpark (from PyPI into target/py; Java is Debian's openjdk-17-jre-headless): the tables
/// as docs/parquet.md defines them for Spark SQL, then the queries.
const SPARK_DRIVER: &str = r#"
import os, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
root = sys.argv[1]
for table in sorted(os.listdir(root)):
    spark.sql(f"CREATE TEMPORARY VIEW {table} USING parquet OPTIONS (path '{root}/{table}')")
for query in sys.argv[2:]:
    for row in spark.sql(query).collect():
        print("\t".join("NULL" if v is None else str(v) for v in row))
    print()
spark.stop()
"#;

fn duckdb(tables: &Path, queries: &[&str]) -> Vec<Vec<Vec<String>>> {
    engine("duckdb", DRIVER, tables, queries)
}

fn spark(tables: &Path, queries: &[&str]) -> Vec<Vec<Vec<String>>> {
    engine("spark", SPARK_DRIVER, tables, queries)
}

/// Runs `driver` in target/py over `tables`; each query's rows, each row its values as text.
fn engine(name: &str, driver: &str, tables: &Path, queries: &[&str]) -> Vec<Vec<Vec<String>>> {
    let mut cmd = Command::new(python());
    cmd.arg("-c").arg(driver).arg(tables).args(queries);
    let out = cannonball_tests::watchdog::output(&mut cmd);
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut blocks: Vec<Vec<Vec<String>>> = vec![Vec::new()];
    for line in text.lines() {
        if line.is_empty() {
            blocks.push(Vec::new());
        } else {
            blocks.last_mut().unwrap().push(line.split('\t').map(String::from).collect());
        }
    }
    blocks.pop();
    assert_eq!(blocks.len(), queries.len(), "{text}");
    blocks
}

/// Instructions per process from the executions (no join: `execs.insns` is what ran).
const INSNS_BY_PID: &str = "SELECT pid, sum(insns) FROM execs GROUP BY pid ORDER BY pid";
/// The same, expanded into one row per executed instruction by the join with block facts.
const EXPANDED_BY_PID: &str = "SELECT e.pid, count(*) FROM execs e JOIN insns i \
     ON i.pid = e.pid AND i.block = e.block AND i.idx < e.insns GROUP BY e.pid ORDER BY e.pid";
const MEMORY_BY_PID: &str = "SELECT pid, count(*) FILTER (WHERE NOT store), count(*) FILTER (WHERE store) FROM memory GROUP BY pid ORDER BY pid";
/// System calls per number: calls, and errors (returned with a negative value), as libsyscall.
const SYSCALLS_OF: &str = "SELECT number, count(*), count(*) FILTER (WHERE returned AND ret < 0) FROM syscalls \
     WHERE pid = PID GROUP BY number ORDER BY number";

const PROCESS: &str = "SELECT pid, forked, ended, instructions, exit_status, signal FROM process ORDER BY pid";

fn pairs(rows: &[Vec<String>]) -> BTreeMap<u64, Vec<u64>> {
    rows.iter().map(|r| (r[0].parse().unwrap(), r[1..].iter().map(|v| v.parse().unwrap()).collect())).collect()
}

fn syscalls(run: &Run, pid: u64) -> BTreeMap<i64, (u64, u64)> {
    let rows = &run.sql(&[&SYSCALLS_OF.replace("PID", &pid.to_string())])[0];
    rows.iter().map(|r| (r[0].parse().unwrap(), (r[1].parse().unwrap(), r[2].parse().unwrap()))).collect()
}

#[test]
fn queries_on_a_multithreaded_run_equal_the_oracles() {
    let run = Run::new("threads", "trace+memory+syscalls+threads");
    assert!(run.status.success());
    let o = &run.oracles[0];
    let [insns, expanded, memory, process] = &run.sql(&[INSNS_BY_PID, EXPANDED_BY_PID, MEMORY_BY_PID, PROCESS])[..]
    else {
        unreachable!()
    };
    let pid: u64 = process[0][0].parse().unwrap();
    assert_eq!(pairs(insns)[&pid], [o.insns], "instructions from execs (libinsn)");
    assert_eq!(pairs(expanded)[&pid], [o.insns], "instructions expanded by the join with insns (libinsn)");
    assert_eq!(pairs(memory)[&pid], [o.reads, o.writes], "memory reads and writes (libmem)");
    assert_eq!(syscalls(&run, pid), o.syscalls, "system calls by number: calls, errors (libsyscall)");
    assert_eq!(process[0][1..], ["False", "True", &o.insns.to_string(), "0", "0"], "the end frame");
    // Eight worker threads: each start has its exit; the end frame's per-vCPU counts add up.
    let threads = &run.sql(&[
        "SELECT count(*) FILTER (WHERE event = 'start'), count(*) FILTER (WHERE event = 'exit') FROM threads",
        "SELECT sum(instructions) FROM vcpus",
        "SELECT count(DISTINCT vcpu) FROM execs",
    ]);
    assert_eq!(threads[0][0][0], threads[0][0][1], "starts and exits");
    assert!(threads[0][0][0].parse::<u64>().unwrap() >= 8);
    assert_eq!(threads[1][0][0], o.insns.to_string(), "vcpus adds up to the total");
    assert!(threads[2][0][0].parse::<u64>().unwrap() >= 2, "several vCPUs executed");
    // The small layout made several files with several row groups each; all of them read.
    let segments = std::fs::read_dir(run.tables().join("execs").join(format!("pid={pid}"))).unwrap().count();
    assert!(segments >= 4, "{segments} execs files");
    // Execution indices are each vCPU's 0, 1, 2, ... without gaps or repeats.
    let gaps = run.number("SELECT count(*) FROM (SELECT vcpu, count(*) n, count(DISTINCT exec) d, max(exec) m FROM execs GROUP BY vcpu) WHERE n <> d OR m + 1 <> n");
    assert_eq!(gaps, 0, "exec numbering");
}

/// docs/parquet.md's queries give in Spark SQL what they give in DuckDB, over the same trace of
/// a forking program (two partitions).
#[test]
fn spark_gives_duckdbs_results() {
    let run = Run::new("fork", "trace+memory+syscalls");
    assert!(run.status.success());
    let pid = run.number("SELECT min(pid) FROM process");
    let hottest = "SELECT b.symbol, sum(e.insns) AS insns FROM execs e JOIN blocks b USING (pid, block) \
         GROUP BY b.symbol ORDER BY insns DESC, b.symbol LIMIT 10";
    let syscalls = SYSCALLS_OF.replace("PID", &pid.to_string());
    let queries = [INSNS_BY_PID, EXPANDED_BY_PID, MEMORY_BY_PID, &syscalls, hottest, PROCESS];
    let (ours, theirs) = (duckdb(&run.tables(), &queries), spark(&run.tables(), &queries));
    for ((query, d), s) in queries.iter().zip(&ours).zip(&theirs) {
        assert!(!d.is_empty(), "{query}: no rows");
        assert_eq!(d, s, "{query}: DuckDB against Spark");
    }
}

#[test]
fn a_forked_child_is_a_partition_of_its_own() {
    // fork_counted.c's parent runs a tail known from its source after the fork, so the child's
    // own counts follow from QEMU's plugins alone (oracle::Process::forked_child_own).
    let run = Run::new("fork_counted", "trace+memory+syscalls");
    assert!(run.status.success());
    // The child exits first (the parent waits for it): its oracle section comes first.
    let (oracle_child, oracle_parent) = (&run.oracles[0], &run.oracles[1]);
    let own = oracle_child.forked_child_own(oracle_parent, &oracle::fork_counted_parent_tail("x86_64"));
    let [insns, expanded, memory, process] = &run.sql(&[INSNS_BY_PID, EXPANDED_BY_PID, MEMORY_BY_PID, PROCESS])[..]
    else {
        unreachable!()
    };
    assert_eq!(process.len(), 2, "{process:?}");
    let pid_of = |forked: &str| process.iter().find(|r| r[1] == forked).unwrap()[0].parse::<u64>().unwrap();
    let (parent, child) = (pid_of("False"), pid_of("True"));
    for row in process {
        assert_eq!(row[2], "True", "both streams ended: {row:?}");
    }
    for (pid, o, who) in [(parent, oracle_parent, "parent"), (child, &own, "child")] {
        assert_eq!(pairs(insns)[&pid], [o.insns], "{who}'s instructions (libinsn)");
        assert_eq!(pairs(expanded)[&pid], [o.insns], "{who}'s expanded instructions (libinsn)");
        assert_eq!(pairs(memory)[&pid], [o.reads, o.writes], "{who}'s memory (libmem)");
        assert_eq!(syscalls(&run, pid), o.syscalls, "{who}'s system calls (libsyscall)");
    }
    let end: u64 = process.iter().find(|r| r[1] == "True").unwrap()[3].parse().unwrap();
    assert_eq!(end, own.insns, "the child's end frame (libinsn)");
    assert!(!syscalls(&run, child).contains_key(&57), "the fork belongs to the parent");
}

#[test]
fn a_fatal_fault_is_a_cut_execution_and_an_exit_signal() {
    let run = Run::new("segv", "trace+memory");
    assert_eq!(run.status.code(), None, "the guest dies of SIGSEGV");
    let o = &run.oracles[0];
    let [insns, expanded, process, cuts] = &run.sql(&[
        INSNS_BY_PID,
        EXPANDED_BY_PID,
        PROCESS,
        "SELECT c.insns, b.insns, e.insns FROM cuts c JOIN blocks b USING (pid, block) \
         JOIN execs e USING (pid, vcpu, exec)",
    ])[..] else {
        unreachable!()
    };
    let pid: u64 = process[0][0].parse().unwrap();
    assert_eq!(pairs(insns)[&pid], [o.insns], "instructions up to the fault (libinsn)");
    assert_eq!(pairs(expanded)[&pid], [o.insns], "expanded up to the fault (libinsn)");
    assert_eq!(process[0][1..], ["False", "True", &o.insns.to_string(), "139", "11"], "status 128 + SIGSEGV");
    assert_eq!(cuts.len(), 1, "one execution cut short: {cuts:?}");
    let [ran, block, row] = &cuts[0][..] else { unreachable!() };
    assert_eq!(ran, row, "the execs row carries what ran");
    assert!(ran.parse::<u32>().unwrap() < block.parse::<u32>().unwrap(), "the fault is mid-block: {cuts:?}");
}
