// One generator for every table of system call facts, from the kernel headers of this machine
// (Debian's linux-libc-dev and linux-libc-dev-<arch>-cross; unistd.mjs says which header of
// each target and how it is preprocessed):
//   host-plugin/src/capture/syscall_table.rs         which argument holds a path or buffer (capture-table.mjs)
//   example-scripts/syscalls/assembly/tables.ts      names, errno names, open flags (example-tables.mjs)
//   host-plugin/src/services/syscall_names_table.rs  the host's names, from the same data (host-names.mjs)
// `node tools/syscalls/gen.mjs` writes them; `--check` only compares the checked-in files with
// what it would write (tests/tests/foreign_syscalls.rs).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { captureTable } from "./capture-table.mjs";
import { exampleTables } from "./example-tables.mjs";
import { hostNames } from "./host-names.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const example = exampleTables();
const outputs = [captureTable(), example, hostNames(example)];
const check = process.argv.includes("--check");
let stale = 0;
for (const { path, text } of outputs) {
  if (check) {
    if (readFileSync(root + path, "utf8") !== text) {
      console.error(`${path} is stale: run node tools/syscalls/gen.mjs`);
      stale++;
    }
  } else {
    writeFileSync(root + path, text);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
