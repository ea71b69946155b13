// The component model's canonical ABI for the `script` world, by hand: AssemblyScript has no
// binding generator. Strings are (ptr, len) UTF-8, lists (ptr, len); everything the host
// passes in was allocated through `cabi_realloc` and is freed here once the export returns.
// Every offset and size comes from generated/layout.ts (`cargo xtask gen-as`, from wit/).

import * as L from "./generated/layout";

/** Where an empty list points: the host may ask for 0 bytes, which must not reach the heap. */
const EMPTY: usize = memory.data(8, 8);

/** The canonical ABI's allocator: the host lowers arguments and results through it. */
export function cabiRealloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (newSize == 0) {
    if (old != 0 && old != EMPTY) heap.free(old);
    return EMPTY;
  }
  // TLSF blocks are 16-byte aligned, enough for every type of this world (at most 8: the
  // tests check the generated layout's alignments).
  if (old == 0 || old == EMPTY) return heap.alloc(newSize);
  return heap.realloc(old, newSize);
}

/** Frees host-allocated memory (no-op for empty lists). */
export function release(ptr: usize): void {
  if (ptr != 0 && ptr != EMPTY) heap.free(ptr);
}

/** Frees a (ptr, len) string or list the host handed over. */
export function releaseList(ptr: usize, len: usize): void {
  if (len != 0) release(ptr);
}

export function liftString(ptr: usize, len: usize): string {
  return len == 0 ? "" : String.UTF8.decodeUnsafe(ptr, len);
}

/** The pointer of the string or list stored at `at`. */
// @ts-ignore: decorator
@inline
export function listPtr(at: usize): usize {
  return <usize>load<u32>(at + L.List.PTR);
}

/** The length of the string or list stored at `at`. */
// @ts-ignore: decorator
@inline
export function listLen(at: usize): usize {
  return <usize>load<u32>(at + L.List.LEN);
}

/** A string stored at `at` as (ptr: u32, len: u32). */
export function loadString(at: usize): string {
  return liftString(listPtr(at), listLen(at));
}

/** Frees the string or list stored at `at`. */
export function releaseStringAt(at: usize): void {
  releaseList(listPtr(at), listLen(at));
}

export function liftBytes(ptr: usize, len: usize): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  return out;
}

// --- lowering: values the guest hands to the host --------------------------------------

/**
 * Memory the guest lowered into for an export's result. The host reads it after the export
 * returns (no `cabi_post_*`), so it is freed at the start of the next export call.
 */
let pending: usize[] = [];

export function releasePending(): void {
  for (let i = 0; i < pending.length; i++) heap.free(unchecked(pending[i]));
  pending.length = 0;
}

/** A raw block that lives until the next export call. */
export function allocPending(size: usize): usize {
  const p = heap.alloc(size == 0 ? 1 : size);
  pending.push(p);
  return p;
}

/** Stores `s` at `at` as (ptr, len) in memory that lives until the next export call. */
export function storeString(at: usize, s: string): void {
  const len = <usize>String.UTF8.byteLength(s);
  const p = allocPending(len);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p);
  storeList(at, p, len);
}

/** Stores a (ptr, len) string or list at `at`. */
export function storeList(at: usize, ptr: usize, len: usize): void {
  store<u32>(at + L.List.PTR, <u32>ptr);
  store<u32>(at + L.List.LEN, <u32>len);
}

/** The static area through which exports return results of more than one flat value. */
export const RET_AREA: usize = memory.data(L.EXPORT_RET_SIZE, L.EXPORT_RET_ALIGN);

/** The area imports write their results to (the guest passes its address). */
export const IMPORT_RET: usize = memory.data(L.IMPORT_RET_SIZE, L.IMPORT_RET_ALIGN);
