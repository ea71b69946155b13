//! The engine settings every Cannonball host compiles scripts with (the plugin, and
//! `cannonball inspect`), so that an entry one of them stores serves the other.

use wasmtime::Config;

/// Components, no signal-based traps, epoch interruption.
pub fn script_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // QEMU owns the process's signal handlers (and its handler crashes on threads that are
    // not vCPUs), so traps must not rely on signals: explicit checks instead.
    config.signals_based_traps(false);
    // The per-call time limit (script-time=) interrupts a looping script at epoch checks.
    config.epoch_interruption(true);
    // `perf` names the script's functions from /tmp/perf-PID.map (docs/performance.md).
    if std::env::var_os("CANNONBALL_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}
