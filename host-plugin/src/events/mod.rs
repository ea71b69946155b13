//! The values that travel down the data path, generated from `wit/`: event batches (one
//! vCPU's events as columns), blocks, event kinds, the run summary. Every stage — capture,
//! buffer, batch, script, sink — speaks these types, so they live below all of them.

pub(crate) mod bindings;
mod columns;
mod consumer;

pub use bindings::cannonball::script::host::{Probe, ProbeBatch, ProbeEvent, ProbeRead, ProbeSite};
pub use bindings::exports::{
    AddressFilter, AddressRange, Argument, Block, DiscontinuityKind, EventBatch, EventKinds, RunInfo, RunSummary,
    Subscription, ThreadEvent, VcpuInstructions, VcpuMemory,
};
pub use columns::{Blobs, clear_batch, empty_batch, empty_probe_batch, is_empty};
pub use consumer::Consumer;
