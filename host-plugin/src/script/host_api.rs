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
    /// In a forked child: its pid, which goes into the names of its reports.
    forked_pid: Option<u32>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub fn new(script_name: String, out: OutDir, forked_pid: Option<u32>) -> Self {
        // Deny-by-default WASI: no preopened directories, no environment, no arguments, no
        // network. stdout/stderr of the script are discarded; `log` is the way to speak.
        let wasi = WasiCtx::builder().build();
        Self {
            script_name,
            out,
            forked_pid,
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
        let name = match self.forked_pid {
            Some(pid) => report_name_for_child(&name, pid),
            None => name,
        };
        self.out
            .write_report(&name, &contents)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

/// The name a forked child's report gets, so that parent and child never overwrite each other:
/// `icount.txt` becomes `icount.<pid>.txt`.
pub fn report_name_for_child(name: &str, pid: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{pid}.{ext}"),
        _ => format!("{name}.{pid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::report_name_for_child;

    #[test]
    fn child_reports_carry_the_pid() {
        assert_eq!(report_name_for_child("icount.txt", 42), "icount.42.txt");
        assert_eq!(report_name_for_child("trace", 42), "trace.42");
        assert_eq!(report_name_for_child("a.b.json", 7), "a.b.7.json");
    }
}
