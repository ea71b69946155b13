//! Where forwarded frames go: a Unix socket (`sock=PATH`), a file (`fwd=FILE`) or QEMU's
//! stdout (`fwd=-`), opened at install so that a missing listener is an error before the
//! guest runs.

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sink::report_name_for_child;

#[derive(Clone, Debug)]
pub enum Endpoint {
    Socket { path: PathBuf, timeout: Duration },
    File(PathBuf),
    Stdout,
}

/// An open sink, before it moves onto the tokio runtime.
pub enum Stream {
    Socket(UnixStream),
    File(File),
}

impl Endpoint {
    /// Opens the sink. A socket is retried until a listener appears or the timeout passes.
    pub fn open(&self) -> Result<Stream> {
        match self {
            Self::Socket { path, timeout } => connect(path, *timeout).map(Stream::Socket),
            Self::File(path) => File::create(path)
                .map(Stream::File)
                .with_context(|| format!("cannot create the forwarding file {}", path.display())),
            Self::Stdout => {
                // A private copy: the guest may close its stdout long before we are done.
                // SAFETY: fcntl on fd 1 has no memory-safety preconditions.
                let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 200) };
                if fd < 0 {
                    bail!("cannot duplicate stdout: {}", std::io::Error::last_os_error());
                }
                // SAFETY: `fd` is a fresh descriptor we own.
                Ok(Stream::File(File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
            }
        }
    }

    /// The sink of a forked child: a socket gets the connection opened for it before the
    /// fork (`socket`); a file gets the child's pid in its name; stdout is shared with the
    /// parent, whose frames would interleave, so the child does not forward.
    pub fn for_child(&self, pid: u32, socket: Option<UnixStream>) -> Result<Option<Stream>> {
        match self {
            Self::Socket { path, .. } => match socket {
                Some(s) => Ok(Some(Stream::Socket(s))),
                None => bail!("no connection to {} for the child", path.display()),
            },
            Self::File(path) => {
                let name = report_name_for_child(&path.file_name().unwrap_or_default().to_string_lossy(), pid);
                Self::File(path.with_file_name(name)).open().map(Some)
            }
            Self::Stdout => Ok(None),
        }
    }
}

fn connect(path: &PathBuf, timeout: Duration) -> Result<UnixStream> {
    let start = Instant::now();
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return Ok(stream),
            Err(err) if start.elapsed() >= timeout => {
                bail!(
                    "nobody listens on socket {} (waited {:.1} s: {err}); start the consumer first, e.g. `cannonball dump --sock {}`",
                    path.display(),
                    timeout.as_secs_f64(),
                    path.display()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
