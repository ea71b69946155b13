//! The script stage: a Wasm component run by wasmtime.
//!
//! [`ScriptHost`] owns the wasmtime store and the instance. It is created at plugin install,
//! calls the script's `init` before the guest runs and `finish` after it exits.

mod bindings;
mod host_api;
mod loader;

pub use bindings::exports::{Argument, RunInfo, RunSummary, VcpuInstructions};
pub use loader::ScriptHost;
