//! The script stage: a Wasm component run by wasmtime.
//!
//! [`ScriptFactory`] compiles and links the component once; [`ScriptHost`] is one instance
//! with its store. The instance is created at plugin install, where its `init` runs, then
//! moves to the analysis thread (`crate::batch`) for the event calls, and `finish` runs at exit.

mod arguments;
pub(crate) mod bindings;
mod compat;
mod host_api;
pub mod limits;
mod loader;

pub use arguments::{help_section, validate};
pub use bindings::exports::{
    AddressFilter, AddressRange, Argument, Block, EventBatch, EventKinds, RunInfo, RunSummary, Subscription,
    ThreadEvent, VcpuInstructions, VcpuMemory,
};
pub use host_api::report_name_for_child;
pub use limits::Limits;
pub use loader::{ScriptFactory, ScriptHost};
