//! A consumer of Cannonball's forwarded events.
//!
//! `libcannonball.so` with `sock=PATH` connects to a listener at PATH (one connection per guest
//! process: a forked child opens its own) and streams frames ([`protocol`]). This crate
//! accepts those connections on tokio and hands back typed frames:
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use cannonball_client::{BlockTable, Frame, Listener};
//! let listener = Listener::bind("/tmp/cb.sock")?;
//! let mut blocks = BlockTable::default();
//! let mut pcs = 0u64;
//! listener
//!     .serve(|_conn, frame| {
//!         match frame? {
//!             Frame::Blocks(new) => blocks.insert(new),
//!             Frame::Execs(execs) => pcs += blocks.pcs(&execs).count() as u64,
//!             _ => {}
//!         }
//!         Ok(())
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Truncated or garbage input ends that connection with an error ([`DecodeError`]); it never
//! panics or waits for bytes that cannot come.

mod blocks;
mod connection;
mod listener;

pub use blocks::BlockTable;
pub use cannonball_protocol as protocol;
pub use cannonball_protocol::{DecodeError, Frame};
pub use connection::Connection;
pub use listener::{ConnectionId, Listener};
