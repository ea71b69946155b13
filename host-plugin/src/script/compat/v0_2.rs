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
    fn log(&mut self, level: old_host::LogLevel, message: String) {
        let level = match level {
            old_host::LogLevel::Error => new_host::LogLevel::Error,
            old_host::LogLevel::Warn => new_host::LogLevel::Warn,
            old_host::LogLevel::Info => new_host::LogLevel::Info,
            old_host::LogLevel::Debug => new_host::LogLevel::Debug,
        };
        Host::log(self, level, message)
    }

    fn symbolize(&mut self, address: u64) -> Option<old_host::Location> {
        Host::symbolize(self, address).map(|l| old_host::Location {
            module: l.module,
            module_base: l.module_base,
            offset: l.offset,
            symbol: l.symbol.map(|s| old_host::Symbol { name: s.name, start: s.start, size: s.size }),
        })
    }

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

    fn read_memory(&mut self, address: u64, length: u32) -> Result<Vec<u8>, String> {
        Host::read_memory(self, address, length)
    }

    fn disassemble(&mut self, address: u64, code: Vec<u8>) -> Vec<old_host::Instruction> {
        Host::disassemble(self, address, code)
            .into_iter()
            .map(|i| old_host::Instruction { address: i.address, size: i.size, text: i.text })
            .collect()
    }

    fn write_report(&mut self, name: String, contents: Vec<u8>) -> Result<(), String> {
        Host::write_report(self, name, contents)
    }

    fn append_report(&mut self, name: String, contents: Vec<u8>) -> Result<(), String> {
        Host::append_report(self, name, contents)
    }

    fn emit(&mut self, tag: u32, payload: Vec<u8>) -> wasmtime::Result<()> {
        Host::emit(self, tag, payload)
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

impl old::Host for HostState {}

pub fn script_info(i: old::ScriptInfo) -> new::ScriptInfo {
    let kind = |k| match k {
        old::ArgumentType::Text => new::ArgumentType::Text,
        old::ArgumentType::Integer => new::ArgumentType::Integer,
        old::ArgumentType::Boolean => new::ArgumentType::Boolean,
        old::ArgumentType::Address => new::ArgumentType::Address,
    };
    new::ScriptInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        arguments: i
            .arguments
            .into_iter()
            .map(|a| new::ArgumentSpec {
                key: a.key,
                kind: kind(a.kind),
                default: a.default,
                required: a.required,
                help: a.help,
            })
            .collect(),
    }
}

pub fn run_info(i: &new::RunInfo) -> old::RunInfo {
    old::RunInfo { arch: i.arch.clone(), pid: i.pid, forked: i.forked }
}

pub fn arguments(args: &[new::Argument]) -> Vec<old::Argument> {
    args.iter().map(|a| old::Argument { key: a.key.clone(), value: a.value.clone() }).collect()
}

/// A 0.2.x subscription: the same flags, minus those added in 0.3.0.
pub fn subscription(s: old::Subscription) -> Subscription {
    let pairs = [
        (old::EventKinds::BLOCKS, EventKinds::BLOCKS),
        (old::EventKinds::TRACE, EventKinds::TRACE),
        (old::EventKinds::MEMORY, EventKinds::MEMORY),
        (old::EventKinds::SYSCALLS, EventKinds::SYSCALLS),
        (old::EventKinds::THREADS, EventKinds::THREADS),
        (old::EventKinds::DISASSEMBLY, EventKinds::DISASSEMBLY),
        (old::EventKinds::BLOCK_COUNTS, EventKinds::BLOCK_COUNTS),
        (old::EventKinds::MEMORY_COUNTS, EventKinds::MEMORY_COUNTS),
        (old::EventKinds::SYSCALL_DATA, EventKinds::SYSCALL_DATA),
    ];
    let kinds = pairs.iter().filter(|(o, _)| s.kinds.contains(*o)).fold(EventKinds::empty(), |k, (_, n)| k | *n);
    let filter = s.filter.map(|f| match f {
        old::AddressFilter::MainBinary => new::AddressFilter::MainBinary,
        old::AddressFilter::Module(m) => new::AddressFilter::Module(m),
        old::AddressFilter::Ranges(r) => new::AddressFilter::Ranges(
            r.into_iter().map(|r| new::AddressRange { start: r.start, end: r.end }).collect(),
        ),
    });
    Subscription { kinds, filter }
}

/// Blocks arrive once per translation: copying them is cheap next to translating.
pub fn blocks(blocks: &[new::Block]) -> Vec<old::Block> {
    blocks
        .iter()
        .map(|b| old::Block {
            id: b.id,
            vaddr: b.vaddr,
            insn_sizes: b.insn_sizes.clone(),
            insn_bytes: b.insn_bytes.clone(),
            disassembly: b.disassembly.clone(),
            symbol: b.symbol.clone(),
        })
        .collect()
}

pub fn thread_event(e: new::ThreadEvent) -> old::ThreadEvent {
    match e {
        new::ThreadEvent::Start => old::ThreadEvent::Start,
        new::ThreadEvent::Exit => old::ThreadEvent::Exit,
    }
}

pub fn run_summary(s: &new::RunSummary) -> old::RunSummary {
    old::RunSummary {
        instructions: s
            .instructions
            .iter()
            .map(|v| old::VcpuInstructions { vcpu: v.vcpu, instructions: v.instructions })
            .collect(),
        memory: s.memory.iter().map(|m| old::VcpuMemory { vcpu: m.vcpu, reads: m.reads, writes: m.writes }).collect(),
        block_ids: s.block_ids.clone(),
        block_execs: s.block_execs.clone(),
    }
}

/// Calls `f` with `batch` as a 0.2.x `event-batch`. The columns move over and back; the
/// columns added in 0.3.0 stay behind (a 0.2.x script cannot subscribe to them).
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
        sys_data_call: std::mem::take(&mut batch.sys_data_call),
        sys_data_info: std::mem::take(&mut batch.sys_data_info),
        sys_data_len: std::mem::take(&mut batch.sys_data_len),
        sys_data: std::mem::take(&mut batch.sys_data),
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
    batch.sys_data_call = old.sys_data_call;
    batch.sys_data_info = old.sys_data_info;
    batch.sys_data_len = old.sys_data_len;
    batch.sys_data = old.sys_data;
    result
}
