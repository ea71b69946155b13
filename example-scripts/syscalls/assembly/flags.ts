// Symbolic arguments strace shows: AT_FDCWD, and open's flags (their values from each target's
// asm/fcntl.h, generated in tables.ts: mips and ppc64le differ from asm-generic, and the four
// of O_DIRECT, O_LARGEFILE, O_NOFOLLOW, O_DIRECTORY differ between x86 and arm).

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

/** The target's open flags in strace's order (generated in tables.ts: "hex NAME ..."). */
let table: Flag[] = [];
/** O_CREAT and __O_TMPFILE: with either, open takes a mode. */
let creates: u32 = 0;

export function setOpenFlags(list: string): void {
  table = [];
  creates = 0;
  const items = list.split(" ");
  for (let i = 0; i + 1 < items.length; i += 2) {
    const flag = new Flag(<u32>parseInt(items[i], 16), items[i + 1]);
    table.push(flag);
    if (flag.name == "O_CREAT" || flag.name == "__O_TMPFILE") creates |= flag.value;
  }
}

/** O_CREAT or O_TMPFILE: the call takes a mode. */
export function createsFile(flags: u64): bool {
  return (<u32>flags & creates) != 0;
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
