// Probes (new in 0.3.1): name a function, get its arguments at entry and its return value at
// exit. Ask in `init` with `Probe`; the hits arrive in `Script.onProbes`, right before the
// `onEvents` of the same stretch of the vCPU's execution. Mirrors the Rust SDK's
// cannonball_sdk::probes and the C SDK's cb_add_probe / cb_on_probes.

import { IMPORT_RET, allocPending, liftBytes, listLen, listPtr, loadString, releaseList, releaseStringAt, storeList, storeString } from "./abi";
import * as L from "./generated/layout";
import { fail } from "./script";

// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "add-probe")
declare function hostAddProbe(
  tag: i32,
  payload: i64,
  len: i32,
  atReturn: bool,
  argumentCount: u8,
  regsPtr: usize,
  regsLen: usize,
  readsPtr: usize,
  readsLen: usize,
  ret: usize,
): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "probe-hits")
declare function hostProbeHits(ret: usize): void;
// @ts-ignore: decorator
@external("cannonball:script/host@0.3.1", "register-names")
declare function hostRegisterNames(ret: usize): void;

/** What a probe hit is (`ProbeHit.event`). */
export namespace ProbeEvent {
  export const ENTRY: u8 = L.ProbeEvent.ENTRY;
  export const RETURNED: u8 = L.ProbeEvent.RETURNED;
  export const UNRETURNED: u8 = L.ProbeEvent.UNRETURNED;
}

/** `ProbeData.info` bits above the read's index (bits 0-3). */
export namespace probeRead {
  /** Stopped at its maximum length (or the length argument) before a NUL. */
  export const TRUNCATED: u8 = 0x10;
  /** The address was not readable: no bytes. */
  export const UNREADABLE: u8 = 0x20;
}

class ReadRequest {
  constructor(
    public argument: u8,
    public maxLength: u32,
    public untilNul: bool,
    public lengthArgument: i32,
  ) {}
}

/** A probe request, built step by step and sent with `add()`. */
export class Probe {
  private symbolName: string | null = null;
  private siteAddress: u64 = 0;
  private wantsReturn: bool = false;
  private argumentCount: u8 = 0;
  private registerNames: string[] = [];
  private readRequests: ReadRequest[] = [];

  /** A function by name: "malloc", "libc.so.6:malloc" (that module only), "sub_1a2b". */
  static symbol(name: string): Probe {
    const p = new Probe();
    p.symbolName = name;
    return p;
  }

  /** The function starting at a guest address. */
  static address(address: u64): Probe {
    const p = new Probe();
    p.siteAddress = address;
    return p;
  }

  /** Captures the first `n` arguments of the calling convention at entry. */
  arguments(n: u8): Probe {
    this.argumentCount = n;
    return this;
  }

  /** Also fires at the return, with the return value. */
  atReturn(): Probe {
    this.wantsReturn = true;
    return this;
  }

  /** Reads register `name` (QEMU's name: "rax", "x0", "a0", ...) at entry and at return. */
  register(name: string): Probe {
    this.registerNames.push(name);
    return this;
  }

  /** Reads the C string argument `argument` points to, up to `max` bytes. */
  readString(argument: u8, max: u32): Probe {
    this.readRequests.push(new ReadRequest(argument, max, true, -1));
    return this;
  }

  /** Reads the C string argument `argument` points to, no longer than argument
   *  `lengthArgument` says and at most `max` bytes: strncmp(a, b, n). */
  readStringUpTo(argument: u8, lengthArgument: u8, max: u32): Probe {
    this.readRequests.push(new ReadRequest(argument, max, true, lengthArgument));
    return this;
  }

  /** Reads `len` bytes at the address argument `argument` holds. */
  readBytes(argument: u8, len: u32): Probe {
    this.readRequests.push(new ReadRequest(argument, len, false, -1));
    return this;
  }

  /** Reads as many bytes as argument `lengthArgument` says (at most `max`) at the address
   *  argument `argument` holds: memcmp(a, b, n). */
  readSized(argument: u8, lengthArgument: u8, max: u32): Probe {
    this.readRequests.push(new ReadRequest(argument, max, false, lengthArgument));
    return this;
  }

  /** Asks the host for the probe (from `init` only): its id, or -1 after `fail(message)`
   *  (QEMU then stops with the message when `init` returns). */
  add(): i64 {
    let tag: i32 = L.ProbeSite.ADDRESS;
    let payload: i64 = <i64>this.siteAddress;
    let len: i32 = 0;
    const name = this.symbolName;
    if (name !== null) {
      tag = L.ProbeSite.SYMBOL;
      const at = allocPending(8);
      storeString(at, name);
      payload = <i64>listPtr(at);
      len = <i32>listLen(at);
    }
    const regs = allocPending(<usize>this.registerNames.length * 8);
    for (let i = 0; i < this.registerNames.length; i++) storeString(regs + <usize>i * 8, this.registerNames[i]);
    const reads = allocPending(<usize>this.readRequests.length * L.ProbeRead.SIZE_OF);
    for (let i = 0; i < this.readRequests.length; i++) {
      const r = this.readRequests[i];
      const at = reads + <usize>i * L.ProbeRead.SIZE_OF;
      store<u8>(at + L.ProbeRead.ARGUMENT, r.argument);
      store<u32>(at + L.ProbeRead.MAX_LENGTH, r.maxLength);
      store<u8>(at + L.ProbeRead.UNTIL_NUL, r.untilNul ? 1 : 0);
      store<u8>(at + L.ProbeRead.LENGTH_ARGUMENT, r.lengthArgument >= 0 ? 1 : 0);
      store<u8>(at + L.ProbeRead.LENGTH_ARGUMENT_SOME, r.lengthArgument >= 0 ? <u8>r.lengthArgument : 0);
    }
    hostAddProbe(
      tag,
      payload,
      len,
      this.wantsReturn,
      this.argumentCount,
      regs,
      this.registerNames.length,
      reads,
      this.readRequests.length,
      IMPORT_RET,
    );
    if (load<u8>(IMPORT_RET) != 0) {
      const message = loadString(IMPORT_RET + L.AddProbeFn.ERR);
      releaseStringAt(IMPORT_RET + L.AddProbeFn.ERR);
      fail(message);
      return -1;
    }
    probesAsked = true;
    return <i64>load<u32>(IMPORT_RET + L.AddProbeFn.OK);
  }
}

/** One memory read of an entry. */
export class ProbeData {
  constructor(
    /** Which of the probe's reads. */
    public index: u8,
    public info: u8,
    public bytes: Uint8Array,
  ) {}
}

/** One probe hit. */
export class ProbeHit {
  /** The probe's id (`Probe.add`). */
  probe: u32 = 0;
  /** The block execution it happened in (like `EventBatch.memExec`). */
  exec: u64 = 0;
  /** `ProbeEvent.ENTRY`, `RETURNED` or `UNRETURNED`. */
  event: u8 = 0;
  /** The call's number on this vCPU: an entry and its return share it. */
  call: u64 = 0;
  returnAddress: u64 = 0;
  /** The stack pointer at entry. */
  stackPointer: u64 = 0;
  /** Entry: the arguments, then the registers; return: the return value, then the registers. */
  values: StaticArray<u64> = new StaticArray<u64>(0);
  reads: ProbeData[] = [];

  /** Argument `i` of an entry (0 when absent). */
  argument(i: i32): u64 {
    return this.event == ProbeEvent.ENTRY && i < this.values.length ? this.values[i] : 0;
  }

  /** The return value of a return (0 otherwise). */
  returnValue(): u64 {
    return this.event == ProbeEvent.RETURNED && this.values.length > 0 ? this.values[0] : 0;
  }

  /** The bytes of the probe's `i`-th memory read, or null (absent or unreadable). */
  read(i: u8): Uint8Array | null {
    for (let k = 0; k < this.reads.length; k++) {
      const r = this.reads[k];
      if (r.index == i && (r.info & probeRead.UNREADABLE) == 0) return r.bytes;
    }
    return null;
  }
}

/** Set once a probe was added: each batch then asks the host for its hits. */
export let probesAsked = false;

function u64At(list: usize, i: i32): u64 {
  return load<u64>(listPtr(list) + <usize>i * 8);
}

function u32At(list: usize, i: i32): u32 {
  return load<u32>(listPtr(list) + <usize>i * 4);
}

function u8At(list: usize, i: i32): u8 {
  return load<u8>(listPtr(list) + <usize>i);
}

const COLUMNS: usize[] = [
  L.ProbeBatch.PROBE,
  L.ProbeBatch.EXEC,
  L.ProbeBatch.EVENT,
  L.ProbeBatch.CALL,
  L.ProbeBatch.RETURN_ADDRESS,
  L.ProbeBatch.STACK_POINTER,
  L.ProbeBatch.VALUE_COUNT,
  L.ProbeBatch.VALUES,
  L.ProbeBatch.DATA_HIT,
  L.ProbeBatch.DATA_INFO,
  L.ProbeBatch.DATA_LEN,
  L.ProbeBatch.DATA,
];

/** The hits of the batch being delivered (copied out of the host's columns, which are freed). */
export function takeProbeHits(): ProbeHit[] {
  const b = allocPending(L.ProbeBatch.SIZE_OF);
  hostProbeHits(IMPORT_RET);
  memory.copy(b, IMPORT_RET, L.ProbeBatch.SIZE_OF);
  const n = <i32>listLen(b + L.ProbeBatch.PROBE);
  const hits = new Array<ProbeHit>(n);
  let valueAt = 0;
  for (let i = 0; i < n; i++) {
    const h = new ProbeHit();
    h.probe = u32At(b + L.ProbeBatch.PROBE, i);
    h.exec = u64At(b + L.ProbeBatch.EXEC, i);
    h.event = u8At(b + L.ProbeBatch.EVENT, i);
    h.call = u64At(b + L.ProbeBatch.CALL, i);
    h.returnAddress = u64At(b + L.ProbeBatch.RETURN_ADDRESS, i);
    h.stackPointer = u64At(b + L.ProbeBatch.STACK_POINTER, i);
    const count = <i32>u8At(b + L.ProbeBatch.VALUE_COUNT, i);
    const values = new StaticArray<u64>(count);
    for (let k = 0; k < count; k++) values[k] = u64At(b + L.ProbeBatch.VALUES, valueAt + k);
    valueAt += count;
    h.values = values;
    hits[i] = h;
  }
  let at: usize = listPtr(b + L.ProbeBatch.DATA);
  const reads = <i32>listLen(b + L.ProbeBatch.DATA_HIT);
  for (let r = 0; r < reads; r++) {
    const info = u8At(b + L.ProbeBatch.DATA_INFO, r);
    const len = <usize>u32At(b + L.ProbeBatch.DATA_LEN, r);
    const hit = <i32>u32At(b + L.ProbeBatch.DATA_HIT, r);
    if (hit < n) hits[hit].reads.push(new ProbeData(info & 0xf, info, liftBytes(at, len)));
    at += len;
  }
  for (let c = 0; c < COLUMNS.length; c++) {
    const list = b + unchecked(COLUMNS[c]);
    releaseList(listPtr(list), listLen(list));
  }
  return hits;
}

/** The guest CPU's register names as QEMU gives them (empty during `init`: QEMU creates the
 *  CPU afterwards). */
export function registerNames(): string[] {
  hostRegisterNames(IMPORT_RET);
  const list = allocPending(8);
  memory.copy(list, IMPORT_RET, 8);
  const n = <i32>listLen(list);
  const names = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const at = listPtr(list) + <usize>i * 8;
    names[i] = loadString(at);
    releaseStringAt(at);
  }
  releaseList(listPtr(list), listLen(list));
  return names;
}
