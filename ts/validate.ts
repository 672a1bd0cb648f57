// SPDX-License-Identifier: GPL-2.0-only
// Argument checks shared by the API.  Everything a caller passes is checked
// here before the addon sees it; the addon only re-checks buffer bounds.

import { describe, invalidType, invalidValue, outOfRange } from './errors.js';

export const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function fd(value: unknown, name = 'fd'): number {
  return integer(name, value, 0, INT32_MAX);
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * A file position: a safe non-negative integer, or a bigint up to 2^63 - 1
 * (as node:fs; the kernel judges what is beyond the file system's limit).
 */
export function position(name: string, value: unknown): number | bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > INT64_MAX) throw outOfRange(name, `>= 0 && <= ${INT64_MAX}`, value);
    return value;
  }
  return integer(name, value, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * A length for (f)truncate: a safe integer or a 64-bit bigint.  A negative
 * length means 0, as in node:fs (which clamps it before the call).
 */
export function truncateLength(name: string, value: unknown): number | bigint {
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) throw outOfRange(name, 'a 64-bit integer', value);
    return value < 0n ? 0 : value;
  }
  const n = integer(name, value, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  return n < 0 ? 0 : n;
}

/** A raw syscall argument: an integer that fits in 64 bits (signed or not). */
export function word(name: string, value: unknown): number | bigint {
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > UINT64_MAX) throw outOfRange(name, 'a 64-bit integer', value);
    return value > 2n ** 63n - 1n ? value - 2n ** 64n : value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw outOfRange(name, 'a safe integer (use a bigint for larger values)', value);
    return value;
  }
  throw invalidType(name, 'an integer (number or bigint) or a Buffer/TypedArray/DataView', value);
}

/** True if the memory behind @view was transferred or otherwise detached. */
function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0) return false;
  try {
    new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

export function buffer(name: string, value: unknown): ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw invalidType(name, 'an instance of Buffer, TypedArray, or DataView', value);
  if (isDetached(value)) throw invalidValue(name, 'is a detached buffer (its memory was transferred)', value);
  return value;
}

/** Checks [offset, offset + length) lies inside @view; returns [offset, length]. */
export function bufferRange(
  view: ArrayBufferView,
  offsetValue: unknown,
  lengthValue: unknown,
): [number, number] {
  const size = view.byteLength;
  const offset = offsetValue === undefined || offsetValue === null ? 0 : integer('offset', offsetValue, 0, size);
  const length =
    lengthValue === undefined || lengthValue === null
      ? size - offset
      : integer('length', lengthValue, 0, size - offset);
  return [offset, length];
}

const encoder = new TextEncoder();

// Paths are encoded into one of two per-thread scratch buffers (two for the
// calls that take two paths), so a syscall on a path allocates nothing.  The
// kernel reads up to the NUL; the rest of the buffer is never looked at.
const PATH_MAX = 4096;
const pathScratch = [new Uint8Array(PATH_MAX + 1), new Uint8Array(PATH_MAX + 1)] as const;

/**
 * A path as a NUL-terminated byte string for the kernel.  The result may be
 * scratch memory (@slot 0 or 1), valid until the next path() of that slot.
 */
export function path(name: string, value: unknown, slot: 0 | 1 = 0): Uint8Array {
  if (typeof value === 'string') {
    const n = value.length;
    if (n < PATH_MAX) {
      const out = pathScratch[slot];
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c === 0 || c >= 0x80) break;
        out[i] = c;
      }
      if (i === n) {
        out[n] = 0;
        return out;
      }
      if (!value.includes('\0')) {
        const { read, written } = encoder.encodeInto(value, out.subarray(0, PATH_MAX));
        if (read === n && written < PATH_MAX) {
          out[written] = 0;
          return out;
        }
      }
    }
    return terminated(name, encoder.encode(value), value);
  }
  if (value instanceof Uint8Array) {
    if (isDetached(value)) throw invalidValue(name, 'is a detached buffer', value);
    return terminated(name, value, value);
  }
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw invalidValue(name, 'must be a file: URL', value.href);
    return path(name, decodeURIComponent(value.pathname), slot);
  }
  throw invalidType(name, 'of type string or an instance of Buffer or URL', value);
}

/**
 * @bytes plus a NUL, refusing NUL bytes inside.  An empty path is passed on:
 * the kernel answers ENOENT, as node:fs does.
 */
function terminated(name: string, bytes: Uint8Array, shown: unknown): Uint8Array {
  if (bytes.indexOf(0) !== -1) throw invalidValue(name, 'must be a string or Uint8Array without null bytes', shown);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A path for messages. */
export function pathText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString();
  if (value instanceof URL) return decodeURIComponent(value.pathname);
  if (typeof value === 'number') return String(value); // a file descriptor
  // Not a path at all (its check comes later): anything that can be shown.
  return describe(value);
}

export function mode(name: string, value: unknown, fallback?: number): number {
  if (value === undefined || value === null) {
    if (fallback === undefined) throw invalidType(name, 'of type number or an octal string', value);
    return fallback;
  }
  if (typeof value === 'string') {
    if (!/^[0-7]+$/.test(value)) throw invalidValue(name, 'must be a 32-bit unsigned integer or an octal string', value);
    value = parseInt(value, 8);
  }
  // Any 32-bit value, as node:fs: the kernel keeps the permission bits.
  return integer(name, value, 0, 0xffffffff);
}

export function options<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw invalidType(name, 'of type object', value);
  return value as Partial<T>;
}

/** An optional boolean option: false when absent, a TypeError when not a boolean. */
export function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

export function string(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  return value;
}

/**
 * A string that goes to C as it is: a NUL inside would cut it there (a path
 * to another file, a mount point elsewhere), so it is refused, as node:fs
 * refuses one in a path.
 */
export function cString(name: string, value: unknown): string {
  const text = string(name, value);
  if (text.includes('\0')) throw invalidValue(name, 'must be a string without null bytes', text);
  return text;
}
