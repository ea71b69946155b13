// System call numbers by name for every QEMU target Cannonball supports, read from the kernel
// headers of this machine (Debian packages linux-libc-dev and linux-libc-dev-<arch>-cross, which
// `cargo xtask test` installs). Shared by the generators of the host's data table
// (capture-table.mjs) and the syscalls example's names (example-tables.mjs), both run by gen.mjs.
//
// Every architecture goes the same way: its own uapi asm/unistd.h (or the file that header
// includes for the ABI we emulate) is run through the C preprocessor with only the
// predefined macros its compiler would set for that ABI (`-undef` drops the host's), and the
// `#define __NR_name value` lines that result are resolved to numbers. So the header's own
// switches apply exactly as they do in the kernel:
// - aarch64, riscv64: asm/unistd.h sets their __ARCH_WANT_* switches (riscv64:
//   NEW_STAT, SET_GET_RLIMIT, SYS_CLONE3, MEMFD_SECRET; no RENAMEAT, no TIME32) and includes
//   the generic table asm-generic/unistd.h, whose 32/64-bit aliases (__NR3264_*) resolve with
//   __BITS_PER_LONG = 64; riscv64 adds riscv_flush_icache = __NR_arch_specific_syscall + 15.
// - arm: EABI (__ARM_EABI__), numbers from 0 (asm/unistd-eabi.h), plus the ARM private calls
//   `__ARM_NR_*` at 0x0f0000 + n (breakpoint, cacheflush, usr26, usr32, set_tls, get_tls),
//   named without the prefix as strace names them.
// - mips, mipsel: o32 (_MIPS_SIM = _MIPS_SIM_ABI32), numbers from __NR_Linux = 4000.
// - ppc64le: asm/unistd_64.h (asm/unistd.h picks it with __powerpc64__).
// - i386, x86_64: asm/unistd_32.h, asm/unistd_64.h list the numbers directly.
//
// Two names for one number: the name defined as another name (arm's sync_file_range2 =
// arm_sync_file_range) yields to the one it points at, as the kernel's syscall.tbl names it.
import { execFileSync } from "node:child_process";

/** What each target's numbers are read from (include root, header, preprocessor defines), its
 *  pointer width (`bits`: 32-bit targets pass 64-bit arguments in two registers) and byte
 *  order (`bigEndian`; argv is an array of guest pointers). */
export const ARCHES = [
  // The host's headers are split: asm/ under the multiarch directory, asm-generic/ above it.
  { arch: "x86_64", include: "/usr/include/x86_64-linux-gnu", header: "asm/unistd_64.h", bits: 64, defines: [], also: ["/usr/include"] },
  { arch: "i386", include: "/usr/i686-linux-gnu/include", header: "asm/unistd_32.h", bits: 32, defines: [] },
  { arch: "aarch64", include: "/usr/aarch64-linux-gnu/include", header: "asm/unistd.h", bits: 64, defines: ["__aarch64__"] },
  { arch: "arm", include: "/usr/arm-linux-gnueabihf/include", header: "asm/unistd.h", bits: 32, defines: ["__ARM_EABI__"] },
  {
    arch: "riscv64",
    include: "/usr/riscv64-linux-gnu/include",
    header: "asm/unistd.h",
    bits: 64,
    defines: ["__LP64__", "__SIZEOF_POINTER__=8", "__riscv_xlen=64"],
  },
  { arch: "mips", include: "/usr/mips-linux-gnu/include", header: "asm/unistd.h", bits: 32, bigEndian: true, defines: ["_MIPS_SIM=1"] },
  { arch: "mipsel", include: "/usr/mipsel-linux-gnu/include", header: "asm/unistd.h", bits: 32, defines: ["_MIPS_SIM=1"] },
  { arch: "ppc64le", include: "/usr/powerpc64le-linux-gnu/include", header: "asm/unistd.h", bits: 64, defines: ["__powerpc64__"] },
];

/** How one architecture's numbers were read, for the generated files' headers. */
export function describe(a) {
  const d = a.defines.length ? ` with ${a.defines.map((x) => `-D${x}`).join(" ")}` : "";
  return `${a.arch}: ${a.include}/${a.header}${d}`;
}

/** The `#define` lines of `header` (default: the arch's) under the arch's include root,
 *  preprocessed as for the target. */
export function preprocess(a, header = a.header) {
  const includes = [a.include, ...(a.also ?? [])].map((i) => `-I${i}`);
  return execFileSync(
    "cpp",
    ["-dM", "-P", "-nostdinc", "-undef", ...includes, ...a.defines.map((d) => `-D${d}`), `${a.include}/${header}`],
    { encoding: "utf8" },
  );
}

/** Names after `__NR_` that are not system calls (counts, bases, masks). */
const NOT_CALLS = new Set(["syscalls", "arch_specific_syscall"]);

/** `#define __NR_x value` lines → Map number → name, following aliases like __NR3264_*. */
function parseDefines(text) {
  const raw = new Map();
  for (const line of text.split("\n")) {
    const m = line.match(/^#define\s+(__(?:ARM_)?NR\w+)\s+(.+?)\s*$/);
    if (m) raw.set(m[1], m[2].replace(/[()]/g, "").trim());
  }
  const resolve = (v, depth = 0) => {
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) return Number(v);
    if (depth < 8 && raw.has(v)) return resolve(raw.get(v), depth + 1);
    const sum = v.match(/^(\w+)\s*\+\s*(0x[0-9a-fA-F]+|\d+)$/);
    if (sum) {
      const base = resolve(sum[1], depth + 1);
      return base === undefined ? undefined : base + Number(sum[2]);
    }
    return undefined;
  };
  // Sorted by macro name so that the result never depends on cpp's output order.
  const candidates = new Map();
  for (const [macro, value] of [...raw].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    // System call names are lower case: __NR_Linux, __NR_SYSCALL_BASE, __ARM_NR_BASE are bases.
    const m = macro.match(/^__(?:ARM_)?NR_([a-z0-9_]+)$/);
    if (!m || NOT_CALLS.has(m[1])) continue;
    const n = resolve(value);
    if (n === undefined) continue;
    const alias = /^__(ARM_)?NR_[a-z0-9_]+$/.test(value);
    if (!candidates.has(n)) candidates.set(n, []);
    candidates.get(n).push({ name: m[1], alias });
  }
  const out = new Map();
  for (const [n, names] of candidates) {
    const primary = names.filter((c) => !c.alias);
    if (primary.length !== 1) throw new Error(`number ${n}: ${names.map((c) => c.name).join(", ")}`);
    out.set(n, primary[0].name);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** Map number → name for a QEMU target (one of ARCHES). */
export function numbers(arch) {
  const a = ARCHES.find((x) => x.arch === arch);
  if (!a) throw new Error(`no headers for ${arch}`);
  return parseDefines(preprocess(a));
}
