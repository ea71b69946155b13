//! The host services a script imports (`cannonball:script/host`), and the store data that backs
//! them. The script gets a WASI context that grants nothing (no files, sockets, environment or
//! arguments): its only outputs are these functions.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::cannonball::script::types;
use super::bindings::exports::{Host, LogLevel};
use crate::console;
use crate::sink::OutDir;

/// Everything a script's calls can reach, stored in its `wasmtime::Store`.
pub struct HostState {
    pub(crate) script_name: String,
    pub(crate) out: OutDir,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub fn new(script_name: String, out: OutDir) -> Self {
        // Deny-by-default WASI: no preopened directories, no environment, no arguments, no
        // network. stdout/stderr of the script are discarded; `log` is the way to speak.
        let wasi = WasiCtx::builder().build();
        Self {
            script_name,
            out,
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        let level = match level {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        };
        for line in message.lines() {
            console::line(&format!("[{}] {level}: {line}", self.script_name));
        }
    }

    fn write_report(&mut self, name: String, contents: Vec<u8>) -> Result<(), String> {
        self.out
            .write_report(&name, &contents)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}
