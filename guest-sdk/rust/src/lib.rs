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
pub mod host;
#[doc(hidden)]
pub mod runtime;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "script",
        pub_export_macro: true,
        export_macro_name: "__export_script_world",
    });
}

pub use args::Args;
pub use bindings::cannonball::script::types::{Argument, RunInfo, RunSummary, VcpuInstructions};
pub use host::{log, write_report};

/// An analysis script. One value of the implementing type lives from `init` to `finish`.
pub trait Script: Sized + 'static {
    /// Called before the guest executes its first instruction. Take your arguments from
    /// `args`; an error stops QEMU with that message.
    fn init(info: &RunInfo, args: Args) -> Result<Self, String>;

    /// Called once after the guest exited. Write your reports here.
    fn finish(&mut self, summary: &RunSummary) -> Result<(), String>;
}

/// Exports a [`Script`] implementation as the component's entry points.
#[macro_export]
macro_rules! export_script {
    ($script:ty) => {
        #[doc(hidden)]
        struct __CannonballExports;

        impl $crate::bindings::Guest for __CannonballExports {
            fn init(
                info: $crate::RunInfo,
                args: ::std::vec::Vec<$crate::Argument>,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::runtime::init::<$script>(info, args)
            }

            fn finish(summary: $crate::RunSummary) -> ::std::result::Result<(), ::std::string::String> {
                $crate::runtime::finish::<$script>(summary)
            }
        }

        $crate::bindings::__export_script_world!(__CannonballExports with_types_in $crate::bindings);
    };
}
