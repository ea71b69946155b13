//! Host-side bindings generated from `wit/` (the `cannonball:script` world).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "script",
    // An oversized record traps the script instead of being cut.
    imports: { "cannonball:script/host.emit": trappable },
});

/// The generated names, re-exported under short paths.
pub mod exports {
    pub use super::cannonball::script::host::{Host, LogLevel};
    pub use super::cannonball::script::types::{
        AddressFilter, AddressRange, Argument, ArgumentType, Block, EventBatch, EventKinds, RunInfo, RunSummary,
        ScriptInfo, Subscription, ThreadEvent, VcpuInstructions, VcpuMemory,
    };
    pub use super::{Script, ScriptPre};
}
