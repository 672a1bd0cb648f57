// SPDX-License-Identifier: GPL-2.0-only
// Syslets from JavaScript: chains of system calls the kernel runs on our
// behalf (k.syslet()), submitted with k.asyncExec(chain, ring), completing
// at once or later through a completion ring (k.createRing()).  See
// docs/syslets.md, "JavaScript".
//
// The chain builder checks everything and serialises the chain into a
// compact description (a Float64Array plus the buffers it uses); the addon
// lays out the atoms, argument and result slots and bounce copies of the
// buffers in native memory owned by the submission (binding/syslets.cc).
// The kernel never sees JavaScript memory.

import { markAsUntransferable } from 'node:worker_threads';
import { KERNEL_DEAD, KERNEL_RUNNING, native } from './binding.js';
import { ERROR_LOG_LINES, KernelError, invalidType, invalidValue, outOfRange } from './errors.js';
import { atFlags, openFlags, syscallNumbers } from './generated/constants.js';
import type { Kernel } from './kernel.js';
import { Stats } from './stats.js';
import { WHENCE, openFlagsOf, timespec, type Whence } from './sys.js';
import * as check from './validate.js';

const nr = syscallNumbers;
const AT_FDCWD = atFlags.AT_FDCWD;

/** Atom flags (docs/syslets.md). */
const SYSLET_ASYNC = 0x01;
const SYSLET_SYNC = 0x02;
const SYSLET_NO_COMPLETE = 0x04;
const STOP_ON: Record<string, number> = {
  nonzero: 0x08,
  zero: 0x10,
  negative: 0x20,
  nonPositive: 0x40,
};
const SYSLET_SKIP_TO_NEXT_ON_STOP = 0x80;
const RING_WAITING = 0x2;
const MAX_ATOMS = 1024;
const MAX_RING_ENTRIES = 2 ** 20;
/** Data buffers a chain may use: the window holds 32 ranges, two are the atoms and the ring. */
const MAX_BUFFERS = 30;
const ECANCELED = 125;
const ENOTRECOVERABLE = 131;
/** A result slot whose atom did not run (no system call returns it). */
const NOT_RUN = -(2n ** 63n);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const STAT_SIZE = 128;
const STATX_SIZE = 256;

// Argument kinds of the description (binding/syslets.cc: ArgKind).
const ARG_ABSENT = 0;
const ARG_NUMBER = 1;
const ARG_BIGINT = 2;
const ARG_RESULT = 3;
const ARG_POINTER = 4;
const ATOM_FIELDS = 4 + 6 * 3;
/** native.asyncSubmit's result for a chain that went asynchronous (binding/syslets.cc kQueued). */
const ASYNC_QUEUED = MAX_ATOMS;
/** ... when a buffer of the chain was detached or shrunk since it was added: nothing ran. */
const ASYNC_BUFFER_GONE = MAX_ATOMS + 1;
const BUFFER_GONE = 'a buffer of this chain was detached (transferred) or shrunk since it was added: nothing ran; build a new chain';
/** The end of a ring's memory that is not the kernel's (binding/syslets.cc kScratchBytes). */
const SCRATCH_BYTES = 64;

/** When an atom stops the chain: its result is negative, zero, non-zero, or zero or negative. */
export type StopOn = 'negative' | 'zero' | 'nonzero' | 'nonPositive';

/** Flags of one atom (docs/syslets.md, "Flags"). */
export interface AtomOptions {
  /** Stop the chain after this atom when its result matches. */
  stopOn?: StopOn;
  /** On a stop, run the atom added right after this one instead of ending (a branch). Needs stopOn. */
  skipToNextOnStop?: boolean;
  /** If the chain ends with this atom, post no completion. */
  noComplete?: boolean;
  /** Go asynchronous before this atom: asyncExec returns at once. */
  async?: boolean;
  /** Never go asynchronous in this atom: if it sleeps, asyncExec waits. */
  sync?: boolean;
}

/** Options of a read or write atom: the piece of the buffer, and the atom's flags. */
export interface IoAtomOptions extends AtomOptions {
  /** Where in the buffer (default 0). */
  offset?: number;
  /** How many bytes (default: the rest of the buffer after offset). */
  length?: number;
}

/** A completion as the kernel posted it: the chain's last result and its submission id. */
export interface SysletCompletion {
  /** The last atom's result (a negative errno on failure); a bigint only beyond 2^53. */
  result: number | bigint;
  /** The submission's id (AsyncExecResult.id). */
  id: number;
}

/** What k.asyncExec returns. */
export type AsyncExecResult =
  | {
      /** The chain ran to its end inside asyncExec: nothing was posted. */
      done: true;
      id: number;
      /** The last atom's result; every atom's result is in its handle (atom.result.value). */
      result: number;
    }
  | {
      /** The chain went asynchronous: it completes through the ring. */
      done: false;
      id: number;
      /** Settles when the completion is consumed from the ring: the last atom's result. */
      completion: Promise<number>;
    };

export interface RingOptions {
  /** Completions the ring holds: a power of two from 1 to 2^20 (default 256). */
  entries?: number;
}

export interface RingCloseOptions {
  /** Cancel the chains in flight: not implemented (throws). */
  cancel?: boolean;
}

function stateError(message: string): Error {
  const error = new Error(message);
  (error as Error & { code: string }).code = 'ERR_INVALID_STATE';
  return error;
}

function atomFlags(name: string, value: unknown): number {
  const o = check.options<AtomOptions>(name, value);
  let flags = 0;
  for (const key of ['skipToNextOnStop', 'noComplete', 'async', 'sync'] as const) {
    const v = o[key];
    if (v !== undefined && typeof v !== 'boolean') throw invalidType(`${name}.${key}`, 'of type boolean', v);
  }
  if (o.stopOn !== undefined) {
    const bit = typeof o.stopOn === 'string' ? STOP_ON[o.stopOn] : undefined;
    if (bit === undefined) throw invalidValue(`${name}.stopOn`, "must be 'negative', 'zero', 'nonzero' or 'nonPositive'", o.stopOn);
    flags |= bit;
  }
  if (o.skipToNextOnStop) {
    if (o.stopOn === undefined) throw invalidValue(`${name}.skipToNextOnStop`, 'needs a stopOn condition', o.skipToNextOnStop);
    flags |= SYSLET_SKIP_TO_NEXT_ON_STOP;
  }
  if (o.noComplete) flags |= SYSLET_NO_COMPLETE;
  if (o.async && o.sync) throw invalidValue(name, 'cannot be both async and sync', o);
  if (o.async) flags |= SYSLET_ASYNC;
  if (o.sync) flags |= SYSLET_SYNC;
  return flags;
}

/** An atom's result, usable as an integer argument (fd, position...) of later atoms of its chain. */
export class SysletResult {
  readonly atom: SysletAtom;

  /** @internal */
  constructor(atom: SysletAtom) {
    this.atom = atom;
  }

  /**
   * The result of the last run (a negative errno on failure), or undefined
   * if the atom did not run or the chain has not completed yet.  A
   * RangeError beyond 2^53 - 1 (read `bigint` then).
   */
  get value(): number | undefined {
    const v = this.bigint;
    if (v === undefined) return undefined;
    if (v > MAX_SAFE || v < -MAX_SAFE)
      throw outOfRange('result', 'a safe integer (read .bigint for the exact value)', v);
    return Number(v);
  }

  /** The exact result as a bigint (undefined as for value). */
  get bigint(): bigint | undefined {
    const v = this.atom.chain.resultSlot(this.atom.index);
    return v === NOT_RUN ? undefined : v;
  }
}

/** One system call of a chain. */
export class SysletAtom {
  readonly chain: Syslet;
  readonly index: number;
  /** The system call's name ('pread64', 'openat'...). */
  readonly syscall: string;
  /** Its result, as an argument for later atoms, and to read after completion. */
  readonly result: SysletResult;
  /** For fstat and statx: the structure the kernel filled (copied back at completion). */
  readonly buffer?: Uint8Array;

  /** @internal */
  constructor(chain: Syslet, index: number, syscall: string, buffer?: Uint8Array) {
    this.chain = chain;
    this.index = index;
    this.syscall = syscall;
    this.result = new SysletResult(this);
    if (buffer) this.buffer = buffer;
  }

  /**
   * Where the chain goes after this atom when it does not stop here: an
   * atom of the same chain, or null to end the chain (default: the atom
   * added next).  With skipToNextOnStop, the atom added next is the branch
   * taken on a stop, and this is the other way.
   */
  setNext(target: SysletAtom | null): this {
    this.chain.setNext(this, target);
    return this;
  }

  /** For an fstat, stat or lstat atom that returned 0: the Stats (undefined otherwise). */
  stats(): Stats | undefined {
    if ((this.syscall !== 'fstat' && this.syscall !== 'newfstatat') || !this.buffer)
      throw invalidValue('atom', 'is not an fstat, stat or lstat atom', this.syscall);
    if (this.result.bigint !== 0n) return undefined;
    const v = new DataView(this.buffer.buffer, this.buffer.byteOffset, STAT_SIZE);
    const u64 = (at: number): number => Number(v.getBigUint64(at, true));
    const s64 = (at: number): number => Number(v.getBigInt64(at, true));
    // struct stat (asm-generic, 64-bit): in the order Stats takes them.
    const values = new Float64Array([
      u64(0), v.getUint32(16, true), v.getUint32(20, true), v.getUint32(24, true), v.getUint32(28, true),
      u64(32), v.getInt32(56, true), u64(8), s64(48), s64(64),
      s64(72), u64(80), s64(88), u64(96), s64(104), u64(112),
    ]);
    return new Stats(values);
  }
}

type Arg =
  | { kind: typeof ARG_ABSENT }
  | { kind: typeof ARG_NUMBER; value: number }
  | { kind: typeof ARG_BIGINT; value: bigint }
  | { kind: typeof ARG_RESULT; atom: number }
  | { kind: typeof ARG_POINTER; view: ArrayBufferView; offset: number };

interface AtomSpec {
  nr: number;
  flags: number;
  next: number | null | undefined; // undefined: the next atom added
  args: Arg[];
  /** Copies back after the chain ran: 1 = as many bytes as the result, 2 = all if the result is 0. */
  copyOut?: { view: ArrayBufferView; offset: number; length: number; mode: 1 | 2 };
}

interface Region {
  index: number;
  view: ArrayBufferView;
  start: number;
  end: number;
  copyIn: boolean;
}

const encoder = new TextEncoder();

/**
 * A chain of system calls for k.asyncExec: add atoms in order; each returns
 * a SysletAtom whose `result` feeds later atoms.  Buffers are referenced:
 * the kernel works on native copies, written back to them at completion
 * (reads) or taken at submission (writes).  Give the same buffer object to
 * atoms that must see each other's data (a read, then a write of it).
 */
export class Syslet {
  readonly #atoms: AtomSpec[] = [];
  readonly #handles: SysletAtom[] = [];
  readonly #regions = new Map<ArrayBufferView, Region>();
  readonly #paths = new Map<string, Uint8Array>();
  #results: BigInt64Array | undefined;
  #desc: Float64Array | undefined;
  #refs: unknown[] | undefined;
  #inFlight = false;
  /** The chain laid out in native memory for runs on #preparedFor (native.asyncPrepare): its handle and token. */
  #prepared: unknown;
  #token = -1;
  #preparedFor: SysletRing | undefined;
  /** The ring of the last run without a kept layout. */
  #lastRing: SysletRing | undefined;
  /** An argument changed since the layout was made or last run (setNumberArg): atom -1 when none. */
  #patchAtom = -1;
  #patchArg = 0;
  #patchValue = 0;

  /** Atoms in the chain. */
  get length(): number {
    return this.#atoms.length;
  }

  /** True from submission until the completion was consumed. */
  get inFlight(): boolean {
    return this.#inFlight;
  }

  /** The atoms, in the order they were added. */
  get atoms(): readonly SysletAtom[] {
    return this.#handles;
  }

  /** open(path, flags = 'r', mode = 0o666): openat(AT_FDCWD, ...), with O_CLOEXEC as openSync. */
  open(path: string | Uint8Array | URL, flags?: string | number, mode?: number | string, options?: AtomOptions): SysletAtom {
    return this.#openat('open', AT_FDCWD, path, flags, mode, options);
  }

  /** openat(dirfd, path, flags = 'r', mode = 0o666): dirfd a number or an earlier result. */
  openat(dirfd: number | SysletResult, path: string | Uint8Array | URL, flags?: string | number, mode?: number | string, options?: AtomOptions): SysletAtom {
    return this.#openat('openat', dirfd, path, flags, mode, options);
  }

  #openat(name: string, dirfd: unknown, path: unknown, flags: unknown, mode: unknown, options: unknown): SysletAtom {
    void name;
    this.#checkOpen();
    const d = dirfd === AT_FDCWD ? this.#int('dirfd', AT_FDCWD) : this.#fd('dirfd', dirfd);
    const p = this.#path('path', path);
    const f = openFlagsOf(flags);
    const m = check.mode('mode', mode, 0o666);
    return this.#add('openat', nr.openat, atomFlags('options', options), [d, p, this.#int('flags', f | openFlags.O_CLOEXEC), this.#int('mode', m)]);
  }

  /** read(fd, buffer, { offset, length }): reads at the file position into buffer[offset, offset + length). */
  read(fd: number | SysletResult, buffer: ArrayBufferView, options?: IoAtomOptions): SysletAtom {
    return this.#io('read', nr.read, fd, buffer, undefined, options);
  }

  /** pread(fd, buffer, position, { offset, length }): reads at position (a number, bigint or earlier result). */
  pread(fd: number | SysletResult, buffer: ArrayBufferView, position: number | bigint | SysletResult, options?: IoAtomOptions): SysletAtom {
    return this.#io('pread64', nr.pread64, fd, buffer, position, options);
  }

  /** write(fd, data, { offset, length }): data a buffer (taken at submission) or a string (UTF-8). */
  write(fd: number | SysletResult, data: ArrayBufferView | string, options?: IoAtomOptions): SysletAtom {
    return this.#io('write', nr.write, fd, data, undefined, options);
  }

  /** pwrite(fd, data, position, { offset, length }). */
  pwrite(fd: number | SysletResult, data: ArrayBufferView | string, position: number | bigint | SysletResult, options?: IoAtomOptions): SysletAtom {
    return this.#io('pwrite64', nr.pwrite64, fd, data, position, options);
  }

  /** getdents64(fd, buffer, { offset, length }): raw struct linux_dirent64 records into buffer. */
  getdents64(fd: number | SysletResult, buffer: ArrayBufferView, options?: IoAtomOptions): SysletAtom {
    return this.#io('getdents64', nr.getdents64, fd, buffer, undefined, options);
  }

  #io(name: string, number: number, fd: unknown, data: unknown, position: unknown, options: unknown): SysletAtom {
    this.#checkOpen();
    const writes = number === nr.write || number === nr.pwrite64;
    const f = this.#fd('fd', fd);
    const o = check.options<IoAtomOptions>('options', options);
    let view: ArrayBufferView;
    if (writes && typeof data === 'string') view = Buffer.from(data, 'utf8');
    else view = check.buffer(writes ? 'data' : 'buffer', data);
    const [offset, length] = check.bufferRange(view, o.offset, o.length);
    const args: Arg[] = [f, this.#pointer(view, offset, length, writes), this.#int('length', length)];
    if (number === nr.pread64 || number === nr.pwrite64) args.push(this.#position('position', position));
    const flags = atomFlags('options', o);
    const copyOut = writes ? undefined : { view, offset, length, mode: 1 as const };
    return this.#add(name, number, flags, args, copyOut);
  }

  /** fstat(fd): the atom's stats() gives Stats after completion. */
  fstat(fd: number | SysletResult, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const f = this.#fd('fd', fd);
    const flags = atomFlags('options', options);
    const buffer = new Uint8Array(STAT_SIZE);
    const args = [f, this.#pointer(buffer, 0, STAT_SIZE, false)];
    return this.#add('fstat', nr.fstat, flags, args, { view: buffer, offset: 0, length: STAT_SIZE, mode: 2 }, buffer);
  }

  /**
   * statx(dirfd, path, { flags, mask }): the raw struct statx (256 bytes)
   * in the atom's buffer after completion.  dirfd AT_FDCWD (-100), a
   * descriptor or an earlier result.
   */
  statx(dirfd: number | SysletResult, path: string | Uint8Array | URL, options?: AtomOptions & { flags?: number; mask?: number }): SysletAtom {
    this.#checkOpen();
    const o = check.options<AtomOptions & { flags?: number; mask?: number }>('options', options);
    const d = dirfd === AT_FDCWD ? this.#int('dirfd', AT_FDCWD) : this.#fd('dirfd', dirfd);
    const p = this.#path('path', path);
    const statxFlags = o.flags === undefined ? 0 : check.integer('options.flags', o.flags, 0, check.INT32_MAX);
    const mask = o.mask === undefined ? 0xfff : check.integer('options.mask', o.mask, 0, 0xffffffff);
    const flags = atomFlags('options', o);
    const buffer = new Uint8Array(STATX_SIZE);
    const args = [d, p, this.#int('flags', statxFlags), this.#int('mask', mask), this.#pointer(buffer, 0, STATX_SIZE, false)];
    return this.#add('statx', nr.statx, flags, args, { view: buffer, offset: 0, length: STATX_SIZE, mode: 2 }, buffer);
  }

  close(fd: number | SysletResult, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    return this.#add('close', nr.close, atomFlags('options', options), [this.#fd('fd', fd)]);
  }

  fsync(fd: number | SysletResult, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    return this.#add('fsync', nr.fsync, atomFlags('options', options), [this.#fd('fd', fd)]);
  }

  /** lseek(fd, offset, whence = 'set'): the new position. */
  lseek(fd: number | SysletResult, offset: number | bigint | SysletResult, whence: Whence = 'set', options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const f = this.#fd('fd', fd);
    let off: Arg;
    if (offset instanceof SysletResult) off = this.#resultArg('offset', offset);
    else if (typeof offset === 'bigint') {
      const w = check.word('offset', offset);
      if (w !== offset) throw outOfRange('offset', `>= ${-(2n ** 63n)} && <= ${2n ** 63n - 1n}`, offset);
      off = { kind: ARG_BIGINT, value: offset };
    } else off = this.#int('offset', check.integer('offset', offset, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    const w = typeof whence === 'string' ? WHENCE[whence] : check.integer('whence', whence, 0, 4);
    if (w === undefined) throw invalidValue('whence', "must be 'set', 'cur', 'end', 'data', 'hole' or 0..4", whence);
    return this.#add('lseek', nr.lseek, atomFlags('options', options), [f, off, this.#int('whence', w)]);
  }

  /** mkdir(path, mode = 0o777): mkdirat(AT_FDCWD, ...). */
  mkdir(path: string | Uint8Array | URL, mode?: number | string, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const m = check.mode('mode', mode, 0o777);
    return this.#add('mkdirat', nr.mkdirat, atomFlags('options', options), [this.#int('dirfd', AT_FDCWD), p, this.#int('mode', m)]);
  }

  /** unlink(path): unlinkat(AT_FDCWD, path, 0). */
  unlink(path: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    return this.#add('unlinkat', nr.unlinkat, atomFlags('options', options), [this.#int('dirfd', AT_FDCWD), p, this.#int('flags', 0)]);
  }

  /** rename(oldPath, newPath): renameat2(AT_FDCWD, old, AT_FDCWD, new, 0). */
  rename(oldPath: string | Uint8Array | URL, newPath: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const from = this.#path('oldPath', oldPath);
    const to = this.#path('newPath', newPath);
    const cwd = this.#int('dirfd', AT_FDCWD);
    return this.#add('renameat2', nr.renameat2, atomFlags('options', options), [cwd, from, cwd, to, this.#int('flags', 0)]);
  }

  /** stat(path): newfstatat(AT_FDCWD, path, 0); the atom's stats() gives Stats after completion. */
  stat(path: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    return this.#fstatat(path, 0, options);
  }

  /** lstat(path): newfstatat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW): a symbolic link itself. */
  lstat(path: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    return this.#fstatat(path, atFlags.AT_SYMLINK_NOFOLLOW, options);
  }

  #fstatat(path: unknown, flags: number, options: unknown): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const atomFlagBits = atomFlags('options', options);
    const buffer = new Uint8Array(STAT_SIZE);
    const args = [this.#int('dirfd', AT_FDCWD), p, this.#pointer(buffer, 0, STAT_SIZE, false), this.#int('flags', flags)];
    return this.#add('newfstatat', nr.newfstatat, atomFlagBits, args, { view: buffer, offset: 0, length: STAT_SIZE, mode: 2 }, buffer);
  }

  /** ftruncate(fd, length = 0): length a number, bigint or earlier result (a negative number means 0, as node:fs). */
  ftruncate(fd: number | SysletResult, length: number | bigint | SysletResult = 0, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const f = this.#fd('fd', fd);
    let len: Arg;
    if (length instanceof SysletResult) len = this.#resultArg('length', length);
    else {
      const l = check.truncateLength('length', length);
      len = typeof l === 'bigint' ? { kind: ARG_BIGINT, value: l } : this.#int('length', l);
    }
    return this.#add('ftruncate', nr.ftruncate, atomFlags('options', options), [f, len]);
  }

  fdatasync(fd: number | SysletResult, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    return this.#add('fdatasync', nr.fdatasync, atomFlags('options', options), [this.#fd('fd', fd)]);
  }

  /** fchmod(fd, mode): mode a number or an octal string. */
  fchmod(fd: number | SysletResult, mode: number | string, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const f = this.#fd('fd', fd);
    return this.#add('fchmod', nr.fchmod, atomFlags('options', options), [f, this.#int('mode', check.mode('mode', mode))]);
  }

  /** rmdir(path): unlinkat(AT_FDCWD, path, AT_REMOVEDIR). */
  rmdir(path: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    return this.#add('unlinkat', nr.unlinkat, atomFlags('options', options), [this.#int('dirfd', AT_FDCWD), p, this.#int('flags', atFlags.AT_REMOVEDIR)]);
  }

  /**
   * sendfile(outFd, inFd, count): copies up to @count bytes from inFd's
   * file position to outFd's, in the kernel (no buffer); the bytes copied.
   */
  sendfile(outFd: number | SysletResult, inFd: number | SysletResult, count: number, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const out = this.#fd('outFd', outFd);
    const input = this.#fd('inFd', inFd);
    const n = check.integer('count', count, 0, Number.MAX_SAFE_INTEGER);
    return this.#add('sendfile', nr.sendfile, atomFlags('options', options), [out, input, { kind: ARG_ABSENT }, this.#int('count', n)]);
  }

  /** access(path, mode = F_OK): faccessat(AT_FDCWD, path, mode); 0 when the caller may. */
  access(path: string | Uint8Array | URL, mode = 0, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const m = check.integer('mode', mode, 0, 7);
    return this.#add('faccessat', nr.faccessat, atomFlags('options', options), [this.#int('dirfd', AT_FDCWD), p, this.#int('mode', m)]);
  }

  /** chmod(path, mode): fchmodat(AT_FDCWD, path, mode); mode a number or an octal string. */
  chmod(path: string | Uint8Array | URL, mode: number | string, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const m = check.mode('mode', mode);
    return this.#add('fchmodat', nr.fchmodat, atomFlags('options', options), [this.#int('dirfd', AT_FDCWD), p, this.#int('mode', m)]);
  }

  /** symlink(target, path): symlinkat(target, AT_FDCWD, path): creates @path pointing at @target. */
  symlink(target: string | Uint8Array | URL, path: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const t = this.#path('target', target);
    const p = this.#path('path', path);
    return this.#add('symlinkat', nr.symlinkat, atomFlags('options', options), [t, this.#int('dirfd', AT_FDCWD), p]);
  }

  /** readlink(path, buffer, { offset, length }): readlinkat(AT_FDCWD, ...): the link's bytes (not NUL-terminated) into buffer; their count. */
  readlink(path: string | Uint8Array | URL, buffer: ArrayBufferView, options?: IoAtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const o = check.options<IoAtomOptions>('options', options);
    const view = check.buffer('buffer', buffer);
    const [offset, length] = check.bufferRange(view, o.offset, o.length);
    const args: Arg[] = [this.#int('dirfd', AT_FDCWD), p, this.#pointer(view, offset, length, false), this.#int('length', length)];
    return this.#add('readlinkat', nr.readlinkat, atomFlags('options', o), args, { view, offset, length, mode: 1 });
  }

  /** link(existingPath, newPath): linkat(AT_FDCWD, existing, AT_FDCWD, new, 0). */
  link(existingPath: string | Uint8Array | URL, newPath: string | Uint8Array | URL, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const from = this.#path('existingPath', existingPath);
    const to = this.#path('newPath', newPath);
    const cwd = this.#int('dirfd', AT_FDCWD);
    return this.#add('linkat', nr.linkat, atomFlags('options', options), [cwd, from, cwd, to, this.#int('flags', 0)]);
  }

  /** utimes(path, atime, mtime): utimensat(AT_FDCWD, path, times, 0); times in seconds (number), numeric strings or Dates. */
  utimes(path: string | Uint8Array | URL, atime: number | string | Date, mtime: number | string | Date, options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    const p = this.#path('path', path);
    const times = new BigInt64Array(4);
    timespec('atime', atime, times, 0);
    timespec('mtime', mtime, times, 2);
    const args = [this.#int('dirfd', AT_FDCWD), p, this.#pointer(times, 0, times.byteLength, true), this.#int('flags', 0)];
    return this.#add('utimensat', nr.utimensat, atomFlags('options', options), args);
  }

  /** getpid(): 1 (every caller is a thread of pid 1); a cheap atom. */
  getpid(options?: AtomOptions): SysletAtom {
    this.#checkOpen();
    return this.#add('getpid', nr.getpid, atomFlags('options', options), []);
  }

  #checkOpen(): void {
    if (this.#desc) throw stateError('this chain was submitted already: it cannot take more atoms (build a new one with k.syslet())');
    if (this.#atoms.length >= MAX_ATOMS) throw outOfRange('atoms', `at most ${MAX_ATOMS} per chain`, this.#atoms.length + 1);
  }

  #int(name: string, value: number): Arg {
    void name;
    return { kind: ARG_NUMBER, value };
  }

  #resultArg(name: string, value: SysletResult): Arg {
    if (value.atom.chain !== this) throw invalidValue(name, 'is the result of an atom of another chain', value);
    return { kind: ARG_RESULT, atom: value.atom.index };
  }

  #fd(name: string, value: unknown): Arg {
    if (value instanceof SysletResult) return this.#resultArg(name, value);
    if (typeof value !== 'number') throw invalidType(name, 'of type number or a SysletResult (atom.result)', value);
    return { kind: ARG_NUMBER, value: check.fd(value, name) };
  }

  #position(name: string, value: unknown): Arg {
    if (value instanceof SysletResult) return this.#resultArg(name, value);
    if (value === undefined || value === null) throw invalidType(name, 'of type number, bigint or a SysletResult', value);
    const p = check.position(name, value);
    return typeof p === 'bigint' ? { kind: ARG_BIGINT, value: p } : { kind: ARG_NUMBER, value: p };
  }

  #path(name: string, value: unknown): Arg {
    // The same path string in several atoms shares one buffer (a chain has
    // at most 30).
    const known = typeof value === 'string' ? this.#paths.get(value) : undefined;
    if (known) return this.#pointer(known, 0, known.length, true);
    // check.path may return per-thread scratch memory: keep a copy.
    const bytes = check.path(name, value);
    const end = bytes.indexOf(0);
    const own = bytes.slice(0, end + 1);
    if (typeof value === 'string') this.#paths.set(value, own);
    return this.#pointer(own, 0, own.length, true);
  }

  #pointer(view: ArrayBufferView, offset: number, length: number, copyIn: boolean): Arg {
    let region = this.#regions.get(view);
    if (!region) {
      if (this.#regions.size >= MAX_BUFFERS) throw outOfRange('buffers', `at most ${MAX_BUFFERS} distinct buffers per chain`, this.#regions.size + 1);
      region = { index: this.#regions.size, view, start: offset, end: offset + length, copyIn };
      this.#regions.set(view, region);
    } else {
      region.start = Math.min(region.start, offset);
      region.end = Math.max(region.end, offset + length);
      region.copyIn ||= copyIn;
    }
    return { kind: ARG_POINTER, view, offset };
  }

  #add(name: string, number: number, flags: number, args: Arg[], copyOut?: AtomSpec['copyOut'], buffer?: Uint8Array): SysletAtom {
    const index = this.#atoms.length;
    this.#atoms.push({ nr: number, flags, next: undefined, args, copyOut });
    const atom = new SysletAtom(this, index, name, buffer);
    this.#handles.push(atom);
    return atom;
  }

  /** @internal */
  setNext(atom: SysletAtom, target: SysletAtom | null): void {
    if (!(atom instanceof SysletAtom) || atom.chain !== this)
      throw invalidValue('atom', 'must be an atom of this chain', atom);
    if (this.#desc) throw stateError('this chain was submitted already: its atoms cannot change');
    if (target !== null && (!(target instanceof SysletAtom) || target.chain !== this))
      throw invalidValue('target', 'must be an atom of the same chain or null', target);
    this.#atoms[atom.index]!.next = target === null ? null : target.index;
  }

  /** @internal */
  resultSlot(index: number): bigint {
    return this.#results ? this.#results[index]! : NOT_RUN;
  }

  /**
   * @internal  The chain's native layout for runs on @ring, made at its
   * second submission there and reused (the chain is frozen from then
   * on); -1 for a first submission (laid out for that run only).
   */
  prepared(ring: SysletRing, ringHandle: unknown): number {
    if (this.#preparedFor === ring) {
      if (this.#inFlight) throw stateError('this chain is in flight: wait for its completion before submitting it again');
      return this.#token;
    }
    // A chain run once (most k.fs calls) is laid out for that run and
    // freed at once: a layout kept until the chain is collected would hold
    // its bounce memory meanwhile.  The second run on a ring keeps one.
    if (this.#lastRing !== ring) {
      this.#lastRing = ring;
      return -1;
    }
    const [desc, refs] = this.describe(1);
    [this.#prepared, this.#token] = native.asyncPrepare(ringHandle, desc, refs);
    this.#patchAtom = -1; // the description has every value
    this.#preparedFor = ring;
    return this.#token;
  }

  /** @internal  The description and its refs, built once (the chain is frozen from then on). */
  describe(id: number): [Float64Array, unknown[]] {
    if (typeof id !== 'number') throw invalidType('id', 'a number', id);
    if (this.#inFlight) throw stateError('this chain is in flight: wait for its completion before submitting it again');
    if (this.#atoms.length === 0) throw invalidValue('chain', 'has no atoms', this);
    if (!this.#desc) this.#freeze();
    for (const r of this.#regions.values())
      if (r.view.byteLength < r.end) throw stateError(BUFFER_GONE);
    const desc = this.#desc!;
    desc[0] = id;
    this.#results!.fill(NOT_RUN);
    return [desc, this.#refs!];
  }

  #freeze(): void {
    const atoms = this.#atoms;
    const regions = [...this.#regions.values()];
    const copyOuts = atoms.filter((a) => a.copyOut).length;
    const desc = new Float64Array(5 + regions.length * 4 + atoms.length * ATOM_FIELDS + copyOuts * 5);
    this.#results = new BigInt64Array(atoms.length).fill(NOT_RUN);
    const refs: unknown[] = [this.#results];
    let at = 0;
    desc[at++] = 0; // id, set per submission
    desc[at++] = atoms.length;
    desc[at++] = regions.length;
    desc[at++] = copyOuts;
    desc[at++] = 0; // refs[0]: the results
    for (const r of regions) {
      refs.push(r.view);
      desc[at++] = refs.length - 1;
      desc[at++] = r.start;
      desc[at++] = r.end - r.start;
      desc[at++] = r.copyIn ? 1 : 0;
    }
    atoms.forEach((a, i) => {
      desc[at++] = a.nr;
      desc[at++] = a.flags;
      desc[at++] = a.next === undefined ? (i + 1 < atoms.length ? i + 1 : -1) : a.next === null ? -1 : a.next;
      desc[at++] = 0;
      for (let j = 0; j < 6; j++) {
        const arg = a.args[j] ?? { kind: ARG_ABSENT };
        desc[at++] = arg.kind;
        switch (arg.kind) {
          case ARG_ABSENT:
            desc[at++] = 0;
            desc[at++] = 0;
            break;
          case ARG_NUMBER:
            desc[at++] = arg.value;
            desc[at++] = 0;
            break;
          case ARG_BIGINT: {
            const u = BigInt.asUintN(64, arg.value);
            desc[at++] = Number(BigInt.asIntN(32, u >> 32n));
            desc[at++] = Number(u & 0xffffffffn);
            break;
          }
          case ARG_RESULT:
            desc[at++] = arg.atom;
            desc[at++] = 0;
            break;
          case ARG_POINTER: {
            const r = this.#regions.get(arg.view)!;
            desc[at++] = r.index;
            desc[at++] = arg.offset - r.start;
            break;
          }
        }
      }
    });
    atoms.forEach((a, i) => {
      if (!a.copyOut) return;
      const r = this.#regions.get(a.copyOut.view)!;
      desc[at++] = i;
      desc[at++] = r.index;
      desc[at++] = a.copyOut.offset - r.start;
      desc[at++] = a.copyOut.length;
      desc[at++] = a.copyOut.mode;
    });
    this.#desc = desc;
    this.#refs = refs;
  }

  /**
   * @internal  Replaces a plain-number argument (not a buffer, count or
   * result) of atom @index, also once frozen: lets k.fs resubmit a chain
   * with another position.  @value must be checked by the caller.
   */
  setNumberArg(index: number, arg: number, value: number): void {
    if (this.#inFlight) throw stateError('this chain is in flight');
    const a = this.#atoms[index]?.args[arg];
    if (!a || a.kind !== ARG_NUMBER || !Number.isSafeInteger(value)) throw invalidValue('arg', 'is not a number argument', arg);
    a.value = value;
    if (this.#desc) this.#desc[5 + this.#regions.size * 4 + index * ATOM_FIELDS + 4 + arg * 3 + 1] = value;
    if (!this.#preparedFor) return;
    // The prepared layout takes it with the next run (one N-API call less
    // per positional k.fs read); a second slot changed meanwhile goes now.
    if (this.#patchAtom >= 0 && (this.#patchAtom !== index || this.#patchArg !== arg))
      native.asyncPatch(this.#prepared, this.#patchAtom, this.#patchArg, this.#patchValue);
    this.#patchAtom = index;
    this.#patchArg = arg;
    this.#patchValue = value;
  }

  /** @internal  The pending patch for the next run of the prepared layout: [atom (-1: none), arg, value]; cleared. */
  takePatch(out: Float64Array): void {
    if (!(out instanceof Float64Array) || out.length < 3) throw invalidType('out', 'a Float64Array of 3 or more', out);
    out[0] = this.#patchAtom;
    out[1] = this.#patchArg;
    out[2] = this.#patchValue;
    this.#patchAtom = -1;
  }

  /** @internal  Going in flight, the results read "not run" until the completion. */
  setInFlight(value: boolean): void {
    this.#inFlight = value;
    if (value) this.#results?.fill(NOT_RUN);
  }

  /** @internal  The buffer an atom's copy out goes to (for error messages). */
  atomName(index: number): string {
    if (typeof index !== 'number') throw invalidType('index', 'a number', index);
    return `atom ${index} (${this.#handles[index]?.syscall ?? '?'})`;
  }
}

interface Pending {
  chain: Syslet;
  resolve: (value: number) => void;
  reject: (error: Error) => void;
}

/**
 * A completion ring: native memory the kernel posts completions to, read
 * from JavaScript with Atomics.  Settles the Promise of every asynchronous
 * submission, and is an async iterator of the raw completions.  Never keeps
 * the process alive while nothing is in flight.
 */
export class SysletRing implements AsyncIterable<SysletCompletion> {
  /** Completions the ring holds. */
  readonly entries: number;
  readonly #kernel: Kernel;
  readonly #handle: unknown;
  /** Held here: the addon keeps only a weak reference while the ring is idle. */
  readonly #drainFn = (): void => this.#drain();
  readonly #i32: Int32Array;
  /** After the entries: where the addon leaves a submission's outcome, [result, status] (binding/syslets.cc Ring::scratch). */
  readonly #scratch: Float64Array;
  readonly #mask: number;
  readonly #status: Int32Array;
  readonly #results: Array<number | bigint>;
  readonly #ids: Float64Array;
  readonly #pending = new Map<number, Pending>();
  readonly #out = new Float64Array(2);
  /** Scratch for Syslet.takePatch. */
  readonly #patch = new Float64Array(3);
  #tail = 0;
  #nextId = 1;
  #closed = false;
  #queue: SysletCompletion[] | undefined;
  #wake: (() => void) | undefined;

  /** @internal use k.createRing() */
  constructor(kernel: Kernel, entries: number) {
    this.#kernel = kernel;
    this.entries = entries;
    this.#mask = entries - 1;
    const [handle, memory] = native.ringCreate(entries, this.#drainFn) as [unknown, ArrayBuffer];
    // The memory is the kernel's to write: it may not leave this thread.
    markAsUntransferable(memory);
    this.#handle = handle;
    this.#i32 = new Int32Array(memory);
    this.#scratch = new Float64Array(memory, memory.byteLength - SCRATCH_BYTES, 2);
    this.#status = new Int32Array(entries);
    this.#results = new Array(entries).fill(0);
    this.#ids = new Float64Array(entries);
  }

  /** Submissions whose completion has not been consumed yet. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Times completions woke this thread's event loop (each wake-up drains all there is). */
  get wakeups(): number {
    return (native.ringInfo(this.#handle) as number[])[0]!;
  }

  /** Times the kernel's notify hook was called for this ring (one per batch of completions). */
  get notifications(): number {
    return (native.ringInfo(this.#handle) as number[])[1]!;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the ring: no more submissions, and iterations end.  Throws
   * (ERR_INVALID_STATE) while submissions are in flight: their completions
   * need the ring.  `{ cancel: true }` throws ERR_METHOD_NOT_IMPLEMENTED:
   * the kernel cannot cancel one chain (only halt cancels them all).
   * Idempotent.
   */
  close(options?: RingCloseOptions): void {
    const o = check.options<RingCloseOptions>('options', options);
    if (o.cancel !== undefined && typeof o.cancel !== 'boolean') throw invalidType('options.cancel', 'of type boolean', o.cancel);
    if (o.cancel) {
      const error = new Error(
        'ring.close({ cancel: true }) is not implemented: the kernel has no way to cancel one chain in flight ' +
          '(k.halt() cancels them all); wait for the completions, then close()',
      );
      (error as Error & { code: string }).code = 'ERR_METHOD_NOT_IMPLEMENTED';
      throw error;
    }
    if (this.#closed) return;
    if (this.#pending.size > 0 || native.ringClose(this.#handle) !== 0)
      throw stateError(
        `the ring has ${this.#pending.size} submission(s) in flight: close() waits for nothing, ` +
          'so consume their completions (await them) first',
      );
    this.#closed = true;
    this.#endIteration();
  }

  /**
   * The raw completions consumed from now on, in the order the kernel
   * posted them, as { result, id }.  One iteration at a time; it ends when
   * the ring is closed or the kernel stopped.  Promises of the submissions
   * settle as well.
   */
  [Symbol.asyncIterator](): AsyncIterator<SysletCompletion> {
    if (this.#queue) throw stateError('the ring is already being iterated (one iteration at a time)');
    const queue: SysletCompletion[] = [];
    this.#queue = queue;
    const finish = (): IteratorResult<SysletCompletion> => {
      if (this.#queue === queue) this.#queue = undefined;
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<SysletCompletion>> => {
        for (;;) {
          const c = queue.shift();
          if (c) return { done: false, value: c };
          if (this.#queue !== queue || this.#closed || this.#stopped()) return finish();
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      },
      return: async (): Promise<IteratorResult<SysletCompletion>> => finish(),
    };
  }

  #stopped(): boolean {
    return native.state() !== KERNEL_RUNNING && this.#pending.size === 0;
  }

  #endIteration(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * @internal  Submits one chain through its prepared layout (no parsing,
   * no allocation on the native side); see Kernel.asyncExec.
   */
  submitOne(chain: Syslet): AsyncExecResult {
    if (!(chain instanceof Syslet)) throw invalidType('chain', 'a Syslet', chain);
    if (this.#closed) throw stateError('the ring is closed');
    const token = chain.prepared(this, this.#handle);
    if (token < 0) return this.#submit([chain], false)[0]!;
    const id = this.#nextId++;
    const patch = this.#patch;
    chain.takePatch(patch);
    native.asyncSubmit(token, id, patch[0]!, patch[1]!, patch[2]!);
    const status = this.#scratch[1]!;
    if (status === ASYNC_QUEUED) {
      chain.setInFlight(true);
      const completion = new Promise<number>((resolve, reject) => this.#pending.set(id, { chain, resolve, reject }));
      return { done: false, id, completion };
    }
    if (status < 0) throw this.#kernel.error(-status, 'async_exec');
    if (status === ASYNC_BUFFER_GONE) throw stateError(BUFFER_GONE);
    const result = this.#scratch[0]!;
    return { done: true, id, result: Number.isNaN(result) ? chain.atoms[status]!.result.value! : result };
  }

  /** @internal  Submits @chains (one native call); see Kernel.asyncExecBatch. */
  submit(chains: Syslet[], batch: boolean): AsyncExecResult[] {
    if (!Array.isArray(chains) || !chains.every((chain) => chain instanceof Syslet))
      throw invalidType('chains', 'an array of Syslets', chains);
    return this.#submit(chains, batch);
  }

  #submit(chains: Syslet[], batch: boolean): AsyncExecResult[] {
    if (this.#closed) throw stateError('the ring is closed');
    const descs: Float64Array[] = [];
    const refs: unknown[][] = [];
    const ids: number[] = [];
    if (batch && new Set(chains).size !== chains.length)
      throw invalidValue('chains', 'must not hold the same chain twice (a chain is in flight once at a time)', chains);
    for (const chain of chains) {
      const id = this.#nextId++;
      const [desc, r] = chain.describe(id);
      // The description is reused by the chain: a batch needs its own copy.
      descs.push(batch ? desc.slice() : desc);
      refs.push(r);
      ids.push(id);
    }
    const out = chains.length === 1 ? this.#out : new Float64Array(2 * chains.length);
    native.asyncExec(this.#handle, descs, refs, out);
    const results: AsyncExecResult[] = [];
    for (let i = 0; i < chains.length; i++) {
      const status = out[2 * i]!;
      const chain = chains[i]!;
      const id = ids[i]!;
      if (status === 1) {
        const result = chain.atoms[out[2 * i + 1]!]!.result.value!;
        results.push({ done: true, id, result });
      } else if (status === 0) {
        chain.setInFlight(true);
        const completion = new Promise<number>((resolve, reject) => this.#pending.set(id, { chain, resolve, reject }));
        results.push({ done: false, id, completion });
      } else {
        const error = this.#kernel.error(-status, 'async_exec');
        if (!batch) throw error;
        results.push({ done: false, id, completion: Promise.reject(error) });
      }
    }
    return results;
  }

  #drain(): void {
    const i32 = this.#i32;
    for (;;) {
      const head = Atomics.load(i32, 0);
      let count = (head - this.#tail) >>> 0;
      if (count === 0) break;
      if (count > this.entries) count = this.entries;
      for (let k = 0; k < count; k++) {
        const at = 4 + (((this.#tail + k) & this.#mask) << 2);
        const lo = i32[at]! >>> 0;
        const hi = i32[at + 1]!;
        this.#results[k] = hi > -2097152 && hi < 2097152 ? hi * 4294967296 + lo : combine(hi, lo);
        this.#ids[k] = (i32[at + 3]! >>> 0) * 4294967296 + (i32[at + 2]! >>> 0);
      }
      const done = native.ringConsume(this.#handle, count, this.#status);
      this.#tail = (this.#tail + done) >>> 0;
      Atomics.store(i32, 1, this.#tail | 0);
      // A completion waits for space: tell the kernel there is some now.
      // The kernel sets WAITING again before each sleep, so the flag alone
      // says when a notify is needed (docs/syslets.md, "The ring").
      if (Atomics.load(i32, 3) & RING_WAITING) native.ringNotify(this.#handle);
      for (let k = 0; k < done; k++) this.#settle(this.#ids[k]!, this.#results[k]!, this.#status[k]!);
      if (done === 0) break;
    }
    if (this.#pending.size > 0 && native.state() !== KERNEL_RUNNING) {
      // Halted or dead: the kernel posted all it ever will.  What is still
      // pending lost its completion (a ring full at the halt).
      native.ringAbandon(this.#handle);
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) {
        p.chain.setInFlight(false);
        p.reject(this.#stopError(-ECANCELED));
      }
    }
    this.#endIteration();
  }

  #stopError(result: number): Error {
    const dead = native.state() === KERNEL_DEAD;
    if (dead || result === -ENOTRECOVERABLE) return this.#kernel.error(ENOTRECOVERABLE, 'syslet');
    const error = new KernelError(ECANCELED, { syscall: 'syslet', kernelLog: this.#kernel.console.tail(ERROR_LOG_LINES) });
    error.message += ' (the kernel halted before the chain finished)';
    return error;
  }

  #settle(id: number, result: number | bigint, status: number): void {
    this.#queue?.push({ result, id });
    const p = this.#pending.get(id);
    if (!p || status === -1) return;
    this.#pending.delete(id);
    p.chain.setInFlight(false);
    if (result === -ECANCELED || (result === -ENOTRECOVERABLE && native.state() === KERNEL_DEAD)) {
      p.reject(this.#stopError(result));
    } else if (status > 0) {
      const error = stateError(
        `the chain completed (result ${result}) but the buffer of ${p.chain.atomName(status - 1)} was detached ` +
          '(transferred) while the chain was in flight: the data the kernel read for it is dropped',
      );
      (error as Error & { result: number | bigint }).result = result;
      p.reject(error);
    } else if (typeof result === 'bigint') {
      p.reject(outOfRange('result', 'a safe integer (the chain completed; read the exact value from its atoms .result.bigint)', result));
    } else {
      p.resolve(result);
    }
  }
}

function combine(hi: number, lo: number): number | bigint {
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Checks k.createRing's options; returns the entries. */
export function ringEntries(options: unknown): number {
  const o = check.options<RingOptions>('options', options);
  if (o.entries === undefined) return 256;
  const entries = check.integer('options.entries', o.entries, 1, MAX_RING_ENTRIES);
  if ((entries & (entries - 1)) !== 0) throw outOfRange('options.entries', `a power of two >= 1 && <= ${MAX_RING_ENTRIES}`, entries);
  return entries;
}
