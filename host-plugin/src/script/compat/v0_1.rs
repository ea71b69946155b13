//! Scripts built for `cannonball:script@0.1.0` keep working: shared .wasm files outlive the
//! SDK they were built with. The host works in 0.3.0 types; this module converts to and from
//! the 0.1.0 world's. Only `event-kinds` (8 flags, a u8), `subscription`, `run-info`, `block`
//! and `event-batch` (no `sys-data*`, `mem-phys`, `disc-*`) differ in layout; the rest are the
//! same values under other Rust types. Event batches move their columns over and back, so no
//! event is copied.

use crate::events::bindings::cannonball::script::{host as new_host, types as new};
use crate::events::bindings::exports::{EventBatch, EventKinds, Host, Subscription};
use crate::events::bindings::v0_1::cannonball::script::{host as old_host, types as old};
use crate::script::host_api::HostState;

/// The 0.1.0 services are today's under another instance name.
impl old_host::Host for HostState {
    super::forward_host_functions!();
}

super::same_shape_conversions!(BLOCKS, TRACE, MEMORY, SYSCALLS, THREADS, DISASSEMBLY, BLOCK_COUNTS, MEMORY_COUNTS);

/// Calls `f` with `batch` as a 0.1.0 `event-batch`. The columns move over and back; the
/// `sys-data*` columns stay behind (a 0.1.0 script cannot subscribe to them).
pub fn with_old_batch<R>(batch: &mut EventBatch, f: impl FnOnce(&old::EventBatch) -> R) -> R {
    let old = old::EventBatch {
        vcpu: batch.vcpu,
        first_exec: batch.first_exec,
        execs: std::mem::take(&mut batch.execs),
        mem_exec: std::mem::take(&mut batch.mem_exec),
        mem_pc: std::mem::take(&mut batch.mem_pc),
        mem_addr: std::mem::take(&mut batch.mem_addr),
        mem_info: std::mem::take(&mut batch.mem_info),
        mem_value: std::mem::take(&mut batch.mem_value),
        sys_exec: std::mem::take(&mut batch.sys_exec),
        sys_number: std::mem::take(&mut batch.sys_number),
        sys_args: std::mem::take(&mut batch.sys_args),
        sys_ret: std::mem::take(&mut batch.sys_ret),
        sys_returned: std::mem::take(&mut batch.sys_returned),
        cut_short: batch.cut_short,
    };
    let result = f(&old);
    batch.execs = old.execs;
    batch.mem_exec = old.mem_exec;
    batch.mem_pc = old.mem_pc;
    batch.mem_addr = old.mem_addr;
    batch.mem_info = old.mem_info;
    batch.mem_value = old.mem_value;
    batch.sys_exec = old.sys_exec;
    batch.sys_number = old.sys_number;
    batch.sys_args = old.sys_args;
    batch.sys_ret = old.sys_ret;
    batch.sys_returned = old.sys_returned;
    result
}
