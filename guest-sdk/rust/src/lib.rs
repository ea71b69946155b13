//! Write Cannonball analysis scripts in Rust.
//!
//! A script is a type implementing [`Script`], exported with [`export_script!`] and built with
//! `cargo build --release --target wasm32-wasip2`. The result is one `.wasm` component that
//! `libcannonball.so` loads:
//!
//! ```ignore
//! use cannonball_sdk::{Args, RunInfo, RunSummary, Script, export_script, write_report};
//!
//! struct Count;
//!
//! impl Script for Count {
//!     fn init(_info: &RunInfo, args: Args) -> Result<Self, String> {
//!         args.finish()?; // no arguments accepted
//!         Ok(Count)
//!     }
//!     fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
//!         let total: u64 = summary.instructions.iter().map(|v| v.instructions).sum();
//!         write_report("count.txt", format!("{total}\n"))
//!     }
//! }
//!
//! export_script!(Count);
//! ```
//!
//! The WIT bindings are generated here, from the repository's `wit/` package, so that scripts
//! never see wit-bindgen.

mod args;
mod blocks;
pub mod host;
pub mod memory;
mod privilege;
pub mod probes;
#[doc(hidden)]
pub mod runtime;
pub mod syscall_data;
#[cfg(test)]
mod tests;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "script",
        pub_export_macro: true,
        export_macro_name: "__export_script_world",
    });
}

/// The optional merge step (new in 0.2.2), generated from its own world so that only scripts
/// that export it (`export_script!(T, merge)`) carry it in their component type.
#[doc(hidden)]
pub mod merge_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "merger",
        pub_export_macro: true,
        export_macro_name: "__export_merger_world",
    });
}

pub use merge_bindings::exports::cannonball::script::merge::{Report, ReportSet};

pub use args::Args;
pub use bindings::cannonball::script::host::{Instruction, LineColumns, Location, SourceFrame, Symbol, SymbolOrigin};
pub use bindings::cannonball::script::types::{
    AddressFilter, AddressRange, Argument, ArgumentSpec, ArgumentType, Block, DiscontinuityKind, EventBatch,
    EventKinds, RunInfo, RunSummary, ScriptInfo, Subscription, ThreadEvent, VcpuInstructions, VcpuMemory,
};
pub use blocks::{BlockInfo, BlockTable, Branch, BranchTracker};
pub use host::{
    append_report, device_name, disassemble, emit, errno_name, log, memory_values, read_memory, source_frames,
    source_lines, symbol_source, symbolize, syscall_name, thread_id, write_report,
};
pub use privilege::{is_user, privilege_name};
pub use probes::{Probe, ProbeEvent, ProbeHit};
pub use syscall_data::{SyscallBlob, syscall_data};

/// An analysis script. One value of the implementing type lives from `init` to `finish`.
///
/// Only `init` and `finish` are required; the event handlers are called for the kinds
/// [`Script::subscription`] asks for.
pub trait Script: Sized + 'static {
    /// The arguments the script accepts. The host checks the plugin arguments against them
    /// before the guest runs and fills in defaults; `help=true` lists them.
    fn arguments() -> Vec<ArgumentSpec> {
        Vec::new()
    }

    /// Called before the guest executes its first instruction. Take your arguments from
    /// `args`; an error stops QEMU with that message.
    fn init(info: &RunInfo, args: Args) -> Result<Self, String>;

    /// What to capture; asked once, right after `init`. Default: nothing beyond the
    /// instruction totals every `RunSummary` carries.
    fn subscription(&self) -> Subscription {
        subscribe(EventKinds::empty())
    }

    /// Newly translated blocks, before any execution that refers to them.
    fn on_blocks(&mut self, _blocks: &[Block]) {}

    /// A batch of one vCPU's events, in order.
    fn on_events(&mut self, _batch: &EventBatch) {}

    /// Probe hits of `vcpu` (asked for with [`Probe::add`]), in order; called right before
    /// `on_events` for the same stretch of the vCPU's execution. New in 0.3.1.
    fn on_probes(&mut self, _vcpu: u32, _hits: &[ProbeHit<'_>]) {}

    /// A guest thread started or exited.
    fn on_thread(&mut self, _vcpu: u32, _event: ThreadEvent) {}

    /// Called once after the guest exited. Write your reports here.
    fn finish(&mut self, summary: &RunSummary) -> Result<(), String>;
}

/// The optional merge step: folds the reports of several runs into one set. `cannonball merge
/// DIR... -o OUT -s SCRIPT` (and the end of `cannonball run --corpus ... -s SCRIPT`) calls it
/// outside QEMU, with one [`ReportSet`] per run; the reports returned are written to OUT.
/// Export it with `export_script!(T, merge)`. Only `log` and `write_report` work during a
/// merge (the reports written count as returned ones); there is no guest to ask about.
pub trait Merge {
    fn merge(inputs: Vec<ReportSet>) -> Result<Vec<Report>, String>;
}

impl ReportSet {
    /// The contents of the report named `name`, if this run wrote one.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.reports.iter().find(|r| r.name == name).map(|r| r.contents.as_slice())
    }
}

impl Report {
    pub fn new(name: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        Report { name: name.into(), contents: contents.into() }
    }
}

/// A subscription to `kinds` for all code.
pub fn subscribe(kinds: EventKinds) -> Subscription {
    Subscription { kinds, filter: None }
}

/// Exports a [`Script`] implementation as the component's entry points. The script's name,
/// version and description come from its Cargo.toml. `export_script!(T, merge)` also exports
/// the optional merge step, from `T`'s [`Merge`] implementation.
#[macro_export]
macro_rules! export_script {
    ($script:ty, merge) => {
        $crate::export_script!($script);

        #[doc(hidden)]
        struct __CannonballMerge;

        impl $crate::merge_bindings::exports::cannonball::script::merge::Guest for __CannonballMerge {
            fn merge(
                inputs: ::std::vec::Vec<$crate::ReportSet>,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Report>, ::std::string::String> {
                <$script as $crate::Merge>::merge(inputs)
            }
        }

        $crate::merge_bindings::__export_merger_world!(__CannonballMerge with_types_in $crate::merge_bindings);
    };
    ($script:ty) => {
        #[doc(hidden)]
        struct __CannonballExports;

        impl $crate::bindings::Guest for __CannonballExports {
            fn describe() -> $crate::ScriptInfo {
                $crate::ScriptInfo {
                    name: ::std::string::String::from(env!("CARGO_PKG_NAME")),
                    version: ::std::string::String::from(env!("CARGO_PKG_VERSION")),
                    description: ::std::string::String::from(env!("CARGO_PKG_DESCRIPTION")),
                    arguments: <$script as $crate::Script>::arguments(),
                }
            }

            fn init(
                info: $crate::RunInfo,
                args: ::std::vec::Vec<$crate::Argument>,
            ) -> ::std::result::Result<$crate::Subscription, ::std::string::String> {
                $crate::runtime::init::<$script>(info, args)
            }

            fn on_blocks(blocks: ::std::vec::Vec<$crate::Block>) {
                $crate::runtime::on_blocks::<$script>(blocks)
            }

            fn on_events(batch: $crate::EventBatch) {
                $crate::runtime::on_events::<$script>(batch)
            }

            fn on_thread(vcpu: u32, event: $crate::ThreadEvent) {
                $crate::runtime::on_thread::<$script>(vcpu, event)
            }

            fn finish(summary: $crate::RunSummary) -> ::std::result::Result<(), ::std::string::String> {
                $crate::runtime::finish::<$script>(summary)
            }
        }

        $crate::bindings::__export_script_world!(__CannonballExports with_types_in $crate::bindings);
    };
}
