//! The sending side: a thread running a single-threaded tokio runtime that writes buffers of
//! frames to the sink, off the vCPU and analysis threads. The channel to it is bounded, so a
//! slow consumer slows the analysis thread and, through the batch channel, the guest: nothing
//! is dropped.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::endpoint::Stream;

/// Buffers in flight at most (each up to a few hundred KiB).
const QUEUE: usize = 32;

pub struct Writer {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<()>>>,
    fd: RawFd,
}

impl Writer {
    pub fn start(stream: Stream) -> Result<Self> {
        let fd = match &stream {
            Stream::Socket(s) => s.as_raw_fd(),
            Stream::File(f) => f.as_raw_fd(),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        // Blocked signals also make a broken pipe an EPIPE here, not a SIGPIPE for the guest.
        let thread = crate::threads::spawn("cannonball-forward", move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
            runtime.block_on(async move {
                match stream {
                    Stream::Socket(s) => {
                        s.set_nonblocking(true)?;
                        pump(rx, tokio::net::UnixStream::from_std(s)?).await
                    }
                    Stream::File(f) => pump(rx, tokio::fs::File::from_std(f)).await,
                }
            })
        })
        .map_err(|e| anyhow!("cannot start the forwarding thread: {e}"))?;
        Ok(Self { tx: Some(tx), thread: Some(thread), fd })
    }

    /// Queues `buf`, waiting while the queue is full. False once the sink has failed.
    pub fn send(&self, buf: Vec<u8>) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.blocking_send(buf).is_ok())
    }

    /// Waits until everything queued was written and the sink closed.
    pub fn close(mut self) -> Result<()> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(e))) => Err(anyhow!("{e}")),
            Some(Err(_)) => Err(anyhow!("the forwarding thread panicked")),
        }
    }

    /// In a forked child, where the writer thread does not exist: close the inherited
    /// descriptor (so the consumer sees the parent's stream end when the parent ends) and
    /// forget the rest without touching it.
    pub fn abandon_after_fork(self) {
        // SAFETY: the descriptor is this writer's; no thread uses it in the child.
        unsafe { libc::close(self.fd) };
        std::mem::forget(self);
    }
}

async fn pump(mut rx: mpsc::Receiver<Vec<u8>>, mut sink: impl AsyncWrite + Unpin) -> io::Result<()> {
    let mut failure = None;
    while let Some(buf) = rx.recv().await {
        if failure.is_none()
            && let Err(e) = sink.write_all(&buf).await
        {
            failure = Some(e);
            // Stop accepting: senders see the closed channel instead of waiting forever.
            rx.close();
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    sink.flush().await?;
    sink.shutdown().await
}
