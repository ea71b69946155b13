// syscalls: an strace for QEMU guests. One line per system call, `name(args) = ret`, in the
// report syscalls.txt, then a count per call (like `strace -c`, counts only). Strings and
// buffers print as `strace -s 32` prints them (subscribed to SYSCALL_DATA): paths in full,
// data and argv strings to 32 bytes then `...`.
//
// Lines of one vCPU are in order; vCPUs come in batches (see docs/events.md), so lines of
// different threads are grouped, not interleaved by time. Once a second vCPU has started,
// every line is prefixed with `[vcpu N] `, as strace -f prefixes `[pid N]`.
//
// Merge step (several runs, e.g. a corpus): the count tables of the runs' syscalls.txt summed
// per call, in one syscalls.txt that has only the table.

import {
  Args,
  ArgumentSpec,
  EventBatch,
  EventKinds,
  ReportSet,
  ReportWriter,
  RunInfo,
  RunSummary,
  Script,
  Subscription,
  ThreadEvent,
  fail,
  log,
  register,
  subscribe,
  writeReport,
} from "@cannonball/sdk";
import { argCount } from "./args";
import { createsFile, dirFd, openFlags, openFlagsArg, setOpenFlags, takesDirFd } from "./flags";
import { CallData } from "./strings";
import { ARCHES, Arch } from "./tables";

/** Numbers from the target's lowest (4000 on mips o32) up to this many above it get counters
 *  in arrays; others (ARM's private calls at 0x0f0000 + n) in a Map. */
const DIRECT: i32 = 1024;
/** Arguments below 1 MiB print in decimal (fds, sizes, flags), others in hex (pointers). */
const DECIMAL_BELOW: u64 = 1 << 20;

class Row {
  constructor(public number: i64, public calls: u64, public errors: u64) {}
}

class Counts {
  calls: u64 = 0;
  errors: u64 = 0;
}

/** The generated tables of a target; null when the generator does not know it. */
function tablesFor(arch: string): Arch | null {
  for (let i = 0; i < ARCHES.length; i++) if (ARCHES[i].arch == arch) return ARCHES[i];
  return null;
}

/** errno names of the target (they differ on mips); the generic ones until init. */
let errnoNames: string[] = ARCHES[0].errno;

class Syscalls extends Script {
  private tables: Arch | null = null;
  /** The lowest system call number: counters are indexed from it. */
  private base: i64 = 0;
  /** A 32-bit target: QEMU hands its registers over sign-extended to 64 bits. */
  private narrow: bool = false;
  private summaryOnly: bool = false;
  private report: ReportWriter = new ReportWriter("syscalls.txt");
  private calls: StaticArray<u64> = new StaticArray<u64>(DIRECT);
  private errors: StaticArray<u64> = new StaticArray<u64>(DIRECT);
  private other: Map<i64, Counts> = new Map<i64, Counts>();
  private prefix: bool = false;

  arguments(): ArgumentSpec[] {
    return [ArgumentSpec.boolean("summary-only", "only the counts per system call, no trace")];
  }

  init(info: RunInfo, args: Args): Subscription {
    this.summaryOnly = args.flag("summary-only");
    args.finish();
    const tables = tablesFor(info.arch);
    if (tables === null) log.warn("no system call names for " + info.arch + ": printing numbers");
    else {
      this.tables = tables;
      this.base = tables.base;
      this.narrow = tables.bits == 32;
      errnoNames = tables.errno;
      setOpenFlags(tables.openFlags);
    }
    if (this.summaryOnly) return subscribe(EventKinds.SYSCALLS | EventKinds.THREADS);
    return subscribe(EventKinds.SYSCALLS | EventKinds.SYSCALL_DATA | EventKinds.THREADS);
  }

  onThread(vcpu: u32, event: ThreadEvent): void {
    if (event == ThreadEvent.Start && vcpu != 0) this.prefix = true;
  }

  onEvents(batch: EventBatch): void {
    const n = batch.sysNumber.length;
    const data = new CallData(batch);
    for (let i = 0; i < n; i++) {
      const number = batch.sysNumber.at(i);
      const returned = batch.sysReturned.at(i);
      const ret = batch.sysRet.at(i);
      // Errors are the kernel's range, -4095..-1: a 32-bit target's mmap2 above 2 GiB returns a
      // sign-extended address, a success (libsyscall counts every negative value).
      this.count(number, returned && ret < 0 && ret > -4096);
      if (this.summaryOnly) continue;
      const name = this.name(number);
      let line = this.prefix ? "[vcpu " + batch.vcpu.toString() + "] " + name + "(" : name + "(";
      let shown = argCount(name);
      data.load(i, name == "getrandom");
      const dirFds = takesDirFd(name);
      const flagsArg = openFlagsArg(name);
      // open's mode means something only when it creates: strace shows it then, in octal.
      const mode = flagsArg >= 0 && createsFile(batch.sysArgs.at(i * 6 + flagsArg)) ? flagsArg + 1 : -1;
      if (flagsArg >= 0 && mode < 0) shown = flagsArg + 1;
      for (let a = 0; a < shown; a++) {
        if (a > 0) line += ", ";
        // strace shows a 32-bit register as 32 bits: 0xb7f00000, not 0xffffffffb7f00000.
        const raw = batch.sysArgs.at(i * 6 + a);
        const v = this.narrow ? <u64>(<u32>raw) : raw;
        const text = data.shown[a];
        const fd = dirFds ? dirFd(v) : null;
        if (text !== null) line += text.length > 0 ? text : "0x" + v.toString(16);
        else if (fd !== null) line += fd;
        else if (a == flagsArg) line += openFlags(v);
        else if (a == mode) line += "0" + (<u32>v).toString(8);
        else line += formatArg(v);
      }
      line += ") = " + (returned ? formatRet(this.narrow && (ret >= 0 || ret <= -4096) ? <i64>(<u32>ret) : ret) : "?");
      this.report.line(line);
    }
  }

  finish(summary: RunSummary): void {
    const r = this.report;
    if (!this.summaryOnly) r.line("");
    r.line("  calls  errors  number  syscall");
    // Sorted by calls, most first, as strace -c.
    const rows: Row[] = [];
    for (let i = 0; i < DIRECT; i++) {
      if (this.calls[i] > 0) rows.push(new Row(this.base + i, this.calls[i], this.errors[i]));
    }
    const others = this.other.keys();
    for (let i = 0; i < others.length; i++) {
      const c = this.other.get(others[i]);
      rows.push(new Row(others[i], c.calls, c.errors));
    }
    rows.sort((a: Row, b: Row): i32 => {
      if (a.calls != b.calls) return a.calls > b.calls ? -1 : 1;
      return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    });
    let calls: u64 = 0, errors: u64 = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      calls += row.calls;
      errors += row.errors;
      r.line(pad(row.calls.toString(), 7) + " " + pad(row.errors.toString(), 7) + " " + pad(row.number.toString(), 7) + "  " + this.name(row.number));
    }
    r.line(pad(calls.toString(), 7) + " " + pad(errors.toString(), 7) + " " + pad("", 7) + "  total");
    r.close();
    log.info(calls.toString() + " system calls, " + errors.toString() + " failed: syscalls.txt");
  }

  merge(runs: ReportSet[]): void {
    const header = "  calls  errors  number  syscall";
    const numbers: i64[] = [];
    const names = new Map<i64, string>();
    const totals = new Map<i64, Counts>();
    for (let i = 0; i < runs.length; i++) {
      const report = runs[i].get("syscalls.txt");
      if (report === null) continue; // a run stopped before its exit
      const lines = report.text().split("\n");
      let at = lines.lastIndexOf(header);
      if (at < 0) {
        fail("syscalls.txt of run " + runs[i].run + " has no count table");
        return;
      }
      for (let j = at + 1; j < lines.length; j++) {
        const f = lines[j].split(" ").filter((w: string): bool => w.length > 0);
        if (f.length < 4) continue; // the total line has three fields
        const number = I64.parseInt(f[2]);
        if (!totals.has(number)) {
          totals.set(number, new Counts());
          names.set(number, f[3]);
          numbers.push(number);
        }
        const c = totals.get(number);
        c.calls += U64.parseInt(f[0]);
        c.errors += U64.parseInt(f[1]);
      }
    }
    const rows: Row[] = [];
    for (let i = 0; i < numbers.length; i++) {
      const c = totals.get(numbers[i]);
      rows.push(new Row(numbers[i], c.calls, c.errors));
    }
    rows.sort((a: Row, b: Row): i32 => {
      if (a.calls != b.calls) return a.calls > b.calls ? -1 : 1;
      return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    });
    let out = header + "\n";
    let calls: u64 = 0, errors: u64 = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      calls += row.calls;
      errors += row.errors;
      out += pad(row.calls.toString(), 7) + " " + pad(row.errors.toString(), 7) + " " + pad(row.number.toString(), 7) + "  " + names.get(row.number) + "\n";
    }
    out += pad(calls.toString(), 7) + " " + pad(errors.toString(), 7) + " " + pad("", 7) + "  total\n";
    const error = writeReport("syscalls.txt", out);
    if (error !== null) fail(error);
  }

  private name(number: i64): string {
    const t = this.tables;
    if (t !== null) {
      const known = nameIn(t.names, number - t.base);
      if (known.length > 0) return known;
      const other = nameIn(t.names2, number - t.base2);
      if (other.length > 0) return other;
    }
    return "syscall_" + number.toString();
  }

  private count(number: i64, error: bool): void {
    const slot = number - this.base;
    if (slot >= 0 && slot < DIRECT) {
      unchecked((this.calls[<i32>slot] += 1));
      if (error) unchecked((this.errors[<i32>slot] += 1));
      return;
    }
    if (!this.other.has(number)) this.other.set(number, new Counts());
    const c = this.other.get(number);
    c.calls += 1;
    if (error) c.errors += 1;
  }
}

/** names[index], or "" outside the table. */
function nameIn(names: string[], index: i64): string {
  return index >= 0 && index < names.length ? unchecked(names[<i32>index]) : "";
}

function formatArg(v: u64): string {
  if (v < DECIMAL_BELOW) return v.toString();
  // Small negative numbers read better signed: AT_FDCWD (-100) and fd -1 arrive as 32-bit ints,
  // zero-extended or sign-extended.
  if (<i64>v < 0 && <i64>v > -4096) return (<i64>v).toString();
  if (v <= 0xffffffff && <i32>v < 0 && <i32>v > -4096) return (<i32>v).toString();
  return "0x" + v.toString(16);
}

/** Signed decimal; -1 and the errno name for the kernel's error range, as strace shows. */
function formatRet(ret: i64): string {
  if (ret < 0 && ret > -4096) {
    const e = <i32>-ret;
    const name = e < errnoNames.length && errnoNames[e].length > 0 ? errnoNames[e] : "E" + e.toString();
    return "-1 " + name;
  }
  return ret.toString();
}

function pad(s: string, width: i32): string {
  return s.length >= width ? s : " ".repeat(width - s.length) + s;
}

register(new Syscalls());
