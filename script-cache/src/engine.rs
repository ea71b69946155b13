//! The engine settings every Cannonball host compiles scripts with (the plugin, and
//! `cannonball inspect`), so that an entry one of them stores serves the other.

use wasmtime::Config;

/// How a script's out-of-bounds memory accesses and other traps are caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traps {
    /// Explicit bounds checks in compiled code: needed inside a QEMU that kills the process
    /// on any fault not in its generated code (its host signal handler runs first).
    Explicit,
    /// Guard pages and signals, wasmtime's default: about a quarter faster for scripts that
    /// are busy in their own memory. Inside QEMU only with our patch 0007 (cannonball
    /// extensions version 3), which hands faults QEMU does not own to wasmtime's handler; in
    /// the `cannonball` command itself (inspect, the merge step) always.
    Signals,
}

/// Whether scripts use signal-based traps inside a QEMU that hands faults over (our patch
/// 0007, cannonball extensions version 3). The script's thread then takes SIGSEGV, SIGBUS,
/// SIGILL and SIGFPE; one the guest sends to its process with kill() and that lands there
/// goes back to the process from QEMU's handler (tests/tests/signals.rs,
/// `sigwait_for_fault_signals_the_process_sends_itself`). One constant, so that the plugin
/// and `cannonball inspect` always compile alike and share cache entries, and so that
/// turning the traps off is one line.
pub const SIGNAL_TRAPS_IN_QEMU: bool = true;

impl Traps {
    /// The setting the plugin uses on a QEMU that hands faults over (`hands_over_faults`),
    /// and the one `cannonball inspect` and the merge step compile with, so that their cache
    /// entries serve the plugin's runs on our QEMU.
    pub fn inside_qemu(hands_over_faults: bool) -> Traps {
        if hands_over_faults && SIGNAL_TRAPS_IN_QEMU { Traps::Signals } else { Traps::Explicit }
    }
}

/// Components, epoch interruption, traps as given.
pub fn script_config(traps: Traps) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.signals_based_traps(traps == Traps::Signals);
    // The per-call time limit (script-time=) interrupts a looping script at epoch checks.
    config.epoch_interruption(true);
    // `perf` names the script's functions from /tmp/perf-PID.map (docs/performance.md).
    if std::env::var_os("CANNONBALL_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}
