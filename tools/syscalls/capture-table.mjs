// The capture table, host-plugin/src/capture/syscall_table.rs: for each QEMU target, execve/execveat's
// numbers and, for each system call that passes strings or buffers, which argument holds what.
// The kinds are written here once, by name (the kernel's SYSCALL_DEFINE signatures do not
// differ between architectures); the numbers come from the kernel headers (unistd.mjs).
// Written by `node tools/syscalls/gen.mjs` (after changing SPEC, regenerate).
//
// Calls that exist only on some architectures are listed by their own names:
// - 32-bit arches (i386, arm, mips): stat64, lstat64, fstatat64, statfs64, truncate64,
//   chown32/lchown32 (i386, arm), utimensat_time64, mq_timed*_time64; send/recv (arm, mips,
//   ppc64le); oldstat/oldlstat (i386, ppc64le), umount (i386, mips, ppc64le).
// - socketcall and ipc (i386, mips, ppc64le) multiplex many calls and pass their arguments in
//   an array in guest memory: no data is captured for them (glibc calls sendto, connect...
//   directly on kernels that have them, which every kernel QEMU emulates does).
// - One argument moves on 32-bit arches: fanotify_mark's 64-bit mask takes two registers
//   (an aligned pair on arm and mips o32 too), so its path is argument 5, not 4 (SPEC_32).
//   QEMU hands the plugin the arguments as the kernel sees them, stack arguments of mips o32
//   included, so every other position holds. QEMU sign-extends a 32-bit guest's registers to
//   64 bits (abi_long), so the host reads pointers of `bits: 32` arches zero-extended.
import { ARCHES, describe, numbers } from "./unistd.mjs";

// Tokens: sN  argument N is a path or other NUL-terminated string (read at entry);
//         vN  argument N is a NULL-terminated array of strings (execve's argv);
//         iN:L argument N is a buffer the call reads, argument L its length (at entry);
//         oN  argument N is a buffer the call fills, the return value its length (at return);
//         pN  like oN, but the data is a path (readlink, getcwd): captured in full.
const SPEC = {
  // paths
  open: "s0", creat: "s0", openat: "s1", openat2: "s1", open_tree: "s1",
  stat: "s0", lstat: "s0", newfstatat: "s1", statx: "s1", statfs: "s0",
  stat64: "s0", lstat64: "s0", fstatat64: "s1", statfs64: "s0", oldstat: "s0", oldlstat: "s0",
  access: "s0", faccessat: "s1", faccessat2: "s1",
  execve: "s0 v1", execveat: "s1 v2",
  chdir: "s0", chroot: "s0", mkdir: "s0", mkdirat: "s1", rmdir: "s0", unlink: "s0", unlinkat: "s1",
  rename: "s0 s1", renameat: "s1 s3", renameat2: "s1 s3", link: "s0 s1", linkat: "s1 s3",
  symlink: "s0 s1", symlinkat: "s0 s2", readlink: "s0 p1", readlinkat: "s1 p2",
  chmod: "s0", fchmodat: "s1", chown: "s0", lchown: "s0", chown32: "s0", lchown32: "s0", fchownat: "s1",
  truncate: "s0", truncate64: "s0", utime: "s0", utimes: "s0", futimesat: "s1", utimensat: "s1",
  utimensat_time64: "s1",
  mknod: "s0", mknodat: "s1", mount: "s0 s1 s2", umount: "s0", umount2: "s0", swapon: "s0", swapoff: "s0",
  acct: "s0", pivot_root: "s0 s1", uselib: "s0", name_to_handle_at: "s1", fanotify_mark: "s4",
  inotify_add_watch: "s1", memfd_create: "s0", mq_open: "s0", mq_unlink: "s0",
  delete_module: "s0", finit_module: "s1",
  getxattr: "s0 s1", lgetxattr: "s0 s1", fgetxattr: "s1", setxattr: "s0 s1", lsetxattr: "s0 s1",
  fsetxattr: "s1", listxattr: "s0", llistxattr: "s0", removexattr: "s0 s1", lremovexattr: "s0 s1",
  fremovexattr: "s1", getcwd: "p0",
  // data sent
  write: "i1:2", pwrite64: "i1:2", sendto: "i1:2", send: "i1:2", mq_timedsend: "i1:2",
  mq_timedsend_time64: "i1:2", sethostname: "i0:1", setdomainname: "i0:1",
  // data received
  read: "o1", pread64: "o1", recvfrom: "o1", recv: "o1", mq_timedreceive: "o1",
  mq_timedreceive_time64: "o1", getrandom: "o0",
};

/** Where 32-bit arches (`bits: 32` in unistd.mjs) differ from SPEC (see the top of this file). */
const SPEC_32 = { fanotify_mark: "s5" };

function parse(spec) {
  return spec.split(" ").map((tok) => {
    const m = tok.match(/^([svop])(\d)$|^i(\d):(\d)$/);
    if (!m) throw new Error(`bad token ${tok}`);
    if (m[3] !== undefined) return `InBuffer { arg: ${m[3]}, len: ${m[4]} }`;
    const kind = { s: "Path", v: "Argv", o: "OutBuffer", p: "OutPath" }[m[1]];
    return `${kind}(${m[2]})`;
  });
}

/** The data rows of one arch, as Rust source lines, and the SPEC names it has. */
function rows(a, byNumber) {
  const lines = [];
  const found = new Set();
  for (const [number, name] of byNumber) {
    if (!(name in SPEC)) continue;
    found.add(name);
    const spec = (a.bits === 32 && SPEC_32[name]) || SPEC[name];
    lines.push(`    (${number}, &[${parse(spec).join(", ")}]), // ${name}`);
  }
  return { text: lines.join("\n"), found };
}

/** The capture table: { path (from the repository root), text }. */
export function captureTable() {
  const constName = (arch) => arch.toUpperCase();
  const tables = []; // { name, text } of distinct row sets
  const entries = [];
  const found = new Set();
  for (const a of ARCHES) {
    const byNumber = numbers(a.arch);
    const number = (name) => {
      const hit = [...byNumber].find(([, n]) => n === name);
      if (!hit) throw new Error(`${a.arch} has no ${name}`);
      return hit[0];
    };
    const r = rows(a, byNumber);
    r.found.forEach((n) => found.add(n));
    // Identical tables (mips and mipsel) are written once.
    let table = tables.find((t) => t.text === r.text);
    if (!table) tables.push((table = { name: constName(a.arch), text: r.text }));
    entries.push(`    Arch { arch: "${a.arch}", bits: ${a.bits}, big_endian: ${!!a.bigEndian}, execve: [${number("execve")}, ${number("execveat")}], data: ${table.name} },`);
  }
  const unknown = Object.keys(SPEC).filter((n) => !found.has(n));
  if (unknown.length) throw new Error(`names on no architecture: ${unknown.join(" ")}`);

  const text = `// Generated by tools/syscalls/gen.mjs from the kernel headers below (each
// preprocessed as for its target). Do not edit: change SPEC in tools/syscalls/capture-table.mjs
// and regenerate.
${ARCHES.map((a) => `//   ${describe(a)}`).join("\n")}

use super::syscall_arch::Arg::{self, *};
use super::syscall_arch::Arch;

/// Every QEMU target with its numbers, in the generator's order.
pub const ARCHES: &[Arch] = &[
${entries.join("\n")}
];
${tables.map((t) => `\n/// (number, the arguments with data), ascending by number.\nconst ${t.name}: &[(i64, &[Arg])] = &[\n${t.text}\n];\n`).join("")}`;
  return { path: "host-plugin/src/capture/syscall_table.rs", text };
}
