// The component's exports, lifted and lowered by hand per the canonical ABI. `cannonball
// build` compiles this file as an entry; the SDK's transform renames `on_blocks` etc. to the
// world's kebab-case names (AssemblyScript cannot spell them).
//
// Layouts (offsets in bytes, sizes, discriminants) come from generated/layout.ts, which
// `cargo xtask gen-as` generates from wit/ (the tests compare it with wit-bindgen's).

import {
  RET_AREA,
  allocPending,
  cabiRealloc,
  liftBytes,
  liftString,
  listLen,
  listPtr,
  loadString,
  release,
  releaseList,
  releasePending,
  releaseStringAt,
  storeList,
  storeString,
} from "./abi";
import * as L from "./generated/layout";
import { Report, ReportSet } from "./merge";
import { Argument, Args } from "./args";
import { log } from "./host";
import { probesAsked, takeProbeHits } from "./probes";
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
  storeString(r + L.ScriptInfo.NAME, scriptName);
  storeString(r + L.ScriptInfo.VERSION, scriptVersion);
  storeString(r + L.ScriptInfo.DESCRIPTION, scriptDescription);
  const specs = theScript().arguments();
  const list = allocPending(<usize>specs.length * L.ArgumentSpec.SIZE_OF);
  for (let i = 0; i < specs.length; i++) {
    const spec = unchecked(specs[i]);
    const at = list + <usize>i * L.ArgumentSpec.SIZE_OF;
    storeString(at + L.ArgumentSpec.KEY, spec.key);
    store<L.ArgumentTypeTag>(at + L.ArgumentSpec.KIND, <L.ArgumentTypeTag>spec.kind);
    const dflt = spec.defaultValue;
    if (dflt !== null) {
      store<u8>(at + L.ArgumentSpec.DEFAULT, 1);
      storeString(at + L.ArgumentSpec.DEFAULT_SOME, dflt);
    } else {
      store<u8>(at + L.ArgumentSpec.DEFAULT, 0);
    }
    store<u8>(at + L.ArgumentSpec.REQUIRED, spec.isRequired ? 1 : 0);
    storeString(at + L.ArgumentSpec.HELP, spec.help);
  }
  storeList(r + L.ScriptInfo.ARGUMENTS, list, <usize>specs.length);
  return r;
}

/** init(info: run-info, args: list<argument>) -> result<subscription, string>. */
export function init(
  archPtr: usize,
  archLen: usize,
  pid: u32,
  forked: bool,
  system: bool,
  argsPtr: usize,
  argsLen: usize,
): usize {
  releasePending();
  const info = new RunInfo(liftString(archPtr, archLen), pid, forked, system);
  releaseList(archPtr, archLen);
  const args = new Array<Argument>(<i32>argsLen);
  for (let i: usize = 0; i < argsLen; i++) {
    const at = argsPtr + i * L.Argument.SIZE_OF;
    unchecked((args[<i32>i] = new Argument(loadString(at + L.Argument.KEY), loadString(at + L.Argument.VALUE))));
    releaseStringAt(at + L.Argument.KEY);
    releaseStringAt(at + L.Argument.VALUE);
  }
  releaseList(argsPtr, argsLen);

  const sub = theScript().init(info, new Args(args));
  const r = RET_AREA;
  const error = takeFailure();
  if (error !== null) {
    store<u8>(r, 1);
    storeString(r + L.InitFn.ERR, error);
    return r;
  }
  // ok: result<subscription, string>, the subscription at OK.
  store<u8>(r, 0);
  const s = r + L.InitFn.OK;
  store<L.EventKindsRepr>(s + L.Subscription.KINDS, sub.kinds);
  const filter = sub.filter;
  if (filter === null) {
    store<u8>(s + L.Subscription.FILTER, 0);
    return r;
  }
  store<u8>(s + L.Subscription.FILTER, 1);
  const f = s + L.Subscription.FILTER_SOME;
  store<L.AddressFilterTag>(f, filter.tag);
  if (filter.tag == AddressFilter.MODULE) {
    storeString(f + L.AddressFilter.PAYLOAD, filter.module);
  } else if (filter.tag == AddressFilter.RANGES) {
    const n = filter.ranges.length;
    const list = allocPending(<usize>n * L.AddressRange.SIZE_OF);
    for (let i = 0; i < n; i++) {
      const at = list + <usize>i * L.AddressRange.SIZE_OF;
      store<u64>(at + L.AddressRange.START, unchecked(filter.ranges[i]).start);
      store<u64>(at + L.AddressRange.END, unchecked(filter.ranges[i]).end);
    }
    storeList(f + L.AddressFilter.PAYLOAD, list, <usize>n);
  }
  return r;
}

/** on-blocks(blocks: list<block>). */
export function on_blocks(ptr: usize, count: usize): void {
  releasePending();
  const blocks = new Array<Block>(<i32>count);
  for (let i: usize = 0; i < count; i++) {
    const at = ptr + i * L.Block.SIZE_OF;
    const sizesPtr = listPtr(at + L.Block.INSN_SIZES), sizesLen = listLen(at + L.Block.INSN_SIZES);
    const bytesPtr = listPtr(at + L.Block.INSN_BYTES), bytesLen = listLen(at + L.Block.INSN_BYTES);
    const disPtr = listPtr(at + L.Block.DISASSEMBLY), disLen = listLen(at + L.Block.DISASSEMBLY);
    const disassembly = new Array<string>(<i32>disLen);
    for (let j: usize = 0; j < disLen; j++) {
      unchecked((disassembly[<i32>j] = loadString(disPtr + j * L.List.SIZE_OF)));
      releaseStringAt(disPtr + j * L.List.SIZE_OF);
    }
    let symbol: string | null = null;
    if (load<u8>(at + L.Block.SYMBOL) != 0) {
      symbol = loadString(at + L.Block.SYMBOL_SOME);
      releaseStringAt(at + L.Block.SYMBOL_SOME);
    }
    unchecked(
      (blocks[<i32>i] = new Block(
        load<u32>(at + L.Block.ID),
        load<u64>(at + L.Block.VADDR),
        liftBytes(sizesPtr, sizesLen),
        liftBytes(bytesPtr, bytesLen),
        disassembly,
        symbol,
        load<u8>(at + L.Block.PRIVILEGE) != 0 ? <i32>load<u8>(at + L.Block.PRIVILEGE_SOME) : -1,
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
  return new Column<T>(listPtr(at), <i32>listLen(at));
}

// event-batch offsets of its lists, in declaration order.
const LISTS: StaticArray<usize> = [
  L.EventBatch.EXECS,
  L.EventBatch.MEM_EXEC,
  L.EventBatch.MEM_PC,
  L.EventBatch.MEM_ADDR,
  L.EventBatch.MEM_INFO,
  L.EventBatch.MEM_VALUE,
  L.EventBatch.MEM_PHYS,
  L.EventBatch.MEM_DEVICE,
  L.EventBatch.SYS_EXEC,
  L.EventBatch.SYS_NUMBER,
  L.EventBatch.SYS_ARGS,
  L.EventBatch.SYS_RET,
  L.EventBatch.SYS_RETURNED,
  L.EventBatch.SYS_DATA_CALL,
  L.EventBatch.SYS_DATA_INFO,
  L.EventBatch.SYS_DATA_LEN,
  L.EventBatch.SYS_DATA,
  L.EventBatch.DISC_EXEC,
  L.EventBatch.DISC_KIND,
  L.EventBatch.DISC_FROM,
  L.EventBatch.DISC_TO,
];

/**
 * on-events(batch: event-batch): 34 flat values are more than 16, so the host passes the
 * record in memory (L.OnEventsFn.PARAMS_INDIRECT).
 */
export function on_events(at: usize): void {
  if (!L.OnEventsFn.PARAMS_INDIRECT) ERROR("on-events now takes flat parameters: lift them one by one");
  releasePending();
  const b = new EventBatch();
  b.vcpu = load<u32>(at + L.EventBatch.VCPU);
  b.firstExec = load<u64>(at + L.EventBatch.FIRST_EXEC);
  b.execs = column<u32>(at + L.EventBatch.EXECS);
  b.memExec = column<u64>(at + L.EventBatch.MEM_EXEC);
  b.memPc = column<u64>(at + L.EventBatch.MEM_PC);
  b.memAddr = column<u64>(at + L.EventBatch.MEM_ADDR);
  b.memInfo = column<u8>(at + L.EventBatch.MEM_INFO);
  b.memValue = column<u64>(at + L.EventBatch.MEM_VALUE);
  b.memPhys = column<u64>(at + L.EventBatch.MEM_PHYS);
  b.memDevice = column<u16>(at + L.EventBatch.MEM_DEVICE);
  b.sysExec = column<u64>(at + L.EventBatch.SYS_EXEC);
  b.sysNumber = column<i64>(at + L.EventBatch.SYS_NUMBER);
  b.sysArgs = column<u64>(at + L.EventBatch.SYS_ARGS);
  b.sysRet = column<i64>(at + L.EventBatch.SYS_RET);
  b.sysReturned = column<bool>(at + L.EventBatch.SYS_RETURNED);
  b.sysDataCall = column<u32>(at + L.EventBatch.SYS_DATA_CALL);
  b.sysDataInfo = column<u8>(at + L.EventBatch.SYS_DATA_INFO);
  b.sysDataLen = column<u32>(at + L.EventBatch.SYS_DATA_LEN);
  b.sysData = column<u8>(at + L.EventBatch.SYS_DATA);
  b.hasCutShort = load<u8>(at + L.EventBatch.CUT_SHORT) != 0;
  b.cutShort = load<u32>(at + L.EventBatch.CUT_SHORT_SOME);
  b.discExec = column<u64>(at + L.EventBatch.DISC_EXEC);
  b.discKind = column<u8>(at + L.EventBatch.DISC_KIND);
  b.discFrom = column<u64>(at + L.EventBatch.DISC_FROM);
  b.discTo = column<u64>(at + L.EventBatch.DISC_TO);
  if (probesAsked) {
    const hits = takeProbeHits();
    if (hits.length > 0) theScript().onProbes(b.vcpu, hits);
  }
  theScript().onEvents(b);
  for (let i = 0; i < LISTS.length; i++) {
    const list = at + unchecked(LISTS[i]);
    releaseList(listPtr(list), listLen(list));
  }
  release(at);
}

export function on_thread(vcpu: u32, event: u32): void {
  releasePending();
  theScript().onThread(vcpu, event == L.ThreadEvent.START ? ThreadEvent.Start : ThreadEvent.Exit);
}

/** finish(summary: run-summary) -> result<_, string>: the summary's four lists arrive flat. */
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
    const at = insPtr + i * L.VcpuInstructions.SIZE_OF;
    unchecked(
      (s.instructions[<i32>i] = new VcpuInstructions(
        load<u32>(at + L.VcpuInstructions.VCPU),
        load<u64>(at + L.VcpuInstructions.INSTRUCTIONS),
      )),
    );
  }
  s.memory = new Array<VcpuMemory>(<i32>memLen);
  for (let i: usize = 0; i < memLen; i++) {
    const at = memPtr + i * L.VcpuMemory.SIZE_OF;
    unchecked(
      (s.memory[<i32>i] = new VcpuMemory(
        load<u32>(at + L.VcpuMemory.VCPU),
        load<u64>(at + L.VcpuMemory.READS),
        load<u64>(at + L.VcpuMemory.WRITES),
      )),
    );
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
    storeString(r + L.FinishFn.ERR, error);
  }
  return r;
}

/**
 * merge(inputs: list<report-set>) -> result<list<report>, string> (the optional merge step;
 * the transform exports it only for scripts that define `merge`). A report-set and a report
 * are both two (ptr, len) pairs: 16 bytes, the second pair at 8. The merged reports are those
 * the script writes with writeReport, so the returned list is empty. The result: its
 * discriminant at 0, its list or string at 4.
 */
export function merge(ptr: usize, len: usize): usize {
  releasePending();
  const runs = new Array<ReportSet>(<i32>len);
  for (let i: usize = 0; i < len; i++) {
    const at = ptr + i * 16;
    const reportsPtr = listPtr(at + 8);
    const reportsLen = listLen(at + 8);
    const reports = new Array<Report>(<i32>reportsLen);
    for (let j: usize = 0; j < reportsLen; j++) {
      const r = reportsPtr + j * 16;
      unchecked((reports[<i32>j] = new Report(loadString(r), liftBytes(listPtr(r + 8), listLen(r + 8)))));
      releaseStringAt(r);
      releaseStringAt(r + 8);
    }
    releaseList(reportsPtr, reportsLen);
    unchecked((runs[<i32>i] = new ReportSet(loadString(at), reports)));
    releaseStringAt(at);
  }
  releaseList(ptr, len);
  theScript().merge(runs);
  const r = RET_AREA;
  const error = takeFailure();
  if (error === null) {
    store<u8>(r, 0);
    storeList(r + 4, r, 0);
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
