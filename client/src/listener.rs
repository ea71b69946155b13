//! Accepting producers: one connection per guest process, served concurrently, until every
//! process that connected has finished.

use std::io;
use std::path::{Path, PathBuf};

use cannonball_protocol::Frame;
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use crate::connection::Connection;

/// Connections are numbered from 0 in the order they were accepted.
pub type ConnectionId = u32;

pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Listens at `path`. A stale socket file from an earlier run is replaced; any other
    /// existing file is an error.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another consumer listens on {}", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        Ok(Self { listener, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts producers and calls `handler` with every frame (or a connection's error) in
    /// arrival order per connection. Returns once at least one producer connected and every
    /// connection has ended. A forked guest's child connects before its parent continues, so
    /// the last stream to end is the last process to exit. The first error `handler` returns
    /// stops serving and is returned.
    pub async fn serve<F>(self, mut handler: F) -> io::Result<()>
    where
        F: FnMut(ConnectionId, io::Result<Frame>) -> io::Result<()>,
    {
        let (tx, mut rx) = mpsc::channel::<(ConnectionId, Option<io::Result<Frame>>)>(256);
        let mut next_id: ConnectionId = 0;
        let mut open = 0usize;
        loop {
            tokio::select! {
                // Accepts first: a connection already queued (a forked child connects before its
                // parent goes on) is taken before the end of another one can look like the last.
                biased;
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted?;
                    let id = next_id;
                    next_id += 1;
                    open += 1;
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut conn = Connection::new(stream);
                        loop {
                            match conn.next_frame().await {
                                Ok(Some(frame)) => {
                                    if tx.send((id, Some(Ok(frame)))).await.is_err() {
                                        return;
                                    }
                                }
                                Ok(None) => break,
                                Err(err) => {
                                    let _ = tx.send((id, Some(Err(err)))).await;
                                    break;
                                }
                            }
                        }
                        let _ = tx.send((id, None)).await;
                    });
                }
                Some((id, item)) = rx.recv() => {
                    match item {
                        Some(frame) => handler(id, frame)?,
                        None => {
                            open -= 1;
                            if open == 0 {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
