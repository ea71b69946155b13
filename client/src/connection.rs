//! One producer's stream: bytes from a socket (or any reader) → frames.

use std::io;

use cannonball_protocol::{Decoder, Frame};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Frames from one stream.
pub struct Connection<R> {
    reader: R,
    decoder: Decoder,
    buf: Box<[u8]>,
    ended: bool,
}

impl<R: AsyncRead + Unpin> Connection<R> {
    pub fn new(reader: R) -> Self {
        Self { reader, decoder: Decoder::new(), buf: vec![0; 1 << 20].into_boxed_slice(), ended: false }
    }

    /// The next frame; `Ok(None)` at a clean end of stream. A malformed or truncated stream
    /// gives an `InvalidData` error carrying the [`DecodeError`](crate::DecodeError).
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(invalid)? {
                return Ok(Some(frame));
            }
            if self.ended {
                return Ok(None);
            }
            let n = self.reader.read(&mut self.buf).await?;
            if n == 0 {
                self.ended = true;
                self.decoder.finish().map_err(invalid)?;
            } else {
                self.decoder.feed(&self.buf[..n]);
            }
        }
    }
}

fn invalid(err: crate::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}
