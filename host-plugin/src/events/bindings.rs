//! Host-side bindings generated from `wit/` (the `cannonball:script@0.2.4` world), and from
//! `wit/compat/0.1.0/` for scripts built before 0.2.0 (see `compat`).

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

/// The 0.1.0 world, generated apart: wasmtime's bindgen can share whole interfaces between
/// worlds but not single types, and both interfaces carry the version in their names.
/// `compat` converts.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/0.1.0",
        world: "script",
        imports: { "cannonball:script/host.emit": trappable },
    });
}
