// SPDX-License-Identifier: GPL-2.0-only
// k.sys: synchronous system calls, named and shaped like node:fs where node:fs
// has the call.  Each method checks its arguments, makes one syscall (two or
// three for readdir/mkdir -p) and throws KernelError on failure.

import { native, syscallExact, type NativeArg } from './binding.js';
import { invalidType, invalidValue, notImplemented, outOfRange } from './errors.js';
import { atFlags, openFlags, syscallNumbers } from './generated/constants.js';
import type { Kernel } from './kernel.js';
import { BigIntStats, DT_DIR, DT_UNKNOWN, Dirent, Stats, type StatFs } from './stats.js';
import * as check from './validate.js';

const nr = syscallNumbers;
const AT_FDCWD = atFlags.AT_FDCWD;
const AT_SYMLINK_NOFOLLOW = atFlags.AT_SYMLINK_NOFOLLOW;
const AT_REMOVEDIR = atFlags.AT_REMOVEDIR;
const O = openFlags;
/** struct statx, and the fields asked of it (STATX_BASIC_STATS | STATX_BTIME). */
const STATX_SIZE = 256;
const STATX_ALL = 0xfff;
/** The empty C string: statx(fd, "", AT_EMPTY_PATH) is fstat. */
const EMPTY_PATH = new Uint8Array(1);

export interface StatSyncOptions {
  /** BigIntStats (from statx: nanoseconds, birth time). */
  bigint?: boolean;
  /** false: undefined instead of an ENOENT or ENOTDIR error. */
  throwIfNoEntry?: boolean;
}

/** Where the addon writes struct stat fields (one array per thread). */
const statValues = new Float64Array(16);
native.setStatArray(statValues);

const syscallNames = new Map<number, string>(Object.entries(syscallNumbers).map(([name, n]) => [n, name]));

/**
 * Syscalls syscallSync refuses (the kernel refuses them too in confined
 * calls, with EPERM): they would end or replace the calling thread's task or
 * the whole kernel (use k.halt() to stop it), or leave the kernel a pointer
 * into a buffer that it writes after the call, when the buffer may be gone.
 */
const REFUSED_SYSCALLS = new Set<number>([
  nr.set_tid_address,
  nr.set_robust_list,
  nr.rseq,
  nr.exit,
  nr.exit_group,
  nr.execve,
  nr.execveat,
  nr.clone,
  nr.clone3,
  nr.reboot,
  nr.kexec_load,
  nr.kexec_file_load,
  // Its chain runs on after the call and writes its atoms, slots, buffers
  // and ring then: the buffers of this call may be gone (use k.asyncExec).
  nr.async_exec,
]);

/** node:fs flag strings. */
const FLAG_STRINGS: Record<string, number> = {
  r: O.O_RDONLY,
  rs: O.O_RDONLY | O.O_SYNC,
  sr: O.O_RDONLY | O.O_SYNC,
  'r+': O.O_RDWR,
  'rs+': O.O_RDWR | O.O_SYNC,
  'sr+': O.O_RDWR | O.O_SYNC,
  w: O.O_TRUNC | O.O_CREAT | O.O_WRONLY,
  wx: O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  xw: O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  'w+': O.O_TRUNC | O.O_CREAT | O.O_RDWR,
  'wx+': O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  'xw+': O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  a: O.O_APPEND | O.O_CREAT | O.O_WRONLY,
  ax: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  xa: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  as: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC,
  sa: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC,
  'a+': O.O_APPEND | O.O_CREAT | O.O_RDWR,
  'ax+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  'xa+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  'as+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC,
  'sa+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC,
};

export function openFlagsOf(value: unknown): number {
  if (value === undefined || value === null) return O.O_RDONLY;
  if (typeof value === 'string') {
    const flags = FLAG_STRINGS[value];
    if (flags === undefined) throw invalidValue('flags', `is invalid (one of ${Object.keys(FLAG_STRINGS).join(', ')})`, value);
    return flags;
  }
  return check.integer('flags', value, 0, check.INT32_MAX);
}

export const WHENCE: Record<string, number> = { set: 0, cur: 1, end: 2, data: 3, hole: 4 };

/**
 * Socket constants.  They are not in the kernel's uapi headers (they live in
 * include/linux/socket.h and net.h) but are fixed ABI: AF_UNIX is 1,
 * SOCK_CLOEXEC and SOCK_NONBLOCK are O_CLOEXEC and O_NONBLOCK.
 */
export const socketConstants = Object.freeze({
  AF_UNIX: 1,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOCK_CLOEXEC: O.O_CLOEXEC,
  SOCK_NONBLOCK: O.O_NONBLOCK,
});

const SOCKET_TYPES: Record<string, number> = {
  stream: socketConstants.SOCK_STREAM,
  dgram: socketConstants.SOCK_DGRAM,
  seqpacket: socketConstants.SOCK_SEQPACKET,
};

/** A time for utimesSync: seconds (number), a numeric string, or a Date. */
export function timespec(name: string, value: unknown, out: BigInt64Array, index: number): void {
  let seconds: number;
  if (value instanceof Date) seconds = value.getTime() / 1000;
  else if (typeof value === 'number' && Number.isFinite(value)) seconds = value;
  else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) seconds = Number(value);
  else throw invalidType(name, 'a finite number of seconds, a numeric string or a Date', value);
  // An invalid Date (NaN): as node:fs, a type error.
  if (!Number.isFinite(seconds)) throw invalidType(name, 'a finite number of seconds, a numeric string or a Date', value);
  const whole = Math.floor(seconds);
  out[index] = BigInt(whole);
  out[index + 1] = BigInt(Math.round((seconds - whole) * 1e9));
}

export interface ReadOptions {
  offset?: number;
  length?: number;
  position?: number | bigint | null;
}

export interface ReaddirOptions {
  /** Of the names: 'utf8' (the default), 'buffer', or any Buffer encoding (names only, not recursive). */
  encoding?: BufferEncoding | 'buffer' | null;
  withFileTypes?: boolean;
  /** Every subdirectory too; symbolic links are listed, not followed. */
  recursive?: boolean;
}

export interface MkdirOptions {
  mode?: number | string;
  recursive?: boolean;
}

/** lseek's whence: a name or SEEK_SET..SEEK_HOLE (0..4). */
export type Whence = 'set' | 'cur' | 'end' | 'data' | 'hole' | number;

const decoder = new TextDecoder();

/** An encoding option of readFileSync/writeFileSync: undefined or null for none. */
function fileEncoding(value: unknown): BufferEncoding | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !Buffer.isEncoding(value)) throw invalidValue('encoding', 'is not a known encoding', value);
  return value;
}

export class Sys {
  readonly #k: Kernel;

  /** @internal */
  constructor(kernel: Kernel) {
    this.#k = kernel;
  }

  #fail(ret: number, syscall: string, path?: unknown, dest?: unknown): never {
    const error = this.#k.error(
      -ret,
      syscall,
      path === undefined ? undefined : check.pathText(path),
      dest === undefined ? undefined : check.pathText(dest),
    );
    // The stack starts at the k.sys method, not in the library's helpers.
    Error.captureStackTrace(error, this.#fail);
    throw error;
  }

  /** openSync(path, flags = 'r', mode = 0o666): a file descriptor. */
  openSync(path: string | Uint8Array | URL, flags?: string | number, mode?: number | string): number {
    return this.openatSync(AT_FDCWD, path, flags, mode);
  }

  /** openatSync(dirfd, path, flags = 'r', mode = 0o666): relative to directory @dirfd. */
  openatSync(dirfd: number, path: string | Uint8Array | URL, flags?: string | number, mode?: number | string): number {
    if (dirfd !== AT_FDCWD) check.fd(dirfd, 'dirfd');
    const p = check.path('path', path);
    const f = openFlagsOf(flags);
    const m = check.mode('mode', mode, 0o666);
    const ret = native.syscall(nr.openat, dirfd, p, f | O.O_CLOEXEC, m);
    if (ret < 0) this.#fail(ret, 'open', path);
    return ret;
  }

  closeSync(fd: number): void {
    const ret = native.syscall(nr.close, check.fd(fd));
    if (ret < 0) this.#fail(ret, 'close');
  }

  /**
   * readSync(fd, buffer, offset?, length?, position?) or
   * readSync(fd, buffer, { offset, length, position }): bytes read.  A
   * position of null, undefined or -1 reads at the file position.
   */
  readSync(
    fd: number,
    buffer: ArrayBufferView,
    offsetOrOptions?: number | ReadOptions | null,
    length?: number | null,
    position?: number | bigint | null,
  ): number {
    return this.#io('read', fd, buffer, offsetOrOptions, length, position, false);
  }

  /** preadSync(fd, buffer, offset, length, position): read at @position (required). */
  preadSync(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): number {
    return this.#io('read', fd, buffer, offset, length, position, true);
  }

  /**
   * writeSync(fd, buffer, offset?, length?, position?) or
   * writeSync(fd, string, position?, encoding = 'utf8'): bytes written.
   */
  writeSync(
    fd: number,
    data: ArrayBufferView | string,
    offsetOrPosition?: number | ReadOptions | bigint | null,
    lengthOrEncoding?: number | BufferEncoding | null,
    position?: number | bigint | null,
  ): number {
    if (typeof data === 'string') {
      const encoding = (lengthOrEncoding ?? 'utf8') as BufferEncoding;
      if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding))
        throw invalidValue('encoding', 'is not a known encoding', lengthOrEncoding);
      const bytes = Buffer.from(data, encoding);
      return this.#io('write', fd, bytes, 0, bytes.length, offsetOrPosition as number | bigint | null, false);
    }
    return this.#io('write', fd, data, offsetOrPosition as number | ReadOptions, lengthOrEncoding as number, position, false);
  }

  /** pwriteSync(fd, buffer, offset, length, position): write at @position (required). */
  pwriteSync(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): number {
    return this.#io('write', fd, buffer, offset, length, position, true);
  }

  #io(
    kind: 'read' | 'write',
    fdValue: unknown,
    bufferValue: unknown,
    offsetOrOptions: unknown,
    lengthValue: unknown,
    positionValue: unknown,
    positional: boolean,
  ): number {
    const fd = check.fd(fdValue);
    const buffer = check.buffer('buffer', bufferValue);
    if (typeof offsetOrOptions === 'object' && offsetOrOptions !== null) {
      const o = offsetOrOptions as ReadOptions;
      offsetOrOptions = o.offset;
      lengthValue = o.length;
      positionValue = o.position;
    }
    const [offset, length] = check.bufferRange(buffer, offsetOrOptions, lengthValue);
    let position: number | bigint = -1;
    if (positional || !(positionValue === undefined || positionValue === null || positionValue === -1 || positionValue === -1n))
      position = check.position('position', positionValue);
    const syscall = position < 0 ? (kind === 'read' ? nr.read : nr.write) : kind === 'read' ? nr.pread64 : nr.pwrite64;
    const ret = native.io(syscall, fd, buffer, offset, length, position);
    if (ret < 0) this.#fail(ret, position < 0 ? kind : kind === 'read' ? 'pread' : 'pwrite');
    return ret;
  }

  /**
   * lseekSync(fd, offset, whence = 'set'): the new file position, a number.
   * A position above 2^53 - 1 is never rounded: with a bigint offset it
   * comes back as a bigint; with a number offset it is a RangeError (the
   * seek has happened: seek by 0n from 'cur' to read the exact position).
   */
  lseekSync(fd: number, offset: number, whence?: Whence): number;
  lseekSync(fd: number, offset: number | bigint, whence?: Whence): number | bigint;
  lseekSync(fd: number, offset: number | bigint, whence: Whence = 'set'): number | bigint {
    check.fd(fd);
    const off = typeof offset === 'bigint' ? check.word('offset', offset) : check.integer('offset', offset, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (typeof off === 'bigint' && off !== offset) throw outOfRange('offset', `>= ${-(2n ** 63n)} && <= ${2n ** 63n - 1n}`, offset);
    const w = typeof whence === 'string' ? WHENCE[whence] : check.integer('whence', whence, 0, 4);
    if (w === undefined) throw invalidValue('whence', "must be 'set', 'cur', 'end', 'data', 'hole' or 0..4", whence);
    const ret = syscallExact(nr.lseek, fd, off, w);
    if (ret < 0) this.#fail(Number(ret), 'lseek');
    if (typeof ret === 'bigint' && typeof offset !== 'bigint')
      throw outOfRange('result', 'a safe integer (pass the offset as a bigint to get a larger position as a bigint)', ret);
    return ret;
  }

  /** fstatSync(fd, { bigint }): Stats, or BigIntStats (from statx) with bigint. */
  fstatSync(fd: number, options?: { bigint?: false }): Stats;
  fstatSync(fd: number, options: { bigint: true }): BigIntStats;
  fstatSync(fd: number, options?: { bigint?: boolean }): Stats | BigIntStats;
  fstatSync(fd: number, options?: { bigint?: boolean }): Stats | BigIntStats {
    // No options object is made when none is given: fstatSync is a hot path.
    const bigint = options !== undefined && check.flag('options.bigint', check.options<{ bigint?: boolean }>('options', options).bigint);
    const f = check.fd(fd);
    if (bigint) {
      const buffer = new Uint8Array(STATX_SIZE);
      const ret = native.syscall(nr.statx, f, EMPTY_PATH, atFlags.AT_EMPTY_PATH, STATX_ALL, buffer);
      if (ret < 0) this.#fail(ret, 'fstat');
      return new BigIntStats(buffer);
    }
    const ret = native.stat(f, undefined, 0);
    if (ret < 0) this.#fail(ret, 'fstat');
    return new Stats(statValues);
  }

  /**
   * statSync(path, { bigint, throwIfNoEntry }), as node:fs: BigIntStats
   * (from statx) with bigint; undefined instead of ENOENT or ENOTDIR when
   * throwIfNoEntry is false.
   */
  statSync(path: string | Uint8Array | URL, options?: StatSyncOptions & { bigint?: false; throwIfNoEntry?: true }): Stats;
  statSync(path: string | Uint8Array | URL, options: StatSyncOptions & { bigint: true; throwIfNoEntry?: true }): BigIntStats;
  statSync(path: string | Uint8Array | URL, options: StatSyncOptions & { bigint?: false; throwIfNoEntry: false }): Stats | undefined;
  statSync(path: string | Uint8Array | URL, options?: StatSyncOptions): Stats | BigIntStats | undefined;
  statSync(path: string | Uint8Array | URL, options?: StatSyncOptions): Stats | BigIntStats | undefined {
    if (options === undefined) {
      // The plain call stays as short as it was: it is a hot path.
      const ret = native.stat(AT_FDCWD, check.path('path', path), 0);
      if (ret < 0) this.#fail(ret, 'stat', path);
      return new Stats(statValues);
    }
    const r = this.#statWith(path, options, 0);
    return typeof r === 'number' ? this.#fail(r, 'stat', path) : r;
  }

  /** lstatSync(path, { bigint, throwIfNoEntry }): statSync of the link itself. */
  lstatSync(path: string | Uint8Array | URL, options?: StatSyncOptions & { bigint?: false; throwIfNoEntry?: true }): Stats;
  lstatSync(path: string | Uint8Array | URL, options: StatSyncOptions & { bigint: true; throwIfNoEntry?: true }): BigIntStats;
  lstatSync(path: string | Uint8Array | URL, options: StatSyncOptions & { bigint?: false; throwIfNoEntry: false }): Stats | undefined;
  lstatSync(path: string | Uint8Array | URL, options?: StatSyncOptions): Stats | BigIntStats | undefined;
  lstatSync(path: string | Uint8Array | URL, options?: StatSyncOptions): Stats | BigIntStats | undefined {
    if (options === undefined) {
      const ret = native.stat(AT_FDCWD, check.path('path', path), AT_SYMLINK_NOFOLLOW);
      if (ret < 0) this.#fail(ret, 'lstat', path);
      return new Stats(statValues);
    }
    const r = this.#statWith(path, options, AT_SYMLINK_NOFOLLOW);
    return typeof r === 'number' ? this.#fail(r, 'lstat', path) : r;
  }

  /**
   * stat or lstat (@flags) of @path with options: the Stats, undefined, or
   * the negative errno to throw (the caller throws, so the stack starts there).
   */
  #statWith(path: string | Uint8Array | URL, options: StatSyncOptions, flags: number): Stats | BigIntStats | undefined | number {
    const p = check.path('path', path);
    const o = check.options<StatSyncOptions>('options', options);
    const bigint = check.flag('options.bigint', o.bigint);
    const throwIfNoEntry = o.throwIfNoEntry === undefined || check.flag('options.throwIfNoEntry', o.throwIfNoEntry);
    const buffer = bigint ? new Uint8Array(STATX_SIZE) : undefined;
    const ret = buffer ? native.syscall(nr.statx, AT_FDCWD, p, flags, STATX_ALL, buffer) : native.stat(AT_FDCWD, p, flags);
    if (ret < 0) return !throwIfNoEntry && (ret === -2 /* ENOENT */ || ret === -20 /* ENOTDIR */) ? undefined : ret;
    return buffer ? new BigIntStats(buffer) : new Stats(statValues);
  }

  ftruncateSync(fd: number, length: number | bigint = 0): void {
    const ret = native.syscall(nr.ftruncate, check.fd(fd), check.truncateLength('length', length));
    if (ret < 0) this.#fail(ret, 'ftruncate');
  }

  truncateSync(path: string | Uint8Array | URL, length: number | bigint = 0): void {
    const ret = native.syscall(nr.truncate, check.path('path', path), check.truncateLength('length', length));
    if (ret < 0) this.#fail(ret, 'truncate', path);
  }

  fsyncSync(fd: number): void {
    const ret = native.syscall(nr.fsync, check.fd(fd));
    if (ret < 0) this.#fail(ret, 'fsync');
  }

  fdatasyncSync(fd: number): void {
    const ret = native.syscall(nr.fdatasync, check.fd(fd));
    if (ret < 0) this.#fail(ret, 'fdatasync');
  }

  /**
   * mkdirSync(path, mode = 0o777) or mkdirSync(path, { mode, recursive }).
   * With recursive, returns the first directory created (undefined if none).
   */
  mkdirSync(path: string, options?: number | string | MkdirOptions): string | undefined {
    let mode: number;
    let recursive = false;
    if (typeof options === 'object' && options !== null) {
      mode = check.mode('options.mode', options.mode, 0o777);
      if (options.recursive !== undefined && typeof options.recursive !== 'boolean')
        throw invalidType('options.recursive', 'of type boolean', options.recursive);
      recursive = options.recursive ?? false;
    } else {
      mode = check.mode('mode', options, 0o777);
    }
    // An empty path goes to the kernel, which answers ENOENT (as node:fs).
    if (!recursive || path === '') {
      const ret = native.syscall(nr.mkdirat, AT_FDCWD, check.path('path', path), mode);
      if (ret < 0) this.#fail(ret, 'mkdir', path);
      return undefined;
    }
    check.string('path', path);
    check.path('path', path);
    let first: string | undefined;
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (prefix === '' || prefix === '.' || parts[i - 1] === '') continue;
      const ret = native.syscall(nr.mkdirat, AT_FDCWD, check.path('path', prefix), mode);
      if (ret === 0) {
        first ??= prefix;
      } else if (ret !== -17 /* EEXIST */ || !this.statSync(prefix).isDirectory()) {
        this.#fail(ret === -17 ? -20 /* ENOTDIR */ : ret, 'mkdir', path);
      }
    }
    return first;
  }

  /** rmdirSync(path): removes an empty directory; node's deprecated { recursive } is refused (use k.fs.rm). */
  rmdirSync(path: string | Uint8Array | URL, options?: { recursive?: boolean }): void {
    if (check.flag('options.recursive', check.options<{ recursive?: boolean }>('options', options).recursive))
      throw notImplemented('rmdirSync with recursive (node deprecates it; k.fs.rm(path, { recursive: true }) does it)', 'k.sys');
    const ret = native.syscall(nr.unlinkat, AT_FDCWD, check.path('path', path), AT_REMOVEDIR);
    if (ret < 0) this.#fail(ret, 'rmdir', path);
  }

  unlinkSync(path: string | Uint8Array | URL): void {
    const ret = native.syscall(nr.unlinkat, AT_FDCWD, check.path('path', path), 0);
    if (ret < 0) this.#fail(ret, 'unlink', path);
  }

  renameSync(oldPath: string | Uint8Array | URL, newPath: string | Uint8Array | URL): void {
    const from = check.path('oldPath', oldPath);
    const to = check.path('newPath', newPath, 1);
    const ret = native.syscall(nr.renameat2, AT_FDCWD, from, AT_FDCWD, to, 0);
    if (ret < 0) this.#fail(ret, 'rename', oldPath, newPath);
  }

  /** The names in directory @path (without '.' and '..'), or Dirents with { withFileTypes: true }. */
  readdirSync(path: string, options: ReaddirOptions & { encoding: 'buffer'; withFileTypes?: false } | 'buffer'): Buffer[];
  readdirSync(path: string, options?: (ReaddirOptions & { withFileTypes?: false }) | BufferEncoding | null): string[];
  readdirSync(path: string, options: ReaddirOptions & { withFileTypes: true }): Dirent[];
  readdirSync(path: string, options?: ReaddirOptions | BufferEncoding | 'buffer' | null): string[] | Buffer[] | Dirent[] {
    const o = typeof options === 'string' ? { encoding: options } : check.options<ReaddirOptions>('options', options);
    const withFileTypes = check.flag('options.withFileTypes', o.withFileTypes);
    const recursive = check.flag('options.recursive', o.recursive);
    const encoding = o.encoding ?? 'utf8';
    if (encoding !== 'buffer' && (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)))
      throw invalidValue('options.encoding', 'is not a known encoding', o.encoding);
    if (encoding !== 'utf8' && encoding !== 'utf-8') {
      if (withFileTypes || recursive) throw notImplemented(`readdirSync with ${withFileTypes ? 'withFileTypes' : 'recursive'} and encoding '${encoding}'`, 'k.sys');
      const raw = this.#listDirectory(check.path('path', path), path, true);
      return encoding === 'buffer' ? raw.map(([name]) => Buffer.from(name)) : raw.map(([name]) => Buffer.from(name).toString(encoding));
    }
    const p = check.path('path', path);
    const root = check.pathText(path);
    const names: string[] = [];
    const entries: Dirent[] = [];
    // With recursive, directories wait here, relative to @path: breadth
    // first, as node:fs; a directory entry that is a symbolic link is
    // listed, never entered (a link to an ancestor would loop).
    const queue = [''];
    for (let i = 0; i < queue.length; i++) {
      const rel = queue[i]!;
      const parent = rel === '' ? root : `${root}/${rel}`;
      for (const [name, type] of this.#listDirectory(rel === '' ? p : check.path('path', parent), path)) {
        const relName = rel === '' ? name : `${rel}/${name}`;
        if (withFileTypes) entries.push(new Dirent(name, parent, type));
        else names.push(relName);
        if (recursive && (type === DT_DIR || (type === DT_UNKNOWN && this.lstatSync(`${parent}/${name}`).isDirectory())))
          queue.push(relName);
      }
      if (!recursive) break;
    }
    return withFileTypes ? entries : names;
  }

  /** The entries of one directory, in the kernel's order: [name, d_type]; names as bytes with @raw. */
  #listDirectory(p: Uint8Array, shown: string, raw: true): [Uint8Array, number][];
  #listDirectory(p: Uint8Array, shown: string, raw?: false): [string, number][];
  #listDirectory(p: Uint8Array, shown: string, raw = false): [string | Uint8Array, number][] {
    const fd = native.syscall(nr.openat, AT_FDCWD, p, O.O_RDONLY | O.O_DIRECTORY | O.O_CLOEXEC, 0);
    if (fd < 0) this.#fail(fd, 'scandir', shown);
    const list: [string | Uint8Array, number][] = [];
    const buffer = Buffer.allocUnsafe(32 * 1024);
    try {
      for (;;) {
        const n = native.syscall(nr.getdents64, fd, buffer, buffer.length);
        if (n < 0) this.#fail(n, 'scandir', shown);
        if (n === 0) break;
        // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name.
        for (let at = 0; at < n; ) {
          const reclen = buffer.readUInt16LE(at + 16);
          const type = buffer[at + 18]!;
          const end = buffer.indexOf(0, at + 19);
          const bytes = buffer.subarray(at + 19, end);
          at += reclen;
          const dot = bytes.length <= 2 && bytes[0] === 0x2e && (bytes.length === 1 || bytes[1] === 0x2e);
          if (!dot) list.push([raw ? Uint8Array.prototype.slice.call(bytes) : decoder.decode(bytes), type]);
        }
      }
    } finally {
      native.syscall(nr.close, fd);
    }
    return list;
  }

  /** symlinkSync(target, path): creates @path pointing at @target. */
  symlinkSync(target: string | Uint8Array | URL, path: string | Uint8Array | URL): void {
    const t = check.path('target', target);
    const p = check.path('path', path, 1);
    const ret = native.syscall(nr.symlinkat, t, AT_FDCWD, p);
    if (ret < 0) this.#fail(ret, 'symlink', target, path);
  }

  /** readlinkSync(path, encoding | { encoding }): the link's target, a string, or a Buffer with 'buffer'. */
  readlinkSync(path: string | Uint8Array | URL, options?: { encoding?: BufferEncoding | null }): string;
  readlinkSync(path: string | Uint8Array | URL, options: 'buffer' | { encoding: 'buffer' }): Buffer;
  readlinkSync(path: string | Uint8Array | URL, options?: BufferEncoding | 'buffer' | { encoding?: BufferEncoding | 'buffer' | null } | null): string | Buffer {
    const o = typeof options === 'string' ? { encoding: options } : check.options<{ encoding?: BufferEncoding | 'buffer' | null }>('options', options);
    const encoding = o.encoding ?? 'utf8';
    if (encoding !== 'buffer' && (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)))
      throw invalidValue('options.encoding', 'is not a known encoding', o.encoding);
    const buffer = Buffer.allocUnsafe(4096);
    const ret = native.syscall(nr.readlinkat, AT_FDCWD, check.path('path', path), buffer, buffer.length);
    if (ret < 0) this.#fail(ret, 'readlink', path);
    if (encoding === 'buffer') return Buffer.from(buffer.subarray(0, ret));
    return encoding === 'utf8' || encoding === 'utf-8' ? decoder.decode(buffer.subarray(0, ret)) : buffer.toString(encoding, 0, ret);
  }

  chmodSync(path: string | Uint8Array | URL, mode: number | string): void {
    const p = check.path('path', path);
    const m = check.mode('mode', mode);
    const ret = native.syscall(nr.fchmodat, AT_FDCWD, p, m);
    if (ret < 0) this.#fail(ret, 'chmod', path);
  }

  fchmodSync(fd: number, mode: number | string): void {
    const ret = native.syscall(nr.fchmod, check.fd(fd), check.mode('mode', mode));
    if (ret < 0) this.#fail(ret, 'fchmod');
  }

  /** utimesSync(path, atime, mtime): times in seconds (number), numeric strings or Dates. */
  utimesSync(path: string | Uint8Array | URL, atime: number | string | Date, mtime: number | string | Date): void {
    const p = check.path('path', path);
    const times = new BigInt64Array(4);
    timespec('atime', atime, times, 0);
    timespec('mtime', mtime, times, 2);
    const ret = native.syscall(nr.utimensat, AT_FDCWD, p, times, 0);
    if (ret < 0) this.#fail(ret, 'utime', path);
  }

  /** statfsSync(path): the file system's figures; node's { bigint: true } is refused, not ignored. */
  statfsSync(path: string | Uint8Array | URL, options?: { bigint?: boolean }): StatFs {
    if (check.flag('options.bigint', check.options<{ bigint?: boolean }>('options', options).bigint))
      throw notImplemented('statfsSync with bigint', 'k.sys');
    // struct statfs (64-bit): 7 words, fsid (2 x s32), namelen, frsize, flags, spare[4].
    const words = new BigInt64Array(15);
    const ret = native.syscall(nr.statfs, check.path('path', path), words);
    if (ret < 0) this.#fail(ret, 'statfs', path);
    const w = (i: number): number => Number(words[i]);
    return {
      type: w(0),
      bsize: w(1),
      blocks: w(2),
      bfree: w(3),
      bavail: w(4),
      files: w(5),
      ffree: w(6),
      namelen: w(8),
      frsize: w(9),
      flags: w(10),
    };
  }

  /**
   * readFileSync(path, encoding | { encoding, flag = 'r' }?): the whole file,
   * as a Buffer, or a string when an encoding is given (as node:fs).
   */
  readFileSync(path: string | Uint8Array | URL, options?: { encoding?: null; flag?: string } | null): Buffer;
  readFileSync(path: string | Uint8Array | URL, options: BufferEncoding | { encoding: BufferEncoding; flag?: string }): string;
  readFileSync(path: string | Uint8Array | URL, options?: BufferEncoding | { encoding?: BufferEncoding | null; flag?: string } | null): Buffer | string {
    const o = typeof options === 'string' ? { encoding: options } : check.options<{ encoding?: BufferEncoding | null; flag?: string }>('options', options);
    const encoding = fileEncoding(o.encoding);
    const fd = this.openSync(path, o.flag ?? 'r');
    try {
      // The size is a hint (files in /proc say 0): read until end of file.
      let buffer = Buffer.allocUnsafe(Math.max(this.fstatSync(fd).size, 4096));
      let length = 0;
      for (;;) {
        if (length === buffer.length) {
          const bigger = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(bigger, 0, 0, length);
          buffer = bigger;
        }
        const n = this.readSync(fd, buffer, length, buffer.length - length, null);
        if (n === 0) break;
        length += n;
      }
      const data = buffer.subarray(0, length);
      return encoding ? data.toString(encoding) : data;
    } finally {
      this.closeSync(fd);
    }
  }

  /**
   * writeFileSync(path, data, encoding | { encoding = 'utf8', mode = 0o666,
   * flag = 'w' }): writes all of @data (a string in that encoding),
   * replacing the file.
   */
  writeFileSync(
    path: string | Uint8Array | URL,
    data: string | ArrayBufferView,
    options: BufferEncoding | { encoding?: BufferEncoding | null; mode?: number | string; flag?: string } = {},
  ): void {
    const o = typeof options === 'string' ? { encoding: options } : check.options<{ encoding?: BufferEncoding | null; mode?: number | string; flag?: string }>('options', options);
    const encoding = fileEncoding(o.encoding) ?? 'utf8';
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : check.buffer('data', data);
    const fd = this.openSync(path, o.flag ?? 'w', o.mode ?? 0o666);
    try {
      for (let done = 0; done < bytes.byteLength; ) done += this.writeSync(fd, bytes, done, bytes.byteLength - done, null);
    } finally {
      this.closeSync(fd);
    }
  }

  /** existsSync(path): true if @path names anything (following symlinks). Never throws for a missing path. */
  existsSync(path: string | Uint8Array | URL): boolean {
    const ret = native.stat(AT_FDCWD, check.path('path', path), 0);
    if (ret === 0) return true;
    if (ret === -2 /* ENOENT */ || ret === -20 /* ENOTDIR */) return false;
    return this.#fail(ret, 'stat', path);
  }

  /** pipeSync(): [read end, write end]. */
  pipeSync(): [number, number] {
    const fds = new Int32Array(2);
    const ret = native.syscall(nr.pipe2, fds, O.O_CLOEXEC);
    if (ret < 0) this.#fail(ret, 'pipe');
    return [fds[0]!, fds[1]!];
  }

  /**
   * socketpairSync(type = 'stream'): two connected AF_UNIX sockets
   * [fd0, fd1], close-on-exec; type 'stream', 'dgram' or 'seqpacket'.
   */
  socketpairSync(type: 'stream' | 'dgram' | 'seqpacket' = 'stream'): [number, number] {
    const t = typeof type === 'string' ? SOCKET_TYPES[type] : undefined;
    if (t === undefined) throw invalidValue('type', "must be 'stream', 'dgram' or 'seqpacket'", type);
    const fds = new Int32Array(2);
    const ret = native.syscall(nr.socketpair, socketConstants.AF_UNIX, t | socketConstants.SOCK_CLOEXEC, 0, fds);
    if (ret < 0) this.#fail(ret, 'socketpair');
    return [fds[0]!, fds[1]!];
  }

  dupSync(fd: number): number {
    const ret = native.syscall(nr.dup, check.fd(fd));
    if (ret < 0) this.#fail(ret, 'dup');
    return ret;
  }

  getpidSync(): number {
    const ret = native.getpid();
    if (ret < 0) this.#fail(ret, 'getpid');
    return ret;
  }

  /**
   * syscallSync(nr, ...args): any syscall of the kernel's table by number
   * (see `syscalls`), with up to six arguments, each an integer (number or
   * bigint) or a Buffer/TypedArray/DataView passed by address.  The kernel
   * may read and write only those buffers, whole: any other address, or a
   * length beyond its buffer, fails with EFAULT.  Returns the result (>= 0);
   * throws KernelError on failure.
   */
  syscallSync(number: number, ...args: Array<number | bigint | ArrayBufferView>): number {
    const n = check.integer('nr', number, 0, 0xffff);
    const name = syscallNames.get(n) ?? `syscall ${n}`;
    if (REFUSED_SYSCALLS.has(n))
      throw invalidValue(
        'nr',
        `is ${name}, which would end the calling task or the kernel, or keep a pointer past the call; syscallSync refuses it`,
        number,
      );
    if (args.length > 6) throw outOfRange('args.length', '<= 6', args.length);
    const values: NativeArg[] = new Array(args.length);
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      values[i] = ArrayBuffer.isView(a) ? check.buffer(`args[${i}]`, a) : check.word(`args[${i}]`, a);
    }
    const ret = syscallExact(n, ...values);
    // Errors are -4095..-1; other negative results are values (addresses).
    if (ret < 0 && ret > -4096) this.#fail(Number(ret), name);
    // Never a rounded number: the call has happened, its exact result is in the message.
    if (typeof ret === 'bigint') throw outOfRange('result', `a safe integer (${name} returned more than 2^53 - 1)`, ret);
    return ret;
  }
}
