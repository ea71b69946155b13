//! Forwarding: frames of the protocol in `cannonball-protocol` (docs/protocol.md) to a
//! consumer. Two producers feed it, both on the thread that calls into the script (so their
//! frames keep the order of events): the built-in forwarder, which passes subscribed raw
//! events through (`forward=` kinds), and the script's `emit` records.
//!
//! Frames collect in a buffer that goes to the [`Writer`] (tokio, its own thread) when it is
//! large or when the analysis thread goes idle. At exit the `end` frame is written and the run
//! waits until the sink has taken everything.

mod endpoint;
mod writer;

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Result, anyhow};
use cannonball_protocol::{End, ExitStatus, Hello, VcpuCount, encode};

pub use endpoint::Endpoint;
use writer::Writer;

use crate::console;
use crate::events::{Block, Consumer, EventBatch, EventKinds, ThreadEvent};

/// Send the buffer to the writer once it holds this much.
const FLUSH_AT: usize = 256 << 10;

/// The stream while it is open: frames not yet handed to the writer, and what went out.
struct OpenStream {
    writer: Writer,
    pending: Vec<u8>,
    /// Raw event kinds passed through.
    kinds: EventKinds,
    frames: u64,
    records: u64,
    failed: bool,
}

/// The forwarding sink of a run: a handle that install creates and hands to the stages that
/// produce frames — the analysis loop (raw events, as a [`Consumer`]), the script host
/// (`emit`) — and to the exit and fork paths. No global: whoever forwards was given the
/// handle. Clones share one stream.
#[derive(Clone, Default)]
pub struct Forwarding {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    stream: Mutex<Option<OpenStream>>,
    /// Records a script emitted while no sink was configured.
    dropped_records: Mutex<u64>,
    /// A connection opened before a fork, for the child.
    child_socket: Mutex<Option<UnixStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OpenStream {
    fn frame(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        if self.failed {
            return;
        }
        encode(&mut self.pending);
        self.frames += 1;
        if self.pending.len() >= FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() || self.failed {
            return;
        }
        let buf = std::mem::replace(&mut self.pending, Vec::with_capacity(FLUSH_AT + (64 << 10)));
        if !self.writer.send(buf) {
            // The writer reports the cause at close; stop producing meanwhile.
            self.failed = true;
        }
    }
}

/// Raw kinds to pass through, empty without a sink.
fn kinds_of(f: &OpenStream) -> EventKinds {
    f.kinds
}

impl Forwarding {
    fn stream(&self) -> MutexGuard<'_, Option<OpenStream>> {
        lock(&self.shared.stream)
    }

    /// Opens the stream: preamble and `hello`. Called at install, and in a forked child with
    /// the child's stream.
    pub fn start(&self, stream: endpoint::Stream, hello: &Hello, kinds: EventKinds) -> Result<()> {
        let writer = Writer::start(stream)?;
        let mut pending = Vec::with_capacity(FLUSH_AT + (64 << 10));
        pending.extend_from_slice(&cannonball_protocol::preamble());
        encode::hello(&mut pending, hello);
        *self.stream() = Some(OpenStream { writer, pending, kinds, frames: 1, records: 0, failed: false });
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.stream().is_some()
    }

    /// New blocks, when the stream carries executions or blocks.
    fn consumer_blocks(&self, blocks: &[Block]) {
        let mut guard = self.stream();
        let Some(f) = guard.as_mut() else { return };
        if blocks.is_empty() || !kinds_of(f).intersects(EventKinds::TRACE | EventKinds::BLOCKS) {
            return;
        }
        // A few thousand per frame keeps frames far below the protocol's limit.
        for chunk in blocks.chunks(4096) {
            f.frame(|out| {
                encode::blocks(
                    out,
                    chunk.iter().map(|b| encode::BlockRef {
                        id: b.id,
                        vaddr: b.vaddr,
                        insn_sizes: &b.insn_sizes,
                        insn_bytes: &b.insn_bytes,
                        symbol: b.symbol.as_deref(),
                    }),
                )
            });
        }
    }

    /// The subscribed parts of one vCPU batch.
    fn consumer_events(&self, batch: &EventBatch) {
        let mut guard = self.stream();
        let Some(f) = guard.as_mut() else { return };
        let kinds = kinds_of(f);
        if kinds.contains(EventKinds::TRACE) && !batch.execs.is_empty() {
            f.frame(|out| encode::execs(out, batch.vcpu, batch.first_exec, &batch.execs, batch.cut_short));
        }
        if kinds.contains(EventKinds::MEMORY) && !batch.mem_pc.is_empty() {
            f.frame(|out| {
                encode::memory(
                    out,
                    encode::MemoryRef {
                        vcpu: batch.vcpu,
                        exec: &batch.mem_exec,
                        pc: &batch.mem_pc,
                        addr: &batch.mem_addr,
                        info: &batch.mem_info,
                        value: &batch.mem_value,
                    },
                )
            });
        }
        if kinds.contains(EventKinds::DISCONTINUITIES) && !batch.disc_from.is_empty() {
            let kind: Vec<u8> = batch.disc_kind.iter().map(|&k| k as u8).collect();
            f.frame(|out| {
                encode::discontinuities(
                    out,
                    encode::DiscontinuitiesRef {
                        vcpu: batch.vcpu,
                        exec: &batch.disc_exec,
                        kind: &kind,
                        from: &batch.disc_from,
                        to: &batch.disc_to,
                    },
                )
            });
        }
        if kinds.contains(EventKinds::SYSCALLS) && !batch.sys_number.is_empty() {
            f.frame(|out| {
                // Only when asked for: consumers of older streams never see the section.
                let data = if kinds.contains(EventKinds::SYSCALL_DATA) {
                    encode::SyscallDataRef {
                        call: &batch.sys_data_call,
                        info: &batch.sys_data_info,
                        len: &batch.sys_data_len,
                        bytes: &batch.sys_data,
                    }
                } else {
                    Default::default()
                };
                let calls = encode::SyscallsRef {
                    vcpu: batch.vcpu,
                    exec: &batch.sys_exec,
                    number: &batch.sys_number,
                    args: &batch.sys_args,
                    ret: &batch.sys_ret,
                    returned: &batch.sys_returned,
                    data,
                };
                encode::syscalls(out, calls)
            });
        }
    }

    fn consumer_thread(&self, vcpu: u32, event: ThreadEvent) {
        let mut guard = self.stream();
        let Some(f) = guard.as_mut() else { return };
        if kinds_of(f).contains(EventKinds::THREADS) {
            let event = match event {
                ThreadEvent::Start => cannonball_protocol::ThreadEvent::Start,
                ThreadEvent::Exit => cannonball_protocol::ThreadEvent::Exit,
            };
            f.frame(|out| encode::thread(out, vcpu, event));
        }
    }

    /// A script's record (host function `emit`). An error traps the script.
    pub fn emit(&self, tag: u32, payload: &[u8]) -> Result<()> {
        let mut guard = self.stream();
        let Some(f) = guard.as_mut() else {
            *lock(&self.shared.dropped_records) += 1;
            return Ok(());
        };
        let mut result = Ok(());
        f.frame(|out| {
            result = encode::record(out, tag, payload).map_err(|len| {
                anyhow!("emit: a record of {len} bytes exceeds the limit of {} bytes", encode::MAX_RECORD_LEN)
            })
        });
        if result.is_ok() {
            f.records += 1;
        } else {
            f.frames -= 1;
        }
        result
    }

    /// Sends what is buffered (the analysis thread calls this when it runs out of work, so a
    /// live consumer is never far behind).
    pub fn flush(&self) {
        if let Some(f) = self.stream().as_mut() {
            f.flush();
        }
    }

    /// Ends the stream: writes the `end` frame with the instruction totals and, when known, how
    /// the guest ended (`exit`: status and signal), and waits until the sink has everything.
    /// Reports a failed sink.
    pub fn finish(&self, instructions: Vec<(u32, u64)>, exit: Option<(i32, u32)>) {
        let dropped = *lock(&self.shared.dropped_records);
        if dropped > 0 {
            console::warning(&format!(
                "the script emitted {dropped} records but no sink is configured (sock=PATH or fwd=FILE)"
            ));
        }
        let Some(mut f) = self.stream().take() else { return };
        let end = End {
            instructions: instructions.into_iter().map(|(vcpu, count)| VcpuCount { vcpu, count }).collect(),
            records: f.records,
            frames: f.frames + 1,
            exit: exit.map(|(status, signal)| ExitStatus { status, signal }),
        };
        f.frame(|out| encode::end(out, &end));
        f.flush();
        let failed_early = f.failed;
        if let Err(err) = f.writer.close() {
            console::error(&format!("forwarding failed, the consumer did not get everything: {err}"));
        } else if failed_early {
            console::error("forwarding failed, the consumer did not get everything");
        }
    }

    /// Before a guest fork: a socket sink opens the child's connection now, so that the consumer
    /// accepts it before the parent can end (a consumer stops when every connection ended).
    pub fn prepare_fork(&self, endpoint: Option<&Endpoint>) {
        if let Some(Endpoint::Socket { path, .. }) = endpoint
            && self.is_active()
        {
            self.flush();
            *lock(&self.shared.child_socket) = UnixStream::connect(path).ok();
        }
    }

    /// In the parent after a fork: the child's connection is the child's.
    pub fn parent_after_fork(&self) {
        drop(lock(&self.shared.child_socket).take());
    }

    /// In a forked child: drop the parent's stream without touching its thread (gone), and open
    /// the child's own with a `hello` that says forked.
    pub fn child_after_fork(&self, endpoint: Option<&Endpoint>, hello: &Hello) {
        let old = self.stream().take();
        let Some(old) = old else { return };
        let kinds = old.kinds;
        old.writer.abandon_after_fork();
        std::mem::forget(old.pending);
        let Some(endpoint) = endpoint else { return };
        let socket = lock(&self.shared.child_socket).take();
        match endpoint.for_child(hello.pid, socket) {
            Ok(Some(stream)) => {
                if let Err(err) = self.start(stream, hello, kinds) {
                    console::error(&format!("in forked child {}: {err:#}", hello.pid));
                }
            }
            Ok(None) => console::warning(&format!(
                "forked child {} does not forward: its frames would interleave with the parent's on stdout",
                hello.pid
            )),
            Err(err) => console::error(&format!("in forked child {}: {err:#}; it does not forward", hello.pid)),
        }
    }
}

impl Consumer for Forwarding {
    fn blocks(&mut self, new: &[Block]) {
        self.consumer_blocks(new);
    }
    fn events(&mut self, batch: &mut EventBatch) {
        self.consumer_events(batch);
    }
    fn thread(&mut self, vcpu: u32, event: ThreadEvent) {
        self.consumer_thread(vcpu, event);
    }
    fn idle(&mut self) {
        self.flush();
    }
}
