//! The forwarding protocol: how `libcannonball.so` streams events to a consumer over a Unix
//! socket, a file or stdout. Specified in docs/protocol.md; this crate is the reference.
//!
//! A stream is an 8-byte preamble (`CBAL`, version, reserved) followed by frames. A frame is
//! `u32 length` (of what follows), `u8 kind`, payload. Integers are little-endian; event
//! payloads are columns (all values of one field together), the shape the host already holds,
//! so encoding is a few memcpys and decoding never allocates more than the frame's length.
//!
//! [`encode`] appends frames to a `Vec<u8>` straight from borrowed columns (the host's side);
//! [`Decoder`] turns bytes back into owned [`Frame`]s and rejects anything malformed with a
//! [`DecodeError`], never a panic.

mod decode;
pub mod encode;
mod frame;

pub use decode::{DecodeError, Decoder};
pub use frame::{
    Block, Discontinuities, End, Execs, ExitStatus, Frame, FrameKind, Hello, Memory, SyscallData, Syscalls,
    ThreadEvent, VcpuCount,
};

/// First four bytes of every stream.
pub const MAGIC: [u8; 4] = *b"CBAL";
/// The protocol version this crate speaks. Bumped on any incompatible change.
pub const VERSION: u16 = 1;
/// Magic, version, two reserved bytes.
pub const PREAMBLE_LEN: usize = 8;
/// Largest frame a decoder accepts (length field value); encoders split columns below it.
pub const MAX_FRAME_LEN: u32 = 64 << 20;

/// The stream's first bytes.
pub fn preamble() -> [u8; PREAMBLE_LEN] {
    let v = VERSION.to_le_bytes();
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], v[0], v[1], 0, 0]
}
