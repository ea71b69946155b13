//! Where the plugin's own messages go.
//!
//! Guests often close fds 1 and 2 before they exit (`ls` and `echo` do), and the script's
//! `finish` runs after that. So at install we duplicate stderr to a private descriptor and write
//! every message there, one line per write. With `log=FILE` the lines go to FILE instead (a
//! forked child's to its own file), and the guest's stderr holds only what the guest wrote.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

static STDERR_FD: OnceLock<RawFd> = OnceLock::new();

/// The descriptor of `log=FILE`, when given (-1: none): our lines go there instead of stderr,
/// so that the guest's stderr is byte for byte what plain QEMU gives.
static LOG_FD: AtomicI32 = AtomicI32::new(-1);
/// `log=FILE` as given, for a forked child's own file.
static LOG_PATH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The lowest descriptor we accept for our copies: well above what guests use first, so that
/// a guest's `dup2(x, 3)` does not take them.
const PRIVATE_FD_MIN: RawFd = 200;

fn stderr_fd() -> RawFd {
    *STDERR_FD.get_or_init(|| {
        // SAFETY: fcntl on fd 2 has no memory-safety preconditions.
        let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, PRIVATE_FD_MIN) };
        if fd < 0 { 2 } else { fd }
    })
}

/// Opens `path` for appending at a private descriptor (close-on-exec).
fn open_private(path: &Path) -> std::io::Result<RawFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: open and fcntl on a NUL-terminated path; the temporary descriptor is closed.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC, 0o644);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, PRIVATE_FD_MIN);
        libc::close(fd);
        if high < 0 { Err(std::io::Error::last_os_error()) } else { Ok(high) }
    }
}

/// `log=FILE`: every line from now on goes to FILE (appended) instead of stderr.
pub fn log_to(path: &Path) -> std::io::Result<()> {
    let fd = open_private(path)?;
    LOG_FD.store(fd, Ordering::SeqCst);
    *LOG_PATH.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.to_path_buf());
    Ok(())
}

/// In a forked child: its lines go to a file of its own, named as its reports are
/// (`cannonball.log` → `cannonball.PID.log`), so that they never land between the parent's.
pub fn forked_child(pid: u32) {
    let Some(path) = LOG_PATH.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let own = path.with_file_name(crate::sink::report_name_for_child(&name, pid));
    let parent = LOG_FD.load(Ordering::SeqCst);
    if let Ok(fd) = open_private(&own) {
        LOG_FD.store(fd, Ordering::SeqCst);
        // SAFETY: the inherited descriptor is the child's own copy, no longer used.
        unsafe { libc::close(parent) };
    }
}

/// Writes one line, whole (one write), to the log file of `log=FILE`, else to QEMU's
/// original stderr.
pub fn line(text: &str) {
    let fd = match LOG_FD.load(Ordering::Relaxed) {
        -1 => stderr_fd(),
        fd => fd,
    };
    write_line(fd, text);
}

/// A line asked for by an environment variable for diagnosis (`CANNONBALL_STARTUP_TIMES`):
/// on stderr always, where whoever set the variable looks.
pub fn diagnostic(text: &str) {
    write_line(stderr_fd(), text);
}

fn write_line(fd: RawFd, text: &str) {
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

/// Prints `cannonball: error: ...` and exits with status 1: on stderr always (the run did not
/// happen; whoever started it must see why), and in the log file when there is one.
pub fn fatal(err: &anyhow::Error) -> ! {
    let text = format!("cannonball: error: {}", one_line(err).replace('\n', " "));
    if LOG_FD.load(Ordering::Relaxed) != -1 {
        line(&text);
    }
    write_line(stderr_fd(), &text);
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
        let text = format!("cannonball: internal error: {msg}{at} (please report this)");
        line(&text);
        if LOG_FD.load(Ordering::Relaxed) != -1 {
            write_line(stderr_fd(), &text);
        }
        std::process::abort();
    }));
}
