//! `cannonball dump --parquet DIR`: the forwarded streams as Parquet tables, one directory
//! per table and one partition per process (`DIR/execs/pid=1234/execs-000.parquet`), for
//! SQL engines to query in place (docs/parquet.md).
//!
//! Each stream (connection) writes its own files; a table's files appear when its first row
//! group is written, and a stream's files are all complete when its `end` frame arrived or,
//! for a stream that broke off, when dump finishes.

mod columns;
mod files;
mod schema;
mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cannonball_client::ConnectionId;
use cannonball_client::protocol::{Block, End, Execs, Frame, Hello, Memory, Syscalls, ThreadEvent};
use parquet::data_type::ByteArray;

use columns::TableDef;
pub use files::{Layout, Written};
use table::Table;

use super::json_lines::discontinuity_kind;

/// Default rows per row group: large enough for scans, bounded memory per table.
pub const ROW_GROUP: usize = 1 << 20;
/// Default rows per file.
pub const FILE_ROWS: usize = 64 << 20;

pub struct ParquetSink {
    dir: PathBuf,
    layout: Layout,
    streams: HashMap<ConnectionId, Stream>,
    /// Pids that have a partition already: a second stream with the same pid would mix
    /// block ids of two processes in one partition.
    pids: HashMap<u32, ConnectionId>,
    written: Written,
}

/// One stream's tables, opened with their first row.
struct Stream {
    connection: ConnectionId,
    hello: Hello,
    /// Instructions per block id, for `execs.insns` (0 for an id never described).
    block_insns: Vec<u16>,
    frames: u64,
    memory_seq: u64,
    syscall_seq: u64,
    tables: Vec<Table>,
    ended: bool,
}

impl ParquetSink {
    /// Refuses a DIR that holds anything: files of an earlier run would mix with these.
    pub fn new(dir: &Path, layout: Layout) -> Result<Self> {
        if layout.row_group == 0 || layout.file_rows == 0 {
            bail!("rows per row group and per file must be positive");
        }
        if let Ok(mut entries) = std::fs::read_dir(dir)
            && entries.next().is_some()
        {
            bail!("{} is not empty: give a new or empty directory for the Parquet files", dir.display());
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            layout,
            streams: HashMap::new(),
            pids: HashMap::new(),
            written: Written::default(),
        })
    }

    pub fn frame(&mut self, conn: ConnectionId, frame: &Frame) -> Result<()> {
        if let Frame::Hello(hello) = frame {
            if let Some(other) = self.pids.insert(hello.pid, conn) {
                bail!("pid {} connected twice (connections {other} and {conn}): its partitions would mix", hello.pid);
            }
            let stream = Stream {
                connection: conn,
                hello: hello.clone(),
                block_insns: Vec::new(),
                frames: 0,
                memory_seq: 0,
                syscall_seq: 0,
                tables: Vec::new(),
                ended: false,
            };
            self.streams.insert(conn, stream);
        }
        let Some(stream) = self.streams.get_mut(&conn) else {
            bail!("connection {conn} sent a frame before its hello");
        };
        let number = stream.frames;
        stream.frames += 1;
        let (dir, layout) = (&self.dir, self.layout);
        match frame {
            Frame::Hello(_) => {}
            Frame::Blocks(blocks) => stream.blocks(dir, layout, blocks)?,
            Frame::Execs(execs) => stream.execs(dir, layout, execs)?,
            Frame::Memory(memory) => stream.memory(dir, layout, memory)?,
            Frame::Syscalls(calls) => stream.syscalls(dir, layout, calls)?,
            Frame::Thread { vcpu, event } => {
                let t = stream.table(dir, layout, &schema::THREADS)?;
                t.columns[0].i64().push(number as i64);
                t.columns[1].i32().push(*vcpu as i32);
                t.columns[2].bytes().push(if *event == ThreadEvent::Start { "start" } else { "exit" }.into());
                t.added(1)?;
            }
            Frame::Discontinuities(d) => {
                let n = d.from.len();
                let t = stream.table(dir, layout, &schema::DISCONTINUITIES)?;
                let c = &mut t.columns;
                c[0].i64().extend(std::iter::repeat_n(number as i64, n));
                c[1].i32().extend(std::iter::repeat_n(d.vcpu as i32, n));
                c[2].i64().extend(d.exec.iter().map(|&v| v as i64));
                c[3].bytes().extend(d.kind.iter().map(|&k| discontinuity_kind(k).into()));
                c[4].i64().extend(d.from.iter().map(|&v| v as i64));
                c[5].i64().extend(d.to.iter().map(|&v| v as i64));
                t.added(n)?;
            }
            Frame::Record { tag, payload } => {
                let t = stream.table(dir, layout, &schema::RECORDS)?;
                t.columns[0].i64().push(number as i64);
                t.columns[1].i32().push(*tag as i32);
                t.columns[2].bytes().push(payload.as_slice().into());
                t.added(1)?;
            }
            Frame::End(end) => {
                stream.ended = true;
                stream.end(dir, layout, Some(end))?;
                let written = stream.close()?;
                self.add(written);
            }
        }
        Ok(())
    }

    fn add(&mut self, w: Written) {
        self.written.add(w);
    }

    /// Completes the streams that broke off (their process row says `ended` false) and
    /// returns what was written in all.
    pub fn finish(&mut self) -> Result<Written> {
        let (dir, layout) = (self.dir.clone(), self.layout);
        let mut first_error = None;
        for stream in self.streams.values_mut().filter(|s| !s.ended) {
            stream.ended = true;
            let done = stream.end(&dir, layout, None).and_then(|()| stream.close());
            match done {
                Ok(w) => self.written.add(w),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(self.written),
        }
    }
}

impl Stream {
    /// This stream's table `def`, created with its first row.
    fn table(&mut self, dir: &Path, layout: Layout, def: &'static TableDef) -> Result<&mut Table> {
        let at = match self.tables.iter().position(|t| std::ptr::eq(t.def(), def)) {
            Some(at) => at,
            None => {
                let partition = dir.join(def.name).join(format!("pid={}", self.hello.pid));
                self.tables.push(Table::new(def, partition, layout)?);
                self.tables.len() - 1
            }
        };
        Ok(&mut self.tables[at])
    }

    fn blocks(&mut self, dir: &Path, layout: Layout, blocks: &[Block]) -> Result<()> {
        for b in blocks {
            let id = b.id as usize;
            if id >= self.block_insns.len() {
                self.block_insns.resize(id + 1, 0);
            }
            self.block_insns[id] = b.insn_sizes.len().min(u16::MAX as usize) as u16;
        }
        let t = self.table(dir, layout, &schema::BLOCKS)?;
        for b in blocks {
            t.columns[0].i32().push(b.id as i32);
            t.columns[1].i64().push(b.vaddr as i64);
            t.columns[2].i32().push(b.insn_sizes.len() as i32);
            t.columns[3].bytes().push(b.insn_sizes.as_slice().into());
            t.columns[4].bytes().push(b.insn_bytes.as_slice().into());
            t.columns[5].def(b.symbol.is_some());
            if let Some(symbol) = &b.symbol {
                t.columns[5].bytes().push(symbol.as_str().into());
            }
        }
        t.added(blocks.len())?;
        let t = self.table(dir, layout, &schema::INSNS)?;
        for b in blocks {
            let mut rows = 0;
            for (idx, (pc, &size)) in b.pcs().zip(&b.insn_sizes).enumerate() {
                t.columns[0].i32().push(b.id as i32);
                t.columns[1].i32().push(idx as i32);
                t.columns[2].i64().push(pc as i64);
                t.columns[3].i32().push(i32::from(size));
                rows += 1;
            }
            t.added(rows)?;
        }
        Ok(())
    }

    /// The hot path: one row per block execution, built column by column.
    fn execs(&mut self, dir: &Path, layout: Layout, e: &Execs) -> Result<()> {
        let n = e.ids.len();
        if n == 0 {
            return Ok(());
        }
        let insns = std::mem::take(&mut self.block_insns);
        let t = self.table(dir, layout, &schema::EXECS)?;
        t.columns[0].i32().extend(std::iter::repeat_n(e.vcpu as i32, n));
        t.columns[1].i64().extend((0..n as u64).map(|i| e.first_exec.wrapping_add(i) as i64));
        t.columns[2].i32().extend(e.ids.iter().map(|&id| id as i32));
        let counts = t.columns[3].i32();
        counts.extend(e.ids.iter().map(|&id| i32::from(insns.get(id as usize).copied().unwrap_or(0))));
        if let Some(ran) = e.cut_short {
            *counts.last_mut().expect("n > 0") = ran as i32;
        }
        t.added(n)?;
        self.block_insns = insns;
        if let Some(ran) = e.cut_short {
            let t = self.table(dir, layout, &schema::CUTS)?;
            t.columns[0].i32().push(e.vcpu as i32);
            t.columns[1].i64().push(e.first_exec.wrapping_add(n as u64 - 1) as i64);
            t.columns[2].i32().push(e.ids[n - 1] as i32);
            t.columns[3].i32().push(ran as i32);
            t.added(1)?;
        }
        Ok(())
    }

    fn memory(&mut self, dir: &Path, layout: Layout, m: &Memory) -> Result<()> {
        let n = m.pc.len();
        let seq = self.memory_seq;
        self.memory_seq += n as u64;
        let t = self.table(dir, layout, &schema::MEMORY)?;
        let c = &mut t.columns;
        c[0].i64().extend((0..n as u64).map(|i| (seq + i) as i64));
        c[1].i32().extend(std::iter::repeat_n(m.vcpu as i32, n));
        c[2].i64().extend(m.exec.iter().map(|&v| v as i64));
        c[3].i64().extend(m.pc.iter().map(|&v| v as i64));
        c[4].i64().extend(m.addr.iter().map(|&v| v as i64));
        c[5].i32().extend(m.info.iter().map(|&v| i32::from(v)));
        c[6].i32().extend(m.info.iter().map(|&v| 1i32 << (v & 7)));
        c[7].bool().extend(m.info.iter().map(|&v| v & 8 != 0));
        c[8].i64().extend(m.value.iter().map(|&v| v as i64));
        t.added(n)
    }

    fn syscalls(&mut self, dir: &Path, layout: Layout, s: &Syscalls) -> Result<()> {
        let n = s.number.len();
        let seq = self.syscall_seq;
        self.syscall_seq += n as u64;
        let t = self.table(dir, layout, &schema::SYSCALLS)?;
        let c = &mut t.columns;
        c[0].i64().extend((0..n as u64).map(|i| (seq + i) as i64));
        c[1].i32().extend(std::iter::repeat_n(s.vcpu as i32, n));
        c[2].i64().extend(s.exec.iter().map(|&v| v as i64));
        c[3].i64().extend(&s.number);
        for arg in 0..6 {
            c[4 + arg].i64().extend((0..n).map(|i| s.args[6 * i + arg] as i64));
        }
        c[10].i64().extend(&s.ret);
        c[11].bool().extend(&s.returned);
        t.added(n)?;
        if !s.data.is_empty() {
            let t = self.table(dir, layout, &schema::SYSCALL_DATA)?;
            let mut rows = 0;
            for (call, info, bytes) in s.data.blobs() {
                t.columns[0].i64().push((seq + u64::from(call)) as i64);
                t.columns[1].i32().push(i32::from(info & 7));
                t.columns[2].i32().push(i32::from(info));
                t.columns[3].bytes().push(ByteArray::from(bytes));
                rows += 1;
            }
            t.added(rows)?;
        }
        Ok(())
    }

    /// The process row (and per-vCPU counts) from the `end` frame, or without it.
    fn end(&mut self, dir: &Path, layout: Layout, end: Option<&End>) -> Result<()> {
        let (connection, frames) = (self.connection, self.frames);
        let hello = self.hello.clone();
        let t = self.table(dir, layout, &schema::PROCESS)?;
        let c = &mut t.columns;
        c[0].i32().push(connection as i32);
        c[1].bool().push(hello.forked);
        c[2].bytes().push(hello.arch.as_str().into());
        c[3].bytes().push(hello.script.as_str().into());
        c[4].bool().push(end.is_some());
        c[5].i64().push(frames as i64);
        let total = end.map(|e| e.instructions.iter().map(|c| c.count).sum::<u64>());
        c[6].opt_i64(total.map(|v| v as i64));
        c[7].opt_i64(end.map(|e| e.records as i64));
        c[8].opt_i64(end.map(|e| e.frames as i64));
        let exit = end.and_then(|e| e.exit);
        c[9].def(exit.is_some());
        c[10].def(exit.is_some());
        if let Some(exit) = exit {
            c[9].i32().push(exit.status);
            c[10].i32().push(exit.signal as i32);
        }
        t.added(1)?;
        if let Some(end) = end {
            let t = self.table(dir, layout, &schema::VCPUS)?;
            for count in &end.instructions {
                t.columns[0].i32().push(count.vcpu as i32);
                t.columns[1].i64().push(count.count as i64);
            }
            t.added(end.instructions.len())?;
        }
        Ok(())
    }

    /// Writes every table's remaining rows and closes its file; frees the buffers.
    fn close(&mut self) -> Result<Written> {
        let mut all = Written::default();
        for mut table in self.tables.drain(..) {
            all.add(table.finish()?);
        }
        self.block_insns = Vec::new();
        Ok(all)
    }
}

#[cfg(test)]
mod tests;
