// {{name}}: a Cannonball script in AssemblyScript. Build: `cannonball build . -o {{name}}.wasm`;
// run: `qemu-x86_64 -plugin libcannonball.so,script={{name}}.wasm,out=reports PROGRAM`.
// The SDK's API: node_modules/@cannonball/sdk/README.md.

import {
  Args,
  ArgumentSpec,
  EventBatch,
  EventKinds,
  RunInfo,
  RunSummary,
  Script,
  Subscription,
  fail,
  register,
  subscribe,
  writeReport,
} from "@cannonball/sdk";

class Main extends Script {
  private syscalls: u64 = 0;
  private verbose: bool = false;

  arguments(): ArgumentSpec[] {
    return [ArgumentSpec.boolean("verbose", "also list the instructions of every vCPU")];
  }

  init(info: RunInfo, args: Args): Subscription {
    this.verbose = args.flag("verbose");
    args.finish();
    return subscribe(EventKinds.SYSCALLS);
  }

  onEvents(batch: EventBatch): void {
    this.syscalls += <u64>batch.sysNumber.length;
  }

  finish(summary: RunSummary): void {
    let text = "instructions " + summary.totalInstructions().toString() + "\n";
    text += "syscalls " + this.syscalls.toString() + "\n";
    if (this.verbose) {
      for (let i = 0; i < summary.instructions.length; i++) {
        const v = summary.instructions[i];
        text += "vcpu " + v.vcpu.toString() + " " + v.instructions.toString() + "\n";
      }
    }
    const error = writeReport("{{name}}.txt", text);
    if (error !== null) fail(error);
  }
}

register(new Main());
