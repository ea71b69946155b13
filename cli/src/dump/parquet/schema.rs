//! The tables `cannonball dump --parquet` writes, column by column (docs/parquet.md explains
//! them with queries). Every table is a directory `DIR/<table>/pid=<pid>/`, the Hive layout
//! that DuckDB, DataFusion and Spark read as one table partitioned by process.
//!
//! Encodings (measured on a gzip trace, docs/parquet.md): counters (`exec`, `seq`) are
//! DELTA_BINARY_PACKED, a +1 sequence takes almost no space. The hot columns of `execs` and
//! `memory` are PLAIN and left to snappy, which finds the loops' repetitions: delta or
//! dictionary encoding would halve the files but cost twice the CPU (dictionaries hash every
//! value), and the writer must keep up with the stream. Small tables use dictionaries.

use super::columns::{ColumnDef, Enc, Kind, TableDef};

const fn col(name: &'static str, kind: Kind, enc: Enc) -> ColumnDef {
    ColumnDef { name, kind, optional: false, enc, stats: true }
}

const fn opt(name: &'static str, kind: Kind, enc: Enc) -> ColumnDef {
    ColumnDef { name, kind, optional: true, enc, stats: true }
}

use Enc::{Delta, Dict, Plain};
use Kind::*;

/// One row per stream: its `hello`, and its `end` when it arrived (`ended` false: the stream
/// broke off, the end columns are null).
pub static PROCESS: TableDef = TableDef {
    name: "process",
    columns: &[
        col("connection", U32, Plain),
        col("forked", Bool, Plain),
        col("arch", Str, Plain),
        col("script", Str, Plain),
        col("ended", Bool, Plain),
        col("frames_received", U64, Plain),
        opt("instructions", U64, Plain),
        opt("records", U64, Plain),
        opt("frames", U64, Plain),
        opt("exit_status", I32, Plain),
        opt("signal", U32, Plain),
    ],
};

/// The `end` frame's instruction count per vCPU (all code, filtered or not).
pub static VCPUS: TableDef =
    TableDef { name: "vcpus", columns: &[col("vcpu", U32, Plain), col("instructions", U64, Plain)] };

/// Block facts, one row per translated block: `sizes` has one byte per instruction, `bytes`
/// the opcode bytes of all of them.
pub static BLOCKS: TableDef = TableDef {
    name: "blocks",
    columns: &[
        col("block", U32, Delta),
        col("vaddr", U64, Plain),
        col("insns", U16, Dict),
        col("sizes", Binary, Plain),
        col("bytes", Binary, Plain),
        opt("symbol", Str, Dict),
    ],
};

/// The blocks' instructions, one row each (`idx` from 0): joined with `execs` on
/// `block` and `idx < execs.insns`, it expands executions into the instructions they ran.
pub static INSNS: TableDef = TableDef {
    name: "insns",
    columns: &[col("block", U32, Delta), col("idx", U16, Delta), col("pc", U64, Plain), col("size", U8, Dict)],
};

/// One row per block execution, as the stream carries them: `exec` numbers a vCPU's
/// executions from 0; `insns` is how many of the block's instructions ran (all of them,
/// unless a fault cut the execution short).
pub static EXECS: TableDef = TableDef {
    name: "execs",
    columns: &[
        col("vcpu", U32, Plain),
        col("exec", U64, Delta),
        col("block", U32, Plain).without_stats(),
        col("insns", U16, Plain).without_stats(),
    ],
};

/// The executions a fault cut short (the protocol's `cut_short`): `insns` ran, the faulting
/// instruction included. Their `execs` rows carry the same count.
pub static CUTS: TableDef = TableDef {
    name: "cuts",
    columns: &[col("vcpu", U32, Plain), col("exec", U64, Plain), col("block", U32, Plain), col("insns", U32, Plain)],
};

/// Memory accesses: `seq` numbers the stream's accesses in arrival order, `exec` is the
/// execution index (0 unless two or more of trace/memory/syscalls are forwarded); `info` as
/// in the protocol, `size` (bytes) and `store` decoded from it.
pub static MEMORY: TableDef = TableDef {
    name: "memory",
    columns: &[
        col("seq", U64, Delta),
        col("vcpu", U32, Plain),
        col("exec", U64, Delta),
        col("pc", U64, Plain).without_stats(),
        col("addr", U64, Plain).without_stats(),
        col("info", U8, Plain).without_stats(),
        col("size", U8, Plain).without_stats(),
        col("store", Bool, Plain).without_stats(),
        col("value", U64, Plain).without_stats(),
    ],
};

/// System calls, at their return (or at exit for one that never returned: `returned`
/// false). `seq` numbers the stream's calls; `syscall_data.seq` refers to it.
pub static SYSCALLS: TableDef = TableDef {
    name: "syscalls",
    columns: &[
        col("seq", U64, Delta),
        col("vcpu", U32, Plain),
        col("exec", U64, Delta),
        col("number", I64, Dict),
        col("arg0", U64, Plain),
        col("arg1", U64, Plain),
        col("arg2", U64, Plain),
        col("arg3", U64, Plain),
        col("arg4", U64, Plain),
        col("arg5", U64, Plain),
        col("ret", I64, Plain),
        col("returned", Bool, Plain),
    ],
};

/// Strings and buffers of system call arguments (`forward=syscall-data`): `arg` 0-5,
/// `info` the protocol's flags (TRUNCATED 8, UNREADABLE 16, ELEMENT 32, AT_RETURN 64 and the
/// argument in bits 0-2).
pub static SYSCALL_DATA: TableDef = TableDef {
    name: "syscall_data",
    columns: &[col("seq", U64, Delta), col("arg", U8, Dict), col("info", U8, Dict), col("bytes", Binary, Plain)],
};

/// Thread starts and exits; `frame` is the frame's number in its stream (`hello` is 0),
/// which orders them among the other frames.
pub static THREADS: TableDef = TableDef {
    name: "threads",
    columns: &[col("frame", U64, Plain), col("vcpu", U32, Plain), col("event", Str, Dict)],
};

/// Interrupts, exceptions and host calls (`forward=discontinuities`): `frame` orders them
/// among the stream's frames, `exec` as in `memory`, `kind` interrupt, exception or host-call.
pub static DISCONTINUITIES: TableDef = TableDef {
    name: "discontinuities",
    columns: &[
        col("frame", U64, Delta),
        col("vcpu", U32, Plain),
        col("exec", U64, Delta),
        col("kind", Str, Dict),
        col("from_pc", U64, Plain),
        col("to_pc", U64, Plain),
    ],
};

/// The script's `emit` records.
pub static RECORDS: TableDef = TableDef {
    name: "records",
    columns: &[col("frame", U64, Delta), col("tag", U32, Dict), col("payload", Binary, Plain)],
};
