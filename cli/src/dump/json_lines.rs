//! Frames as JSON lines, one per event: every executed instruction (expanded from the block
//! executions with the stream's blocks), memory access, system call (with its data), thread
//! event, record, and the stream's hello and end. See docs/cli.md for the fields.

use std::fmt::Write as _;
use std::io::{self, Write};

use cannonball_client::BlockTable;
use cannonball_client::protocol::{Frame, SyscallData, ThreadEvent};

/// Writes the events of `frame` (of the stream of `pid`, whose blocks so far are `blocks`) to
/// `out`, through `line` (a reused buffer).
pub fn write(line: &mut String, out: &mut impl Write, pid: u32, blocks: &BlockTable, frame: &Frame) -> io::Result<()> {
    line.clear();
    match frame {
        Frame::Hello(h) => {
            let _ = writeln!(
                line,
                r#"{{"event":"hello","pid":{},"forked":{},"arch":{},"script":{}}}"#,
                h.pid,
                h.forked,
                json_str(&h.arch),
                json_str(&h.script)
            );
        }
        Frame::Blocks(new) => {
            for b in new {
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
        Frame::Execs(execs) => {
            for pc in blocks.pcs(execs) {
                let _ = writeln!(line, r#"{{"event":"insn","pid":{pid},"vcpu":{},"pc":{}}}"#, execs.vcpu, hex(pc));
                if line.len() > 1 << 16 {
                    out.write_all(line.as_bytes())?;
                    line.clear();
                }
            }
        }
        Frame::Memory(m) => {
            for i in 0..m.pc.len() {
                let info = m.info[i];
                let _ = writeln!(
                    line,
                    r#"{{"event":"mem","pid":{pid},"vcpu":{},"pc":{},"addr":{},"size":{},"store":{},"signed":{},"big_endian":{},"value":{}}}"#,
                    m.vcpu,
                    hex(m.pc[i]),
                    hex(m.addr[i]),
                    1u32 << (info & 7),
                    info & 8 != 0,
                    info & 0x10 != 0,
                    info & 0x20 != 0,
                    hex(m.value[i])
                );
            }
        }
        Frame::Syscalls(s) => {
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
                let _ = if data.is_empty() { writeln!(line, "}}") } else { writeln!(line, r#","data":[{data}]}}"#) };
            }
        }
        Frame::Discontinuities(d) => {
            for i in 0..d.from.len() {
                let _ = writeln!(
                    line,
                    r#"{{"event":"discontinuity","pid":{pid},"vcpu":{},"kind":"{}","from":{},"to":{}}}"#,
                    d.vcpu,
                    discontinuity_kind(d.kind[i]),
                    hex(d.from[i]),
                    hex(d.to[i])
                );
            }
        }
        Frame::Thread { vcpu, event } => {
            let what = if *event == ThreadEvent::Start { "start" } else { "exit" };
            let _ = writeln!(line, r#"{{"event":"thread","pid":{pid},"vcpu":{vcpu},"what":"{what}"}}"#);
        }
        Frame::Record { tag, payload } => {
            let hex_payload: String = payload.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(line, r#"{{"event":"record","pid":{pid},"tag":{tag},"payload":"{hex_payload}"}}"#);
        }
        Frame::End(end) => {
            let total: u64 = end.instructions.iter().map(|c| c.count).sum();
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
    out.write_all(line.as_bytes())
}

fn hex(v: u64) -> String {
    format!("\"{v:#x}\"")
}

/// Per call, its data blobs as JSON objects joined with commas: argument, info bits, the
/// bytes as text (invalid UTF-8 replaced) and in hex.
fn data_json(data: &SyscallData, calls: usize) -> Vec<String> {
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

/// The name of a discontinuity's kind (the protocol's 0, 1, 2).
pub fn discontinuity_kind(kind: u8) -> &'static str {
    match kind {
        0 => "interrupt",
        1 => "exception",
        _ => "host-call",
    }
}
