//! The host services a script can call.

use crate::bindings::cannonball::script::host as wit;

/// Creates or replaces the report file `name` in the run's out directory (`out=DIR`).
pub fn write_report(name: &str, contents: impl AsRef<[u8]>) -> Result<(), String> {
    wit::write_report(name, contents.as_ref())
}

/// Appends to the report file `name` in the out directory, creating it if needed.
pub fn append_report(name: &str, contents: impl AsRef<[u8]>) -> Result<(), String> {
    wit::append_report(name, contents.as_ref())
}

/// Sends one record to the run's forwarding sink (`sock=PATH` or `fwd=FILE`); `tag` is the
/// script's own record type, passed on unchanged with `payload`. Without a sink the host drops
/// and counts the record. Lossless: waits while the sink is slow.
pub fn emit(tag: u32, payload: impl AsRef<[u8]>) {
    wit::emit(tag, payload.as_ref())
}

/// One line to QEMU's stderr, prefixed with the script's name.
pub mod log {
    use super::wit::{LogLevel, log};

    pub fn error(message: impl AsRef<str>) {
        log(LogLevel::Error, message.as_ref())
    }
    pub fn warn(message: impl AsRef<str>) {
        log(LogLevel::Warn, message.as_ref())
    }
    pub fn info(message: impl AsRef<str>) {
        log(LogLevel::Info, message.as_ref())
    }
    pub fn debug(message: impl AsRef<str>) {
        log(LogLevel::Debug, message.as_ref())
    }
}

/// The module (mapped file) and symbol containing a guest address.
pub fn symbolize(address: u64) -> Option<crate::Location> {
    wit::symbolize(address)
}

/// Where the function [`symbolize`] names came from (symbol table, debug file, dynamic symbols,
/// PLT, unwind tables, dynamic section, entry point, code gap); `None` without a function.
/// New in 0.2.4.
pub fn symbol_source(address: u64) -> Option<crate::SymbolOrigin> {
    wit::symbol_source(address)
}

/// Reads guest memory; an error if any byte is unmapped.
pub fn read_memory(address: u64, length: u32) -> Result<Vec<u8>, String> {
    wit::read_memory(address, length)
}

/// Disassembles `code` as located at `address`, for the guest's architecture.
pub fn disassemble(address: u64, code: &[u8]) -> Vec<crate::Instruction> {
    wit::disassemble(address, code)
}

/// Where the code at `address` comes from in the source (the module's DWARF, or its separate
/// debug file): innermost inlined frame first. Empty without line information.
pub fn source_frames(address: u64) -> Vec<crate::SourceFrame> {
    wit::source_frames(address)
}

/// The line-table file and line of each address, as columns (one host call for thousands of
/// addresses): `files[file_index[i]]`, `line[i]`; `file_index[i] == u32::MAX` when unknown.
pub fn source_lines(addresses: &[u64]) -> crate::LineColumns {
    wit::source_lines(addresses)
}

/// The name of system call `number` for the guest's architecture, as the kernel numbers it
/// (x86_64 1 = "write", aarch64 64 = "write"); `None` for a number the kernel does not name.
pub fn syscall_name(number: i64) -> Option<String> {
    wit::syscall_name(number)
}

/// The name of error number `errno` (positive: `-ret` of a failed call) for the guest's
/// architecture ("ENOENT"); `None` when unknown.
pub fn errno_name(errno: i32) -> Option<String> {
    wit::errno_name(errno)
}

/// The Linux thread id (tid) of the guest thread on `vcpu`, as of the events delivered so far:
/// from that thread's start until its exit (the main thread's tid is the pid); `None` for a
/// vCPU no thread runs on. QEMU reuses the index of an exited thread: ask at the thread's start.
pub fn thread_id(vcpu: u32) -> Option<i64> {
    wit::thread_id(vcpu)
}

/// Whether `memory` events carry the value each access loaded or stored. Call it from
/// `init`; later calls change nothing. Default: true. A script that only needs addresses,
/// sizes or counts declines, and capture skips the value (`mem_value` then holds 0). New in
/// 0.2.3.
pub fn memory_values(wanted: bool) {
    wit::memory_values(wanted)
}

/// The name of I/O device `device` of `event-batch.mem-device` (QEMU's name of its memory
/// region); none for 0 (RAM and ROM). New in 0.3.0.
pub fn device_name(device: u16) -> Option<String> {
    wit::device_name(device)
}
