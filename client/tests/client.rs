//! The consumer library on streams written by the protocol's own encoder: blocks expanded
//! into instruction addresses, frames decoded in order from any reader, broken streams ending
//! in an error, and the listener serving two producers on a real Unix socket until both end.

use std::io::Write;
use std::path::PathBuf;

use cannonball_client::protocol::{self, Block, End, Execs, Frame, Hello, ThreadEvent, VcpuCount, encode};
use cannonball_client::{BlockTable, Connection, Listener};

fn block(id: u32, vaddr: u64, sizes: &[u8]) -> Block {
    let bytes = sizes.iter().flat_map(|&s| std::iter::repeat_n(0x90, s as usize)).collect();
    Block { id, vaddr, insn_sizes: sizes.to_vec(), insn_bytes: bytes, symbol: Some(format!("b{id}")) }
}

fn execs(ids: &[u32], cut_short: Option<u32>) -> Execs {
    Execs { vcpu: 0, first_exec: 0, ids: ids.to_vec(), cut_short }
}

#[test]
fn executions_expand_into_their_blocks_instruction_addresses() {
    let mut table = BlockTable::default();
    table.insert(vec![block(0, 0x1000, &[1, 3, 2]), block(2, 0x2000, &[4, 4])]);
    let e = execs(&[0, 2, 0], None);
    let pcs: Vec<u64> = table.pcs(&e).collect();
    assert_eq!(pcs, [0x1000, 0x1001, 0x1004, 0x2000, 0x2004, 0x1000, 0x1001, 0x1004]);
    assert_eq!(table.instruction_count(&e), 8);
    // The last execution cut short after its second instruction (a fault).
    let cut = execs(&[2, 0], Some(2));
    assert_eq!(table.pcs(&cut).collect::<Vec<_>>(), [0x2000, 0x2004, 0x1000, 0x1001]);
    assert_eq!(table.instruction_count(&cut), 4);
    // An id never described contributes nothing, and a huge claimed id grows nothing.
    let unknown = execs(&[1, 7, 2], None);
    assert_eq!(table.pcs(&unknown).count(), 2);
    assert_eq!(table.instruction_count(&unknown), 2);
    assert!(table.get(u32::MAX).is_none());
}

/// A whole stream: preamble, hello, blocks, executions, a thread exit, the end frame.
fn stream(pid: u32) -> (Vec<u8>, Vec<Frame>) {
    let hello = Hello { pid, forked: pid != 1, arch: "x86_64".into(), script: String::new() };
    let blocks = vec![block(0, 0x400000, &[2, 3]), block(1, 0x400010, &[1])];
    let end = End {
        instructions: vec![VcpuCount { vcpu: 0, count: 6 }],
        records: 0,
        frames: 5,
        exit: Some(protocol::ExitStatus { status: 0, signal: 0 }),
    };
    let mut out = protocol::preamble().to_vec();
    encode::hello(&mut out, &hello);
    encode::blocks(&mut out, blocks.iter().map(Block::view));
    encode::execs(&mut out, 0, 0, &[0, 1, 0], None);
    encode::thread(&mut out, 0, ThreadEvent::Exit);
    encode::end(&mut out, &end);
    let frames = vec![
        Frame::Hello(hello),
        Frame::Blocks(blocks),
        Frame::Execs(execs(&[0, 1, 0], None)),
        Frame::Thread { vcpu: 0, event: ThreadEvent::Exit },
        Frame::End(end),
    ];
    (out, frames)
}

async fn decode_all(bytes: &[u8]) -> std::io::Result<Vec<Frame>> {
    let mut conn = Connection::new(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = conn.next_frame().await? {
        frames.push(frame);
    }
    Ok(frames)
}

#[tokio::test]
async fn a_stream_decodes_into_its_frames_in_order() {
    let (bytes, frames) = stream(1);
    assert_eq!(decode_all(&bytes).await.unwrap(), frames);
}

#[tokio::test]
async fn a_truncated_or_corrupted_stream_is_an_error_not_a_hang() {
    let (bytes, _) = stream(1);
    for cut in [3, protocol::PREAMBLE_LEN + 2, bytes.len() - 1] {
        let err = decode_all(&bytes[..cut]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "cut at {cut}: {err}");
    }
    let mut garbage = bytes.clone();
    garbage[0] = b'X';
    assert_eq!(decode_all(&garbage).await.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    let mut bad_kind = bytes;
    bad_kind[protocol::PREAMBLE_LEN + 4] = 0xee;
    assert_eq!(decode_all(&bad_kind).await.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
}

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cannonball-client-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("s.sock")
}

#[tokio::test]
async fn the_listener_serves_every_producer_until_all_ended() {
    let path = socket_path("serve");
    let listener = Listener::bind(&path).unwrap();
    let mut producers = Vec::new();
    for pid in [1, 2] {
        // Both connect before either writes, as a forked child connects while its parent
        // lives (a producer that connects after every other ended finds the listener gone:
        // the run is over).
        let mut socket = std::os::unix::net::UnixStream::connect(&path).unwrap();
        producers.push(std::thread::spawn(move || {
            let (bytes, _) = stream(pid);
            // In pieces, as a producer's writes arrive.
            for piece in bytes.chunks(7) {
                socket.write_all(piece).unwrap();
            }
        }));
    }
    let mut got: Vec<(u32, Frame)> = Vec::new();
    listener
        .serve(|id, frame| {
            got.push((id, frame?));
            Ok(())
        })
        .await
        .unwrap();
    for p in producers {
        p.join().unwrap();
    }
    // Each connection's frames in their order; which pid got which id is the accept order.
    for id in [0, 1] {
        let frames: Vec<Frame> = got.iter().filter(|(i, _)| *i == id).map(|(_, f)| f.clone()).collect();
        let Frame::Hello(hello) = &frames[0] else { panic!("connection {id} starts with {:?}", frames[0]) };
        assert_eq!(frames, stream(hello.pid).1, "connection {id}");
    }
    assert!(!path.exists(), "the socket file is removed when the listener goes");
}

#[tokio::test]
async fn bind_replaces_a_stale_socket_and_refuses_anything_else() {
    let path = socket_path("bind");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "a stale socket file left behind");
    let listener = Listener::bind(&path).expect("a stale socket is replaced");
    let err = Listener::bind(&path).err().expect("a second consumer on a live socket is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    drop(listener);
    std::fs::write(&path, "not a socket").unwrap();
    let err = Listener::bind(&path).err().expect("a regular file is not replaced");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
}
