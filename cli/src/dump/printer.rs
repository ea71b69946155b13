//! Frames → JSON lines (one per event: every executed instruction, memory access, system
//! call, thread event and record), or → totals. Checks that each stream is complete: its
//! `end` frame counts the frames sent, and that must be what arrived.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::{Result, bail};
use cannonball_client::protocol::{Frame, ThreadEvent};
use cannonball_client::{BlockTable, ConnectionId};

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
    records: u64,
    bytes: u64,
    /// Sum of the `end` frames' instruction totals (what QEMU executed, filtered or not).
    end_instructions: u64,
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

fn hex(v: u64) -> String {
    format!("\"{v:#x}\"")
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

    pub fn frame(&mut self, conn: ConnectionId, frame: Frame) -> io::Result<()> {
        self.totals.bytes += frame.encoded_len() as u64;
        let stream = self.streams.entry(conn).or_default();
        stream.frames += 1;
        let pid = stream.pid;
        let line = &mut self.line;
        line.clear();
        let print = self.mode == Mode::Lines;
        match frame {
            Frame::Hello(h) => {
                self.totals.connections += 1;
                stream.pid = h.pid;
                if print {
                    let _ = writeln!(
                        line,
                        r#"{{"event":"hello","pid":{},"forked":{},"arch":{},"script":{}}}"#,
                        h.pid,
                        h.forked,
                        json_str(&h.arch),
                        json_str(&h.script)
                    );
                }
            }
            Frame::Blocks(blocks) => {
                self.totals.blocks += blocks.len() as u64;
                if print {
                    for b in &blocks {
                        let symbol = b.symbol.as_deref().map_or("null".into(), json_str);
                        let _ = writeln!(
                            line,
                            r#"{{"event":"block","pid":{pid},"id":{},"vaddr":{},"insns":{},"symbol":{symbol}}}"#,
                            b.id,
                            hex(b.vaddr),
                            b.insn_sizes.len()
                        );
                    }
                }
                stream.blocks.insert(blocks);
            }
            Frame::Execs(execs) => {
                self.totals.block_execs += execs.ids.len() as u64;
                if print {
                    for pc in stream.blocks.pcs(&execs) {
                        self.totals.insns += 1;
                        let _ =
                            writeln!(line, r#"{{"event":"insn","pid":{pid},"vcpu":{},"pc":{}}}"#, execs.vcpu, hex(pc));
                        if line.len() > 1 << 16 {
                            self.out.write_all(line.as_bytes())?;
                            line.clear();
                        }
                    }
                } else {
                    self.totals.insns += stream.blocks.instruction_count(&execs);
                }
            }
            Frame::Memory(m) => {
                self.totals.memory += m.pc.len() as u64;
                if print {
                    for i in 0..m.pc.len() {
                        let info = m.info[i];
                        let _ = writeln!(
                            line,
                            r#"{{"event":"mem","pid":{pid},"vcpu":{},"pc":{},"addr":{},"size":{},"store":{},"value":{}}}"#,
                            m.vcpu,
                            hex(m.pc[i]),
                            hex(m.addr[i]),
                            1u32 << (info & 7),
                            info & 8 != 0,
                            hex(m.value[i])
                        );
                    }
                }
            }
            Frame::Syscalls(s) => {
                self.totals.syscalls += s.number.len() as u64;
                if print {
                    let data = data_json(&s.data, s.number.len());
                    for i in 0..s.number.len() {
                        let args: Vec<String> = s.args[6 * i..6 * i + 6].iter().map(|&a| hex(a)).collect();
                        let ret = if s.returned[i] { s.ret[i].to_string() } else { "null".into() };
                        let _ = write!(
                            line,
                            r#"{{"event":"syscall","pid":{pid},"vcpu":{},"number":{},"args":[{}],"ret":{ret}"#,
                            s.vcpu,
                            s.number[i],
                            args.join(",")
                        );
                        let data = &data[i];
                        let _ = if data.is_empty() {
                            writeln!(line, "}}")
                        } else {
                            writeln!(line, r#","data":[{data}]}}"#)
                        };
                    }
                }
            }
            Frame::Thread { vcpu, event } => {
                self.totals.threads += 1;
                if print {
                    let what = if event == ThreadEvent::Start { "start" } else { "exit" };
                    let _ = writeln!(line, r#"{{"event":"thread","pid":{pid},"vcpu":{vcpu},"what":"{what}"}}"#);
                }
            }
            Frame::Record { tag, payload } => {
                self.totals.records += 1;
                if print {
                    let hex_payload: String = payload.iter().map(|b| format!("{b:02x}")).collect();
                    let _ = writeln!(line, r#"{{"event":"record","pid":{pid},"tag":{tag},"payload":"{hex_payload}"}}"#);
                }
            }
            Frame::End(end) => {
                if end.frames != stream.frames {
                    return Err(io::Error::other(format!(
                        "stream of pid {pid} is incomplete: {} frames sent, {} received",
                        end.frames, stream.frames
                    )));
                }
                stream.ended = true;
                let total: u64 = end.instructions.iter().map(|c| c.count).sum();
                self.totals.end_instructions += total;
                if print {
                    let exit = match end.exit {
                        Some(e) => format!(r#","status":{},"signal":{}"#, e.status, e.signal),
                        None => String::new(),
                    };
                    let _ = writeln!(
                        line,
                        r#"{{"event":"end","pid":{pid},"instructions":{total},"records":{},"frames":{}{exit}}}"#,
                        end.records, end.frames
                    );
                }
            }
        }
        self.out.write_all(line.as_bytes())
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
                r#"{{"connections":{},"blocks":{},"block_execs":{},"insns":{},"memory":{},"syscalls":{},"threads":{},"records":{},"bytes":{},"end_instructions":{},"seconds":{:.3},"insns_per_second":{:.0},"bytes_per_second":{:.0}{parquet}}}"#,
                t.connections,
                t.blocks,
                t.block_execs,
                t.insns,
                t.memory,
                t.syscalls,
                t.threads,
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

/// Per call, its data blobs as JSON objects joined with commas: argument, info bits, the
/// bytes as text (invalid UTF-8 replaced) and in hex.
fn data_json(data: &cannonball_client::protocol::SyscallData, calls: usize) -> Vec<String> {
    let mut out = vec![String::new(); calls];
    for (call, info, bytes) in data.blobs() {
        let Some(objects) = out.get_mut(call as usize) else { continue };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !objects.is_empty() {
            objects.push(',');
        }
        let text = json_str(&String::from_utf8_lossy(bytes));
        let _ = write!(objects, r#"{{"arg":{},"info":{info},"text":{text},"hex":"{hex}"}}"#, info & 7);
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
