//! The frames a stream carries, as owned values (what a consumer gets from the decoder).

/// One byte on the wire after each frame's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    Hello = 1,
    Blocks = 2,
    Execs = 3,
    Memory = 4,
    Syscalls = 5,
    Thread = 6,
    Record = 7,
    End = 8,
    Discontinuities = 9,
}

impl FrameKind {
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Hello,
            2 => Self::Blocks,
            3 => Self::Execs,
            4 => Self::Memory,
            5 => Self::Syscalls,
            6 => Self::Thread,
            7 => Self::Record,
            8 => Self::End,
            9 => Self::Discontinuities,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Hello(Hello),
    Blocks(Vec<Block>),
    Execs(Execs),
    Memory(Memory),
    Syscalls(Syscalls),
    Thread {
        vcpu: u32,
        event: ThreadEvent,
    },
    /// A record a script emitted: its tag and bytes, unchanged.
    Record {
        tag: u32,
        payload: Vec<u8>,
    },
    End(End),
    Discontinuities(Discontinuities),
}

/// First frame of every stream: who is speaking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The QEMU process (in user mode, the guest's pid).
    pub pid: u32,
    /// True for the stream of a guest's forked child.
    pub forked: bool,
    /// QEMU's target name: "x86_64", "aarch64", ...
    pub arch: String,
    /// The script's name, empty without a script.
    pub script: String,
}

/// A translated block: what a consumer needs to expand executions into instruction addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub id: u32,
    pub vaddr: u64,
    /// Size of each instruction in bytes.
    pub insn_sizes: Vec<u8>,
    /// Opcode bytes of all instructions.
    pub insn_bytes: Vec<u8>,
    pub symbol: Option<String>,
}

impl Block {
    /// Address of every instruction, in order.
    pub fn pcs(&self) -> impl Iterator<Item = u64> + '_ {
        self.insn_sizes.iter().scan(self.vaddr, |pc, &size| {
            let this = *pc;
            *pc += u64::from(size);
            Some(this)
        })
    }
}

/// Block executions of one vCPU, in order; `ids[i]` is execution number `first_exec + i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execs {
    pub vcpu: u32,
    pub first_exec: u64,
    pub ids: Vec<u32>,
    /// Set when a fault cut the last execution short: how many of that block's instructions
    /// ran, the faulting one included (`event-batch.cut-short`).
    pub cut_short: Option<u32>,
}

/// Memory accesses of one vCPU, as columns of equal length. `info` as in the WIT
/// `event-batch.mem-info`: bits 0-2 log2(size), bit 3 store, bit 4 signed, bit 5 big-endian.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Memory {
    pub vcpu: u32,
    pub exec: Vec<u64>,
    pub pc: Vec<u64>,
    pub addr: Vec<u64>,
    pub info: Vec<u8>,
    pub value: Vec<u64>,
}

/// Interrupts, exceptions and host calls of one vCPU, as columns of equal length (the WIT's
/// `event-batch.disc-*`): `kind` 0 interrupt, 1 exception, 2 host call.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Discontinuities {
    pub vcpu: u32,
    pub exec: Vec<u64>,
    pub kind: Vec<u8>,
    pub from: Vec<u64>,
    pub to: Vec<u64>,
}

/// System calls of one vCPU, as columns; `args` has six entries per call.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Syscalls {
    pub vcpu: u32,
    pub exec: Vec<u64>,
    pub number: Vec<i64>,
    pub args: Vec<u64>,
    pub ret: Vec<i64>,
    pub returned: Vec<bool>,
    /// The calls' strings and buffers (forwarded with `syscall-data`; else empty).
    pub data: SyscallData,
}

/// Strings and buffers of system call arguments, one entry per blob, as the WIT
/// `event-batch.sys-data*` columns: `call` indexes the frame's calls (ascending), `info` has
/// the argument index in bits 0-2 and the flags TRUNCATED 8, UNREADABLE 16, ELEMENT 32,
/// AT_RETURN 64; blob i is `len[i]` bytes of `bytes`, following blob i-1.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyscallData {
    pub call: Vec<u32>,
    pub info: Vec<u8>,
    pub len: Vec<u32>,
    pub bytes: Vec<u8>,
}

impl SyscallData {
    pub fn is_empty(&self) -> bool {
        self.call.is_empty()
    }

    /// (call, info, bytes) of every blob, in order.
    pub fn blobs(&self) -> impl Iterator<Item = (u32, u8, &[u8])> + '_ {
        let mut at = 0usize;
        self.call.iter().zip(&self.info).zip(&self.len).map(move |((&call, &info), &len)| {
            let bytes = &self.bytes[at..at + len as usize];
            at += len as usize;
            (call, info, bytes)
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadEvent {
    Start,
    Exit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuCount {
    pub vcpu: u32,
    pub count: u64,
}

/// Last frame of a stream: the process exited and everything before was sent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct End {
    /// Executed instructions per vCPU (all code, filtered or not).
    pub instructions: Vec<VcpuCount>,
    /// Records a script emitted, and frames sent, in this stream (lossless check).
    pub records: u64,
    pub frames: u64,
    /// How the guest process ended, when the plugin knows (a QEMU with the cannonball
    /// extensions; older streams lack it).
    pub exit: Option<ExitStatus>,
}

/// How a guest process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// The status given to exit/exit_group, or 128 + `signal`.
    pub status: i32,
    /// The signal that ended the guest (SIGINT, SIGTERM, SIGSEGV, ...), 0 for a normal exit.
    pub signal: u32,
}

impl Frame {
    /// Bytes this frame takes on the wire, its length field included.
    pub fn encoded_len(&self) -> usize {
        let str_len = |s: &str| 2 + s.len().min(u16::MAX as usize);
        5 + match self {
            Frame::Hello(h) => 5 + str_len(&h.arch) + str_len(&h.script),
            Frame::Blocks(blocks) => {
                4 + blocks
                    .iter()
                    .map(|b| 19 + b.insn_sizes.len() + b.insn_bytes.len() + b.symbol.as_deref().map_or(0, str_len))
                    .sum::<usize>()
            }
            Frame::Execs(e) => 16 + 4 * e.ids.len() + if e.cut_short.is_some() { 4 } else { 0 },
            Frame::Memory(m) => 8 + 33 * m.pc.len(),
            Frame::Syscalls(s) => {
                let d = &s.data;
                8 + 73 * s.number.len() + if d.is_empty() { 0 } else { 8 + 9 * d.call.len() + d.bytes.len() }
            }
            Frame::Thread { .. } => 5,
            Frame::Record { payload, .. } => 4 + payload.len(),
            Frame::End(e) => 20 + 12 * e.instructions.len() + if e.exit.is_some() { 8 } else { 0 },
            Frame::Discontinuities(d) => 8 + 25 * d.from.len(),
        }
    }
}
