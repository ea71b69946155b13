//! Threads of our own inside QEMU. QEMU's host signal handler assumes it runs on a vCPU
//! thread (it dereferences the thread's CPU state), so a signal delivered to one of our
//! threads would crash QEMU. Every thread we start blocks all signals first; threads it
//! starts in turn (tokio's blocking pool) inherit the mask.

use std::thread::JoinHandle;

/// Spawns a named thread with every signal blocked.
pub fn spawn<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    std::thread::Builder::new().name(name.into()).spawn(move || {
        block_signals();
        body()
    })
}

fn block_signals() {
    // SAFETY: plain signal-mask calls on the calling thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}
