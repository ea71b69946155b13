//! Frames in, Parquet files out, read back with the parquet crate's own reader: row groups
//! and files cut where the layout says, a cut execution, nulls, the process row.

use std::path::Path;

use cannonball_client::protocol::{Block, End, Execs, ExitStatus, Frame, Hello, VcpuCount};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::{Layout, ParquetSink};

fn hello(pid: u32) -> Frame {
    Frame::Hello(Hello { pid, forked: false, arch: "x86_64".into(), script: String::new() })
}

fn block(id: u32, sizes: &[u8]) -> Block {
    let bytes = vec![0x90; sizes.iter().map(|&s| s as usize).sum()];
    Block { id, vaddr: 0x1000 * u64::from(id + 1), insn_sizes: sizes.to_vec(), insn_bytes: bytes, symbol: None }
}

/// Every row of every file of `table` for `pid`, in file order.
fn rows(dir: &Path, table: &str, pid: u32) -> Vec<Vec<Field>> {
    let mut files: Vec<_> =
        std::fs::read_dir(dir.join(table).join(format!("pid={pid}"))).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        assert_eq!(file.extension().unwrap(), "parquet", "no temporary file is left: {}", file.display());
        let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            out.push(row.unwrap().get_column_iter().map(|(_, f)| f.clone()).collect());
        }
    }
    out
}

fn files(dir: &Path, table: &str, pid: u32) -> usize {
    std::fs::read_dir(dir.join(table).join(format!("pid={pid}"))).unwrap().count()
}

#[test]
fn executions_memory_and_the_end_round_trip() {
    let dir = std::env::temp_dir().join(format!("cannonball-parquet-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut sink = ParquetSink::new(&dir, Layout { row_group: 4, file_rows: 8 }).unwrap();
    sink.frame(0, &hello(7)).unwrap();
    sink.frame(0, &Frame::Blocks(vec![block(0, &[1, 2, 3]), block(1, &[4, 4])])).unwrap();
    // 21 executions in two frames of vCPU 3; a fault cut the last one after 2 instructions.
    let ids: Vec<u32> = (0..20).map(|i| i % 2).collect();
    sink.frame(0, &Frame::Execs(Execs { vcpu: 3, first_exec: 0, ids, cut_short: None })).unwrap();
    sink.frame(0, &Frame::Execs(Execs { vcpu: 3, first_exec: 20, ids: vec![0], cut_short: Some(2) })).unwrap();
    let end = End {
        instructions: vec![VcpuCount { vcpu: 3, count: 52 }],
        records: 0,
        frames: 5,
        exit: Some(ExitStatus { status: 139, signal: 11 }),
    };
    sink.frame(0, &Frame::End(end)).unwrap();
    let written = sink.finish().unwrap();

    let execs = rows(&dir, "execs", 7);
    assert_eq!(execs.len(), 21);
    // Row groups of 4, files of 8 rows: 21 rows make files of 8, 8 and 5.
    assert_eq!(files(&dir, "execs", 7), 3);
    for (i, row) in execs.iter().enumerate() {
        let ran = if i == 20 {
            2
        } else if i % 2 == 0 {
            3
        } else {
            2
        };
        assert_eq!(row[..], [Field::UInt(3), Field::ULong(i as u64), Field::UInt(i as u32 % 2), Field::UShort(ran)]);
    }
    let total: u64 = execs.iter().map(|r| if let Field::UShort(n) = r[3] { u64::from(n) } else { 0 }).sum();
    assert_eq!(total, 52, "the execs rows add up to the end frame's count");
    assert_eq!(rows(&dir, "cuts", 7), [vec![Field::UInt(3), Field::ULong(20), Field::UInt(0), Field::UInt(2)]]);
    assert_eq!(rows(&dir, "insns", 7).len(), 5);
    let blocks = rows(&dir, "blocks", 7);
    assert_eq!(blocks[1][5], Field::Null, "no symbol");
    let process = rows(&dir, "process", 7);
    assert_eq!(process[0][4], Field::Bool(true), "ended");
    assert_eq!(process[0][9..], [Field::Int(139), Field::UInt(11)]);
    assert_eq!(written.rows, 21 + 1 + 5 + 2 + 1 + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stream_without_its_end_is_written_and_says_so() {
    let dir = std::env::temp_dir().join(format!("cannonball-parquet-unit-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut sink = ParquetSink::new(&dir, Layout { row_group: 1 << 20, file_rows: 1 << 26 }).unwrap();
    sink.frame(0, &hello(9)).unwrap();
    sink.frame(0, &Frame::Blocks(vec![block(0, &[1])])).unwrap();
    sink.frame(0, &Frame::Execs(Execs { vcpu: 0, first_exec: 0, ids: vec![0; 10], cut_short: None })).unwrap();
    sink.finish().unwrap();
    assert_eq!(rows(&dir, "execs", 9).len(), 10);
    let process = rows(&dir, "process", 9);
    assert_eq!(process[0][4], Field::Bool(false), "not ended");
    assert_eq!(process[0][6], Field::Null, "no instruction total without the end frame");
    // A non-empty DIR is refused: files of two runs must not mix.
    assert!(ParquetSink::new(&dir, Layout { row_group: 1, file_rows: 1 }).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
