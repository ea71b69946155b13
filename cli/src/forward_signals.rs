//! Ctrl-C and SIGTERM while `cannonball run` (or `dump`) waits for QEMU: the guest decides.
//!
//! QEMU runs in our process group, so a signal from the terminal (Ctrl-C, Ctrl-\) reaches it
//! directly; a signal sent to us alone (`kill`, `timeout`, a supervisor) is passed on to QEMU
//! once. Either way we stay alive until QEMU exits, so that the run ends as the guest
//! decides — its reports written through QEMU's exit path — and we can still say where the
//! reports went and exit with the guest's status.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// QEMU's pid while it runs (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Signals already passed on, one bit per number: a signal sent to our whole process group
/// (as `timeout` does) arrives here too and must not reach the guest twice.
static FORWARDED: AtomicU64 = AtomicU64::new(0);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Our exit status for QEMU's: its exit code, or 128 + the signal it died of (as shells say).
pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Starts passing SIGINT, SIGTERM and SIGHUP on to `child`.
pub fn install(child: u32) {
    CHILD.store(child as i32, Ordering::SeqCst);
    for sig in SIGNALS {
        // SAFETY: installs an async-signal-safe handler (atomics and kill only).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// QEMU exited: nothing to pass signals to any more.
pub fn child_exited() {
    CHILD.store(0, Ordering::SeqCst);
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let child = CHILD.load(Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = unsafe { (*info).si_code } == libc::SI_KERNEL;
    let bit = 1u64 << (sig as u64 & 63);
    if child > 0 && !from_terminal && FORWARDED.fetch_or(bit, Ordering::SeqCst) & bit == 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, sig) };
    }
}
