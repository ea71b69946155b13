//! Wiring, by lifecycle: [`install`] sets the run up, [`lifecycle`] follows it through vCPUs
//! and to its end, [`fork`] gives a forked child its own analysis.

mod fork;
mod install;
mod lifecycle;

use std::sync::OnceLock;

use crate::events::{Argument, RunInfo};
use crate::script::ScriptFactory;
use crate::sink::forward::{Endpoint, Forwarding};

pub use install::install;
pub use lifecycle::before_exec;

/// What lives from install to exit, besides the capture configuration (`crate::capture`).
struct Run {
    /// None when the run only forwards raw events.
    factory: Option<ScriptFactory>,
    info: RunInfo,
    args: Vec<Argument>,
    /// The forwarding sink, reopened in forked children.
    endpoint: Option<Endpoint>,
    /// The forwarded stream (inactive without a sink).
    forwarding: Forwarding,
    /// Where coverage.blocks goes (`coverage=true`).
    coverage: Option<crate::sink::OutDir>,
}

static RUN: OnceLock<Run> = OnceLock::new();

fn run() -> &'static Run {
    RUN.get().expect("callback before install")
}

/// The batch pipeline's source of new block facts, when blocks are captured.
fn undelivered_blocks() -> Option<fn() -> Vec<crate::events::Block>> {
    crate::capture::get().blocks.as_ref().map(|_| {
        (|| crate::capture::get().blocks.as_ref().map(|b| b.take_undelivered()).unwrap_or_default()) as fn() -> _
    })
}
