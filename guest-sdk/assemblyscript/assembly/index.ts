// Cannonball SDK for AssemblyScript: the public API. See README.md.

export { Script, register, fail } from "./script";
export { Args, Argument, ArgumentSpec, ArgumentType } from "./args";
export {
  AddressFilter,
  AddressRange,
  Block,
  Column,
  DiscontinuityKind,
  EventBatch,
  EventKinds,
  Instruction,
  LineColumns,
  Location,
  RunInfo,
  RunSummary,
  SourceFrame,
  Subscription,
  SymbolInfo,
  SyscallData,
  ThreadEvent,
  VcpuInstructions,
  VcpuMemory,
  mem,
  privilege,
  sysdata,
  subscribe,
} from "./types";
export {
  appendReport,
  deviceName,
  disassemble,
  emit,
  errnoName,
  lastError,
  log,
  memoryValues,
  readMemory,
  sourceFrames,
  sourceLines,
  symbolSource,
  symbolize,
  syscallName,
  threadId,
  writeReport,
} from "./host";
export { Probe, ProbeData, ProbeEvent, ProbeHit, probeRead, registerNames } from "./probes";
export { ReportWriter, hex } from "./report";
export { SymbolOrigin } from "./generated/layout";
export { Report, ReportSet } from "./merge";
