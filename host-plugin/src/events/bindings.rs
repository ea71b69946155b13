//! Host-side bindings generated from `wit/` (the `cannonball:script@0.3.0` world), and from
//! `wit/compat/` for scripts built for 0.2.x and 0.1.0 (see `script::compat`).

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
        AddressFilter, AddressRange, Argument, ArgumentType, Block, DiscontinuityKind, EventBatch, EventKinds, RunInfo,
        RunSummary, ScriptInfo, Subscription, ThreadEvent, VcpuInstructions, VcpuMemory,
    };
    pub use super::{Script, ScriptPre};
}

/// The 0.2.4 world (0.2.0 to 0.2.3 link to it too: wasmtime's linker is semver-aware),
/// generated apart for the same reason as 0.1.0's below.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/0.2.4",
        world: "script",
        imports: { "cannonball:script/host.emit": trappable },
    });
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
