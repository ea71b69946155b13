//! The host services a script imports (`cannonball:script/host`), and the store data that backs
//! them. The script gets a WASI context that grants nothing (no files, sockets, environment or
//! arguments): its only outputs are these functions.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::{LOG_LINES, Limits, MemoryLimiter};
use crate::console;
use crate::events::bindings::cannonball::script::{host, types};
use crate::events::bindings::exports::{Host, LogLevel};
use crate::services::{memory, modules::MODULES, source_lines, syscall_names, thread_ids};
use crate::sink::forward::Forwarding;
use crate::sink::{OutDir, report_name_for_child};

/// Everything a script's calls can reach, stored in its `wasmtime::Store`.
pub struct HostState {
    pub(crate) script_name: String,
    arch: String,
    out: OutDir,
    /// Where `emit` records go (the run's forwarded stream).
    pub(crate) forwarding: Forwarding,
    /// In a forked child: its pid, which goes into the names of its reports.
    forked_pid: Option<u32>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    /// Bytes the script may still write into reports (`report-limit=`).
    report_budget: u64,
    report_limit_mib: u64,
    log_lines: u64,
    /// `memory-values` as `init` left it (later calls change nothing: capture is set up).
    pub(crate) memory_values: bool,
    /// `init` has returned.
    pub(crate) initialized: bool,
    /// The probes `init` asked for (`add-probe`), in id order.
    pub(crate) probes: Vec<host::Probe>,
    /// The probe hits of the batch `on-events` handles now.
    pub(crate) probe_hits: Option<host::ProbeBatch>,
}

impl HostState {
    pub fn new(
        script_name: String,
        arch: String,
        out: OutDir,
        forwarding: Forwarding,
        forked_pid: Option<u32>,
        limits: &Limits,
    ) -> Self {
        // Deny-by-default WASI: no preopened directories, no environment, no arguments, no
        // network. stdout/stderr of the script are discarded; `log` is the way to speak.
        let wasi = WasiCtx::builder().build();
        Self {
            script_name,
            arch,
            out,
            forwarding,
            forked_pid,
            wasi,
            table: ResourceTable::new(),
            memory: MemoryLimiter::new(limits.memory_bytes),
            report_budget: limits.report_bytes,
            report_limit_mib: limits.report_bytes >> 20,
            log_lines: 0,
            memory_values: true,
            initialized: false,
            probes: Vec::new(),
            probe_hits: None,
        }
    }
}

impl HostState {
    /// Takes `len` bytes from the report budget, or refuses.
    fn spend_report_bytes(&mut self, len: usize) -> Result<(), String> {
        match self.report_budget.checked_sub(len as u64) {
            Some(left) => {
                self.report_budget = left;
                Ok(())
            }
            None => Err(format!("report limit of {} MiB reached (report-limit=MiB)", self.report_limit_mib)),
        }
    }

    /// In a forked child, reports carry its pid.
    fn report_name(&self, name: String) -> String {
        match self.forked_pid {
            Some(pid) => report_name_for_child(&name, pid),
            None => name,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
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
            self.log_lines += 1;
            if self.log_lines > LOG_LINES {
                if self.log_lines == LOG_LINES + 1 {
                    console::line(&format!(
                        "[{}] warn: more than {LOG_LINES} log lines; further lines are dropped",
                        self.script_name
                    ));
                }
                return;
            }
            console::line(&format!("[{}] {level}: {line}", self.script_name));
        }
    }

    fn symbolize(&mut self, address: u64) -> Option<host::Location> {
        let loc = MODULES.symbolize(address)?;
        Some(host::Location {
            module: loc.module,
            module_base: loc.module_base,
            offset: loc.offset,
            symbol: loc.symbol.map(|s| host::Symbol { name: s.name, start: s.start, size: s.size }),
        })
    }

    fn symbol_source(&mut self, address: u64) -> Option<host::SymbolOrigin> {
        use crate::services::functions::Origin;
        Some(match MODULES.symbolize(address)?.symbol?.origin? {
            Origin::SymbolTable => host::SymbolOrigin::SymbolTable,
            Origin::DebugFile => host::SymbolOrigin::DebugFile,
            Origin::DynamicSymbols => host::SymbolOrigin::DynamicSymbols,
            Origin::Plt => host::SymbolOrigin::Plt,
            Origin::UnwindTables => host::SymbolOrigin::UnwindTables,
            Origin::DynamicSection => host::SymbolOrigin::DynamicSection,
            Origin::EntryPoint => host::SymbolOrigin::EntryPoint,
            Origin::CodeGap => host::SymbolOrigin::CodeGap,
        })
    }

    fn source_frames(&mut self, address: u64) -> Vec<host::SourceFrame> {
        source_lines::frames(address)
            .into_iter()
            .map(|f| host::SourceFrame { file: f.file, line: f.line, column: f.column, function: f.function })
            .collect()
    }

    fn source_lines(&mut self, addresses: Vec<u64>) -> host::LineColumns {
        let lines = source_lines::lines(&addresses);
        host::LineColumns { files: lines.files, file_index: lines.file_index, line: lines.line }
    }

    fn read_memory(&mut self, address: u64, length: u32) -> Result<Vec<u8>, String> {
        memory::read(address, length as usize).map_err(|e| format!("{e:#}"))
    }

    fn disassemble(&mut self, address: u64, code: Vec<u8>) -> Vec<host::Instruction> {
        MODULES
            .disassemble(&self.arch, address, &code)
            .unwrap_or_default()
            .into_iter()
            .map(|i| host::Instruction { address: i.address, size: i.size, text: i.text })
            .collect()
    }

    fn write_report(&mut self, name: String, contents: Vec<u8>) -> Result<(), String> {
        self.spend_report_bytes(contents.len())?;
        let name = self.report_name(name);
        self.out.write_report(&name, &contents).map(|_| ()).map_err(|e| format!("{e:#}"))
    }

    fn append_report(&mut self, name: String, contents: Vec<u8>) -> Result<(), String> {
        self.spend_report_bytes(contents.len())?;
        let name = self.report_name(name);
        self.out.append_report(&name, &contents).map(|_| ()).map_err(|e| format!("{e:#}"))
    }

    fn emit(&mut self, tag: u32, payload: Vec<u8>) -> wasmtime::Result<()> {
        self.forwarding.emit(tag, &payload).map_err(|e| wasmtime::Error::msg(format!("{e:#}")))
    }

    fn syscall_name(&mut self, number: i64) -> Option<String> {
        syscall_names::syscall_name(&self.arch, number).map(str::to_owned)
    }

    fn errno_name(&mut self, errno: i32) -> Option<String> {
        syscall_names::errno_name(&self.arch, errno).map(str::to_owned)
    }

    fn thread_id(&mut self, vcpu: u32) -> Option<i64> {
        thread_ids::get(vcpu)
    }

    fn memory_values(&mut self, wanted: bool) {
        if !self.initialized {
            self.memory_values = wanted;
        }
    }

    fn device_name(&mut self, device: u16) -> Option<String> {
        crate::services::devices::name(device)
    }

    fn add_probe(&mut self, probe: host::Probe) -> Result<u32, String> {
        if self.initialized {
            return Err("add-probe works in init only: capture is set up when init returns".into());
        }
        crate::services::calling_convention::validate(&self.arch, &probe)?;
        self.probes.push(probe);
        Ok((self.probes.len() - 1) as u32)
    }

    fn probe_hits(&mut self) -> host::ProbeBatch {
        self.probe_hits.take().unwrap_or_else(crate::events::empty_probe_batch)
    }

    fn register_names(&mut self) -> Vec<String> {
        crate::qemu::register_names()
    }
}
