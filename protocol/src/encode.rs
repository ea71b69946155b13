//! Appending frames to a byte buffer, from borrowed columns. The host calls these on its
//! analysis thread and hands the buffer to the sink; nothing here allocates beyond `out`.
//!
//! Callers keep each frame under [`MAX_FRAME_LEN`](crate::MAX_FRAME_LEN); the host's batches
//! are far smaller (at most 65,536 executions), and `record` checks its payload.

use crate::frame::{Block, End, FrameKind, Hello, Memory, SyscallData, Syscalls, ThreadEvent};

/// Starts a frame: length placeholder and kind. Returns where the length goes.
fn begin(out: &mut Vec<u8>, kind: FrameKind) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(kind as u8);
    at
}

fn finish(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn u16_(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u32_(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u64_(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// A string of at most 65,535 bytes (longer ones are cut at a character boundary).
fn str_(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    u16_(out, end as u16);
    out.extend_from_slice(&s.as_bytes()[..end]);
}
fn u64s(out: &mut Vec<u8>, column: &[u64]) {
    out.reserve(column.len() * 8);
    for v in column {
        out.extend_from_slice(&v.to_le_bytes());
    }
}
fn i64s(out: &mut Vec<u8>, column: &[i64]) {
    out.reserve(column.len() * 8);
    for v in column {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub fn hello(out: &mut Vec<u8>, hello: &Hello) {
    let at = begin(out, FrameKind::Hello);
    u32_(out, hello.pid);
    out.push(hello.forked as u8);
    str_(out, &hello.arch);
    str_(out, &hello.script);
    finish(out, at);
}

/// A block as the host holds it, borrowed.
pub struct BlockRef<'a> {
    pub id: u32,
    pub vaddr: u64,
    pub insn_sizes: &'a [u8],
    pub insn_bytes: &'a [u8],
    pub symbol: Option<&'a str>,
}

impl Block {
    /// The block borrowed, for the encoder.
    pub fn view(&self) -> BlockRef<'_> {
        BlockRef {
            id: self.id,
            vaddr: self.vaddr,
            insn_sizes: &self.insn_sizes,
            insn_bytes: &self.insn_bytes,
            symbol: self.symbol.as_deref(),
        }
    }
}

impl Memory {
    /// The columns borrowed, for the encoder.
    pub fn view(&self) -> MemoryRef<'_> {
        MemoryRef {
            vcpu: self.vcpu,
            exec: &self.exec,
            pc: &self.pc,
            addr: &self.addr,
            info: &self.info,
            value: &self.value,
        }
    }
}

impl SyscallData {
    /// The columns borrowed, for the encoder.
    pub fn view(&self) -> SyscallDataRef<'_> {
        SyscallDataRef { call: &self.call, info: &self.info, len: &self.len, bytes: &self.bytes }
    }
}

impl Syscalls {
    /// The columns borrowed, for the encoder.
    pub fn view(&self) -> SyscallsRef<'_> {
        SyscallsRef {
            vcpu: self.vcpu,
            exec: &self.exec,
            number: &self.number,
            args: &self.args,
            ret: &self.ret,
            returned: &self.returned,
            data: self.data.view(),
        }
    }
}

/// One frame with `blocks` (keep it to a few thousand blocks per frame).
pub fn blocks<'a>(out: &mut Vec<u8>, blocks: impl ExactSizeIterator<Item = BlockRef<'a>>) {
    let at = begin(out, FrameKind::Blocks);
    u32_(out, blocks.len() as u32);
    for b in blocks {
        u32_(out, b.id);
        u64_(out, b.vaddr);
        u16_(out, b.insn_sizes.len() as u16);
        out.extend_from_slice(b.insn_sizes);
        u32_(out, b.insn_bytes.len() as u32);
        out.extend_from_slice(b.insn_bytes);
        match b.symbol {
            Some(s) => {
                out.push(1);
                str_(out, s);
            }
            None => out.push(0),
        }
    }
    finish(out, at);
}

/// Block executions; `cut_short` trails the ids only when set (consumers before it never see
/// it: the plugin sets it only for a fault in the middle of a block).
pub fn execs(out: &mut Vec<u8>, vcpu: u32, first_exec: u64, ids: &[u32], cut_short: Option<u32>) {
    let at = begin(out, FrameKind::Execs);
    u32_(out, vcpu);
    u64_(out, first_exec);
    u32_(out, ids.len() as u32);
    out.reserve(ids.len() * 4);
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    if let Some(executed) = cut_short {
        u32_(out, executed);
    }
    finish(out, at);
}

/// One vCPU's memory accesses, borrowed columns of equal length.
#[derive(Clone, Copy)]
pub struct MemoryRef<'a> {
    pub vcpu: u32,
    pub exec: &'a [u64],
    pub pc: &'a [u64],
    pub addr: &'a [u64],
    pub info: &'a [u8],
    pub value: &'a [u64],
}

/// Memory accesses.
pub fn memory(out: &mut Vec<u8>, m: MemoryRef<'_>) {
    let n = m.pc.len();
    debug_assert!(m.exec.len() == n && m.addr.len() == n && m.info.len() == n && m.value.len() == n);
    let at = begin(out, FrameKind::Memory);
    u32_(out, m.vcpu);
    u32_(out, n as u32);
    u64s(out, m.exec);
    u64s(out, m.pc);
    u64s(out, m.addr);
    out.extend_from_slice(m.info);
    u64s(out, m.value);
    finish(out, at);
}

/// One vCPU's discontinuities, borrowed columns of equal length (`kind` as in
/// [`Discontinuities`](crate::Discontinuities)).
#[derive(Clone, Copy)]
pub struct DiscontinuitiesRef<'a> {
    pub vcpu: u32,
    pub exec: &'a [u64],
    pub kind: &'a [u8],
    pub from: &'a [u64],
    pub to: &'a [u64],
}

/// Interrupts, exceptions and host calls.
pub fn discontinuities(out: &mut Vec<u8>, d: DiscontinuitiesRef<'_>) {
    let n = d.from.len();
    debug_assert!(d.exec.len() == n && d.kind.len() == n && d.to.len() == n);
    let at = begin(out, FrameKind::Discontinuities);
    u32_(out, d.vcpu);
    u32_(out, n as u32);
    u64s(out, d.exec);
    out.extend_from_slice(d.kind);
    u64s(out, d.from);
    u64s(out, d.to);
    finish(out, at);
}

/// The `sys-data*` columns of a batch, borrowed (see [`SyscallData`](crate::SyscallData)).
#[derive(Clone, Copy, Default)]
pub struct SyscallDataRef<'a> {
    pub call: &'a [u32],
    pub info: &'a [u8],
    pub len: &'a [u32],
    pub bytes: &'a [u8],
}

/// One vCPU's system calls, borrowed columns: `args` holds six values per call.
#[derive(Clone, Copy)]
pub struct SyscallsRef<'a> {
    pub vcpu: u32,
    pub exec: &'a [u64],
    pub number: &'a [i64],
    pub args: &'a [u64],
    pub ret: &'a [i64],
    pub returned: &'a [bool],
    pub data: SyscallDataRef<'a>,
}

/// System calls. With `data` non-empty, its section follows the calls (older consumers never
/// see it: the host sends it only when asked).
pub fn syscalls(out: &mut Vec<u8>, s: SyscallsRef<'_>) {
    let n = s.number.len();
    debug_assert!(s.exec.len() == n && s.args.len() == 6 * n && s.ret.len() == n && s.returned.len() == n);
    let at = begin(out, FrameKind::Syscalls);
    u32_(out, s.vcpu);
    u32_(out, n as u32);
    u64s(out, s.exec);
    i64s(out, s.number);
    u64s(out, s.args);
    i64s(out, s.ret);
    out.extend(s.returned.iter().map(|&r| r as u8));
    let data = s.data;
    if !data.call.is_empty() {
        let m = data.call.len();
        debug_assert!(data.info.len() == m && data.len.len() == m);
        u32_(out, m as u32);
        out.reserve(9 * m + 4 + data.bytes.len());
        data.call.iter().for_each(|&c| u32_(out, c));
        out.extend_from_slice(data.info);
        data.len.iter().for_each(|&l| u32_(out, l));
        u32_(out, data.bytes.len() as u32);
        out.extend_from_slice(data.bytes);
    }
    finish(out, at);
}

pub fn thread(out: &mut Vec<u8>, vcpu: u32, event: ThreadEvent) {
    let at = begin(out, FrameKind::Thread);
    u32_(out, vcpu);
    out.push(match event {
        ThreadEvent::Start => 0,
        ThreadEvent::Exit => 1,
    });
    finish(out, at);
}

/// Largest record payload that fits in one frame.
pub const MAX_RECORD_LEN: usize = crate::MAX_FRAME_LEN as usize - 16;

/// A script's record. Errors when `payload` exceeds [`MAX_RECORD_LEN`].
pub fn record(out: &mut Vec<u8>, tag: u32, payload: &[u8]) -> Result<(), usize> {
    if payload.len() > MAX_RECORD_LEN {
        return Err(payload.len());
    }
    let at = begin(out, FrameKind::Record);
    u32_(out, tag);
    out.extend_from_slice(payload);
    finish(out, at);
    Ok(())
}

pub fn end(out: &mut Vec<u8>, end: &End) {
    let at = begin(out, FrameKind::End);
    u32_(out, end.instructions.len() as u32);
    for c in &end.instructions {
        u32_(out, c.vcpu);
        u64_(out, c.count);
    }
    u64_(out, end.records);
    u64_(out, end.frames);
    if let Some(exit) = end.exit {
        u32_(out, exit.status as u32);
        u32_(out, exit.signal);
    }
    finish(out, at);
}
