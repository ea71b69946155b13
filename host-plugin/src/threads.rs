//! Threads of our own inside QEMU, and the signal masks that keep them out of the guest's way.
//!
//! QEMU's host signal handler assumes it runs on a vCPU thread (it dereferences the thread's
//! CPU state), and QEMU leaves some signals at the host's default disposition. A
//! process-directed signal (a POSIX timer's, `kill(getpid())`, SIGCHLD, SIGPIPE, Ctrl-C) goes to
//! any thread that does not block it; landing on one of ours it would crash QEMU or kill the
//! process behind the guest's back. So every thread that is not a guest thread blocks every
//! signal for its whole life:
//!
//! - our threads are spawned while the spawning thread blocks everything (a new thread
//!   inherits its creator's mask, so there is no window before it could block them itself);
//! - threads our dependencies start (wasmtime's parallel compilation pool, tokio) are started
//!   from inside [`SignalsBlocked`] sections: install, and a forked child's set-up.
//!
//! Scripts compiled with signal-based traps (on a QEMU that hands faults it does not own to
//! wasmtime, `qemu::extensions::script_traps`) need the four synchronous fault signals
//! (SIGSEGV, SIGBUS, SIGILL, SIGFPE) unblocked where they run: a blocked synchronous fault
//! kills the process. The analysis thread unblocks them before each message ([`unblock_faults`]);
//! calls into a script made elsewhere (install, a forked child's set-up) unblock them for the
//! call ([`FaultsUnblocked`]). A process-directed one of the four that lands on such a thread
//! goes back to the process from QEMU's handler (patch 0007), to a guest thread, and stays
//! blocked on this one until it opens them again (else it would take it back at once, over
//! and over, while the guest thread that waits for it may be waiting for this one).
//!
//! The one exception is glibc's: every thread it starts unblocks glibc's internal
//! cancellation signal (32), whose handler ignores signals that the process did not send
//! itself; QEMU maps no guest signal onto it.

use std::thread::JoinHandle;

/// Spawns a named thread that blocks every signal from its first instruction on.
pub fn spawn<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    let _blocked = SignalsBlocked::new();
    std::thread::Builder::new().name(name.into()).spawn(body)
}

/// While alive, the calling thread blocks every signal; dropping it restores the previous
/// mask. Threads started meanwhile (by us or by a library) inherit the full mask.
pub struct SignalsBlocked {
    previous: [u64; 1],
}

impl SignalsBlocked {
    pub fn new() -> Self {
        let all: [u64; 1] = [!0];
        let mut previous = [0u64; 1];
        // The raw system call rather than pthread_sigmask: glibc silently keeps its two
        // internal signals (32, 33) unblocked, and the guest's real-time signals map onto
        // host real-time signals, so "every signal" means all 64.
        // SAFETY: rt_sigprocmask on the calling thread with valid 8-byte sets.
        unsafe {
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, all.as_ptr(), previous.as_mut_ptr(), 8usize);
        }
        Self { previous }
    }
}

impl Default for SignalsBlocked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                self.previous.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
}

/// SIGSEGV, SIGBUS, SIGILL, SIGFPE as a kernel signal set.
const FAULTS: u64 =
    (1 << (libc::SIGSEGV - 1)) | (1 << (libc::SIGBUS - 1)) | (1 << (libc::SIGILL - 1)) | (1 << (libc::SIGFPE - 1));

fn sigprocmask(how: libc::c_int, set: u64) -> u64 {
    let set = [set];
    let mut previous = [0u64; 1];
    // SAFETY: rt_sigprocmask on the calling thread with valid 8-byte sets.
    unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, how, set.as_ptr(), previous.as_mut_ptr(), 8usize);
    }
    previous[0]
}

/// Unblocks the synchronous fault signals on the calling thread, when scripts run with
/// signal-based traps (see the module docs). The analysis thread calls it before each
/// message: QEMU's handler leaves one blocked that the guest sent to the process and that
/// landed here, once it has passed it back.
pub fn unblock_faults() {
    if signal_traps() {
        sigprocmask(libc::SIG_UNBLOCK, FAULTS);
    }
}

fn signal_traps() -> bool {
    crate::qemu::extensions::script_traps() == cannonball_script_cache::Traps::Signals
}

/// While alive, the synchronous fault signals are unblocked on the calling thread (when
/// scripts run with signal-based traps): around calls into a script outside the analysis
/// thread. Dropping it restores the previous mask.
pub struct FaultsUnblocked {
    previous: Option<u64>,
}

impl FaultsUnblocked {
    pub fn new() -> Self {
        let previous = signal_traps().then(|| sigprocmask(libc::SIG_UNBLOCK, FAULTS));
        Self { previous }
    }
}

impl Default for FaultsUnblocked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FaultsUnblocked {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            sigprocmask(libc::SIG_SETMASK, previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked_mask() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
        u64::from_str_radix(line["SigBlk:".len()..].trim(), 16).unwrap()
    }

    /// SIGKILL and SIGSTOP cannot be blocked. glibc unblocks its cancellation signal (32) in
    /// every thread it starts; its handler ignores signals not sent by the process itself.
    const ALL_BLOCKABLE: u64 = !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)) | (1 << 31));

    #[test]
    fn spawned_threads_block_every_signal_and_the_spawner_gets_its_mask_back() {
        let before = blocked_mask();
        let inside = spawn("probe", blocked_mask).unwrap().join().unwrap();
        assert_eq!(inside, ALL_BLOCKABLE, "spawned thread mask {inside:#x}");
        assert_eq!(blocked_mask(), before);
    }

    #[test]
    fn threads_started_by_libraries_inside_a_section_inherit_the_full_mask() {
        let section = SignalsBlocked::new();
        let inner = std::thread::spawn(blocked_mask).join().unwrap();
        drop(section);
        assert_eq!(inner, ALL_BLOCKABLE);
    }
}
