// The component's exports, lifted and lowered by hand per the canonical ABI. `cannonball
// build` compiles this file as an entry; the SDK's transform renames `on_blocks` etc. to the
// world's kebab-case names (AssemblyScript cannot spell them).
//
// Layouts (offsets in bytes) follow the canonical ABI's rules for this world's types.

import {
  RET_AREA,
  allocPending,
  cabiRealloc,
  liftBytes,
  liftString,
  loadString,
  release,
  releaseList,
  releasePending,
  releaseStringAt,
  storeString,
} from "./abi";
import { Argument, Args } from "./args";
import { log } from "./host";
import { scriptDescription, scriptName, scriptVersion, takeFailure, theScript } from "./script";
import {
  AddressFilter,
  Block,
  Column,
  EventBatch,
  RunInfo,
  RunSummary,
  ThreadEvent,
  VcpuInstructions,
  VcpuMemory,
} from "./types";

export function cabi_realloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  return cabiRealloc(old, oldSize, align, newSize);
}

/** describe() -> script-info {name, version, description, arguments: list<argument-spec>}. */
export function describe(): usize {
  releasePending();
  const r = RET_AREA;
  storeString(r, scriptName);
  storeString(r + 8, scriptVersion);
  storeString(r + 16, scriptDescription);
  const specs = theScript().arguments();
  // argument-spec: key 0, kind 8, default option<string> 12 (tag) / 16, required 24, help 28;
  // 36 bytes.
  const list = allocPending(<usize>specs.length * 36);
  for (let i = 0; i < specs.length; i++) {
    const spec = unchecked(specs[i]);
    const at = list + <usize>i * 36;
    storeString(at, spec.key);
    store<u8>(at, <u8>spec.kind, 8);
    const dflt = spec.defaultValue;
    if (dflt !== null) {
      store<u8>(at, 1, 12);
      storeString(at + 16, dflt);
    } else {
      store<u8>(at, 0, 12);
    }
    store<u8>(at, spec.isRequired ? 1 : 0, 24);
    storeString(at + 28, spec.help);
  }
  store<u32>(r, <u32>list, 24);
  store<u32>(r, <u32>specs.length, 28);
  return r;
}

/** init(info: run-info, args: list<argument>) -> result<subscription, string>. */
export function init(archPtr: usize, archLen: usize, pid: u32, forked: bool, argsPtr: usize, argsLen: usize): usize {
  releasePending();
  const info = new RunInfo(liftString(archPtr, archLen), pid, forked);
  releaseList(archPtr, archLen);
  const args = new Array<Argument>(<i32>argsLen);
  for (let i: usize = 0; i < argsLen; i++) {
    const at = argsPtr + i * 16;
    unchecked((args[<i32>i] = new Argument(loadString(at), loadString(at + 8))));
    releaseStringAt(at);
    releaseStringAt(at + 8);
  }
  releaseList(argsPtr, argsLen);

  const sub = theScript().init(info, new Args(args));
  const r = RET_AREA;
  const error = takeFailure();
  if (error !== null) {
    store<u8>(r, 1);
    storeString(r + 4, error);
    return r;
  }
  // ok: subscription at 4 = kinds 4 (u16: nine flags), option<address-filter> tag 8, variant
  // tag 12, payload 16.
  store<u8>(r, 0);
  store<u16>(r, sub.kinds, 4);
  const filter = sub.filter;
  if (filter === null) {
    store<u8>(r, 0, 8);
    return r;
  }
  store<u8>(r, 1, 8);
  store<u8>(r, filter.tag, 12);
  if (filter.tag == AddressFilter.MODULE) {
    storeString(r + 16, filter.module);
  } else if (filter.tag == AddressFilter.RANGES) {
    const n = filter.ranges.length;
    const list = allocPending(<usize>n * 16);
    for (let i = 0; i < n; i++) {
      store<u64>(list + <usize>i * 16, unchecked(filter.ranges[i]).start);
      store<u64>(list + <usize>i * 16, unchecked(filter.ranges[i]).end, 8);
    }
    store<u32>(r, <u32>list, 16);
    store<u32>(r, <u32>n, 20);
  }
  return r;
}

/** on-blocks(blocks: list<block>); block: id 0, vaddr 8, insn-sizes 16, insn-bytes 24,
 * disassembly 32, symbol option<string> 40 (tag) / 44; 56 bytes. */
export function on_blocks(ptr: usize, count: usize): void {
  releasePending();
  const blocks = new Array<Block>(<i32>count);
  for (let i: usize = 0; i < count; i++) {
    const at = ptr + i * 56;
    const sizesPtr = <usize>load<u32>(at, 16), sizesLen = <usize>load<u32>(at, 20);
    const bytesPtr = <usize>load<u32>(at, 24), bytesLen = <usize>load<u32>(at, 28);
    const disPtr = <usize>load<u32>(at, 32), disLen = <usize>load<u32>(at, 36);
    const disassembly = new Array<string>(<i32>disLen);
    for (let j: usize = 0; j < disLen; j++) {
      unchecked((disassembly[<i32>j] = loadString(disPtr + j * 8)));
      releaseStringAt(disPtr + j * 8);
    }
    let symbol: string | null = null;
    if (load<u8>(at, 40) != 0) {
      symbol = loadString(at + 44);
      releaseStringAt(at + 44);
    }
    unchecked(
      (blocks[<i32>i] = new Block(
        load<u32>(at),
        load<u64>(at, 8),
        liftBytes(sizesPtr, sizesLen),
        liftBytes(bytesPtr, bytesLen),
        disassembly,
        symbol,
      )),
    );
    releaseList(sizesPtr, sizesLen);
    releaseList(bytesPtr, bytesLen);
    releaseList(disPtr, disLen);
  }
  releaseList(ptr, count);
  theScript().onBlocks(blocks);
}

/** A list<T> stored at `at` as (ptr, len), viewed without copying. */
// @ts-ignore: decorator
@inline
function column<T>(at: usize): Column<T> {
  return new Column<T>(<usize>load<u32>(at), <i32>load<u32>(at, 4));
}

// event-batch offsets of its fifteen lists, in declaration order.
const LISTS: StaticArray<usize> = [16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128];

/**
 * on-events(batch: event-batch): 34 flat values are more than 16, so the host passes the
 * record in memory. vcpu 0, first-exec 8, the lists at LISTS (8 bytes each: pointer,
 * length), cut-short option<u32> 136 (tag) / 140; 144 bytes, 8-aligned.
 */
export function on_events(at: usize): void {
  releasePending();
  const b = new EventBatch();
  b.vcpu = load<u32>(at);
  b.firstExec = load<u64>(at, 8);
  b.execs = column<u32>(at + 16);
  b.memExec = column<u64>(at + 24);
  b.memPc = column<u64>(at + 32);
  b.memAddr = column<u64>(at + 40);
  b.memInfo = column<u8>(at + 48);
  b.memValue = column<u64>(at + 56);
  b.sysExec = column<u64>(at + 64);
  b.sysNumber = column<i64>(at + 72);
  b.sysArgs = column<u64>(at + 80);
  b.sysRet = column<i64>(at + 88);
  b.sysReturned = column<bool>(at + 96);
  b.sysDataCall = column<u32>(at + 104);
  b.sysDataInfo = column<u8>(at + 112);
  b.sysDataLen = column<u32>(at + 120);
  b.sysData = column<u8>(at + 128);
  b.hasCutShort = load<u8>(at, 136) != 0;
  b.cutShort = load<u32>(at, 140);
  theScript().onEvents(b);
  for (let i = 0; i < LISTS.length; i++) {
    const list = at + unchecked(LISTS[i]);
    releaseList(load<u32>(list), load<u32>(list, 4));
  }
  release(at);
}

export function on_thread(vcpu: u32, event: u32): void {
  releasePending();
  theScript().onThread(vcpu, event == 0 ? ThreadEvent.Start : ThreadEvent.Exit);
}

/**
 * finish(summary: run-summary) -> result<_, string>: the summary's four lists arrive flat;
 * vcpu-instructions is {vcpu 0, instructions 8} (16 bytes), vcpu-memory {vcpu 0, reads 8,
 * writes 16} (24 bytes).
 */
export function finish(
  insPtr: usize,
  insLen: usize,
  memPtr: usize,
  memLen: usize,
  idsPtr: usize,
  idsLen: usize,
  execsPtr: usize,
  execsLen: usize,
): usize {
  releasePending();
  const s = new RunSummary();
  s.instructions = new Array<VcpuInstructions>(<i32>insLen);
  for (let i: usize = 0; i < insLen; i++) {
    const at = insPtr + i * 16;
    unchecked((s.instructions[<i32>i] = new VcpuInstructions(load<u32>(at), load<u64>(at, 8))));
  }
  s.memory = new Array<VcpuMemory>(<i32>memLen);
  for (let i: usize = 0; i < memLen; i++) {
    const at = memPtr + i * 24;
    unchecked((s.memory[<i32>i] = new VcpuMemory(load<u32>(at), load<u64>(at, 8), load<u64>(at, 16))));
  }
  s.blockIds = new Column<u32>(idsPtr, <i32>idsLen);
  s.blockExecs = new Column<u64>(execsPtr, <i32>execsLen);
  theScript().finish(s);
  releaseList(insPtr, insLen);
  releaseList(memPtr, memLen);
  releaseList(idsPtr, idsLen);
  releaseList(execsPtr, execsLen);
  const r = RET_AREA;
  const error = takeFailure();
  if (error === null) {
    store<u8>(r, 0);
  } else {
    store<u8>(r, 1);
    storeString(r + 4, error);
  }
  return r;
}

/**
 * AssemblyScript's `abort` (failed assertions, `throw`, out-of-bounds accesses): log the
 * message through the host, then trap. `cannonball build` passes `--use abort=` pointing here,
 * so the module does not import env.abort.
 */
function cannonballAbort(message: string | null, file: string | null, line: u32, column: u32): void {
  const text = (message !== null ? message : "abort") + (file !== null ? " at " + file + ":" + line.toString() + ":" + column.toString() : "");
  log.error(text);
  unreachable();
}
