//! Scripts built for earlier interface versions keep working: shared .wasm files outlive the
//! SDK they were built with. The host speaks the current world (`wit/`); each module here
//! links an older world (`wit/compat/`) and converts its values to and from the current ones.
//! Event batches lend their columns to the older record and get them back: no event is
//! copied.
//!
//! wasmtime's bindgen gives every world's types their own Rust types, also where the WIT did
//! not change: the macros below write those same-shape conversions once, for a module that
//! names the older world's interfaces `old` and `old_host` and today's `new` and `new_host`.

pub mod v0_1;
pub mod v0_2;

/// The host functions every older world has, forwarded to today's (inside `impl
/// old_host::Host for HostState`).
macro_rules! forward_host_functions {
    () => {
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
    };
}

/// The conversions of the types every older world shares with today's: script info,
/// arguments, run info (`arch`, `pid`, `forked`), blocks (without `privilege`), thread
/// events, run summaries, address filters; and `subscription`, given the flags the older
/// world has (`$flag`: the same name in both).
macro_rules! same_shape_conversions {
    ($($flag:ident),* $(,)?) => {
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

        /// The older world's flags, as today's; its filter as today's.
        pub fn subscription(s: old::Subscription) -> Subscription {
            let pairs = [$((old::EventKinds::$flag, EventKinds::$flag)),*];
            let kinds =
                pairs.iter().filter(|(o, _)| s.kinds.contains(*o)).fold(EventKinds::empty(), |k, (_, n)| k | *n);
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
                memory: s
                    .memory
                    .iter()
                    .map(|m| old::VcpuMemory { vcpu: m.vcpu, reads: m.reads, writes: m.writes })
                    .collect(),
                block_ids: s.block_ids.clone(),
                block_execs: s.block_execs.clone(),
            }
        }
    };
}

/// `pub fn with_old_batch(batch, f)`: calls `f` with `batch` as the older world's
/// `event-batch`, the listed columns moved over and back (no event is copied); the columns
/// the older world lacks stay behind.
macro_rules! lend_batch_columns {
    ($($column:ident),* $(,)?) => {
        pub fn with_old_batch<R>(batch: &mut EventBatch, f: impl FnOnce(&old::EventBatch) -> R) -> R {
            let old = old::EventBatch {
                vcpu: batch.vcpu,
                first_exec: batch.first_exec,
                cut_short: batch.cut_short,
                $($column: std::mem::take(&mut batch.$column),)*
            };
            let result = f(&old);
            $(batch.$column = old.$column;)*
            result
        }
    };
}

use {forward_host_functions, lend_batch_columns, same_shape_conversions};
