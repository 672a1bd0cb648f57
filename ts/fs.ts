// SPDX-License-Identifier: GPL-2.0-only
// k.fs: a node:fs/promises-shaped Promise API over syslets.  Every call
// builds one chain (two or a few for the calls that need a result before
// they can go on) and submits it to one completion ring per thread, created
// on first use.  A chain that runs to its end at once (nothing slept: the
// page cache had everything) settles its Promise without any ring round
// trip; one that slept completes through the ring.  See docs/node-api.md,
// "k.fs".

import { posix } from 'node:path';
import { describe, invalidType, invalidValue, notImplemented, outOfRange } from './errors.js';
import { atFlags, openFlags } from './generated/constants.js';
import type { Kernel } from './kernel.js';
import { BigIntStats, DT_DIR, DT_UNKNOWN, Dirent, Stats } from './stats.js';
import { openFlagsOf } from './sys.js';
import { Syslet, type SysletAtom, type SysletRing } from './syslet.js';
import * as check from './validate.js';

const O = openFlags;
/** The longest path the kernel returns (readlink). */
const PATH_MAX = 4096;
const ENOENT = 2;
const EPERM = 1;
const EEXIST = 17;
const ENOTDIR = 20;
const EISDIR = 21;
const EBADF = 9;
const EOPNOTSUPP = 95;
const EINVAL = 22;

/** Entries of the per-thread ring: completions beyond it wait in the kernel, never lost. */
const RING_ENTRIES = 1024;
/** readFile's first guess: files up to this size are read in one chain. */
const READ_GUESS = 64 * 1024;
/** Bytes per read or write atom (and bounce memory per chain) for large files. */
const PIECE = 256 * 1024 * 1024;
/** Largest file readFile returns (as node:fs: kIoMaxLength). */
const READ_MAX = 2 ** 31 - 1;
/** readdir: getdents64 atoms per chain and bytes per atom. */
const DENTS_ATOMS = 4;
const DENTS_PIECE = 16 * 1024;
/** Paths per chain for rm -r (a chain has at most 30 buffers). */
const PATHS_PER_CHAIN = 24;
/** lstat atoms per chain to type DT_UNKNOWN entries: a path and a stat buffer each. */
const LSTATS_PER_CHAIN = 14;
/** readdir recursive: directories listed at once (a chain and a 64 KiB buffer each). */
const DIRS_AT_ONCE = 16;
/** Levels per chain for mkdir -p: a path and a stat buffer each. */
const LEVELS_PER_CHAIN = 14;
/** sendfile's largest count (MAX_RW_COUNT). */
const MAX_RW = 0x7ffff000;
const COPYFILE_EXCL = 1;
const COPYFILE_FICLONE_FORCE = 4;

export type PathLike = string | Uint8Array | URL;

export interface ReadFileOptions {
  encoding?: BufferEncoding | null;
  flag?: string | number;
  signal?: AbortSignal;
}

export interface WriteFileOptions {
  encoding?: BufferEncoding | null;
  mode?: number | string;
  flag?: string | number;
  signal?: AbortSignal;
}

export interface FsMkdirOptions {
  recursive?: boolean;
  mode?: number | string;
}

export interface RmOptions {
  force?: boolean;
  recursive?: boolean;
  maxRetries?: number;
  retryDelay?: number;
}

export interface FsReaddirOptions {
  withFileTypes?: boolean;
  encoding?: BufferEncoding | null;
  /** Also list every subdirectory (not following symbolic links): paths relative to @path. */
  recursive?: boolean;
}

export interface OpenDirOptions {
  encoding?: BufferEncoding | null;
  /** Accepted (an integer >= 1) and ignored: the listing is read in 16 KiB getdents64 pieces. */
  bufferSize?: number;
  /** Also walk every subdirectory (not following symbolic links). */
  recursive?: boolean;
}

export interface ReadVResult<T extends readonly ArrayBufferView[]> {
  bytesRead: number;
  buffers: T;
}

export interface WriteVResult<T extends readonly ArrayBufferView[]> {
  bytesWritten: number;
  buffers: T;
}

/** A directory entry as #entries gives it: its name's bytes and its d_type. */
interface Entry {
  raw: Buffer;
  type: number;
}

export interface FileReadOptions<T extends ArrayBufferView = Buffer> {
  buffer?: T;
  offset?: number | null;
  length?: number | null;
  position?: number | bigint | null;
}

export interface FileReadResult<T extends ArrayBufferView> {
  bytesRead: number;
  buffer: T;
}

export interface FileWriteResult<T> {
  bytesWritten: number;
  buffer: T;
}

/** node:fs/promises' AbortError: name 'AbortError', code 'ABORT_ERR', the signal's reason as cause. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}

function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || !('aborted' in value) || typeof (value as AbortSignal).addEventListener !== 'function')
    throw invalidType('options.signal', 'an instance of AbortSignal', value);
  return value as AbortSignal;
}

function checkEncoding(name: string, value: unknown): BufferEncoding | undefined {
  if (value === undefined || value === null || value === 'buffer') return undefined;
  if (typeof value !== 'string' || !Buffer.isEncoding(value)) throw invalidValue(name, 'is invalid encoding', value);
  return value;
}

/** A list of buffers for readv/writev, as node:fs checks it. */
function checkBuffers(value: unknown): ArrayBufferView[] {
  if (!Array.isArray(value) || !value.every((v) => ArrayBuffer.isView(v))) throw invalidType('buffers', 'an ArrayBufferView[]', value);
  for (const v of value) check.buffer('buffers', v);
  return value as ArrayBufferView[];
}

/** A readv/writev position: null, undefined or -1 for the file position (-1 returned), else a number or bigint. */
function vectorPosition(value: unknown): number | bigint {
  if (value === undefined || value === null || value === -1 || value === -1n) return -1;
  if (typeof value !== 'number' && typeof value !== 'bigint') throw invalidType('position', 'of type number or bigint', value);
  return check.position('position', value);
}

function throwIfAborted(call: Call, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw call.restack(abortError(signal));
}

function dirClosed(): Error {
  const error = new Error('Directory handle was closed');
  (error as Error & { code: string }).code = 'ERR_DIR_CLOSED';
  return error;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** The frames of a stack captured at the user's call (for errors that surface later). */
interface Site {
  stack?: string;
}

/**
 * One k.fs call: submits its chains, and makes its errors start at the
 * user's call.  The stack is captured when a chain first goes asynchronous
 * (still inside the user's synchronous call), or at once for the calls that
 * run several chains (`eager`), so the common cached path pays nothing for it.
 */
class Call {
  readonly #fs: KernelFs;
  readonly #fn: (...args: never[]) => unknown;
  readonly signal: AbortSignal | undefined;
  #site: Site | undefined;

  constructor(fs: KernelFs, fn: (...args: never[]) => unknown, signal?: AbortSignal, eager = false) {
    this.#fs = fs;
    this.#fn = fn;
    this.signal = signal;
    if (eager) this.#capture();
  }

  #capture(): void {
    if (this.#site) return;
    const site: Site = {};
    Error.captureStackTrace(site, this.#fn);
    this.#site = site;
  }

  /**
   * Submits @chain: its last result at once, or a Promise of it.  With a
   * signal, the Promise rejects with AbortError when the signal fires; the
   * chain goes on in the kernel, and @late gets its result then (to close
   * what it left open).
   */
  run(chain: Syslet, late?: () => void): number | Promise<number> {
    const signal = this.signal;
    if (signal?.aborted) throw abortError(signal);
    const r = this.#fs.submit(chain);
    if (r.done) return r.result;
    this.#capture();
    const completion = r.completion.catch((error: Error) => {
      throw this.restack(error);
    });
    if (!signal) return completion;
    return new Promise<number>((resolve, reject) => {
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        reject(this.restack(abortError(signal)));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      completion.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          if (aborted) late?.();
          else resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Throws AbortError if the signal fired (between two chains). */
  checkAborted(): void {
    if (this.signal?.aborted) throw this.restack(abortError(this.signal));
  }

  /** The KernelError of a failed call, its stack starting at the user's call. */
  error(errno: number, syscall: string, path?: PathLike, dest?: PathLike): Error {
    const error = this.#fs.kernel.error(errno, syscall, path === undefined ? undefined : check.pathText(path), dest === undefined ? undefined : check.pathText(dest));
    return this.restack(error);
  }

  /** Makes @error's stack the user's call site (captured, or the current stack). */
  restack<E extends Error>(error: E): E {
    const site = this.#site;
    if (site) {
      const frames = site.stack ?? '';
      const at = frames.indexOf('\n');
      error.stack = `${error.name}: ${error.message}${at >= 0 ? frames.slice(at) : ''}`;
    } else {
      Error.captureStackTrace(error, this.#fn);
    }
    return error;
  }
}

/** Await a value that is a number or a Promise of one, without a microtask when it is a number. */
type MaybeAsync = number | Promise<number>;

function value(atom: SysletAtom): number {
  return atom.result.value ?? Number.NaN;
}

/**
 * A file opened with k.fs.open(): the methods of node:fs/promises'
 * FileHandle, each one chain.  close() waits for the calls in flight on the
 * handle, then closes the descriptor; later calls reject with EBADF.
 */
export class FileHandle {
  readonly #fs: KernelFs;
  #fd: number;
  #pending = 0;
  #idle: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  /** Read chains kept per buffer (see #readChain). */
  readonly #reads = new Map<ArrayBufferView, { chain: Syslet; offset: number; length: number; positional: boolean }>();

  /** @internal use k.fs.open() */
  constructor(fs: KernelFs, fd: number) {
    this.#fs = fs;
    this.#fd = fd;
  }

  /** The kernel descriptor (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  #begin(syscall: string, call: Call): number {
    if (this.#fd < 0 || this.#closing) throw call.error(EBADF, syscall);
    this.#pending++;
    return this.#fd;
  }

  #end(): void {
    if (--this.#pending === 0 && this.#idle) this.#idle();
  }

  /**
   * Runs a chain of the handle's: its result at once when it completed at
   * submission (no Promise, no extra microtask on the cached path), else a
   * Promise of it.  Ends the handle's call either way.
   */
  #one(call: Call, chain: Syslet, syscall: string): MaybeAsync {
    let r: MaybeAsync;
    try {
      r = call.run(chain);
    } catch (error) {
      this.#end();
      throw error;
    }
    if (typeof r === 'number') {
      this.#end();
      if (r < 0) throw call.error(-r, syscall);
      return r;
    }
    return r.then(
      (n) => {
        this.#end();
        if (n < 0) throw call.error(-n, syscall);
        return n;
      },
      (error: unknown) => {
        this.#end();
        throw error;
      },
    );
  }

  /**
   * read(buffer, offset?, length?, position?), read(buffer, { offset, length,
   * position }) or read({ buffer, offset, length, position }): reads into
   * buffer[offset, offset + length) at @position (null, undefined or -1: the
   * file position).  Resolves with { bytesRead, buffer }.
   */
  async read<T extends ArrayBufferView = Buffer>(
    bufferOrOptions?: T | FileReadOptions<T> | null,
    offsetOrOptions?: number | FileReadOptions<T> | null,
    length?: number | null,
    position?: number | bigint | null,
  ): Promise<FileReadResult<T>> {
    const call = new Call(this.#fs, FileHandle.prototype.read);
    let buffer: T;
    let offset: unknown = offsetOrOptions;
    if (!ArrayBuffer.isView(bufferOrOptions)) {
      const o = check.options<FileReadOptions<T>>('options', bufferOrOptions);
      buffer = (o.buffer ?? Buffer.alloc(16384)) as T;
      check.buffer('buffer', buffer);
      offset = o.offset ?? 0;
      length = o.length; // undefined: to the end of the buffer (after offset's check)
      position = o.position ?? null;
    } else {
      buffer = bufferOrOptions;
      if (offset !== null && typeof offset === 'object') {
        const o = offset as FileReadOptions<T>;
        offset = o.offset ?? 0;
        length = o.length;
        position = o.position ?? null;
      }
    }
    check.buffer('buffer', buffer);
    if (offset === undefined || offset === null) offset = 0;
    else check.integer('offset', offset, 0, Number.MAX_SAFE_INTEGER);
    if (length === undefined || length === null) length = buffer.byteLength - (offset as number);
    if (length === 0) return { bytesRead: 0, buffer };
    if (buffer.byteLength === 0) throw invalidValue('buffer', 'is empty and cannot be written', buffer);
    const [o, l] = check.bufferRange(buffer, offset, length);
    const fd = this.#begin('read', call);
    let chain: Syslet;
    try {
      const positional = !(position === undefined || position === null || position === -1 || position === -1n);
      const p = positional ? check.position('position', position) : -1;
      chain = this.#readChain(fd, buffer, o, l, p);
    } catch (error) {
      this.#end();
      throw error;
    }
    let n = this.#one(call, chain, 'read');
    if (typeof n !== 'number') n = await n;
    return { bytesRead: n, buffer };
  }

  /**
   * A read chain for (buffer, offset, length): the one kept for this buffer
   * when it is idle (only its position changes), else a new one.  Saves
   * building and laying out a chain per call on the hot path.
   */
  #readChain(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): Syslet {
    const kept = this.#reads.get(buffer);
    const positional = position !== -1;
    if (kept && !kept.chain.inFlight && kept.offset === offset && kept.length === length && kept.positional === positional && typeof position === 'number') {
      if (positional) kept.chain.setNumberArg(0, 3, position);
      return kept.chain;
    }
    const chain = new Syslet();
    if (positional) chain.pread(fd, buffer, position, { offset, length });
    else chain.read(fd, buffer, { offset, length });
    if (typeof position === 'number' && (!kept || !kept.chain.inFlight)) {
      if (this.#reads.size >= 64) this.#reads.clear();
      this.#reads.set(buffer, { chain, offset, length, positional });
    }
    return chain;
  }

  /**
   * write(buffer, offset?, length?, position?), write(buffer, { offset,
   * length, position }) or write(string, position?, encoding = 'utf8'):
   * one write (it may be short, as write(2)).  Resolves with
   * { bytesWritten, buffer }.
   */
  async write<T extends ArrayBufferView | string>(
    data: T,
    offsetOrOptions?: number | bigint | FileReadOptions | null,
    lengthOrEncoding?: number | BufferEncoding | null,
    position?: number | bigint | null,
  ): Promise<FileWriteResult<T>> {
    const call = new Call(this.#fs, FileHandle.prototype.write);
    let bytes: ArrayBufferView;
    let offset: number;
    let length: number;
    if (typeof data === 'string') {
      const encoding = checkEncoding('encoding', lengthOrEncoding) ?? 'utf8';
      bytes = Buffer.from(data, encoding);
      offset = 0;
      length = bytes.byteLength;
      position = offsetOrOptions as number | bigint | null | undefined;
    } else {
      bytes = check.buffer('buffer', data);
      let off: unknown = offsetOrOptions;
      let len: unknown = lengthOrEncoding;
      if (off !== null && typeof off === 'object') {
        const o = off as FileReadOptions;
        off = o.offset;
        len = o.length;
        position = o.position;
      }
      [offset, length] = check.bufferRange(bytes, off, len);
    }
    if (bytes.byteLength === 0) return { bytesWritten: 0, buffer: data };
    const fd = this.#begin('write', call);
    const chain = new Syslet();
    try {
      if (position === undefined || position === null || position === -1 || position === -1n) chain.write(fd, bytes, { offset, length });
      else chain.pwrite(fd, bytes, position, { offset, length });
    } catch (error) {
      this.#end();
      throw error;
    }
    let n = this.#one(call, chain, 'write');
    if (typeof n !== 'number') n = await n;
    return { bytesWritten: n, buffer: data };
  }

  /**
   * stat({ bigint }): the file's Stats (one fstat atom), or with bigint
   * BigIntStats (one statx(fd, '', AT_EMPTY_PATH) atom).
   */
  stat(options?: { bigint?: false }): Promise<Stats>;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  stat(options?: { bigint?: boolean }): Promise<Stats | BigIntStats>;
  async stat(options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    const call = new Call(this.#fs, FileHandle.prototype.stat);
    const bigint = check.flag('options.bigint', check.options<{ bigint?: boolean }>('options', options).bigint);
    const fd = this.#begin('fstat', call);
    const chain = new Syslet();
    let atom: SysletAtom;
    try {
      atom = bigint ? chain.statx(fd, '', { flags: atFlags.AT_EMPTY_PATH }) : chain.fstat(fd);
    } catch (error) {
      this.#end();
      throw error;
    }
    const r = this.#one(call, chain, 'fstat');
    if (typeof r !== 'number') await r;
    return bigint ? new BigIntStats(atom.buffer!) : atom.stats()!;
  }

  /**
   * readv(buffers, position?): one read (or pread at @position) of all the
   * buffers' bytes into one bounce buffer, then spread over @buffers in
   * order, so the file sees a single call as with readv(2).  Resolves with
   * { bytesRead, buffers }.
   */
  async readv<T extends readonly ArrayBufferView[]>(buffers: T, position?: number | bigint | null): Promise<ReadVResult<T>> {
    const call = new Call(this.#fs, FileHandle.prototype.readv);
    const views = checkBuffers(buffers);
    const p = vectorPosition(position);
    const fd = this.#begin('readv', call);
    let total = 0;
    for (const v of views) total += v.byteLength;
    total = Math.min(total, MAX_RW);
    if (views.length === 0 || total === 0) {
      this.#end();
      // As libuv: no buffers at all is EINVAL; empty ones read nothing.
      if (views.length === 0) throw call.error(EINVAL, 'read');
      return { bytesRead: 0, buffers };
    }
    const into = views.length === 1 ? bytesOf(views[0]!) : Buffer.allocUnsafe(total);
    const n = await this.#vectorChain(call, 'read', fd, into, total, p);
    if (views.length > 1) {
      let at = 0;
      for (const v of views) {
        if (at >= n) break;
        const piece = Math.min(v.byteLength, n - at);
        bytesOf(v).set(into.subarray(at, at + piece));
        at += piece;
      }
    }
    return { bytesRead: n, buffers };
  }

  /**
   * readv/writev's one chain: a read or write of @length bytes of @bytes
   * (pread/pwrite at @position unless it is -1).  Ends the handle's call.
   */
  async #vectorChain(call: Call, op: 'read' | 'write', fd: number, bytes: Uint8Array, length: number, position: number | bigint): Promise<number> {
    const chain = new Syslet();
    const at = { offset: 0, length };
    try {
      if (op === 'read') {
        if (position === -1) chain.read(fd, bytes, at);
        else chain.pread(fd, bytes, position, at);
      } else if (position === -1) {
        chain.write(fd, bytes, at);
      } else {
        chain.pwrite(fd, bytes, position, at);
      }
    } catch (error) {
      this.#end();
      throw error;
    }
    const n = this.#one(call, chain, op);
    return typeof n === 'number' ? n : await n;
  }

  /**
   * writev(buffers, position?): the buffers' bytes gathered into one buffer
   * and written with one write (or pwrite at @position), as writev(2) makes
   * one call of them (it may be short, as writev(2)).  Resolves with
   * { bytesWritten, buffers }.
   */
  async writev<T extends readonly ArrayBufferView[]>(buffers: T, position?: number | bigint | null): Promise<WriteVResult<T>> {
    const call = new Call(this.#fs, FileHandle.prototype.writev);
    const views = checkBuffers(buffers);
    const p = vectorPosition(position);
    // As node:fs: nothing to write resolves at once.
    if (views.length === 0) return { bytesWritten: 0, buffers };
    const fd = this.#begin('writev', call);
    let total = 0;
    for (const v of views) total += v.byteLength;
    total = Math.min(total, MAX_RW);
    const from = views.length === 1 ? bytesOf(views[0]!) : Buffer.concat(views.map(bytesOf), total);
    const n = await this.#vectorChain(call, 'write', fd, from, total, p);
    return { bytesWritten: n, buffers };
  }

  /**
   * readFile(options | encoding): from the file position to the end of the
   * file, as node:fs.  One chain lseek(cur) -> fstat -> read(64 KiB) ->
   * read(1 byte, to see the end of file); a larger rest takes one more
   * chain per 256 MiB (sized from the fstat).  The signal is checked
   * before each chain (as node:fs checks it before each read).
   */
  readFile(options: { encoding: BufferEncoding; signal?: AbortSignal } | BufferEncoding): Promise<string>;
  readFile(options?: { encoding?: null; signal?: AbortSignal } | null): Promise<Buffer>;
  readFile(options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<string | Buffer>;
  async readFile(options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<string | Buffer> {
    const o = typeof options === 'string' ? { encoding: options } : check.options<ReadFileOptions>('options', options);
    const encoding = checkEncoding('encoding', o.encoding);
    const signal = checkSignal(o.signal);
    const call = new Call(this.#fs, FileHandle.prototype.readFile, undefined, true);
    throwIfAborted(call, signal);
    const fd = this.#begin('readFile', call);
    try {
      const first = Buffer.allocUnsafeSlow(READ_GUESS);
      const probe = Buffer.allocUnsafe(1);
      const chain = new Syslet();
      const seek = chain.lseek(fd, 0, 'cur');
      const stat = chain.fstat(fd, { stopOn: 'negative' });
      const read = chain.read(fd, first, { stopOn: 'nonPositive' });
      const more = chain.read(fd, probe);
      let r: MaybeAsync = call.run(chain);
      if (typeof r !== 'number') r = await r;
      if (value(stat) < 0) throw call.error(-value(stat), 'fstat');
      if (value(read) < 0) throw call.error(-value(read), 'read');
      let total = value(read);
      if (total === 0 || value(more) === 0) return encoding ? first.toString(encoding, 0, total) : Buffer.from(first.subarray(0, total));
      if (value(more) < 0) throw call.error(-value(more), 'read');
      const pieces = [first.subarray(0, total), Buffer.from(probe)];
      total += 1;
      // What is left, from the size and where the file position was.
      const start = Math.max(value(seek), 0);
      const size = stat.stats()!.size;
      for (;;) {
        throwIfAborted(call, signal);
        if (total > READ_MAX) throw fileTooLarge(total);
        const buffer = Buffer.allocUnsafeSlow(Math.min(PIECE, Math.max(size - start - total, READ_GUESS)));
        const next = Buffer.allocUnsafe(1);
        const c = new Syslet();
        const rd = c.read(fd, buffer, { stopOn: 'nonPositive' });
        const pr = c.read(fd, next);
        let n: MaybeAsync = call.run(c);
        if (typeof n !== 'number') n = await n;
        if (value(rd) < 0) throw call.error(-value(rd), 'read');
        if (value(rd) === 0) break;
        pieces.push(buffer.subarray(0, value(rd)));
        total += value(rd);
        if (value(pr) === 0) break;
        if (value(pr) < 0) throw call.error(-value(pr), 'read');
        pieces.push(Buffer.from(next));
        total += 1;
      }
      return joined(pieces, total, encoding);
    } finally {
      this.#end();
    }
  }

  /**
   * writeFile(data, options | encoding): writes @data (a string in
   * options.encoding, default UTF-8, or a Buffer/TypedArray/DataView) at
   * the file position, as node:fs (no truncation: open with 'w' for that).
   * One write atom per 256 MiB, more after a short write.
   */
  async writeFile(data: string | ArrayBufferView, options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<void> {
    return this.#writeAll(FileHandle.prototype.writeFile, data, options);
  }

  /** appendFile(data, options): as node:fs, writeFile on the handle (open it with 'a' to append). */
  async appendFile(data: string | ArrayBufferView, options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<void> {
    return this.#writeAll(FileHandle.prototype.appendFile, data, options);
  }

  async #writeAll(fn: (...args: never[]) => unknown, data: unknown, options: unknown): Promise<void> {
    const o: Partial<WriteFileOptions> = typeof options === 'string' ? { encoding: options as BufferEncoding } : check.options<WriteFileOptions>('options', options);
    const encoding = checkEncoding('encoding', o.encoding) ?? 'utf8';
    const signal = checkSignal(o.signal);
    const call = new Call(this.#fs, fn);
    let bytes: Uint8Array;
    if (typeof data === 'string') bytes = Buffer.from(data, encoding);
    else if (ArrayBuffer.isView(data)) bytes = bytesOf(check.buffer('data', data));
    else throw invalidType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
    throwIfAborted(call, signal);
    const fd = this.#begin('write', call);
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        if (done > 0) throwIfAborted(call, signal);
        const chain = new Syslet();
        chain.write(fd, bytes, { offset: done, length: Math.min(PIECE, bytes.byteLength - done) });
        let n: MaybeAsync = call.run(chain);
        if (typeof n !== 'number') n = await n;
        if (n < 0) throw call.error(-n, 'write');
        if (n === 0) throw call.error(28 /* ENOSPC */, 'write');
        done += n;
      }
    } finally {
      this.#end();
    }
  }

  /** truncate(len = 0): ftruncate (a negative length means 0, as node:fs). */
  async truncate(len: number | bigint = 0): Promise<void> {
    const call = new Call(this.#fs, FileHandle.prototype.truncate);
    const length = check.truncateLength('len', len);
    const fd = this.#begin('ftruncate', call);
    const chain = new Syslet();
    chain.ftruncate(fd, length);
    await this.#one(call, chain, 'ftruncate');
  }

  /** sync(): fsync. */
  async sync(): Promise<void> {
    const call = new Call(this.#fs, FileHandle.prototype.sync);
    const fd = this.#begin('fsync', call);
    const chain = new Syslet();
    chain.fsync(fd);
    await this.#one(call, chain, 'fsync');
  }

  /** datasync(): fdatasync. */
  async datasync(): Promise<void> {
    const call = new Call(this.#fs, FileHandle.prototype.datasync);
    const fd = this.#begin('fdatasync', call);
    const chain = new Syslet();
    chain.fdatasync(fd);
    await this.#one(call, chain, 'fdatasync');
  }

  /**
   * close(): waits for the calls in flight on this handle, then closes the
   * descriptor.  Idempotent: later calls resolve at once.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#fd < 0) return Promise.resolve();
    const call = new Call(this.#fs, FileHandle.prototype.close, undefined, true);
    this.#closing = (async () => {
      if (this.#pending > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      const fd = this.#fd;
      this.#fd = -1;
      this.#reads.clear();
      const chain = new Syslet();
      chain.close(fd);
      let n: MaybeAsync = call.run(chain);
      if (typeof n !== 'number') n = await n;
      if (n < 0) throw call.error(-n, 'close');
    })();
    return this.#closing;
  }

  /** `await using fh = await k.fs.open(...)`: closes the handle. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * k.fs: node:fs/promises over syslets.  Paths are resolved in the kernel's
 * namespace; errors are the KernelErrors of k.sys (code, errno, syscall,
 * path), with stacks that start at the call.
 */
export class KernelFs {
  /** @internal */
  readonly kernel: Kernel;
  #ring: SysletRing | undefined;
  readonly #scratch: Buffer[] = [];

  /** @internal */
  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  /** The ring k.fs uses on this thread (created on first use). */
  get ring(): SysletRing {
    return (this.#ring ??= this.kernel.createRing({ entries: RING_ENTRIES }));
  }

  /** @internal */
  submit(chain: Syslet) {
    return this.ring.submitOne(chain);
  }

  /** Closes @fds without waiting (error paths: a chain stopped before its close atoms). */
  #closeQuietly(...fds: number[]): void {
    const chain = new Syslet();
    for (const fd of fds) if (fd >= 0) chain.close(fd);
    if (chain.length === 0) return;
    try {
      const r = this.submit(chain);
      if (!r.done) r.completion.catch(() => {});
    } catch {
      // The kernel stopped: its files are closed.
    }
  }

  /** open(path, flags = 'r', mode = 0o666): a FileHandle. */
  async open(path: PathLike, flags?: string | number, mode?: number | string): Promise<FileHandle> {
    const call = new Call(this, KernelFs.prototype.open);
    const chain = new Syslet();
    chain.open(path, flags ?? 'r', mode ?? 0o666);
    let fd: MaybeAsync = call.run(chain);
    if (typeof fd !== 'number') fd = await fd;
    if (fd < 0) throw call.error(-fd, 'open', path);
    return new FileHandle(this, fd);
  }

  /**
   * readFile(path, options): the whole file, as a Buffer or (with an
   * encoding) a string.  One chain open -> fstat -> read(64 KiB) ->
   * read(1 byte, to see the end of file) -> close for files up to 64 KiB;
   * for larger ones, the chain stops with the file still open after the
   * probe, and one more chain per piece reads the rest (sized from the
   * fstat) and closes.
   */
  async readFile(path: PathLike, options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string> {
    const o = typeof options === 'string' ? { encoding: options } : check.options<ReadFileOptions>('options', options);
    const encoding = checkEncoding('encoding', o.encoding);
    const signal = checkSignal(o.signal);
    const call = new Call(this, KernelFs.prototype.readFile, signal, true);
    call.checkAborted();
    const flags = openFlagsOf(o.flag ?? 'r');
    const scratch = this.#scratch.pop() ?? Buffer.allocUnsafeSlow(READ_GUESS);
    const probe = Buffer.allocUnsafe(1);
    const chain = new Syslet();
    const fd = chain.open(path, flags, undefined, { stopOn: 'negative' });
    const stat = chain.fstat(fd.result, { stopOn: 'negative', skipToNextOnStop: true });
    chain.close(fd.result).setNext(null);
    const read = chain.read(fd.result, scratch, { stopOn: 'negative', skipToNextOnStop: true });
    chain.close(fd.result).setNext(null);
    const more = chain.read(fd.result, probe, { stopOn: 'nonzero' });
    chain.close(fd.result);
    stat.setNext(read);
    read.setNext(more);
    let open = -1;
    // The chain stopped after the probe with the file open: close it.
    const late = (): void => {
      const m = more.result.value;
      if (m !== undefined && m !== 0 && value(fd) >= 0) this.#closeQuietly(value(fd));
    };
    // The scratch buffer goes back to the pool only once its completion was
    // consumed: a late completion (after an abort) still copies into it.
    let reusable = false;
    try {
      let r: MaybeAsync = call.run(chain, late);
      if (typeof r !== 'number') r = await r;
      reusable = true;
      if (value(fd) < 0) throw call.error(-value(fd), 'open', path);
      if (value(stat) < 0) throw call.error(-value(stat), 'fstat', path);
      if (value(read) < 0) throw call.error(-value(read), 'read', path);
      const first = value(read);
      if (value(more) === 0) return encoding ? scratch.toString(encoding, 0, first) : Buffer.from(scratch.subarray(0, first));
      open = value(fd);
      if (value(more) < 0) throw call.error(-value(more), 'read', path);
      // More than the first piece: the rest, sized from the fstat.
      const pieces = [Buffer.from(scratch.subarray(0, first)), Buffer.from(probe)];
      let total = first + 1;
      const size = stat.stats()!.size;
      for (;;) {
        call.checkAborted();
        if (total > READ_MAX) throw fileTooLarge(total);
        const want = Math.min(PIECE, Math.max(size - total, READ_GUESS));
        const buffer = Buffer.allocUnsafeSlow(want);
        const next = Buffer.allocUnsafe(1);
        const c = new Syslet();
        const rd = c.read(open, buffer, { stopOn: 'negative', skipToNextOnStop: true });
        c.close(open).setNext(null);
        const pr = c.read(open, next, { stopOn: 'nonzero' });
        c.close(open);
        rd.setNext(pr);
        const fdNow = open;
        let n: MaybeAsync = call.run(c, () => {
          const p = pr.result.value;
          if (p !== undefined && p !== 0) this.#closeQuietly(fdNow);
        });
        if (typeof n !== 'number') n = await n;
        if (value(rd) < 0) {
          open = -1;
          throw call.error(-value(rd), 'read', path);
        }
        pieces.push(buffer.subarray(0, value(rd)));
        total += value(rd);
        if (value(pr) === 0) {
          open = -1;
          break;
        }
        if (value(pr) < 0) throw call.error(-value(pr), 'read', path);
        pieces.push(Buffer.from(next));
        total += 1;
      }
      return joined(pieces, total, encoding);
    } finally {
      if (reusable && this.#scratch.length < 64) this.#scratch.push(scratch);
      if (open >= 0) this.#closeQuietly(open);
    }
  }

  /**
   * writeFile(path, data, options): replaces the file with @data (a string
   * in options.encoding, default UTF-8, or a Buffer/TypedArray/DataView).
   * One chain open -> write -> close (up to 256 MiB; beyond, one chain per
   * 256 MiB on the open file).
   */
  async writeFile(path: PathLike, data: string | ArrayBufferView, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.#writeFile(KernelFs.prototype.writeFile, path, data, options, 'w');
  }

  /** appendFile(path, data, options): writeFile with flag 'a'. */
  async appendFile(path: PathLike, data: string | ArrayBufferView, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.#writeFile(KernelFs.prototype.appendFile, path, data, options, 'a');
  }

  async #writeFile(
    fn: (...args: never[]) => unknown,
    path: PathLike,
    data: unknown,
    options: WriteFileOptions | BufferEncoding | null | undefined,
    defaultFlag: string,
  ): Promise<void> {
    const o = typeof options === 'string' ? { encoding: options } : check.options<WriteFileOptions>('options', options);
    const encoding = checkEncoding('encoding', o.encoding) ?? 'utf8';
    const signal = checkSignal(o.signal);
    const call = new Call(this, fn, signal, true);
    let bytes: Uint8Array;
    if (typeof data === 'string') bytes = Buffer.from(data, encoding);
    else if (ArrayBuffer.isView(data)) bytes = bytesOf(check.buffer('data', data));
    else throw invalidType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
    const flags = openFlagsOf(o.flag ?? defaultFlag);
    const mode = check.mode('mode', o.mode, 0o666);
    const append = (flags & O.O_APPEND) !== 0;
    call.checkAborted();
    const whole = bytes.byteLength <= PIECE;
    const chain = new Syslet();
    const fd = chain.open(path, flags, mode, { stopOn: 'negative' });
    const write = chain.write(fd.result, bytes, { offset: 0, length: Math.min(PIECE, bytes.byteLength), stopOn: 'negative', skipToNextOnStop: whole });
    if (whole) {
      chain.close(fd.result).setNext(null);
      write.setNext(chain.close(fd.result));
    }
    let open = -1;
    try {
      let r: MaybeAsync = call.run(chain, () => {
        if (!whole && value(fd) >= 0) this.#closeQuietly(value(fd));
      });
      if (typeof r !== 'number') r = await r;
      if (value(fd) < 0) throw call.error(-value(fd), 'open', path);
      if (!whole) open = value(fd);
      if (value(write) < 0) throw call.error(-value(write), 'write', path);
      let done = value(write);
      if (done === bytes.byteLength) return;
      if (whole) {
        // A short write, and the file is closed: reopen it for the rest.
        const c = new Syslet();
        c.open(path, O.O_WRONLY | (flags & O.O_APPEND));
        let n: MaybeAsync = call.run(c);
        if (typeof n !== 'number') n = await n;
        if (n < 0) throw call.error(-n, 'open', path);
        open = n;
      }
      while (done < bytes.byteLength) {
        call.checkAborted();
        const c = new Syslet();
        const piece = { offset: done, length: Math.min(PIECE, bytes.byteLength - done) };
        if (append) c.write(open, bytes, piece);
        else c.pwrite(open, bytes, done, piece);
        let n: MaybeAsync = call.run(c);
        if (typeof n !== 'number') n = await n;
        if (n < 0) throw call.error(-n, 'write', path);
        if (n === 0) throw call.error(28 /* ENOSPC */, 'write', path);
        done += n;
      }
      const c = new Syslet();
      c.close(open);
      open = -1;
      let n: MaybeAsync = call.run(c);
      if (typeof n !== 'number') n = await n;
      if (n < 0) throw call.error(-n, 'close', path);
    } finally {
      if (open >= 0) this.#closeQuietly(open);
    }
  }

  /**
   * stat(path, { bigint }): Stats, following symbolic links (one newfstatat
   * atom); with bigint, BigIntStats (one statx atom: nanoseconds and
   * birthtime).
   */
  stat(path: PathLike, options?: { bigint?: false }): Promise<Stats>;
  stat(path: PathLike, options: { bigint: true }): Promise<BigIntStats>;
  stat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats>;
  async stat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    const call = new Call(this, KernelFs.prototype.stat);
    return this.#stat(call, path, options, false);
  }

  /** lstat(path, { bigint }): Stats (or BigIntStats) of a symbolic link itself. */
  lstat(path: PathLike, options?: { bigint?: false }): Promise<Stats>;
  lstat(path: PathLike, options: { bigint: true }): Promise<BigIntStats>;
  lstat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats>;
  async lstat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    const call = new Call(this, KernelFs.prototype.lstat);
    return this.#stat(call, path, options, true);
  }

  async #stat(call: Call, path: PathLike, options: unknown, link: boolean): Promise<Stats | BigIntStats> {
    const bigint = check.flag('options.bigint', check.options<{ bigint?: boolean }>('options', options).bigint);
    const chain = new Syslet();
    let atom: SysletAtom;
    if (bigint) atom = chain.statx(atFlags.AT_FDCWD, path, { flags: link ? atFlags.AT_SYMLINK_NOFOLLOW : 0 });
    else atom = link ? chain.lstat(path) : chain.stat(path);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0) throw call.error(-r, link ? 'lstat' : 'stat', path);
    return bigint ? new BigIntStats(atom.buffer!) : atom.stats()!;
  }

  /**
   * readdir(path, { withFileTypes }): the names in the directory, or
   * Dirents, sorted by bytes as node:fs (libuv) sorts them.  One chain
   * open -> getdents64 x 4 (16 KiB each) -> close for directories up to
   * about 64 KiB of entries; a larger one takes more chains.  With
   * recursive, every subdirectory too (level by level, up to 16 directories
   * in flight), as paths relative to @path ('a/b') or Dirents whose
   * parentPath is the directory they are in; symbolic links are listed,
   * not followed.
   */
  readdir(path: PathLike, options?: (FsReaddirOptions & { withFileTypes?: false }) | BufferEncoding | null): Promise<string[]>;
  readdir(path: PathLike, options: FsReaddirOptions & { withFileTypes: true }): Promise<Dirent[]>;
  async readdir(path: PathLike, options?: FsReaddirOptions | BufferEncoding | null): Promise<string[] | Dirent[]> {
    const o = typeof options === 'string' ? { encoding: options } : check.options<FsReaddirOptions>('options', options);
    const withFileTypes = check.flag('options.withFileTypes', o.withFileTypes);
    const recursive = check.flag('options.recursive', o.recursive);
    checkUtf8('readdir', o.encoding);
    const call = new Call(this, KernelFs.prototype.readdir, undefined, true);
    if (recursive) return this.#readdirRecursive(call, path, withFileTypes);
    const entries = await this.#entries(call, path);
    entries.sort((a, b) => Buffer.compare(a.raw, b.raw));
    const parent = check.pathText(path);
    if (!withFileTypes) return entries.map((e) => e.raw.toString());
    await this.#fillTypes(call, parent, entries);
    return entries.map((e) => new Dirent(e.raw.toString(), parent, e.type));
  }

  async #readdirRecursive(call: Call, path: PathLike, withFileTypes: boolean): Promise<string[] | Dirent[]> {
    const root = check.pathText(path);
    const names: string[] = [];
    const dirents: Dirent[] = [];
    // Directories to list, relative to the root ('' is the root itself).
    let level = [''];
    while (level.length > 0) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += DIRS_AT_ONCE) {
        const batch = level.slice(i, i + DIRS_AT_ONCE);
        const lists = await Promise.all(
          batch.map(async (rel) => {
            const dir = rel === '' ? root : `${root}/${rel}`;
            const entries = await this.#entries(call, rel === '' ? path : dir);
            entries.sort((a, b) => Buffer.compare(a.raw, b.raw));
            await this.#fillTypes(call, dir, entries);
            return entries;
          }),
        );
        batch.forEach((rel, j) => {
          const parent = rel === '' ? root : posix.join(root, rel);
          for (const e of lists[j]!) {
            const name = e.raw.toString();
            const relName = rel === '' ? name : `${rel}/${name}`;
            if (withFileTypes) dirents.push(new Dirent(name, parent, e.type));
            else names.push(relName);
            if (e.type === DT_DIR) next.push(relName);
          }
        });
      }
      level = next;
    }
    return withFileTypes ? dirents : names;
  }

  /**
   * Types the entries the file system gave as DT_UNKNOWN with lstat, as
   * node:fs does (ext4 and tmpfs type them all: then nothing runs).
   */
  async #fillTypes(call: Call, dir: string, entries: Entry[]): Promise<void> {
    const unknown = entries.filter((e) => e.type === DT_UNKNOWN);
    for (let start = 0; start < unknown.length; start += LSTATS_PER_CHAIN) {
      const batch = unknown.slice(start, start + LSTATS_PER_CHAIN);
      const chain = new Syslet();
      const atoms = batch.map((e) => chain.lstat(`${dir}/${e.raw.toString()}`));
      let r: MaybeAsync = call.run(chain);
      if (typeof r !== 'number') r = await r;
      batch.forEach((e, i) => {
        const stats = value(atoms[i]!) === 0 ? atoms[i]!.stats() : undefined;
        if (stats) e.type = (stats.mode & 0o170000) >> 12;
      });
    }
  }

  /**
   * opendir(path, { recursive, bufferSize, encoding }): a Dir over the
   * directory's entries.  The listing is read at once (the readdir chain;
   * errors reject opendir, as node:fs); with recursive, each subdirectory
   * is read when the walk reaches it.  bufferSize is checked and ignored.
   */
  async opendir(path: PathLike, options?: OpenDirOptions | null): Promise<Dir> {
    const o = check.options<OpenDirOptions>('options', options);
    checkUtf8('opendir', o.encoding);
    if (o.bufferSize !== undefined) check.integer('options.bufferSize', o.bufferSize, 1, 0xffffffff);
    const recursive = check.flag('options.recursive', o.recursive);
    const call = new Call(this, KernelFs.prototype.opendir, undefined, true);
    const load = async (dir: PathLike): Promise<Entry[]> => {
      const entries = await this.#entries(call, dir, 'opendir');
      await this.#fillTypes(call, check.pathText(dir), entries);
      return entries;
    };
    const text = check.pathText(path);
    return new Dir(text, await load(path), load, recursive);
  }

  /** The raw entries of directory @path (no '.' and '..'), in the kernel's order. */
  async #entries(call: Call, path: PathLike, syscall = 'scandir'): Promise<Entry[]> {
    const out: Entry[] = [];
    const parse = (buffer: Buffer, start: number, n: number): void => {
      for (let at = start; at < start + n; ) {
        const reclen = buffer.readUInt16LE(at + 16);
        const type = buffer[at + 18]!;
        const end = buffer.indexOf(0, at + 19);
        const raw = buffer.subarray(at + 19, end);
        at += reclen;
        if ((raw.length === 1 && raw[0] === 0x2e) || (raw.length === 2 && raw[0] === 0x2e && raw[1] === 0x2e)) continue;
        out.push({ raw: Buffer.from(raw), type });
      }
    };
    let open = -1;
    try {
      let first = true;
      for (;;) {
        const buffer = Buffer.allocUnsafe(DENTS_ATOMS * DENTS_PIECE);
        const chain = new Syslet();
        const fd = first ? chain.open(path, O.O_RDONLY | O.O_DIRECTORY, undefined, { stopOn: 'negative' }).result : open;
        const dents: SysletAtom[] = [];
        for (let i = 0; i < DENTS_ATOMS; i++) {
          const g = chain.getdents64(fd, buffer, { offset: i * DENTS_PIECE, length: DENTS_PIECE, stopOn: 'nonPositive', skipToNextOnStop: true });
          chain.close(fd).setNext(null);
          dents[i - 1]?.setNext(g);
          dents.push(g);
        }
        dents[DENTS_ATOMS - 1]!.setNext(null);
        let r: MaybeAsync = call.run(chain);
        if (typeof r !== 'number') r = await r;
        if (first) {
          const opened = chain.atoms[0]!;
          if (value(opened) < 0) throw call.error(-value(opened), syscall, path);
          open = value(opened);
          first = false;
        }
        let ended = false;
        for (let i = 0; i < DENTS_ATOMS; i++) {
          const n = value(dents[i]!);
          if (Number.isNaN(n)) break;
          if (n < 0) {
            open = -1; // the branch closed it
            throw call.error(-n, syscall, path);
          }
          if (n === 0) {
            ended = true;
            break;
          }
          parse(buffer, i * DENTS_PIECE, n);
        }
        if (ended) {
          open = -1;
          return out;
        }
      }
    } finally {
      if (open >= 0) this.#closeQuietly(open);
    }
  }

  /**
   * mkdir(path, mode | { recursive, mode }): with recursive, the first
   * directory created (undefined if none), in one chain of mkdir and stat
   * atoms for up to 24 levels.
   */
  async mkdir(path: PathLike, options?: number | string | FsMkdirOptions | null): Promise<string | undefined> {
    let mode: number;
    let recursive = false;
    if (typeof options === 'object' && options !== null) {
      mode = check.mode('options.mode', options.mode, 0o777);
      recursive = check.flag('options.recursive', options.recursive);
    } else {
      mode = check.mode('mode', options, 0o777);
    }
    const call = new Call(this, KernelFs.prototype.mkdir, undefined, recursive);
    if (!recursive || path === '') {
      const chain = new Syslet();
      chain.mkdir(path, mode);
      let r: MaybeAsync = call.run(chain);
      if (typeof r !== 'number') r = await r;
      if (r < 0) throw call.error(-r, 'mkdir', path);
      return undefined;
    }
    const text = check.pathText(path);
    check.path('path', path);
    const parts = text.split('/');
    const prefixes: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      if (parts[i - 1] === '' || parts[i - 1] === '.') continue;
      prefixes.push(parts.slice(0, i).join('/'));
    }
    let first: string | undefined;
    for (let start = 0; start < prefixes.length; start += LEVELS_PER_CHAIN) {
      const batch = prefixes.slice(start, start + LEVELS_PER_CHAIN);
      const chain = new Syslet();
      const atoms = batch.map((p) => [chain.mkdir(p, mode), chain.stat(p)] as const);
      let r: MaybeAsync = call.run(chain);
      if (typeof r !== 'number') r = await r;
      for (let i = 0; i < batch.length; i++) {
        const [made, stat] = atoms[i]!;
        const ret = value(made);
        if (ret === 0) {
          first ??= batch[i];
          continue;
        }
        if (ret === -EEXIST && value(stat) === 0 && stat.stats()!.isDirectory()) continue;
        const last = start + i === prefixes.length - 1;
        throw call.error(ret === -EEXIST ? (last ? EEXIST : ENOTDIR) : -ret, 'mkdir', path);
      }
    }
    return first;
  }

  /**
   * rm(path, { recursive, force }): one chain lstat -> unlink for a file;
   * a directory (with recursive) is emptied with a chain of unlinks per
   * directory level, then removed.
   */
  async rm(path: PathLike, options?: RmOptions | null): Promise<void> {
    const o = check.options<RmOptions>('options', options);
    const force = check.flag('options.force', o.force);
    const recursive = check.flag('options.recursive', o.recursive);
    if (o.maxRetries !== undefined) check.integer('options.maxRetries', o.maxRetries, 0, 2 ** 31 - 1);
    if (o.retryDelay !== undefined) check.integer('options.retryDelay', o.retryDelay, 0, 2 ** 31 - 1);
    const call = new Call(this, KernelFs.prototype.rm, undefined, true);
    const chain = new Syslet();
    const lstat = chain.lstat(path, { stopOn: 'negative' });
    const unlink = chain.unlink(path);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (value(lstat) < 0) {
      if (value(lstat) === -ENOENT && force) return;
      throw call.error(-value(lstat), 'lstat', path);
    }
    const u = value(unlink);
    if (u === 0 || (u === -ENOENT && force)) return;
    if (!lstat.stats()!.isDirectory()) throw call.error(-u, 'unlink', path);
    if (!recursive) {
      const text = check.pathText(path);
      const error = new Error(`Path is a directory: rm returned EISDIR (is a directory) ${text}`);
      Object.assign(error, { name: 'SystemError', code: 'ERR_FS_EISDIR', errno: EISDIR, syscall: 'rm', path: text });
      throw call.restack(error);
    }
    await this.#removeTree(call, check.pathText(path), force);
  }

  async #removeTree(call: Call, dir: string, force: boolean): Promise<void> {
    let entries: Entry[];
    try {
      entries = await this.#entries(call, dir);
    } catch (error) {
      if (force && (error as { code?: string }).code === 'ENOENT') return;
      throw error;
    }
    const files = entries.filter((e) => e.type !== DT_DIR && e.type !== DT_UNKNOWN).map((e) => `${dir}/${e.raw.toString()}`);
    for (const e of entries) if (e.type === DT_DIR || e.type === DT_UNKNOWN) {
      const child = `${dir}/${e.raw.toString()}`;
      if (e.type === DT_DIR) await this.#removeTree(call, child, force);
      else files.push(child);
    }
    for (let start = 0; start < files.length; start += PATHS_PER_CHAIN) {
      const batch = files.slice(start, start + PATHS_PER_CHAIN);
      const chain = new Syslet();
      const atoms = batch.map((p) => chain.unlink(p));
      let r: MaybeAsync = call.run(chain);
      if (typeof r !== 'number') r = await r;
      for (let i = 0; i < batch.length; i++) {
        const n = value(atoms[i]!);
        if (n === -EISDIR) await this.#removeTree(call, batch[i]!, force);
        else if (n < 0 && !(n === -ENOENT && force)) throw call.error(-n, 'unlink', batch[i]);
      }
    }
    const chain = new Syslet();
    chain.rmdir(dir);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0 && !(r === -ENOENT && force)) throw call.error(-r, 'rmdir', dir);
  }

  /** rename(oldPath, newPath): one renameat2 atom. */
  async rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
    const call = new Call(this, KernelFs.prototype.rename);
    const chain = new Syslet();
    chain.rename(oldPath, newPath);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0) throw call.error(-r, 'rename', oldPath, newPath);
  }

  /** unlink(path): one unlinkat atom. */
  async unlink(path: PathLike): Promise<void> {
    const call = new Call(this, KernelFs.prototype.unlink);
    const chain = new Syslet();
    chain.unlink(path);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0) throw call.error(-r, 'unlink', path);
  }

  /** rmdir(path): one unlinkat(AT_REMOVEDIR) atom. */
  async rmdir(path: PathLike): Promise<void> {
    const call = new Call(this, KernelFs.prototype.rmdir);
    const chain = new Syslet();
    chain.rmdir(path);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0) throw call.error(-r, 'rmdir', path);
  }

  /** access(path, mode = F_OK): one faccessat atom; rejects when the caller may not. */
  async access(path: PathLike, mode?: number): Promise<void> {
    const call = new Call(this, KernelFs.prototype.access);
    const chain = new Syslet();
    chain.access(path, mode ?? 0);
    await this.#single(call, chain, 'access', path);
  }

  /** chmod(path, mode): one fchmodat atom; mode a number or an octal string. */
  async chmod(path: PathLike, mode: number | string): Promise<void> {
    const call = new Call(this, KernelFs.prototype.chmod);
    const chain = new Syslet();
    chain.chmod(path, mode);
    await this.#single(call, chain, 'chmod', path);
  }

  /** symlink(target, path, type?): one symlinkat atom (type is for Windows, as in node:fs). */
  async symlink(target: PathLike, path: PathLike, type?: string | null): Promise<void> {
    if (type !== undefined && type !== null && type !== 'file' && type !== 'dir' && type !== 'junction')
      throw invalidValue('type', "must be 'file', 'dir' or 'junction'", type);
    const call = new Call(this, KernelFs.prototype.symlink);
    const chain = new Syslet();
    chain.symlink(target, path);
    await this.#single(call, chain, 'symlink', target, path);
  }

  /** readlink(path, options?): one readlinkat atom; a string ('utf8' or options.encoding) or a Buffer ('buffer'). */
  async readlink(path: PathLike, options?: { encoding?: BufferEncoding | 'buffer' | null } | BufferEncoding | 'buffer' | null): Promise<string | Buffer> {
    const o = typeof options === 'string' ? { encoding: options } : check.options<{ encoding?: string | null }>('options', options ?? undefined);
    const encoding = o.encoding === 'buffer' ? 'buffer' : (checkEncoding('options.encoding', o.encoding) ?? 'utf8');
    const call = new Call(this, KernelFs.prototype.readlink);
    const buffer = Buffer.allocUnsafe(PATH_MAX);
    const chain = new Syslet();
    chain.readlink(path, buffer);
    const n = await this.#single(call, chain, 'readlink', path);
    const bytes = Buffer.from(buffer.subarray(0, n));
    return encoding === 'buffer' ? bytes : bytes.toString(encoding);
  }

  /** link(existingPath, newPath): one linkat atom. */
  async link(existingPath: PathLike, newPath: PathLike): Promise<void> {
    const call = new Call(this, KernelFs.prototype.link);
    const chain = new Syslet();
    chain.link(existingPath, newPath);
    await this.#single(call, chain, 'link', existingPath, newPath);
  }

  /** truncate(path, len = 0): as node:fs, one chain open(r+) -> ftruncate -> close. */
  async truncate(path: PathLike, len: number | bigint = 0): Promise<void> {
    const call = new Call(this, KernelFs.prototype.truncate);
    const chain = new Syslet();
    const fd = chain.open(path, 'r+', undefined, { stopOn: 'negative' });
    const truncate = chain.ftruncate(fd.result, len);
    chain.close(fd.result);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (value(fd) < 0) throw call.error(-value(fd), 'open', path);
    if (value(truncate) < 0) throw call.error(-value(truncate), 'ftruncate');
  }

  /** utimes(path, atime, mtime): one utimensat atom; times in seconds (number), numeric strings or Dates. */
  async utimes(path: PathLike, atime: number | string | Date, mtime: number | string | Date): Promise<void> {
    const call = new Call(this, KernelFs.prototype.utimes);
    const chain = new Syslet();
    chain.utimes(path, atime, mtime);
    await this.#single(call, chain, 'utime', path);
  }

  /** Runs a chain of one atom; its result, or its errno as a KernelError of @syscall. */
  async #single(call: Call, chain: Syslet, syscall: string, path?: PathLike, dest?: PathLike): Promise<number> {
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    if (r < 0) throw call.error(-r, syscall, path, dest);
    return r;
  }

  /**
   * copyFile(src, dest, mode = 0): as libuv does it, in two chains.  The
   * first opens both files and fstats them (copying a file onto itself does
   * nothing); the second truncates the destination, gives it the source's
   * mode and copies the data with sendfile in the kernel (no buffer), then
   * closes both.  COPYFILE_EXCL fails on an existing destination;
   * COPYFILE_FICLONE falls back to a copy; COPYFILE_FICLONE_FORCE fails
   * (EOPNOTSUPP: neither ext4 nor ramfs can clone).
   */
  async copyFile(src: PathLike, dest: PathLike, mode?: number): Promise<void> {
    const flags = mode === undefined ? 0 : check.integer('mode', mode, 0, 7);
    const call = new Call(this, KernelFs.prototype.copyFile, undefined, true);
    if (flags & COPYFILE_FICLONE_FORCE) throw call.error(EOPNOTSUPP, 'copyfile', src, dest);
    const chain = new Syslet();
    const from = chain.open(src, 'r', undefined, { stopOn: 'negative' });
    const fromStat = chain.fstat(from.result, { stopOn: 'negative' });
    const to = chain.open(dest, O.O_WRONLY | O.O_CREAT | (flags & COPYFILE_EXCL ? O.O_EXCL : 0), 0o666, { stopOn: 'negative' });
    const toStat = chain.fstat(to.result);
    let r: MaybeAsync = call.run(chain);
    if (typeof r !== 'number') r = await r;
    let inFd = value(from);
    let outFd = value(to);
    let created = false;
    try {
      for (const atom of [from, fromStat, to, toStat]) {
        if (value(atom) < 0) throw call.error(-value(atom), 'copyfile', src, dest);
      }
      const s = fromStat.stats()!;
      const d = toStat.stats()!;
      if (s.dev === d.dev && s.ino === d.ino) return;
      // From here on a failure removes the destination, as libuv does.
      created = true;
      if (s.isDirectory()) throw call.error(EISDIR, 'copyfile', src, dest);
      const c = new Syslet();
      const truncate = c.ftruncate(outFd, 0, { stopOn: 'negative' });
      const chmod = c.fchmod(outFd, s.mode & 0o7777);
      const copy = c.sendfile(outFd, inFd, Math.min(Math.max(s.size, 1), MAX_RW), { stopOn: 'nonPositive', skipToNextOnStop: true });
      copy.setNext(copy);
      c.close(outFd);
      c.close(inFd);
      let n: MaybeAsync = call.run(c);
      if (typeof n !== 'number') n = await n;
      if (value(truncate) < 0) throw call.error(-value(truncate), 'copyfile', src, dest);
      inFd = -1;
      outFd = -1;
      if (value(chmod) < 0 && value(chmod) !== -EPERM) throw call.error(-value(chmod), 'copyfile', src, dest);
      if (value(copy) < 0) throw call.error(-value(copy), 'copyfile', src, dest);
      created = false;
    } finally {
      this.#closeQuietly(inFd, outFd);
      if (created) {
        const c = new Syslet();
        c.unlink(dest);
        try {
          const r = this.submit(c);
          if (!r.done) r.completion.catch(() => {});
        } catch {
          // The kernel stopped.
        }
      }
    }
  }
}

function checkUtf8(what: string, encoding: unknown): void {
  if (encoding !== undefined && encoding !== null && encoding !== 'utf8' && encoding !== 'utf-8')
    throw notImplemented(`${what} with encoding ${typeof encoding === 'string' ? `'${encoding}'` : describe(encoding)}`, 'k.fs');
}

/**
 * What k.fs.opendir() resolves with: node:fs's Dir.  read() gives the next
 * Dirent (null at the end); iterating with for await closes the Dir at the
 * end or on break.  Reads and close() run in the order they were called.
 * The entries come in the kernel's order (not sorted, as node:fs's Dir).
 */
export class Dir implements AsyncIterable<Dirent> {
  /** The path given to opendir. */
  readonly path: string;
  readonly #load: (dir: string) => Promise<Entry[]>;
  readonly #recursive: boolean;
  #entries: Entry[];
  #parent: string;
  #at = 0;
  /** Subdirectories still to read (recursive). */
  readonly #dirs: string[] = [];
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  /** @internal use k.fs.opendir() */
  constructor(path: string, entries: Entry[], load: (dir: string) => Promise<Entry[]>, recursive: boolean) {
    this.path = path;
    this.#entries = entries;
    this.#parent = path;
    this.#load = load;
    this.#recursive = recursive;
  }

  /** The next entry, or null when there are no more; rejects with ERR_DIR_CLOSED once closed. */
  read(): Promise<Dirent | null> {
    if (this.#closed) return Promise.reject(dirClosed());
    const p = this.#queue.then(() => this.#next());
    this.#queue = p.catch(() => {});
    return p;
  }

  async #next(): Promise<Dirent | null> {
    for (;;) {
      const e = this.#entries[this.#at];
      if (e) {
        this.#at++;
        const name = e.raw.toString();
        if (this.#recursive && e.type === DT_DIR) this.#dirs.push(posix.join(this.#parent, name));
        return new Dirent(name, this.#parent, e.type);
      }
      const dir = this.#dirs.shift();
      if (dir === undefined) return null;
      this.#entries = await this.#load(dir);
      this.#parent = dir;
      this.#at = 0;
    }
  }

  /** Closes the Dir (after the reads called before); rejects with ERR_DIR_CLOSED if it was closed already. */
  close(): Promise<void> {
    if (this.#closed) return Promise.reject(dirClosed());
    this.#closed = true;
    const p = this.#queue.then(() => {
      this.#entries = [];
      this.#dirs.length = 0;
    });
    this.#queue = p;
    return p;
  }

  /** The entries, closing the Dir at the end or when the loop stops early. */
  async *entries(): AsyncGenerator<Dirent, void, undefined> {
    try {
      for (;;) {
        const d = await this.read();
        if (d === null) return;
        yield d;
      }
    } finally {
      if (!this.#closed) await this.close();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Dirent, void, undefined> {
    return this.entries();
  }

  /** `await using dir = await k.fs.opendir(...)`: closes the Dir if it is open. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) await this.close();
  }
}

/** readFile's pieces as one Buffer, or a string in @encoding. */
function joined(pieces: Buffer[], total: number, encoding: BufferEncoding | null | undefined): Buffer | string {
  if (total > READ_MAX) throw fileTooLarge(total);
  const data = Buffer.concat(pieces, total);
  return encoding ? data.toString(encoding) : data;
}

function fileTooLarge(size: number): RangeError {
  const error = outOfRange('size', `<= ${READ_MAX} (the largest file readFile returns)`, size);
  error.message = `File size (${size}) is greater than 2 GiB`;
  (error as RangeError & { code: string }).code = 'ERR_FS_FILE_TOO_LARGE';
  return error;
}
