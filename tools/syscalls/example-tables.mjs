// The syscalls example's tables, example-scripts/syscalls/assembly/tables.ts, from the kernel
// headers of this machine (Debian packages linux-libc-dev and linux-libc-dev-<arch>-cross): per
// QEMU target, the system call names by number, the errno names and the open() flags. The
// host's name table (host-names.mjs) is written from the same data. `node tools/syscalls/gen.mjs`.
//
// - Numbers: unistd.mjs, which the capture table shares (it says which header each target's
//   numbers come from and how it is preprocessed).
// - A target's names are stored from its lowest number (`base`: 4000 for mips o32) in one
//   array; numbers further than GAP past the previous one start a second range (ARM's private
//   calls at 0x0f0000 + n). Holes inside a range are "".
// - errno: each target's asm/errno.h, preprocessed as for the target. mips numbers differ from
//   asm-generic (ENOSYS is 89), ppc64le adds EDEADLOCK = 58; QEMU hands plugins the target's
//   own negative errno. Aliases (EWOULDBLOCK = EAGAIN) are not numbers and are skipped; two
//   numeric names for one value keep the one first in alphabetical order (there are none today).
// - open flags: the target's asm/fcntl.h (mips and ppc64le differ from the generic values),
//   named and ordered as strace's xlat/open_mode_flags.in prints them.
// Identical tables (mips and mipsel; errno and flags of most targets) are written once.
import { ARCHES, describe, numbers, preprocess } from "./unistd.mjs";

const GAP = 1024;
/** strace's order; composites (O_SYNC, O_TMPFILE) before their parts. */
const OPEN_FLAGS = [
  "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_SYNC", "__O_SYNC", "O_DSYNC",
  "O_DIRECT", "O_LARGEFILE", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH", "O_TMPFILE", "__O_TMPFILE",
  "O_DIRECTORY", "FASYNC",
];

/** `#define NAME expr` lines → Map name → value, for expressions of numbers, names and `|`. */
function evaluate(text, wanted) {
  const raw = new Map();
  for (const m of text.matchAll(/^#define[ \t]+(\w+)[ \t]+(.+?)[ \t]*$/gm)) raw.set(m[1], m[2]);
  const value = (name, depth = 0) => {
    const expr = raw.get(name);
    if (expr === undefined || depth > 8) return undefined;
    let acc = 0;
    for (const tok of expr.replace(/[()]/g, " ").split("|").map((t) => t.trim())) {
      let v;
      if (/^0x[0-9a-f]+$/i.test(tok)) v = parseInt(tok, 16);
      else if (/^0[0-7]*$/.test(tok)) v = parseInt(tok, 8);
      else if (/^[1-9]\d*$/.test(tok)) v = parseInt(tok, 10);
      else if (/^\w+$/.test(tok)) v = value(tok, depth + 1);
      if (v === undefined) return undefined;
      acc |= v;
    }
    return acc >>> 0;
  };
  const out = new Map();
  for (const name of [...raw.keys()].filter(wanted).sort()) {
    const v = value(name);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}

/** Map number → name as ranges { base, names } (holes ""). */
function ranges(map) {
  const out = [];
  for (const [n, name] of [...map].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (!last || n - (last.base + last.names.length) > GAP) out.push({ base: n, names: [name] });
    else {
      while (last.base + last.names.length < n) last.names.push("");
      last.names.push(name);
    }
  }
  return out;
}

function errnoNames(a) {
  // Only literal numbers: aliases (EWOULDBLOCK EAGAIN) resolve to another name.
  const text = preprocess(a, "asm/errno.h");
  const byNumber = new Map();
  for (const m of [...text.matchAll(/^#define[ \t]+(E[A-Z0-9]+)[ \t]+(\d+)[ \t]*$/gm)].sort((x, y) => (x[1] < y[1] ? -1 : 1))) {
    if (!byNumber.has(Number(m[2]))) byNumber.set(Number(m[2]), m[1]);
  }
  const max = Math.max(...byNumber.keys());
  return Array.from({ length: max + 1 }, (_, i) => byNumber.get(i) ?? "");
}

function openFlags(a) {
  const values = evaluate(preprocess(a, "asm/fcntl.h"), (n) => OPEN_FLAGS.includes(n));
  const missing = OPEN_FLAGS.filter((n) => !values.has(n) || values.get(n) === 0);
  if (missing.length) throw new Error(`${a.arch}: no value for ${missing.join(" ")}`);
  // FASYNC is O_ASYNC in open()'s terms, as the previous hand-written table printed it.
  return OPEN_FLAGS.map((n) => `${values.get(n).toString(16)} ${n === "FASYNC" ? "O_ASYNC" : n}`).join(" ");
}

/** The example's tables: { path, text }, and per target the names of its tables with every
 *  table's entries (`consts`), for the host's name table. */
export function exampleTables() {
  const emit = (name, names) => {
    const body = names.map((n) => JSON.stringify(n)).join(",");
    // Wrapped at about 100 columns to keep the file readable.
    const lines = body.length ? body.match(/.{1,96}(,|$)/g).map((l) => "  " + l) : [];
    return `const ${name}: string[] = [\n${lines.join("\n")}\n];\n`;
  };

  const consts = []; // { name, text, names } written once each
  const share = (name, text, names) => {
    const same = consts.find((c) => c.text === text);
    if (same) return same.name;
    consts.push({ name, text, names });
    return name;
  };
  const entries = [];
  const arches = []; // { arch, base, names, base2, names2, errno }: table names, for host-names.mjs
  for (const a of ARCHES) {
    const id = a.arch.toUpperCase();
    const rs = ranges(numbers(a.arch));
    if (rs.length > 2) throw new Error(`${a.arch}: ${rs.length} ranges of numbers`);
    const names = rs.map((r, i) => share(`${id}${i ? "_PRIVATE" : ""}`, emit("@", r.names), r.names));
    const errnos = errnoNames(a);
    const errno = share(`ERRNO_${id}`, emit("@", errnos), errnos);
    const flags = share(`OPEN_FLAGS_${id}`, `const @: string =\n  ${JSON.stringify(openFlags(a))};\n`);
    const second = rs[1] ? `${rs[1].base}, ${names[1]}` : "0, []";
    arches.push({ arch: a.arch, base: rs[0].base, names: names[0], base2: rs[1]?.base ?? 0, names2: names[1], errno });
    entries.push(`  new Arch("${a.arch}", ${a.bits}, ${rs[0].base}, ${names[0]}, ${second}, ${errno}, ${flags}),`);
  }

  const text = `// Generated by tools/syscalls/gen.mjs from the kernel headers below (asm/unistd.h or the file
// named, asm/errno.h and asm/fcntl.h of the same include root, each preprocessed as for its
// target). Do not edit: regenerate.
${ARCHES.map((a) => `//   ${describe(a)}`).join("\n")}

/** One target's tables. bits: its pointer width. names[i] is call base + i ("" = none); a
 *  second range holds calls far above the others (ARM's private calls). errno[e] names error e.
 *  openFlags: "hex NAME ...". */
export class Arch {
  constructor(
    public arch: string,
    public bits: i32,
    public base: i64,
    public names: string[],
    public base2: i64,
    public names2: string[],
    public errno: string[],
    public openFlags: string,
  ) {}
}

${consts.map((c) => c.text.replace("@", c.name)).join("\n")}
export const ARCHES: Arch[] = [
${entries.join("\n")}
];
`;
  return { path: "example-scripts/syscalls/assembly/tables.ts", text, arches, consts };
}
