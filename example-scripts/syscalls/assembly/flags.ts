// Symbolic arguments strace shows: AT_FDCWD, and open's flags (their values from the kernel's
// asm-generic/fcntl.h; four differ on x86_64 and arm64).

const AT_FDCWD: i32 = -100;

/** Calls whose directory-fd arguments may be AT_FDCWD: the *at family and statx. */
export function takesDirFd(name: string): bool {
  return name.endsWith("at") || name.endsWith("at2") || name == "statx";
}

/** "AT_FDCWD" for the value a *at call receives for it, else null. */
export function dirFd(v: u64): string | null {
  return <i32>v == AT_FDCWD ? "AT_FDCWD" : null;
}

/** Which argument of `name` holds open flags, or -1. */
export function openFlagsArg(name: string): i32 {
  if (name == "open") return 1;
  if (name == "openat") return 2;
  return -1;
}

class Flag {
  constructor(public value: u32, public name: string) {}
}

function flags(list: string, arch: string): Flag[] {
  const out = new Array<Flag>();
  const items = list.split(" ");
  for (let i = 0; i < items.length; i += 2) out.push(new Flag(<u32>parseInt(items[i], 8), items[i + 1]));
  return out;
}

const COMMON = "100 O_CREAT 200 O_EXCL 400 O_NOCTTY 1000 O_TRUNC 2000 O_APPEND 4000 O_NONBLOCK " +
  "10000 O_DSYNC 20000 O_ASYNC 1000000 O_NOATIME 2000000 O_CLOEXEC 4000000 __O_SYNC 10000000 O_PATH " +
  "20000000 __O_TMPFILE";
const X86_64 = "40000 O_DIRECT 100000 O_LARGEFILE 200000 O_DIRECTORY 400000 O_NOFOLLOW";
const ARM64 = "40000 O_DIRECTORY 100000 O_NOFOLLOW 200000 O_DIRECT 400000 O_LARGEFILE";

let table: Flag[] = [];

export function setArch(arch: string): void {
  table = flags(COMMON + " " + (arch == "aarch64" ? ARM64 : X86_64), arch);
}

/** O_CREAT or O_TMPFILE: the call takes a mode. */
export function createsFile(flags: u64): bool {
  return (<u32>flags & 0x40) != 0 || (<u32>flags & 0x400000) != 0;
}

/** open flags as strace prints them: O_RDONLY|O_CLOEXEC; unknown bits in octal. */
export function openFlags(v: u64): string {
  let rest = <u32>v;
  const mode = rest & 3;
  let s = mode == 0 ? "O_RDONLY" : mode == 1 ? "O_WRONLY" : mode == 2 ? "O_RDWR" : "O_ACCMODE";
  rest &= ~3;
  for (let i = 0; i < table.length; i++) {
    const f = unchecked(table[i]);
    if ((rest & f.value) == f.value) {
      s += "|" + f.name;
      rest &= ~f.value;
    }
  }
  if (rest != 0) s += "|0" + rest.toString(8);
  return s;
}
