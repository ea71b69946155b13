//! Batches on their way to the script: a bounded channel from the vCPU threads to one analysis
//! thread that owns the script instance, so emulation and analysis overlap on two cores.
//!
//! The channel is bounded: when the script falls behind, vCPU threads wait in `submit_events`
//! (backpressure) instead of dropping events. Before delivering any message, the analysis
//! thread sends the script the blocks it has not seen yet, so a block's facts always arrive
//! before the executions that refer to it.
//!
//! The analysis thread also feeds the forwarder (`sink::forward`): raw events pass through
//! after the script saw them, in the same order. A run without a script only forwards.

mod consumer;
#[cfg(test)]
mod tests;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::events::clear_batch;
use crate::events::{Block, EventBatch, ProbeBatch, ThreadEvent};
use crate::script::ScriptHost;
use crate::services::thread_ids;
use crate::sink::forward::Forwarding;

pub use consumer::Consumers;

/// Messages in flight at most; each batch holds up to ~1 MB of columns.
const CHANNEL_BOUND: usize = 8;

enum Message {
    /// A vCPU's batch, and the probe hits of the same stretch of its execution (boxed like
    /// the batch: the message stays small).
    Events(Box<EventBatch>, Option<Box<ProbeBatch>>),
    /// A guest thread's Start (with its Linux tid) or Exit on a vCPU; `deliver`: the
    /// consumers asked for thread events (the tid is recorded for `thread-id` either way).
    Thread {
        vcpu: u32,
        event: ThreadEvent,
        tid: Option<i64>,
        deliver: bool,
    },
    /// Answered once everything sent before it was delivered.
    Barrier(SyncSender<()>),
    Stop,
}

struct Pipeline {
    tx: SyncSender<Message>,
    free: Receiver<Box<EventBatch>>,
    thread: JoinHandle<Option<ScriptHost>>,
}

static PIPELINE: Mutex<Option<Pipeline>> = Mutex::new(None);

fn pipeline() -> std::sync::MutexGuard<'static, Option<Pipeline>> {
    PIPELINE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the analysis thread with `script`, if any. `undelivered` hands out the blocks
/// translated since its last call (none without a block subscription).
pub fn start(script: Option<ScriptHost>, undelivered: Option<fn() -> Vec<Block>>, forwarding: Forwarding) {
    let (tx, rx) = mpsc::sync_channel(CHANNEL_BOUND);
    let (free_tx, free) = mpsc::channel();
    let thread = crate::threads::spawn("cannonball-analysis", move || {
        analysis_loop(script, undelivered, forwarding, rx, free_tx)
    })
    .expect("cannot start the analysis thread");
    *pipeline() = Some(Pipeline { tx, free, thread });
}

/// How long the analysis thread may sit idle with forwarded frames still buffered.
const IDLE_FLUSH: Duration = Duration::from_millis(50);

fn analysis_loop(
    script: Option<ScriptHost>,
    undelivered: Option<fn() -> Vec<Block>>,
    forwarding: Forwarding,
    rx: Receiver<Message>,
    free: Sender<Box<EventBatch>>,
) -> Option<ScriptHost> {
    let mut consumers = Consumers { script, forwarding };
    let deliver_blocks = |consumers: &mut Consumers<ScriptHost, Forwarding>| {
        let new = undelivered.map(|take| take()).unwrap_or_default();
        if !new.is_empty() {
            consumers.each(|c| c.blocks(&new));
        }
    };
    loop {
        let message = rx.recv_timeout(IDLE_FLUSH);
        // A fault signal the guest sent to the process that landed here went back to the
        // process, and QEMU's handler left it blocked on this thread (patch 0007): open the
        // fault signals again before the script runs, for its own traps.
        crate::threads::unblock_faults();
        let message = match message {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                consumers.each(|c| c.idle());
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match message {
            Message::Events(mut batch, hits) => {
                let events = batch.execs.len() + batch.mem_pc.len() + batch.sys_number.len();
                crate::progress::EVENTS.fetch_add(events as u64, std::sync::atomic::Ordering::Relaxed);
                deliver_blocks(&mut consumers);
                if let Some(hits) = hits {
                    consumers.each(|c| c.probe_hits(&hits));
                }
                consumers.each(|c| c.events(&mut batch));
                clear_batch(&mut batch);
                let _ = free.send(batch);
            }
            Message::Thread { vcpu, event, tid, deliver } => {
                // The tid is the script's from right before the Start until right after the
                // Exit: the vCPU's batches lie between the two on this channel.
                if let (ThreadEvent::Start, Some(tid)) = (event, tid) {
                    thread_ids::started(vcpu, tid);
                }
                if deliver {
                    deliver_blocks(&mut consumers);
                    consumers.each(|c| c.thread(vcpu, event));
                }
                if let ThreadEvent::Exit = event {
                    thread_ids::exited(vcpu);
                }
            }
            Message::Barrier(done) => {
                deliver_blocks(&mut consumers);
                consumers.each(|c| c.idle());
                let _ = done.send(());
            }
            Message::Stop => {
                deliver_blocks(&mut consumers);
                break;
            }
        }
    }
    consumers.script
}

/// Messages sent, and how many of them found the channel full so that their vCPU waited for
/// the script (backpressure): said at the end of a run under `CANNONBALL_PIPELINE_STATS=1`.
static SENT: AtomicU64 = AtomicU64::new(0);
static WAITED: AtomicU64 = AtomicU64::new(0);

fn send(message: Message) {
    let tx = pipeline().as_ref().map(|p| p.tx.clone());
    if let Some(tx) = tx {
        SENT.fetch_add(1, Ordering::Relaxed);
        if let Err(TrySendError::Full(message)) = tx.try_send(message) {
            // Blocks while the channel is full: backpressure on the guest.
            WAITED.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(message);
        }
    }
}

/// `cannonball: pipeline: S messages, W waited for the script (channel of 8)`, on stderr when
/// `CANNONBALL_PIPELINE_STATS=1` asks for it: shows whether the script kept up.
fn report_stats() {
    if std::env::var_os("CANNONBALL_PIPELINE_STATS").is_some_and(|v| v == "1") {
        crate::console::diagnostic(&format!(
            "cannonball: pipeline: {} messages, {} waited for the script (channel of {CHANNEL_BOUND})",
            SENT.load(Ordering::Relaxed),
            WAITED.load(Ordering::Relaxed)
        ));
    }
}

/// An emptied batch to refill, if the analysis thread has returned one.
pub fn recycled_batch() -> Option<Box<EventBatch>> {
    pipeline().as_ref().and_then(|p| p.free.try_recv().ok())
}

pub fn submit_events(batch: Box<EventBatch>, hits: Option<ProbeBatch>) {
    send(Message::Events(batch, hits.map(Box::new)));
}

/// A guest thread started on `vcpu` with Linux thread id `tid`: submitted at vCPU init, on
/// the new thread before it runs guest code, so before any of its batches.
pub fn submit_thread_start(vcpu: u32, tid: i64, deliver: bool) {
    send(Message::Thread { vcpu, event: ThreadEvent::Start, tid: Some(tid), deliver });
}

/// The thread on `vcpu` exited: submitted after its buffer was flushed, so after its batches.
pub fn submit_thread_exit(vcpu: u32, deliver: bool) {
    send(Message::Thread { vcpu, event: ThreadEvent::Exit, tid: None, deliver });
}

/// Waits until the script has received everything submitted so far.
pub fn wait_until_delivered() {
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    send(Message::Barrier(done_tx));
    let _ = done_rx.recv();
}

/// Stops the analysis thread after it delivered everything, and returns the script.
pub fn stop() -> Option<ScriptHost> {
    let pipeline = pipeline().take()?;
    let _ = pipeline.tx.send(Message::Stop);
    let script = pipeline.thread.join().ok().flatten();
    report_stats();
    script
}

/// In a forked child: the analysis thread does not exist there. Forget the parent's pipeline
/// without touching it (its channel's receiver lived on that thread's stack).
pub fn forget_after_fork() {
    if let Some(p) = pipeline().take() {
        std::mem::forget(p);
    }
    SENT.store(0, Ordering::Relaxed);
    WAITED.store(0, Ordering::Relaxed);
}
