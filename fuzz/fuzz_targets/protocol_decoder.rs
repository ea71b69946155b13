//! Arbitrary bytes → `cannonball_protocol::Decoder`.
//!
//! Input layout: byte 0 picks how the stream is cut into `feed` calls, the rest is the stream
//! (so a real stream with one byte in front is a good seed). Checked:
//!
//! * decoding never panics and never allocates beyond what the input justifies (libFuzzer's
//!   `-malloc_limit_mb`/`-rss_limit_mb` catch the latter);
//! * feeding the stream in pieces gives the same frames and the same error as feeding it whole;
//! * on a clean stream, every frame's `encoded_len` is the bytes it took on the wire;
//! * every frame decoded (clean stream or not) re-encodes with `encode::*` to exactly
//!   `encoded_len` bytes and decodes back to an equal frame.
#![no_main]

use cannonball_protocol::encode;
use cannonball_protocol::{DecodeError, Decoder, Frame, PREAMBLE_LEN, preamble};
use libfuzzer_sys::fuzz_target;

/// Feeds `stream` in pieces whose sizes come from `ctl` (0: all at once), taking every
/// complete frame after each piece, then calls `finish`.
fn decode(stream: &[u8], ctl: u8) -> (Vec<Frame>, Result<(), DecodeError>) {
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    let mut state = u32::from(ctl) | 1;
    let mut rest = stream;
    loop {
        let size = if ctl == 0 {
            rest.len()
        } else {
            // xorshift: sizes 1..=ctl, so small ctl values cut at nearly every byte.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            1 + (state % u32::from(ctl)) as usize
        };
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        decoder.feed(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(err) => {
                    // Errors stick, and finish reports the same one.
                    assert_eq!(decoder.next_frame(), Err(err.clone()));
                    assert_eq!(decoder.finish(), Err(err.clone()));
                    let _ = err.to_string();
                    return (frames, Err(err));
                }
            }
        }
        if rest.is_empty() {
            break;
        }
    }
    let end = decoder.finish();
    if let Err(err) = &end {
        assert!(matches!(err, DecodeError::Truncated { missing } if *missing > 0), "{err:?}");
        let _ = err.to_string();
    }
    (frames, end)
}

/// Appends `frame` with the encoder; false if the encoder cannot take it (oversized record).
fn encode_frame(out: &mut Vec<u8>, frame: &Frame) -> bool {
    match frame {
        Frame::Hello(h) => encode::hello(out, h),
        Frame::Blocks(blocks) => encode::blocks(
            out,
            blocks.iter().map(|b| b.view()),
        ),
        Frame::Execs(e) => encode::execs(out, e.vcpu, e.first_exec, &e.ids, e.cut_short),
        Frame::Memory(m) => encode::memory(out, m.view()),
        Frame::Syscalls(s) => encode::syscalls(out, s.view()),
        Frame::Thread { vcpu, event } => encode::thread(out, *vcpu, *event),
        Frame::Record { tag, payload } => {
            if payload.len() > encode::MAX_RECORD_LEN {
                return false;
            }
            encode::record(out, *tag, payload).expect("payload within MAX_RECORD_LEN");
        }
        Frame::End(e) => encode::end(out, e),
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else { return };

    let (frames, end) = decode(stream, ctl);
    if ctl != 0 {
        let whole = decode(stream, 0);
        assert_eq!(whole.0, frames, "pieces and whole stream give different frames");
        assert_eq!(whole.1, end, "pieces and whole stream end differently");
    }

    if end.is_ok() {
        let wire: usize = frames.iter().map(Frame::encoded_len).sum();
        assert_eq!(PREAMBLE_LEN + wire, stream.len(), "encoded_len disagrees with the bytes decoded");
    }

    if frames.is_empty() {
        return;
    }
    let mut again = preamble().to_vec();
    for frame in &frames {
        let before = again.len();
        if !encode_frame(&mut again, frame) {
            return;
        }
        assert_eq!(again.len() - before, frame.encoded_len(), "encoded_len disagrees with the encoder: {frame:?}");
    }
    let (decoded, end) = decode(&again, 0);
    assert_eq!(end, Ok(()), "re-encoded stream does not decode cleanly");
    assert_eq!(decoded, frames, "frames change through encode → decode");
});
