//! The script stage: a Wasm component run by wasmtime.
//!
//! [`ScriptFactory`] compiles and links the component once; [`ScriptHost`] is one instance
//! with its store. The instance is created at plugin install, where its `init` runs, then
//! moves to the analysis thread (`crate::batch`) for the event calls, and `finish` runs at exit.

mod arguments;
mod compat;
mod host_api;
pub mod limits;
mod loader;

pub use arguments::{ScriptArg, help_section, validate};
/// The `cache=` setting: where compiled scripts are kept between runs.
pub use cannonball_script_cache::Setting as CacheSetting;
pub use limits::{Limits, OnError};
pub use loader::{ScriptFactory, ScriptHost};

impl crate::events::Consumer for ScriptHost {
    fn blocks(&mut self, blocks: &[crate::events::Block]) {
        self.on_blocks(blocks);
    }
    fn events(&mut self, batch: &mut crate::events::EventBatch) {
        self.on_events(batch);
    }
    fn probe_hits(&mut self, hits: &crate::events::ProbeBatch) {
        self.set_probe_hits(hits.clone());
    }
    fn thread(&mut self, vcpu: u32, event: crate::events::ThreadEvent) {
        self.on_thread(vcpu, event);
    }
}
