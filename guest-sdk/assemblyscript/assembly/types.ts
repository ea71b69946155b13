// The values of `cannonball:script/types`, as AssemblyScript classes. Names follow the WIT
// (kebab-case → camelCase) and the Rust SDK. Flag bits and discriminants come from
// generated/layout.ts (`cargo xtask gen-as`, from wit/).

import * as L from "./generated/layout";

/** Facts about the run, known before the guest executes its first instruction. */
export class RunInfo {
  constructor(
    /** QEMU's target name: "x86_64", "aarch64", ... */
    public arch: string,
    /** Host process id of this QEMU process (the guest's pid in user mode). */
    public pid: u32,
    /** True in the child of a guest fork(). */
    public forked: bool,
    /** True under a system emulator (qemu-system-*). New in 0.3.0. */
    public system: bool,
  ) {}
}

/** The event kinds a script can subscribe to (flags: combine with `|`). */
export namespace EventKinds {
  export const NONE: u16 = 0;
  /** Translated blocks with their static facts (`onBlocks`). */
  export const BLOCKS: u16 = L.EventKinds.BLOCKS;
  /** Per-vCPU in-order block executions (`EventBatch.execs`). Implies BLOCKS. */
  export const TRACE: u16 = L.EventKinds.TRACE;
  /** Memory accesses (`EventBatch.mem*`). */
  export const MEMORY: u16 = L.EventKinds.MEMORY;
  /** System calls (`EventBatch.sys*`). */
  export const SYSCALLS: u16 = L.EventKinds.SYSCALLS;
  /** Thread start and exit (`onThread`). */
  export const THREADS: u16 = L.EventKinds.THREADS;
  /** Disassembly text in `Block.disassembly`. */
  export const DISASSEMBLY: u16 = L.EventKinds.DISASSEMBLY;
  /** Execution count of every block (`RunSummary.blockIds/blockExecs`). Implies BLOCKS. */
  export const BLOCK_COUNTS: u16 = L.EventKinds.BLOCK_COUNTS;
  /** Memory reads and writes per vCPU (`RunSummary.memory`). */
  export const MEMORY_COUNTS: u16 = L.EventKinds.MEMORY_COUNTS;
  /** Strings and buffers of system call arguments (`EventBatch.sysData*`, `SyscallData`).
   * Implies SYSCALLS. */
  export const SYSCALL_DATA: u16 = L.EventKinds.SYSCALL_DATA;
  /** Interrupts, exceptions and host calls (`EventBatch.disc*`). New in 0.3.0. */
  export const DISCONTINUITIES: u16 = L.EventKinds.DISCONTINUITIES;
  /** Physical address and device of each memory access (`EventBatch.memPhys`, `memDevice`),
   * system mode only. Implies MEMORY. New in 0.3.0. */
  export const MEMORY_PHYSICAL: u16 = L.EventKinds.MEMORY_PHYSICAL;
}

/** A half-open guest address range [start, end). */
export class AddressRange {
  constructor(public start: u64, public end: u64) {}
}

/** Which code is instrumented (`address-filter`). */
export class AddressFilter {
  static readonly MAIN_BINARY: u8 = L.AddressFilter.MAIN_BINARY;
  static readonly MODULE: u8 = L.AddressFilter.MODULE;
  static readonly RANGES: u8 = L.AddressFilter.RANGES;

  private constructor(public tag: u8, public module: string, public ranges: AddressRange[]) {}

  /** Only the main binary's code. */
  static mainBinary(): AddressFilter {
    return new AddressFilter(AddressFilter.MAIN_BINARY, "", []);
  }
  /** Only code mapped from a file with this name (e.g. "libc.so.6") or path. */
  static module(name: string): AddressFilter {
    return new AddressFilter(AddressFilter.MODULE, name, []);
  }
  /** Only blocks starting inside one of these ranges. */
  static ranges(ranges: AddressRange[]): AddressFilter {
    return new AddressFilter(AddressFilter.RANGES, "", ranges);
  }
}

/** What `init` asks the host for. */
export class Subscription {
  constructor(
    /** EventKinds flags, e.g. `EventKinds.SYSCALLS | EventKinds.THREADS`. */
    public kinds: u16 = EventKinds.NONE,
    /** Instrument only this code; null means all code. */
    public filter: AddressFilter | null = null,
  ) {}
}

/** A subscription to `kinds`, for all code unless `filter` is given. */
export function subscribe(kinds: u16, filter: AddressFilter | null = null): Subscription {
  return new Subscription(kinds, filter);
}

/** A translated block with its instructions' static facts (copied: scripts may keep it). */
export class Block {
  constructor(
    public id: u32,
    /** Guest address of the first instruction. */
    public vaddr: u64,
    /** Size in bytes of each instruction, in order. */
    public insnSizes: Uint8Array,
    /** The opcode bytes of all instructions, concatenated. */
    public insnBytes: Uint8Array,
    /** Disassembly per instruction when subscribed to DISASSEMBLY, else empty. */
    public disassembly: string[],
    /** Symbol of the first instruction, when QEMU knows it. */
    public symbol: string | null,
    /** The privilege level every execution of the block runs at, in the architecture's terms
     *  (see `privilege`); -1 when QEMU does not say. New in 0.3.0. */
    public privilege: i32,
  ) {}

  /** Address of every instruction, in order. */
  insnAddrs(): u64[] {
    const out = new Array<u64>(this.insnSizes.length);
    let addr = this.vaddr;
    for (let i = 0; i < this.insnSizes.length; i++) {
      unchecked((out[i] = addr));
      addr += <u64>unchecked(this.insnSizes[i]);
    }
    return out;
  }

  /** Address just past the last instruction. */
  end(): u64 {
    let addr = this.vaddr;
    for (let i = 0; i < this.insnSizes.length; i++) addr += <u64>unchecked(this.insnSizes[i]);
    return addr;
  }
}

/**
 * A read-only view of one column of an event batch or run summary, in the host's memory
 * layout: no copy. Valid only during the hook that received it; `toArray()` copies.
 */
export class Column<T> {
  constructor(
    /** Address of the first element. */
    public readonly ptr: usize,
    public readonly length: i32,
  ) {}

  @operator("[]")
  get(i: i32): T {
    if (<u32>i >= <u32>this.length) throw new RangeError("column index out of range");
    return load<T>(this.ptr + (<usize>i << alignof<T>()));
  }

  /** Element i without the bounds check. */
  @inline
  at(i: i32): T {
    return load<T>(this.ptr + (<usize>i << alignof<T>()));
  }

  toArray(): T[] {
    const out = new Array<T>(this.length);
    memory.copy(out.dataStart, this.ptr, <usize>this.length << alignof<T>());
    return out;
  }
}

/**
 * Events of one vCPU, in order, since its previous batch: columns (see docs/wit.md). Entry i
 * of every `mem*` column describes one memory access, entry i of every `sys*` column one
 * system call (`sysArgs` has six entries per call).
 */
export class EventBatch {
  vcpu: u32 = 0;
  firstExec: u64 = 0;
  execs: Column<u32> = new Column<u32>(0, 0);
  memExec: Column<u64> = new Column<u64>(0, 0);
  memPc: Column<u64> = new Column<u64>(0, 0);
  memAddr: Column<u64> = new Column<u64>(0, 0);
  memInfo: Column<u8> = new Column<u8>(0, 0);
  memValue: Column<u64> = new Column<u64>(0, 0);
  /** Physical address of each access (MEMORY_PHYSICAL). New in 0.3.0. */
  memPhys: Column<u64> = new Column<u64>(0, 0);
  /** Per access: 0 for RAM and ROM, else the device (`deviceName` names it). */
  memDevice: Column<u16> = new Column<u16>(0, 0);
  sysExec: Column<u64> = new Column<u64>(0, 0);
  sysNumber: Column<i64> = new Column<i64>(0, 0);
  sysArgs: Column<u64> = new Column<u64>(0, 0);
  sysRet: Column<i64> = new Column<i64>(0, 0);
  sysReturned: Column<bool> = new Column<bool>(0, 0);
  /** Strings and buffers of the calls (SYSCALL_DATA), one entry per blob: the call's index
   * in `sysNumber`, ascending. Read them with `SyscallData`. */
  sysDataCall: Column<u32> = new Column<u32>(0, 0);
  /** Per blob: argument index in bits 0-2, then the `sysdata` flags. */
  sysDataInfo: Column<u8> = new Column<u8>(0, 0);
  sysDataLen: Column<u32> = new Column<u32>(0, 0);
  /** Every blob's bytes, concatenated. */
  sysData: Column<u8> = new Column<u8>(0, 0);
  /** Set in a vCPU's last batch when a fatal fault cut its last block execution short. */
  hasCutShort: bool = false;
  cutShort: u32 = 0;
  /** Discontinuities (DISCONTINUITIES), one entry per event in every `disc*` column: the
   *  block execution the vCPU was in when it left, indexed like `memExec`. New in 0.3.0. */
  discExec: Column<u64> = new Column<u64>(0, 0);
  /** `DiscontinuityKind` values. */
  discKind: Column<u8> = new Column<u8>(0, 0);
  discFrom: Column<u64> = new Column<u64>(0, 0);
  discTo: Column<u64> = new Column<u64>(0, 0);
}

/** What made a vCPU leave its code (`EventBatch.discKind`). */
export namespace DiscontinuityKind {
  export const INTERRUPT: u8 = L.DiscontinuityKind.INTERRUPT;
  export const EXCEPTION: u8 = L.DiscontinuityKind.EXCEPTION;
  export const HOST_CALL: u8 = L.DiscontinuityKind.HOST_CALL;
}

/** Reading `Block.privilege` (levels are in the architecture's own terms). */
export namespace privilege {
  /** True when `level` is user mode on `arch`: x86 CPL 3, ARM EL0, RISC-V U-mode. */
  export function isUser(arch: string, level: i32): bool {
    return arch == "x86_64" || arch == "i386" ? level == 3 : level == 0;
  }
  /** "user", "kernel", "hypervisor", "secure monitor", "machine", "ring 1", "ring 2", or
   *  "level N". */
  export function name(arch: string, level: i32): string {
    const x86 = arch == "x86_64" || arch == "i386";
    const arm = arch == "aarch64" || arch == "arm";
    const riscv = arch == "riscv64" || arch == "riscv32";
    if (x86) {
      if (level == 3) return "user";
      if (level == 0) return "kernel";
      if (level == 1) return "ring 1";
      if (level == 2) return "ring 2";
    } else if (arm || riscv) {
      if (level == 0) return "user";
      if (level == 1) return "kernel";
      if (arm && level == 2) return "hypervisor";
      if (arm && level == 3) return "secure monitor";
      if (riscv && level == 3) return "machine";
    }
    return "level " + level.toString();
  }
}

/** A guest thread started or exited. */
export enum ThreadEvent {
  Start = L.ThreadEvent.START,
  Exit = L.ThreadEvent.EXIT,
}

export class VcpuInstructions {
  constructor(public vcpu: u32, public instructions: u64) {}
}

export class VcpuMemory {
  constructor(public vcpu: u32, public reads: u64, public writes: u64) {}
}

/** What `finish` receives, after the guest exited. */
export class RunSummary {
  /** Executed guest instructions per vCPU, ascending by vCPU index. */
  instructions: VcpuInstructions[] = [];
  /** Per-vCPU memory access counts (MEMORY_COUNTS). */
  memory: VcpuMemory[] = [];
  /** Block `blockIds[i]` ran `blockExecs[i]` times (BLOCK_COUNTS). */
  blockIds: Column<u32> = new Column<u32>(0, 0);
  blockExecs: Column<u64> = new Column<u64>(0, 0);

  /** Instructions of all vCPUs. */
  totalInstructions(): u64 {
    let total: u64 = 0;
    for (let i = 0; i < this.instructions.length; i++) total += unchecked(this.instructions[i]).instructions;
    return total;
  }
}

// --- host types ---------------------------------------------------------------------

export class SymbolInfo {
  constructor(public name: string, public start: u64, public size: u64) {}
}

/** Where a guest address lies: its module and, when known, its symbol. */
export class Location {
  constructor(
    /** Path of the mapped file. */
    public module: string,
    /** Guest address where the module is loaded. */
    public moduleBase: u64,
    /** address - moduleBase: what drcov calls the offset. */
    public offset: u64,
    public symbol: SymbolInfo | null,
  ) {}
}

/** One disassembled instruction. */
export class Instruction {
  constructor(public address: u64, public size: u32, public text: string) {}
}

/** One source position (sourceFrames): line and column are 0 when unknown; functionName is
 * the inlined function for an inlined frame. */
export class SourceFrame {
  constructor(public file: string, public line: u32, public column: u32, public functionName: string | null) {}
}

/** Source lines of many addresses (sourceLines), as columns. */
export class LineColumns {
  /** fileIndex entry of an address without line information. */
  static readonly NONE: u32 = 0xffffffff;
  constructor(public files: string[], public fileIndex: StaticArray<u32>, public line: StaticArray<u32>) {}
}

/** Decoding `EventBatch.sysDataInfo`. */
export namespace sysdata {
  /** The string or buffer goes on past what was captured. */
  export const TRUNCATED: u8 = 8;
  /** The guest pointer was not readable: no bytes. */
  export const UNREADABLE: u8 = 16;
  /** An element of a string array (execve's argv), in order. */
  export const ELEMENT: u8 = 32;
  /** Captured at the call's return (data the kernel wrote). */
  export const AT_RETURN: u8 = 64;
  export function arg(info: u8): i32 {
    return info & 7;
  }
}

/**
 * Walks the blobs of a batch's system calls in order: `next()` moves to the next blob;
 * `call`, `info`, `start`, `length` describe it, `byte(i)` and `text()` read it. Valid only
 * during the `onEvents` that received the batch.
 */
export class SyscallData {
  /** Index of the current blob (-1 before the first `next()`). */
  index: i32 = -1;
  /** Offset of the current blob in `sysData`. */
  start: i32 = 0;
  length: i32 = 0;
  private end: i32 = 0;

  constructor(public batch: EventBatch) {}

  /** Moves to the next blob; false after the last. */
  next(): bool {
    if (this.index + 1 >= this.batch.sysDataCall.length) return false;
    this.index++;
    this.start = this.end;
    this.length = <i32>this.batch.sysDataLen.at(this.index);
    this.end = this.start + this.length;
    return true;
  }

  /** Index of the call (into `sysNumber`) of the current blob. */
  get call(): i32 {
    return <i32>this.batch.sysDataCall.at(this.index);
  }

  get info(): u8 {
    return this.batch.sysDataInfo.at(this.index);
  }

  /** Argument index (0-5) of the current blob. */
  get arg(): i32 {
    return this.info & 7;
  }

  byte(i: i32): u8 {
    return this.batch.sysData.at(this.start + i);
  }

  /** The blob's bytes as a string (UTF-8, invalid sequences replaced). */
  text(): string {
    return String.UTF8.decodeUnsafe(this.batch.sysData.ptr + <usize>this.start, <usize>this.length);
  }
}

/** Decoding `EventBatch.memInfo`. */
export namespace mem {
  /** Access size in bytes (1, 2, 4, 8 or 16). */
  export function size(info: u8): u32 {
    return 1 << (info & 7);
  }
  export function isStore(info: u8): bool {
    return (info & 8) != 0;
  }
  export function isSignExtended(info: u8): bool {
    return (info & 0x10) != 0;
  }
  export function isBigEndian(info: u8): bool {
    return (info & 0x20) != 0;
  }
}
