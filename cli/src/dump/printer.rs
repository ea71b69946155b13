//! Frames → JSON lines (one per event: every executed instruction, memory access, system
//! call, thread event and record), or → totals. Checks that each stream is complete: its
//! `end` frame counts the frames sent, and that must be what arrived.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::{Result, bail};
use cannonball_client::protocol::Frame;
use cannonball_client::{BlockTable, ConnectionId};

use super::json_lines;
use super::parquet::Written;

#[derive(Default)]
struct Stream {
    pid: u32,
    blocks: BlockTable,
    frames: u64,
    ended: bool,
}

#[derive(Default, Debug)]
struct Totals {
    connections: u64,
    blocks: u64,
    block_execs: u64,
    insns: u64,
    memory: u64,
    syscalls: u64,
    threads: u64,
    discontinuities: u64,
    records: u64,
    bytes: u64,
    /// Sum of the `end` frames' instruction totals (what QEMU executed, filtered or not).
    end_instructions: u64,
}

impl Totals {
    /// Adds what `frame` carries; an `end` frame must count the frames its stream received.
    fn count(&mut self, stream: &mut Stream, frame: &Frame) -> io::Result<()> {
        match frame {
            Frame::Hello(h) => {
                self.connections += 1;
                stream.pid = h.pid;
            }
            Frame::Blocks(blocks) => self.blocks += blocks.len() as u64,
            Frame::Execs(execs) => {
                self.block_execs += execs.ids.len() as u64;
                self.insns += stream.blocks.instruction_count(execs);
            }
            Frame::Memory(m) => self.memory += m.pc.len() as u64,
            Frame::Syscalls(s) => self.syscalls += s.number.len() as u64,
            Frame::Thread { .. } => self.threads += 1,
            Frame::Discontinuities(d) => self.discontinuities += d.from.len() as u64,
            Frame::Record { .. } => self.records += 1,
            Frame::End(end) => {
                if end.frames != stream.frames {
                    return Err(io::Error::other(format!(
                        "stream of pid {} is incomplete: {} frames sent, {} received",
                        stream.pid, end.frames, stream.frames
                    )));
                }
                stream.ended = true;
                self.end_instructions += end.instructions.iter().map(|c| c.count).sum::<u64>();
            }
        }
        Ok(())
    }
}

/// What the printer writes: every event as a JSON line, only the totals at the end, or
/// nothing (another sink writes the events; the completeness check still runs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Lines,
    Count,
    Check,
}

pub struct Printer {
    out: BufWriter<Box<dyn Write>>,
    mode: Mode,
    streams: HashMap<ConnectionId, Stream>,
    totals: Totals,
    line: String,
}

impl Printer {
    pub fn new(out: Box<dyn Write>, mode: Mode) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 20, out),
            mode,
            streams: HashMap::new(),
            totals: Totals::default(),
            line: String::new(),
        }
    }

    /// Counts `frame` into the totals and checks its stream's completeness; in line mode
    /// writes its events as JSON lines.
    pub fn frame(&mut self, conn: ConnectionId, frame: Frame) -> io::Result<()> {
        self.totals.bytes += frame.encoded_len() as u64;
        let stream = self.streams.entry(conn).or_default();
        stream.frames += 1;
        self.totals.count(stream, &frame)?;
        if self.mode == Mode::Lines {
            json_lines::write(&mut self.line, &mut self.out, stream.pid, &stream.blocks, &frame)?;
        }
        if let Frame::Blocks(blocks) = frame {
            stream.blocks.insert(blocks);
        }
        Ok(())
    }

    /// Flushes; in count mode prints the totals (with what the Parquet sink wrote, if any).
    /// Fails if a stream ended without its `end`.
    pub fn finish(&mut self, elapsed: Duration, parquet: Option<Written>) -> Result<()> {
        if self.mode == Mode::Count {
            let t = &self.totals;
            let secs = elapsed.as_secs_f64().max(1e-9);
            let parquet = parquet.map_or(String::new(), |w| {
                format!(r#","parquet_rows":{},"parquet_files":{},"parquet_bytes":{}"#, w.rows, w.files, w.bytes)
            });
            writeln!(
                self.out,
                r#"{{"connections":{},"blocks":{},"block_execs":{},"insns":{},"memory":{},"syscalls":{},"threads":{},"discontinuities":{},"records":{},"bytes":{},"end_instructions":{},"seconds":{:.3},"insns_per_second":{:.0},"bytes_per_second":{:.0}{parquet}}}"#,
                t.connections,
                t.blocks,
                t.block_execs,
                t.insns,
                t.memory,
                t.syscalls,
                t.threads,
                t.discontinuities,
                t.records,
                t.bytes,
                t.end_instructions,
                secs,
                t.insns as f64 / secs,
                t.bytes as f64 / secs
            )?;
        }
        self.out.flush()?;
        if let Some(s) = self.streams.values().find(|s| !s.ended) {
            bail!("the stream of pid {} ended without its end frame (QEMU crashed?)", s.pid);
        }
        Ok(())
    }
}
