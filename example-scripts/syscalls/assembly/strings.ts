// Strings and buffers of system call arguments, printed as `strace -s 32` prints them.

import { EventBatch, SyscallData, sysdata } from "@cannonball/sdk";

/** Characters of a string shown at most, as strace -s 32; paths and buffers arrive capped. */
export const STRSIZE: i32 = 32;

/**
 * The data arguments of one call: for each argument 0-5 its text, or null. The batch's
 * blobs are walked once, in order (they are sorted by call).
 */
export class CallData {
  private cursor: SyscallData;
  private pending: bool;
  readonly shown: Array<string | null> = new Array<string | null>(6);

  constructor(batch: EventBatch) {
    this.cursor = new SyscallData(batch);
    this.pending = this.cursor.next();
  }

  /** Fills `shown` for call `call` ("" for an unreadable pointer) (calls must be asked for in ascending order). */
  load(call: i32, hexOnly: bool): void {
    for (let a = 0; a < 6; a++) this.shown[a] = null;
    const c = this.cursor;
    while (this.pending && c.call < call) this.pending = c.next();
    let array = "";
    let arrayArg = -1;
    while (this.pending && c.call == call) {
      const info = c.info;
      const arg = c.arg;
      if ((info & sysdata.ELEMENT) != 0) {
        if (arrayArg != arg) {
          array = "[";
          arrayArg = arg;
        } else {
          array += ", ";
        }
        if ((info & sysdata.UNREADABLE) != 0) array += "...";
        else if ((info & sysdata.TRUNCATED) != 0 && c.length == 0) array += "...";
        else array += quote(c, STRSIZE, false);
        this.shown[arg] = array + "]";
      } else if ((info & sysdata.UNREADABLE) == 0) {
        this.shown[arg] = quote(c, c.length, hexOnly);
      } else {
        // strace shows a pointer it cannot read as an address: the caller prints it.
        this.shown[arg] = "";
      }
      this.pending = c.next();
    }
  }
}

/** The blob under `c` quoted: at most `limit` bytes, `...` after the quote when cut. */
function quote(c: SyscallData, limit: i32, hexOnly: bool): string {
  const n = c.length < limit ? c.length : limit;
  const parts = new Array<string>();
  parts.push('"');
  for (let i = 0; i < n; i++) {
    const b = c.byte(i);
    if (hexOnly) {
      parts.push("\\x" + hex2(b));
      continue;
    }
    const next: i32 = i + 1 < n ? <i32>c.byte(i + 1) : -1;
    parts.push(escape(b, next));
  }
  parts.push('"');
  if (n < c.length || (c.info & sysdata.TRUNCATED) != 0) parts.push("...");
  return parts.join("");
}

function hex2(b: u8): string {
  const digits = "0123456789abcdef";
  return digits.charAt(b >> 4) + digits.charAt(b & 15);
}

/** strace's escaping: C escapes for \t \n \v \f \r, octal for other unprintable bytes
 * (three digits when a digit follows, so that the reader cannot merge them). */
function escape(b: u8, next: i32): string {
  if (b == 0x22) return '\\"';
  if (b == 0x5c) return "\\\\";
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  if (b == 9) return "\\t";
  if (b == 10) return "\\n";
  if (b == 11) return "\\v";
  if (b == 12) return "\\f";
  if (b == 13) return "\\r";
  const digitFollows = next >= 0x30 && next <= 0x39;
  let s = "\\";
  if (digitFollows || b >> 6 != 0) s += String.fromCharCode(0x30 + (b >> 6));
  if (digitFollows || b >> 3 != 0) s += String.fromCharCode(0x30 + ((b >> 3) & 7));
  return s + String.fromCharCode(0x30 + (b & 7));
}
