// Building large text reports without quadratic string concatenation: bytes accumulate in a
// buffer that goes to the host in chunks (write-report for the first, append-report after),
// so a trace never has to fit in the script's memory.

import { appendReportRaw } from "./host";
import { fail } from "./script";

export class ReportWriter {
  private buf: usize;
  private len: usize = 0;
  private cap: usize;
  private started: bool = false;

  /** A report `name` in the out directory, sent to the host every `chunk` bytes. */
  constructor(public readonly name: string, private chunk: usize = 1 << 20) {
    this.cap = chunk + 256;
    this.buf = heap.alloc(this.cap);
  }

  /** Appends `s` as UTF-8. */
  write(s: string): ReportWriter {
    const n = s.length;
    this.reserve(<usize>n * 3);
    let p = this.buf + this.len;
    // ASCII fast path; anything else goes through the UTF-8 encoder.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      store<u8>(p++, <u8>c);
    }
    if (i < n) {
      const rest = s.substring(i);
      p += String.UTF8.encodeUnsafe(changetype<usize>(rest), rest.length, p);
    }
    this.len = p - this.buf;
    if (this.len >= this.chunk) this.flush();
    return this;
  }

  /** Appends `s` and a newline. */
  line(s: string): ReportWriter {
    this.write(s);
    return this.write("\n");
  }

  /** Appends raw bytes. */
  bytes(data: Uint8Array): ReportWriter {
    this.reserve(<usize>data.byteLength);
    memory.copy(this.buf + this.len, data.dataStart, data.byteLength);
    this.len += data.byteLength;
    if (this.len >= this.chunk) this.flush();
    return this;
  }

  /** Bytes written so far, flushed or not. */
  get pending(): usize {
    return this.len;
  }

  /** Sends what is buffered. The first flush creates or replaces the file. */
  flush(): void {
    if (this.len == 0 && this.started) return;
    const error = appendReportRaw(this.name, this.buf, this.len, !this.started);
    if (error !== null) fail("cannot write " + this.name + ": " + error);
    this.started = true;
    this.len = 0;
  }

  /** Flushes and frees the buffer; the file exists afterwards even if nothing was written. */
  close(): void {
    this.flush();
    heap.free(this.buf);
    this.buf = 0;
    this.cap = 0;
  }

  private reserve(extra: usize): void {
    if (this.len + extra <= this.cap) return;
    this.cap = max(this.cap * 2, this.len + extra);
    this.buf = heap.realloc(this.buf, this.cap);
  }
}

/** `n` as 0x-hexadecimal. */
export function hex(n: u64): string {
  return "0x" + n.toString(16);
}
