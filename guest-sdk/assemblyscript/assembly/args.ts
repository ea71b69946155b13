// Script arguments: declaring them (`ArgumentSpec`, for `describe`) and reading them in
// `init` (`Args`). The host has already checked values against the declarations and filled
// in defaults, so a declared argument with a default is always present.

import * as L from "./generated/layout";
import { fail } from "./script";

/** The type of an argument's value; the host checks values before the guest runs. */
export enum ArgumentType {
  Text = L.ArgumentType.TEXT,
  Integer = L.ArgumentType.INTEGER,
  Boolean = L.ArgumentType.BOOLEAN,
  Address = L.ArgumentType.ADDRESS,
}

/** One argument a script accepts: `ArgumentSpec.integer("top", "how many").default("10")`. */
export class ArgumentSpec {
  defaultValue: string | null = null;
  isRequired: bool = false;

  constructor(public key: string, public kind: ArgumentType, public help: string) {}

  static text(key: string, help: string): ArgumentSpec {
    return new ArgumentSpec(key, ArgumentType.Text, help);
  }
  static integer(key: string, help: string): ArgumentSpec {
    return new ArgumentSpec(key, ArgumentType.Integer, help);
  }
  /** A boolean defaults to "false", as in the Rust SDK. */
  static boolean(key: string, help: string): ArgumentSpec {
    return new ArgumentSpec(key, ArgumentType.Boolean, help).default("false");
  }
  static address(key: string, help: string): ArgumentSpec {
    return new ArgumentSpec(key, ArgumentType.Address, help);
  }
  /** The value used when the argument is absent. */
  default(value: string): ArgumentSpec {
    this.defaultValue = value;
    return this;
  }
  /** The host refuses to run without it. */
  required(): ArgumentSpec {
    this.isRequired = true;
    return this;
  }
}

/** One `key=value` argument of the plugin command line. */
export class Argument {
  constructor(public key: string, public value: string) {}
}

/** The arguments `init` receives. */
export class Args {
  constructor(private remaining: Argument[]) {}

  /** The raw value of `key`, or null if absent (C SDK: cb_arg). */
  get(key: string): string | null {
    for (let i = 0; i < this.remaining.length; i++) {
      if (unchecked(this.remaining[i]).key == key) return unchecked(this.remaining[i]).value;
    }
    return null;
  }

  /** Removes and returns the raw value of `key` (Rust SDK: take). */
  take(key: string): string | null {
    for (let i = 0; i < this.remaining.length; i++) {
      const a = unchecked(this.remaining[i]);
      if (a.key == key) {
        this.remaining.splice(i, 1);
        return a.value;
      }
    }
    return null;
  }

  /** Removes a `text` argument; `otherwise` when absent. */
  text(key: string, otherwise: string = ""): string {
    const v = this.take(key);
    return v === null ? otherwise : v;
  }

  /** Removes a `boolean` argument (the host normalises it to true/false). */
  flag(key: string): bool {
    const v = this.take(key);
    return v !== null && v == "true";
  }

  /** Removes an `integer` or `address` argument (decimal or 0x-hexadecimal). */
  number(key: string, otherwise: u64 = 0): u64 {
    const v = this.take(key);
    if (v === null) return otherwise;
    return parseNumber(v);
  }

  /** Removes a signed `integer` argument. */
  integer(key: string, otherwise: i64 = 0): i64 {
    const v = this.take(key);
    if (v === null) return otherwise;
    if (v.startsWith("-")) return -(<i64>parseNumber(v.substring(1)));
    return <i64>parseNumber(v);
  }

  /** Fails `init` (see `fail`) if any argument was not taken; returns false then. */
  finish(): bool {
    if (this.remaining.length == 0) return true;
    fail("unknown argument '" + this.remaining[0].key + "' (help=true lists the options)");
    return false;
  }
}

/** Decimal or 0x-hexadecimal; the host has validated the text already. */
function parseNumber(text: string): u64 {
  let radix: u64 = 10;
  let i = 0;
  if (text.startsWith("0x") || text.startsWith("0X")) {
    radix = 16;
    i = 2;
  }
  let n: u64 = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let d: u64 = radix;
    if (c >= 48 && c <= 57) d = <u64>(c - 48);
    else if (c >= 97 && c <= 102) d = <u64>(c - 87);
    else if (c >= 65 && c <= 70) d = <u64>(c - 55);
    if (d >= radix) break;
    n = n * radix + d;
  }
  return n;
}
