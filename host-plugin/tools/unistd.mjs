// System call numbers by name for the architectures Cannonball names, read from the kernel
// headers of this machine (Debian package linux-libc-dev). Shared by the generators of the
// host's data table (gen-syscall-data.mjs) and the syscalls example's names.
//
// x86_64: asm/unistd_64.h lists `#define __NR_name N` directly.
// aarch64: the generic table asm-generic/unistd.h, preprocessed with what the kernel's
// arch/arm64/include/uapi/asm/unistd.h defines before including it (64-bit longs and the
// __ARCH_WANT_* switches), so the conditional and 32/64-bit aliased entries resolve as on arm64.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export const X86_64_HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
export const GENERIC_HEADER = "/usr/include/asm-generic/unistd.h";
const ARM64_WANTS = [
  "__ARCH_WANT_RENAMEAT",
  "__ARCH_WANT_NEW_STAT",
  "__ARCH_WANT_SET_GET_RLIMIT",
  "__ARCH_WANT_TIME32_SYSCALLS",
  "__ARCH_WANT_SYS_CLONE3",
  "__ARCH_WANT_MEMFD_SECRET",
];

/** `#define __NR_x value` lines → Map number → name, following aliases like __NR3264_*. */
function parseDefines(text) {
  const raw = new Map();
  for (const line of text.split("\n")) {
    const m = line.match(/^#define\s+(__NR\w+)\s+(.+?)\s*$/);
    if (m) raw.set(m[1], m[2].replace(/[()]/g, "").trim());
  }
  const resolve = (v, depth = 0) => {
    if (/^\d+$/.test(v)) return Number(v);
    if (depth < 8 && raw.has(v)) return resolve(raw.get(v), depth + 1);
    const sum = v.match(/^(\w+)\s*\+\s*(\d+)$/);
    if (sum) {
      const base = resolve(sum[1], depth + 1);
      return base === undefined ? undefined : base + Number(sum[2]);
    }
    return undefined;
  };
  const out = new Map();
  for (const [name, value] of raw) {
    if (!name.startsWith("__NR_") || name === "__NR_syscalls" || name === "__NR_arch_specific_syscall") continue;
    const n = resolve(value);
    if (n !== undefined) out.set(n, name.slice("__NR_".length));
  }
  return out;
}

/** Map number → name for x86_64. */
export function x86_64Numbers() {
  return parseDefines(readFileSync(X86_64_HEADER, "utf8"));
}

/** Map number → name for aarch64. */
export function aarch64Numbers() {
  const text = execFileSync(
    "cpp",
    ["-dM", "-P", "-D__BITS_PER_LONG=64", ...ARM64_WANTS.map((w) => `-D${w}`), GENERIC_HEADER],
    { encoding: "utf8" },
  );
  return parseDefines(text);
}
