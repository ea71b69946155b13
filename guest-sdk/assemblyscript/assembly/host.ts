// The host services of interface `cannonball:script/host@0.3.1`. Each import is lowered by
// hand: strings and byte lists go out as (ptr, len); results of more than one flat value
// come back through IMPORT_RET, in memory the host allocated through cabi_realloc. Offsets and
// discriminants come from generated/layout.ts (`cargo xtask gen-as`); the @external names are
// checked against wit/ by the generator's tests.

import { IMPORT_RET, liftBytes, listLen, listPtr, loadString, releaseList, releaseStringAt } from "./abi";
import * as L from "./generated/layout";
import { Instruction, LineColumns, Location, SourceFrame, SymbolInfo } from "./types";

// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "log")
declare function hostLog(level: L.LogLevelTag, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "symbolize")
declare function hostSymbolize(address: u64, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "symbol-source")
declare function hostSymbolSource(address: u64, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "source-frames")
declare function hostSourceFrames(address: u64, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "source-lines")
declare function hostSourceLines(ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "read-memory")
declare function hostReadMemory(address: u64, length: u32, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "disassemble")
declare function hostDisassemble(address: u64, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "write-report")
declare function hostWriteReport(namePtr: usize, nameLen: usize, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "append-report")
declare function hostAppendReport(namePtr: usize, nameLen: usize, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "emit")
declare function hostEmit(tag: u32, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "syscall-name")
declare function hostSyscallName(number: i64, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "errno-name")
declare function hostErrnoName(errno: i32, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "thread-id")
declare function hostThreadId(vcpu: u32, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "memory-values")
declare function hostMemoryValues(wanted: bool): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "device-name")
declare function hostDeviceName(device: u16, ret: usize): void;

/** The message of the last failed host call (readMemory, writeReport, appendReport). */
let lastErrorMessage: string = "";

/** Why the last host call that returned null or an error failed. */
export function lastError(): string {
  return lastErrorMessage;
}

/** The bytes of a string (UTF-8), an ArrayBuffer or a Uint8Array, without copying arrays. */
function bytesOf<T>(value: T): Uint8Array {
  if (isString<T>()) return Uint8Array.wrap(String.UTF8.encode(changetype<string>(value)));
  if (value instanceof ArrayBuffer) return Uint8Array.wrap(changetype<ArrayBuffer>(value));
  if (value instanceof Uint8Array) return changetype<Uint8Array>(value);
  ERROR("contents must be a string, an ArrayBuffer or a Uint8Array");
  return new Uint8Array(0);
}

/** One line (or several) on QEMU's stderr, prefixed with the script's name. */
export namespace log {
  export function error(message: string): void {
    send(L.LogLevel.ERROR, message);
  }
  export function warn(message: string): void {
    send(L.LogLevel.WARN, message);
  }
  export function info(message: string): void {
    send(L.LogLevel.INFO, message);
  }
  export function debug(message: string): void {
    send(L.LogLevel.DEBUG, message);
  }
  function send(level: L.LogLevelTag, message: string): void {
    const utf8 = String.UTF8.encode(message);
    hostLog(level, changetype<usize>(utf8), <usize>utf8.byteLength);
  }
}

/** result<_, string> at IMPORT_RET: null for ok, else the error (also kept as lastError). */
function takeUnitResult(): string | null {
  // write-report and append-report share the type, so they share the layout.
  if (L.WriteReportFn.ERR != L.AppendReportFn.ERR) ERROR("write-report and append-report differ");
  if (load<u8>(IMPORT_RET) == 0) return null;
  lastErrorMessage = loadString(IMPORT_RET + L.WriteReportFn.ERR);
  releaseStringAt(IMPORT_RET + L.WriteReportFn.ERR);
  return lastErrorMessage;
}

/**
 * Creates or replaces the report file `name` in the run's out directory (`out=DIR`).
 * `contents`: a string (written as UTF-8), an ArrayBuffer or a Uint8Array.
 * Returns null on success, else the host's error message.
 */
export function writeReport<T>(name: string, contents: T): string | null {
  const n = String.UTF8.encode(name);
  const data = bytesOf<T>(contents);
  hostWriteReport(changetype<usize>(n), n.byteLength, data.dataStart, data.byteLength, IMPORT_RET);
  return takeUnitResult();
}

/** Appends to the report file `name` in the out directory, creating it if needed. */
export function appendReport<T>(name: string, contents: T): string | null {
  const n = String.UTF8.encode(name);
  const data = bytesOf<T>(contents);
  hostAppendReport(changetype<usize>(n), n.byteLength, data.dataStart, data.byteLength, IMPORT_RET);
  return takeUnitResult();
}

/** Raw variant for SDK helpers that own a byte buffer: no copy. */
export function appendReportRaw(name: string, ptr: usize, len: usize, replace: bool): string | null {
  const n = String.UTF8.encode(name);
  if (replace) hostWriteReport(changetype<usize>(n), n.byteLength, ptr, len, IMPORT_RET);
  else hostAppendReport(changetype<usize>(n), n.byteLength, ptr, len, IMPORT_RET);
  return takeUnitResult();
}

/**
 * Sends one record to the run's forwarding sink (`sock=PATH` or `fwd=FILE`); `tag` is the
 * script's own record type. Without a sink the host drops and counts it.
 */
export function emit<T>(tag: u32, payload: T): void {
  const data = bytesOf<T>(payload);
  hostEmit(tag, data.dataStart, data.byteLength);
}

/** The module and symbol containing a guest address; null for anonymous memory. */
export function symbolize(address: u64): Location | null {
  const r = IMPORT_RET;
  hostSymbolize(address, r);
  if (load<u8>(r) == 0) return null;
  // option<location>: the location at SOME, its option<symbol> at SYMBOL (tag) / SYMBOL_SOME.
  const loc = r + L.SymbolizeFn.SOME;
  let symbol: SymbolInfo | null = null;
  if (load<u8>(loc + L.Location.SYMBOL) != 0) {
    const sym = loc + L.Location.SYMBOL_SOME;
    symbol = new SymbolInfo(loadString(sym + L.Symbol.NAME), load<u64>(sym + L.Symbol.START), load<u64>(sym + L.Symbol.SIZE));
    releaseStringAt(sym + L.Symbol.NAME);
  }
  const location = new Location(
    loadString(loc + L.Location.MODULE),
    load<u64>(loc + L.Location.MODULE_BASE),
    load<u64>(loc + L.Location.OFFSET),
    symbol,
  );
  releaseStringAt(loc + L.Location.MODULE);
  return location;
}

/** Where the function symbolize names came from: one of SymbolOrigin's constants
 *  (SYMBOL_TABLE, DEBUG_FILE, DYNAMIC_SYMBOLS, PLT, UNWIND_TABLES, DYNAMIC_SECTION,
 *  ENTRY_POINT, CODE_GAP), -1 when there is no function. New in 0.2.4. */
export function symbolSource(address: u64): i32 {
  hostSymbolSource(address, IMPORT_RET);
  if (load<u8>(IMPORT_RET) == 0) return -1;
  return load<u8>(IMPORT_RET + L.SymbolSourceFn.SOME);
}

/** Reads guest memory; null if any byte is unmapped (the reason: lastError()). */
export function readMemory(address: u64, length: u32): Uint8Array | null {
  hostReadMemory(address, length, IMPORT_RET);
  // ok (list<u8>) and err (string) are both (ptr, len) at the same offset.
  if (L.ReadMemoryFn.OK != L.ReadMemoryFn.ERR) ERROR("read-memory's ok and err differ");
  const ptr = listPtr(IMPORT_RET + L.ReadMemoryFn.OK);
  const len = listLen(IMPORT_RET + L.ReadMemoryFn.OK);
  if (load<u8>(IMPORT_RET) != 0) {
    lastErrorMessage = loadString(IMPORT_RET + L.ReadMemoryFn.ERR);
    releaseList(ptr, len);
    return null;
  }
  const bytes = liftBytes(ptr, len);
  releaseList(ptr, len);
  return bytes;
}

/** Disassembles `code` as located at `address`, for the guest's architecture. */
export function disassemble(address: u64, code: Uint8Array): Instruction[] {
  hostDisassemble(address, code.dataStart, <usize>code.byteLength, IMPORT_RET);
  const ptr = listPtr(IMPORT_RET);
  const count = <i32>listLen(IMPORT_RET);
  const out = new Array<Instruction>(count);
  for (let i = 0; i < count; i++) {
    const at = ptr + <usize>i * L.Instruction.SIZE_OF;
    unchecked(
      (out[i] = new Instruction(
        load<u64>(at + L.Instruction.ADDRESS),
        load<u32>(at + L.Instruction.SIZE),
        loadString(at + L.Instruction.TEXT),
      )),
    );
    releaseStringAt(at + L.Instruction.TEXT);
  }
  releaseList(ptr, <usize>count);
  return out;
}

/**
 * Where the code at `address` comes from in the source (its module's DWARF or separate debug
 * file), innermost inlined frame first; empty without line information.
 */
export function sourceFrames(address: u64): SourceFrame[] {
  hostSourceFrames(address, IMPORT_RET);
  const ptr = listPtr(IMPORT_RET);
  const count = <i32>listLen(IMPORT_RET);
  const out = new Array<SourceFrame>(count);
  for (let i = 0; i < count; i++) {
    const at = ptr + <usize>i * L.SourceFrame.SIZE_OF;
    let fn: string | null = null;
    if (load<u8>(at + L.SourceFrame.FUNCTION) != 0) {
      fn = loadString(at + L.SourceFrame.FUNCTION_SOME);
      releaseStringAt(at + L.SourceFrame.FUNCTION_SOME);
    }
    unchecked(
      (out[i] = new SourceFrame(
        loadString(at + L.SourceFrame.FILE),
        load<u32>(at + L.SourceFrame.LINE),
        load<u32>(at + L.SourceFrame.COLUMN),
        fn,
      )),
    );
    releaseStringAt(at + L.SourceFrame.FILE);
  }
  releaseList(ptr, <usize>count);
  return out;
}

/**
 * The line-table file and line of each address in one call (coverage looks up thousands):
 * `files[fileIndex[i]]`, `line[i]`; `fileIndex[i] == LineColumns.NONE` when unknown.
 */
export function sourceLines(addresses: StaticArray<u64>): LineColumns {
  hostSourceLines(changetype<usize>(addresses), <usize>addresses.length, IMPORT_RET);
  const filesAt = IMPORT_RET + L.LineColumns.FILES;
  const fileCount = <i32>listLen(filesAt);
  const files = new Array<string>(fileCount);
  for (let i = 0; i < fileCount; i++) {
    const at = listPtr(filesAt) + <usize>i * L.List.SIZE_OF;
    unchecked((files[i] = loadString(at)));
    releaseStringAt(at);
  }
  releaseList(listPtr(filesAt), <usize>fileCount);
  const fileIndex = liftU32s(IMPORT_RET + L.LineColumns.FILE_INDEX);
  const line = liftU32s(IMPORT_RET + L.LineColumns.LINE);
  return new LineColumns(files, fileIndex, line);
}

/** A list<u32> stored at `at`, copied out and released. */
function liftU32s(at: usize): StaticArray<u32> {
  const n = <i32>listLen(at);
  const out = new StaticArray<u32>(n);
  memory.copy(changetype<usize>(out), listPtr(at), <usize>n * 4);
  releaseList(listPtr(at), <usize>n);
  return out;
}

/** An option<string> result at IMPORT_RET: the string (released), or null. */
function liftOptionString(some: usize): string | null {
  if (load<u8>(IMPORT_RET) == 0) return null;
  const name = loadString(IMPORT_RET + some);
  releaseStringAt(IMPORT_RET + some);
  return name;
}

/** The name of system call `number` for the guest's architecture, as the kernel numbers it
 *  (x86_64 1 = "write", aarch64 64 = "write"); null for a number the kernel does not name.
 *  New in 0.2.2. */
export function syscallName(number: i64): string | null {
  hostSyscallName(number, IMPORT_RET);
  return liftOptionString(L.SyscallNameFn.SOME);
}

/** The name of error number `errno` (positive: -ret of a failed call) for the guest's
 *  architecture ("ENOENT"); null when unknown. New in 0.2.2. */
export function errnoName(errno: i32): string | null {
  hostErrnoName(errno, IMPORT_RET);
  return liftOptionString(L.ErrnoNameFn.SOME);
}

/** The Linux thread id (tid) of the guest thread on `vcpu`, as of the events delivered so far:
 *  from that thread's start until its exit (the main thread's tid is the pid); -1 for a vCPU no
 *  thread runs on. QEMU reuses the index of an exited thread: ask at the thread's start.
 *  New in 0.2.2. */
export function threadId(vcpu: u32): i64 {
  hostThreadId(vcpu, IMPORT_RET);
  if (load<u8>(IMPORT_RET) == 0) return -1;
  return load<i64>(IMPORT_RET + L.ThreadIdFn.SOME);
}

/** Whether memory events carry the value each access loaded or stored. Call it from `init`;
 *  later calls change nothing. Default: true. A script that only needs addresses, sizes or
 *  counts declines, and capture skips the value (memValue then holds 0). New in 0.2.3. */
export function memoryValues(wanted: bool): void {
  hostMemoryValues(wanted);
}

/** The name of I/O device `device` of `EventBatch.memDevice` (QEMU's name of its memory
 *  region); null for 0 (RAM and ROM). New in 0.3.0. */
export function deviceName(device: u16): string | null {
  hostDeviceName(device, IMPORT_RET);
  return liftOptionString(L.DeviceNameFn.SOME);
}
