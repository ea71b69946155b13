// The host services of interface `cannonball:script/host@0.2.0`. Each import is lowered by
// hand: strings and byte lists go out as (ptr, len); results of more than one flat value
// come back through IMPORT_RET, in memory the host allocated through cabi_realloc.

import { IMPORT_RET, liftBytes, loadString, releaseList, releaseStringAt } from "./abi";
import { Instruction, Location, SymbolInfo } from "./types";

// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "log")
declare function hostLog(level: i32, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "symbolize")
declare function hostSymbolize(address: u64, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "read-memory")
declare function hostReadMemory(address: u64, length: u32, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "disassemble")
declare function hostDisassemble(address: u64, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "write-report")
declare function hostWriteReport(namePtr: usize, nameLen: usize, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "append-report")
declare function hostAppendReport(namePtr: usize, nameLen: usize, ptr: usize, len: usize, ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.2.0", "emit")
declare function hostEmit(tag: u32, ptr: usize, len: usize): void;

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
    send(0, message);
  }
  export function warn(message: string): void {
    send(1, message);
  }
  export function info(message: string): void {
    send(2, message);
  }
  export function debug(message: string): void {
    send(3, message);
  }
  function send(level: i32, message: string): void {
    const utf8 = String.UTF8.encode(message);
    hostLog(level, changetype<usize>(utf8), <usize>utf8.byteLength);
  }
}

/** result<_, string> at IMPORT_RET: null for ok, else the error (also kept as lastError). */
function takeUnitResult(): string | null {
  if (load<u8>(IMPORT_RET) == 0) return null;
  lastErrorMessage = loadString(IMPORT_RET + 4);
  releaseStringAt(IMPORT_RET + 4);
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
  // option<location>: location at 8 = module (8..16), module-base 16, offset 24,
  // option<symbol> at 32: tag, symbol at 40 = name (40..48), start 48, size 56.
  let symbol: SymbolInfo | null = null;
  if (load<u8>(r, 32) != 0) {
    symbol = new SymbolInfo(loadString(r + 40), load<u64>(r, 48), load<u64>(r, 56));
    releaseStringAt(r + 40);
  }
  const location = new Location(loadString(r + 8), load<u64>(r, 16), load<u64>(r, 24), symbol);
  releaseStringAt(r + 8);
  return location;
}

/** Reads guest memory; null if any byte is unmapped (the reason: lastError()). */
export function readMemory(address: u64, length: u32): Uint8Array | null {
  hostReadMemory(address, length, IMPORT_RET);
  const ptr = <usize>load<u32>(IMPORT_RET, 4);
  const len = <usize>load<u32>(IMPORT_RET, 8);
  if (load<u8>(IMPORT_RET) != 0) {
    lastErrorMessage = loadString(IMPORT_RET + 4);
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
  const ptr = <usize>load<u32>(IMPORT_RET);
  const count = <i32>load<u32>(IMPORT_RET, 4);
  const out = new Array<Instruction>(count);
  // instruction: address u64 at 0, size u32 at 8, text at 12..20; 24 bytes each.
  for (let i = 0; i < count; i++) {
    const at = ptr + <usize>i * 24;
    unchecked((out[i] = new Instruction(load<u64>(at), load<u32>(at, 8), loadString(at + 12))));
    releaseStringAt(at + 12);
  }
  releaseList(ptr, <usize>count);
  return out;
}
