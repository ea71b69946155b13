//! Bytes → frames. Incremental (feed what arrived, take the frames that are complete) and
//! defensive: every length and count is checked against the bytes actually present before
//! anything is allocated, so garbage and truncation give a [`DecodeError`], never a panic,
//! an oversized allocation or a wait for bytes that cannot come.

use std::fmt;

use crate::frame::{
    Block, Discontinuities, End, Execs, ExitStatus, Frame, FrameKind, Hello, Memory, SyscallData, Syscalls,
    ThreadEvent, VcpuCount,
};
use crate::{MAGIC, MAX_FRAME_LEN, PREAMBLE_LEN, VERSION};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The stream does not start with `CBAL`.
    NotCannonball,
    /// A protocol version this decoder does not speak.
    Version(u16),
    /// A frame length beyond [`MAX_FRAME_LEN`] or zero.
    FrameLength(u32),
    UnknownKind(u8),
    /// A frame's payload does not match its kind's layout.
    Malformed {
        kind: FrameKind,
        reason: &'static str,
    },
    /// The stream ended inside the preamble or a frame.
    Truncated {
        missing: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotCannonball => write!(f, "not a Cannonball stream (bad magic)"),
            Self::Version(v) => write!(f, "protocol version {v} is not supported (this consumer speaks {VERSION})"),
            Self::FrameLength(n) => write!(f, "frame length {n} out of range (1..={MAX_FRAME_LEN})"),
            Self::UnknownKind(k) => write!(f, "unknown frame kind {k}"),
            Self::Malformed { kind, reason } => write!(f, "malformed {kind:?} frame: {reason}"),
            Self::Truncated { missing } => write!(f, "stream ended {missing} bytes short of a complete frame"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Incremental decoder for one stream.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
    pos: usize,
    preamble_seen: bool,
    failed: Option<DecodeError>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes that arrived.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > (1 << 20) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` if more bytes are needed. After an error, every call
    /// returns that error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.try_next();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Call at end of stream, after `next_frame` returned `Ok(None)`: an error if bytes of an
    /// incomplete frame remain.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let left = self.buf.len() - self.pos;
        if !self.preamble_seen {
            return Err(DecodeError::Truncated { missing: PREAMBLE_LEN.saturating_sub(left).max(1) });
        }
        if left == 0 {
            return Ok(());
        }
        let need = if left < 4 {
            4
        } else {
            4 + u32::from_le_bytes(self.buf[self.pos..self.pos + 4].try_into().unwrap()) as usize
        };
        // Frames still queued (finish called before next_frame drained them) count as
        // complete; only a short tail is missing bytes.
        match need.checked_sub(left) {
            Some(missing) if missing > 0 => Err(DecodeError::Truncated { missing }),
            _ => Ok(()),
        }
    }

    fn try_next(&mut self) -> Result<Option<Frame>, DecodeError> {
        let avail = &self.buf[self.pos..];
        if !self.preamble_seen {
            // Reject garbage as soon as its first bytes arrive, not after eight.
            if avail.iter().zip(MAGIC.iter()).any(|(a, b)| a != b) {
                return Err(DecodeError::NotCannonball);
            }
            if avail.len() < PREAMBLE_LEN {
                return Ok(None);
            }
            let version = u16::from_le_bytes([avail[4], avail[5]]);
            if version != VERSION {
                return Err(DecodeError::Version(version));
            }
            self.preamble_seen = true;
            self.pos += PREAMBLE_LEN;
            return self.try_next();
        }
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(avail[..4].try_into().unwrap());
        if len == 0 || len > MAX_FRAME_LEN {
            return Err(DecodeError::FrameLength(len));
        }
        let kind_byte = avail.get(4).copied();
        if let Some(k) = kind_byte
            && FrameKind::from_u8(k).is_none()
        {
            return Err(DecodeError::UnknownKind(k));
        }
        if avail.len() < 4 + len as usize {
            return Ok(None);
        }
        let kind = FrameKind::from_u8(avail[4]).expect("checked above");
        let payload = &avail[5..4 + len as usize];
        let frame = parse(kind, payload)?;
        self.pos += 4 + len as usize;
        Ok(Some(frame))
    }
}

/// Reads fields from one frame's payload, failing on overrun.
/// The data section of a Syscalls frame with `calls` calls: every blob must name one of them
/// in ascending order, an argument 0-5, and lengths that add up to the bytes present.
fn syscall_data(r: &mut Reader<'_>, calls: usize) -> Result<SyscallData, DecodeError> {
    let m = r.u32()? as usize;
    let call: Vec<u32> = r.column(m, 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    let info = r.column(m, 1)?.to_vec();
    let len: Vec<u32> = r.column(m, 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    let total = r.u32()? as usize;
    let bytes = r.take(total)?.to_vec();
    if call.iter().any(|&c| c as usize >= calls) || call.windows(2).any(|w| w[0] > w[1]) {
        return Err(r.bad("data names a call that is not in the frame"));
    }
    if info.iter().any(|&i| i & 7 > 5) {
        return Err(r.bad("data names an argument beyond the sixth"));
    }
    if len.iter().map(|&l| l as u64).sum::<u64>() != total as u64 {
        return Err(r.bad("data lengths do not add up"));
    }
    Ok(SyscallData { call, info, len, bytes })
}

struct Reader<'a> {
    bytes: &'a [u8],
    kind: FrameKind,
}

impl<'a> Reader<'a> {
    fn bad(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed { kind: self.kind, reason }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(self.bad("shorter than its fields"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.u16()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.bad("string is not UTF-8"))
    }
    /// `count` elements of `width` bytes, checked against what is left before allocating.
    fn column(&mut self, count: usize, width: usize) -> Result<&'a [u8], DecodeError> {
        let n = count.checked_mul(width).ok_or_else(|| self.bad("count overflows"))?;
        self.take(n)
    }
    fn u64s(&mut self, count: usize) -> Result<Vec<u64>, DecodeError> {
        Ok(self.column(count, 8)?.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect())
    }
    fn i64s(&mut self, count: usize) -> Result<Vec<i64>, DecodeError> {
        Ok(self.column(count, 8)?.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
    }
    fn done(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() { Ok(()) } else { Err(self.bad("longer than its fields")) }
    }
}

fn parse(kind: FrameKind, payload: &[u8]) -> Result<Frame, DecodeError> {
    let mut r = Reader { bytes: payload, kind };
    let frame = match kind {
        FrameKind::Hello => {
            let pid = r.u32()?;
            let forked = r.u8()? != 0;
            Frame::Hello(Hello { pid, forked, arch: r.string()?, script: r.string()? })
        }
        FrameKind::Blocks => {
            let count = r.u32()? as usize;
            // Each block takes at least 19 bytes: bound the allocation by the payload.
            if count > payload.len() / 19 {
                return Err(r.bad("more blocks than bytes"));
            }
            let mut blocks = Vec::with_capacity(count);
            for _ in 0..count {
                let id = r.u32()?;
                let vaddr = r.u64()?;
                let n = r.u16()? as usize;
                let insn_sizes = r.take(n)?.to_vec();
                let bytes_len = r.u32()? as usize;
                let insn_bytes = r.take(bytes_len)?.to_vec();
                if insn_sizes.iter().map(|&s| s as usize).sum::<usize>() != insn_bytes.len() {
                    return Err(r.bad("instruction sizes do not add up to the bytes"));
                }
                let symbol = match r.u8()? {
                    0 => None,
                    1 => Some(r.string()?),
                    _ => return Err(r.bad("bad symbol tag")),
                };
                blocks.push(Block { id, vaddr, insn_sizes, insn_bytes, symbol });
            }
            Frame::Blocks(blocks)
        }
        FrameKind::Execs => {
            let vcpu = r.u32()?;
            let first_exec = r.u64()?;
            let count = r.u32()? as usize;
            let ids = r.column(count, 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            let cut_short = if r.bytes.is_empty() { None } else { Some(r.u32()?) };
            Frame::Execs(Execs { vcpu, first_exec, ids, cut_short })
        }
        FrameKind::Memory => {
            let vcpu = r.u32()?;
            let n = r.u32()? as usize;
            let exec = r.u64s(n)?;
            let pc = r.u64s(n)?;
            let addr = r.u64s(n)?;
            let info = r.column(n, 1)?.to_vec();
            let value = r.u64s(n)?;
            Frame::Memory(Memory { vcpu, exec, pc, addr, info, value })
        }
        FrameKind::Syscalls => {
            let vcpu = r.u32()?;
            let n = r.u32()? as usize;
            let exec = r.u64s(n)?;
            let number = r.i64s(n)?;
            let args = r.u64s(n.checked_mul(6).ok_or_else(|| r.bad("count overflows"))?)?;
            let ret = r.i64s(n)?;
            let returned = r.column(n, 1)?.iter().map(|&b| b != 0).collect();
            let data = if r.bytes.is_empty() { SyscallData::default() } else { syscall_data(&mut r, n)? };
            Frame::Syscalls(Syscalls { vcpu, exec, number, args, ret, returned, data })
        }
        FrameKind::Discontinuities => {
            let vcpu = r.u32()?;
            let n = r.u32()? as usize;
            let exec = r.u64s(n)?;
            let kind = r.column(n, 1)?.to_vec();
            if kind.iter().any(|&k| k > 2) {
                return Err(r.bad("bad discontinuity kind"));
            }
            let from = r.u64s(n)?;
            let to = r.u64s(n)?;
            Frame::Discontinuities(Discontinuities { vcpu, exec, kind, from, to })
        }
        FrameKind::Thread => {
            let vcpu = r.u32()?;
            let event = match r.u8()? {
                0 => ThreadEvent::Start,
                1 => ThreadEvent::Exit,
                _ => return Err(r.bad("bad thread event")),
            };
            Frame::Thread { vcpu, event }
        }
        FrameKind::Record => {
            let tag = r.u32()?;
            let payload = r.take(r.bytes.len())?.to_vec();
            Frame::Record { tag, payload }
        }
        FrameKind::End => {
            let n = r.u32()? as usize;
            if n > payload.len() / 12 {
                return Err(r.bad("more vCPUs than bytes"));
            }
            let mut instructions = Vec::with_capacity(n);
            for _ in 0..n {
                instructions.push(VcpuCount { vcpu: r.u32()?, count: r.u64()? });
            }
            let (records, frames) = (r.u64()?, r.u64()?);
            // The exit status trails the frame; streams of plugins before it end here.
            let exit =
                if r.bytes.is_empty() { None } else { Some(ExitStatus { status: r.u32()? as i32, signal: r.u32()? }) };
            Frame::End(End { instructions, records, frames, exit })
        }
    };
    r.done()?;
    Ok(frame)
}
