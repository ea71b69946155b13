//! What every Cannonball host does with a script component, in one place: the plugin inside
//! QEMU, and the `cannonball` command outside it (`inspect`, the merge step).
//!
//! - [`component`]: read a file and tell, in one line each, every way it is not a script
//!   component (missing, not Wasm, a core module); make the engine with the settings every
//!   host shares and compile through the cache of compiled scripts.
//! - [`world`]: which interface version a component was built for, which host services it
//!   imports, and why it does not link (another version, another world).
//! - [`offline`]: running a script outside QEMU in a sandbox that grants nothing: calling its
//!   `describe` (every host service traps), and its optional merge step (only `log`,
//!   `write-report` and `append-report`).
//!
//! The plugin's host state (`host-plugin/src/script/`) stays in the plugin: its services
//! (symbolize, read-memory, disassemble, ...) answer about the guest QEMU runs, and its limits
//! run a ticker thread that must block every signal inside QEMU's process.

pub mod component;
pub mod offline;
pub mod world;

/// wasmtime 48's errors are not `anyhow::Error`s: converted at the boundary, with their causes
/// on one line.
pub trait OrAnyhow<T> {
    fn or_anyhow(self) -> anyhow::Result<T>;
}

impl<T> OrAnyhow<T> for wasmtime::Result<T> {
    fn or_anyhow(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{e:#}"))
    }
}
