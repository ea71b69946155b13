//! Every frame kind survives encode → decode, byte-by-byte feeding changes nothing, and every
//! truncation or corruption is an error rather than a panic.

use cannonball_protocol::encode;
use cannonball_protocol::*;

fn sample_stream() -> (Vec<u8>, Vec<Frame>) {
    let mut out = preamble().to_vec();
    let hello = Hello { pid: 42, forked: true, arch: "x86_64".into(), script: "cov".into() };
    encode::hello(&mut out, &hello);
    let blocks = vec![
        Block {
            id: 0,
            vaddr: 0x401000,
            insn_sizes: vec![1, 3],
            insn_bytes: vec![0x90, 1, 2, 3],
            symbol: Some("main".into()),
        },
        Block { id: 1, vaddr: 0x401004, insn_sizes: vec![2], insn_bytes: vec![0xeb, 0xfe], symbol: None },
    ];
    encode::blocks(&mut out, blocks.iter().map(Block::view));
    encode::execs(&mut out, 1, 7, &[0, 1, 1], Some(2));
    let memory = encode::MemoryRef {
        vcpu: 1,
        exec: &[7, 8],
        pc: &[0x401001, 0x401004],
        addr: &[0x1000, 0x2000],
        info: &[3, 8 | 2],
        value: &[5, 6],
    };
    encode::memory(&mut out, memory);
    let exit = encode::SyscallsRef {
        vcpu: 0,
        exec: &[3],
        number: &[231],
        args: &[1, 2, 3, 4, 5, 6],
        ret: &[-2],
        returned: &[false],
        data: Default::default(),
    };
    encode::syscalls(&mut out, exit);
    let data =
        encode::SyscallDataRef { call: &[0, 0, 1], info: &[1, 1 | 8, 1 | 64], len: &[4, 0, 2], bytes: b"/etchi" };
    let with_data = encode::SyscallsRef {
        vcpu: 2,
        exec: &[0, 0],
        number: &[257, 0],
        args: &[0; 12],
        ret: &[3, 2],
        returned: &[true, true],
        data,
    };
    encode::syscalls(&mut out, with_data);
    encode::thread(&mut out, 3, ThreadEvent::Exit);
    let discontinuities =
        encode::DiscontinuitiesRef { vcpu: 1, exec: &[4, 9], kind: &[0, 2], from: &[0x40, 0x80], to: &[0x100, 0x84] };
    encode::discontinuities(&mut out, discontinuities);
    encode::record(&mut out, 9, b"hello").unwrap();
    let end = End {
        instructions: vec![VcpuCount { vcpu: 0, count: 100 }],
        records: 1,
        frames: 8,
        exit: Some(ExitStatus { status: 143, signal: 15 }),
    };
    encode::end(&mut out, &end);
    let frames = vec![
        Frame::Hello(hello),
        Frame::Blocks(blocks),
        Frame::Execs(Execs { vcpu: 1, first_exec: 7, ids: vec![0, 1, 1], cut_short: Some(2) }),
        Frame::Memory(Memory {
            vcpu: 1,
            exec: vec![7, 8],
            pc: vec![0x401001, 0x401004],
            addr: vec![0x1000, 0x2000],
            info: vec![3, 10],
            value: vec![5, 6],
        }),
        Frame::Syscalls(Syscalls {
            vcpu: 0,
            exec: vec![3],
            number: vec![231],
            args: vec![1, 2, 3, 4, 5, 6],
            ret: vec![-2],
            returned: vec![false],
            data: SyscallData::default(),
        }),
        Frame::Syscalls(Syscalls {
            vcpu: 2,
            exec: vec![0, 0],
            number: vec![257, 0],
            args: vec![0; 12],
            ret: vec![3, 2],
            returned: vec![true, true],
            data: SyscallData {
                call: vec![0, 0, 1],
                info: vec![1, 9, 65],
                len: vec![4, 0, 2],
                bytes: b"/etchi".to_vec(),
            },
        }),
        Frame::Thread { vcpu: 3, event: ThreadEvent::Exit },
        Frame::Discontinuities(Discontinuities {
            vcpu: 1,
            exec: vec![4, 9],
            kind: vec![0, 2],
            from: vec![0x40, 0x80],
            to: vec![0x100, 0x84],
        }),
        Frame::Record { tag: 9, payload: b"hello".to_vec() },
        Frame::End(end),
    ];
    (out, frames)
}

fn decode_all(bytes: &[u8], chunk: usize) -> Result<Vec<Frame>, DecodeError> {
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        decoder.feed(piece);
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame);
        }
    }
    decoder.finish()?;
    Ok(frames)
}

#[test]
fn every_frame_round_trips() {
    let (bytes, frames) = sample_stream();
    assert_eq!(decode_all(&bytes, bytes.len()).unwrap(), frames);
    assert_eq!(decode_all(&bytes, 1).unwrap(), frames);
    assert_eq!(decode_all(&bytes, 7).unwrap(), frames);
    let wire: usize = frames.iter().map(Frame::encoded_len).sum();
    assert_eq!(PREAMBLE_LEN + wire, bytes.len(), "encoded_len matches the encoder");
}

#[test]
fn block_pcs_follow_the_sizes() {
    let b = Block { id: 0, vaddr: 0x10, insn_sizes: vec![1, 3, 2], insn_bytes: vec![0; 6], symbol: None };
    assert_eq!(b.pcs().collect::<Vec<_>>(), [0x10, 0x11, 0x14]);
}

#[test]
fn every_truncation_is_an_error() {
    let (bytes, _) = sample_stream();
    let frame_ends: Vec<usize> = {
        // Offsets where a frame (or the preamble) ends: cutting there is a clean stream.
        let mut ends = vec![PREAMBLE_LEN];
        let mut pos = PREAMBLE_LEN;
        while pos < bytes.len() {
            pos += 4 + u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            ends.push(pos);
        }
        ends
    };
    for cut in 0..bytes.len() {
        let result = decode_all(&bytes[..cut], 5);
        if frame_ends.contains(&cut) {
            assert!(result.is_ok(), "cut at a frame boundary {cut}");
        } else {
            assert!(matches!(result, Err(DecodeError::Truncated { .. })), "cut at {cut}: {result:?}");
        }
    }
}

#[test]
fn garbage_is_rejected_at_once() {
    let mut d = Decoder::new();
    d.feed(b"GET / HTTP/1.1\r\n");
    assert_eq!(d.next_frame(), Err(DecodeError::NotCannonball));
    assert_eq!(d.next_frame(), Err(DecodeError::NotCannonball), "errors stick");

    let mut future = preamble();
    future[4] = 99;
    let mut d = Decoder::new();
    d.feed(&future);
    assert_eq!(d.next_frame(), Err(DecodeError::Version(99)));

    let mut huge = preamble().to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    let mut d = Decoder::new();
    d.feed(&huge);
    assert_eq!(d.next_frame(), Err(DecodeError::FrameLength(u32::MAX)));
}

#[test]
fn corrupted_counts_are_malformed_not_panics() {
    let (bytes, _) = sample_stream();
    // Flip each byte after the preamble in turn: decoding must return, whatever it returns.
    for i in PREAMBLE_LEN..bytes.len() {
        for flip in [0xff_u8, 0x80, 0x01] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            let _ = decode_all(&b, 64);
        }
    }
}
