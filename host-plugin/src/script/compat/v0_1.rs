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

// `with_old_batch`: a 0.1.0 script gets the columns its world has.
super::lend_batch_columns!(
    execs,
    mem_exec,
    mem_pc,
    mem_addr,
    mem_info,
    mem_value,
    sys_exec,
    sys_number,
    sys_args,
    sys_ret,
    sys_returned
);
