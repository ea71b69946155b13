//! Live progress for `cannonball run` (`progress-fd=N`): a thread writes one line every
//! 250 ms to descriptor N, `<instructions so far> <events delivered so far>`, and a last line
//! at exit. The descriptor is moved out of the guest's way first (guests close or reuse low
//! descriptors), and a reader that went away only stops the reports.

use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};

/// Events handed to the script or forwarder so far (block executions, memory accesses,
/// system calls).
pub static EVENTS: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
static FD: AtomicU64 = AtomicU64::new(u64::MAX);

/// Takes over `fd` and starts reporting. `instructions` reads the live total.
pub fn start(fd: RawFd, instructions: fn() -> u64) -> Result<()> {
    // SAFETY: fcntl/close on a descriptor number; failure is checked.
    let private = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 200) };
    if private < 0 {
        bail!("progress-fd={fd} is not an open descriptor");
    }
    // A descriptor the guest would not have had natively is closed, so the guest sees the
    // same free descriptors as without us; its standard streams stay its own.
    if fd > 2 {
        // SAFETY: closing a descriptor number we were handed and duplicated above; nothing in
        // this process uses it.
        unsafe { libc::close(fd) };
    }
    FD.store(private as u64, Ordering::Relaxed);
    crate::threads::spawn("cannonball-progress", move || {
        while !STOP.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            if STOP.load(Ordering::Relaxed) || !report(private, instructions()) {
                break;
            }
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot start the progress thread: {e}"))?;
    Ok(())
}

/// The final line, from the exit path.
pub fn finish(instructions: u64) {
    STOP.store(true, Ordering::Relaxed);
    let fd = FD.load(Ordering::Relaxed);
    if fd != u64::MAX {
        report(fd as RawFd, instructions);
    }
}

fn report(fd: RawFd, instructions: u64) -> bool {
    // SAFETY: the descriptor is ours for the life of the process; ManuallyDrop keeps it open.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let line = format!("{instructions} {}\n", EVENTS.load(Ordering::Relaxed));
    file.write_all(line.as_bytes()).is_ok()
}

/// In a forked child: the progress line belongs to the parent.
pub fn forget_after_fork() {
    STOP.store(true, Ordering::Relaxed);
    let fd = FD.swap(u64::MAX, Ordering::Relaxed);
    if fd != u64::MAX {
        // SAFETY: the child's copy of our private descriptor.
        unsafe { libc::close(fd as RawFd) };
    }
}
