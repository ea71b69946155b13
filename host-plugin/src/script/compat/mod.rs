//! Scripts built for earlier interface versions keep working: shared .wasm files outlive the
//! SDK they were built with. The host speaks the current world (`wit/`); each module here
//! links an older world (`wit/compat/`) and converts its values to and from the current ones.
//! Event batches lend their columns to the older record and get them back: no event is
//! copied.

pub mod v0_1;
pub mod v0_2;
