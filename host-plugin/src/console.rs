//! Where the plugin's own messages go.
//!
//! Guests often close fds 1 and 2 before they exit (`ls` and `echo` do), and the script's
//! `finish` runs after that. So at install we duplicate stderr to a private descriptor and write
//! every message there.

use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::OnceLock;

static STDERR_FD: OnceLock<RawFd> = OnceLock::new();

/// The lowest descriptor we accept for our copy of stderr: well above what guests use first,
/// so that a guest's `dup2(x, 3)` does not take it.
const PRIVATE_FD_MIN: RawFd = 200;

fn stderr_fd() -> RawFd {
    *STDERR_FD.get_or_init(|| {
        // SAFETY: fcntl on fd 2 has no memory-safety preconditions.
        let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, PRIVATE_FD_MIN) };
        if fd < 0 { 2 } else { fd }
    })
}

/// Writes one line to QEMU's original stderr.
pub fn line(text: &str) {
    let fd = stderr_fd();
    // SAFETY: the descriptor stays open for the life of the process; ManuallyDrop keeps the
    // File from closing it.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let mut buf = Vec::with_capacity(text.len() + 1);
    buf.extend_from_slice(text.as_bytes());
    buf.push(b'\n');
    let _ = file.write_all(&buf);
}

/// `cannonball: error: MESSAGE`, on one line: how the plugin reports what went wrong.
pub fn error(message: &str) {
    line(&format!("cannonball: error: {}", message.replace('\n', " ")));
}

/// `cannonball: warning: MESSAGE`, on one line: something the user should know that does not
/// stop the run.
pub fn warning(message: &str) {
    line(&format!("cannonball: warning: {}", message.replace('\n', " ")));
}

/// Formats an error and its causes on one line.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace('\n', " ")
}

/// Prints `cannonball: error: ...` and exits with status 1.
pub fn fatal(err: &anyhow::Error) -> ! {
    error(&one_line(err));
    std::process::exit(1)
}

/// A panic is a bug in Cannonball; report it as one line instead of a backtrace dump
/// (RUST_BACKTRACE may be set in the user's environment) and stop QEMU.
pub fn install_panic_hook() {
    stderr_fd();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        line(&format!("cannonball: internal error: {msg}{at} (please report this)"));
        std::process::abort();
    }));
}
