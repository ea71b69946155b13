// asc transform: gives the compiled module the export names of the `script` world.
//
// AssemblyScript exports a function under its identifier, which cannot contain `-`, `:` or
// `/`; the world wants `on-blocks`, `on-events`, `on-thread`. After compilation this renames
// them and removes every other export (wit-component rejects exports the world does not
// define), keeping the memory and `cabi_realloc`.
import { Transform } from "assemblyscript/transform";

const RENAMES = {
  cabi_realloc: "cabi_realloc",
  describe: "describe",
  init: "init",
  on_blocks: "on-blocks",
  on_events: "on-events",
  on_thread: "on-thread",
  finish: "finish",
};

// The optional merge step: `cannonball build` names its export (with the WIT version) when
// the script defines `merge`; otherwise the SDK's `merge` export is dropped.
const MERGE_EXPORT = process.env.CANNONBALL_MERGE_EXPORT;

export default class CannonballExports extends Transform {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const exports = [];
    for (let i = 0, n = module.getNumExports(); i < n; i++) {
      exports.push(binaryen.getExportInfo(module.getExportByIndex(i)));
    }
    const found = new Set();
    for (const { kind, name, value } of exports) {
      if (kind === binaryen.ExternalMemory && name === "memory") continue;
      module.removeExport(name);
      if (kind === binaryen.ExternalFunction && name === "merge" && MERGE_EXPORT) {
        module.addFunctionExport(value, MERGE_EXPORT);
      } else if (kind === binaryen.ExternalFunction && Object.hasOwn(RENAMES, name)) {
        module.addFunctionExport(value, RENAMES[name]);
        found.add(name);
      }
    }
    const missing = Object.keys(RENAMES).filter((n) => !found.has(n));
    if (missing.length) {
      throw new Error(`cannonball: the SDK's exports are missing (${missing.join(", ")}): is exports.ts an entry?`);
    }
  }
}
