//! Scripts built for `cannonball:script@0.2.x` (0.2.0 to 0.2.4: the linker accepts the older
//! minor releases for 0.2.4) keep working. 0.3.0 added `run-info.system`, the
//! `discontinuities` and `memory-physical` kinds, `block.privilege`, the `mem-phys`,
//! `mem-device` and `disc-*` columns and `host.device-name`; everything else is the same value
//! under another Rust type.

use crate::events::bindings::cannonball::script::{host as new_host, types as new};
use crate::events::bindings::exports::{EventBatch, EventKinds, Host, Subscription};
use crate::events::bindings::v0_2::cannonball::script::{host as old_host, types as old};
use crate::script::host_api::HostState;

/// The 0.2.4 services are today's under another instance name.
impl old_host::Host for HostState {
    super::forward_host_functions!();

    fn symbol_source(&mut self, address: u64) -> Option<old_host::SymbolOrigin> {
        use new_host::SymbolOrigin as N;
        use old_host::SymbolOrigin as O;
        Host::symbol_source(self, address).map(|o| match o {
            N::SymbolTable => O::SymbolTable,
            N::DebugFile => O::DebugFile,
            N::DynamicSymbols => O::DynamicSymbols,
            N::Plt => O::Plt,
            N::UnwindTables => O::UnwindTables,
            N::DynamicSection => O::DynamicSection,
            N::EntryPoint => O::EntryPoint,
            N::CodeGap => O::CodeGap,
        })
    }

    fn source_frames(&mut self, address: u64) -> Vec<old_host::SourceFrame> {
        Host::source_frames(self, address)
            .into_iter()
            .map(|f| old_host::SourceFrame { file: f.file, line: f.line, column: f.column, function: f.function })
            .collect()
    }

    fn source_lines(&mut self, addresses: Vec<u64>) -> old_host::LineColumns {
        let l = Host::source_lines(self, addresses);
        old_host::LineColumns { files: l.files, file_index: l.file_index, line: l.line }
    }

    fn syscall_name(&mut self, number: i64) -> Option<String> {
        Host::syscall_name(self, number)
    }

    fn errno_name(&mut self, errno: i32) -> Option<String> {
        Host::errno_name(self, errno)
    }

    fn thread_id(&mut self, vcpu: u32) -> Option<i64> {
        Host::thread_id(self, vcpu)
    }

    fn memory_values(&mut self, wanted: bool) {
        Host::memory_values(self, wanted)
    }
}

super::same_shape_conversions!(
    BLOCKS,
    TRACE,
    MEMORY,
    SYSCALLS,
    THREADS,
    DISASSEMBLY,
    BLOCK_COUNTS,
    MEMORY_COUNTS,
    SYSCALL_DATA,
);

// `with_old_batch`: a 0.2.x script gets the columns its world has.
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
    sys_returned,
    sys_data_call,
    sys_data_info,
    sys_data_len,
    sys_data
);
