// The script's life cycle: one registered Script object lives from `init` to `finish`.

import { Args, ArgumentSpec } from "./args";
import { ReportSet } from "./merge";
import { ProbeHit } from "./probes";
import { Block, EventBatch, EventKinds, RunInfo, RunSummary, Subscription, ThreadEvent } from "./types";

/**
 * An analysis script: extend it, override what you need, and `register` one instance at the
 * top level of your assembly/index.ts. Only `init` and `finish` usually matter; the event
 * hooks are called for the kinds `init` subscribes to.
 */
export class Script {
  /** The arguments the script accepts; the host validates the plugin arguments against them. */
  arguments(): ArgumentSpec[] {
    return [];
  }

  /** Called before the guest runs. Returns what to capture; `fail(message)` stops QEMU. */
  init(info: RunInfo, args: Args): Subscription {
    return new Subscription(EventKinds.NONE);
  }

  /** Newly translated blocks, before any execution that refers to them. */
  onBlocks(blocks: Block[]): void {}

  /** A batch of one vCPU's events, in order. Its columns are valid during this call only. */
  onEvents(batch: EventBatch): void {}

  /** Probe hits of `vcpu` (asked for with `Probe.add` in `init`), in order; called right
   *  before `onEvents` for the same stretch of the vCPU's execution. New in 0.3.1. */
  onProbes(vcpu: u32, hits: ProbeHit[]): void {}

  /** A guest thread started or exited. */
  onThread(vcpu: u32, event: ThreadEvent): void {}

  /** Called once after the guest exited. Write reports here; `fail(message)` reports an error. */
  finish(summary: RunSummary): void {}

  /**
   * The optional merge step (WIT 0.2.2): fold the reports of several runs into one set,
   * written with `writeReport` / `appendReport` (they go to the merge's out directory);
   * `fail(message)` fails the merge. `cannonball build` exports it only when the project's
   * source defines a `merge(` method, so scripts without one keep no merge step. Called
   * outside QEMU: only `log` and the report writers work.
   */
  merge(runs: ReportSet[]): void {
    fail("this script has no merge step");
  }
}

let registered: Script | null = null;
let failure: string | null = null;

/** Name, version and description (from package.json: `cannonball build` sets them). */
export let scriptName = "script";
export let scriptVersion = "0.0.0";
export let scriptDescription = "";

/** Makes `script` the one that receives the host's calls. */
export function register(script: Script): void {
  registered = script;
}

/** Called by the entry file that `cannonball build` generates. */
export function setScriptInfo(name: string, version: string, description: string): void {
  scriptName = name;
  scriptVersion = version;
  scriptDescription = description;
}

/**
 * Makes the current `init` or `finish` fail with `message` once it returns (AssemblyScript
 * has no exceptions to catch). In `init` this stops QEMU with the message.
 */
export function fail(message: string): void {
  if (failure === null) failure = message;
}

/** The failure recorded since the last call, if any (and forgets it). */
export function takeFailure(): string | null {
  const f = failure;
  failure = null;
  return f;
}

export function theScript(): Script {
  const s = registered;
  if (s === null) {
    throw new Error("no script registered: call register(new MyScript()) in assembly/index.ts");
  }
  return s;
}
