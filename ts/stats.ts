// SPDX-License-Identifier: GPL-2.0-only
// Node-like result objects: Stats (from struct stat), StatFs, Dirent.

import { modeBits } from './generated/constants.js';

const S_IFMT = modeBits.S_IFMT;

/** The file types shared by Stats and Dirent, as node:fs names them. */
abstract class FileType {
  protected abstract typeBits(): number;
  isFile(): boolean {
    return this.typeBits() === modeBits.S_IFREG;
  }
  isDirectory(): boolean {
    return this.typeBits() === modeBits.S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return this.typeBits() === modeBits.S_IFLNK;
  }
  isFIFO(): boolean {
    return this.typeBits() === modeBits.S_IFIFO;
  }
  isSocket(): boolean {
    return this.typeBits() === modeBits.S_IFSOCK;
  }
  isBlockDevice(): boolean {
    return this.typeBits() === modeBits.S_IFBLK;
  }
  isCharacterDevice(): boolean {
    return this.typeBits() === modeBits.S_IFCHR;
  }
}

function nanoseconds(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

/**
 * The result of fstatSync/statSync/lstatSync, with node:fs's field names.
 * Times are the kernel's: `atimeMs` etc. in milliseconds (fractional), the
 * exact nanoseconds in `atimeNs` etc. (bigint).  No birthtime: the kernel's
 * stat call does not report one.
 */
export class Stats extends FileType {
  dev: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  ino: number;
  size: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  // Seconds and nanoseconds as the kernel gave them, for the *Ns getters.
  readonly #atimeSec: number;
  readonly #atimeNsec: number;
  readonly #mtimeSec: number;
  readonly #mtimeNsec: number;
  readonly #ctimeSec: number;
  readonly #ctimeNsec: number;

  /** @internal built by the API from the addon's 16 values */
  constructor(v: Float64Array) {
    super();
    this.dev = v[0]!;
    this.mode = v[1]!;
    this.nlink = v[2]!;
    this.uid = v[3]!;
    this.gid = v[4]!;
    this.rdev = v[5]!;
    this.blksize = v[6]!;
    this.ino = v[7]!;
    this.size = v[8]!;
    this.blocks = v[9]!;
    this.atimeMs = v[10]! * 1e3 + v[11]! / 1e6;
    this.mtimeMs = v[12]! * 1e3 + v[13]! / 1e6;
    this.ctimeMs = v[14]! * 1e3 + v[15]! / 1e6;
    this.#atimeSec = v[10]!;
    this.#atimeNsec = v[11]!;
    this.#mtimeSec = v[12]!;
    this.#mtimeNsec = v[13]!;
    this.#ctimeSec = v[14]!;
    this.#ctimeNsec = v[15]!;
  }

  protected typeBits(): number {
    return this.mode & S_IFMT;
  }
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get atimeNs(): bigint {
    return nanoseconds(this.#atimeSec, this.#atimeNsec);
  }
  get mtimeNs(): bigint {
    return nanoseconds(this.#mtimeSec, this.#mtimeNsec);
  }
  get ctimeNs(): bigint {
    return nanoseconds(this.#ctimeSec, this.#ctimeNsec);
  }
}

const NS_PER_MS = 1_000_000n;

/**
 * stat(path, { bigint: true }) of k.fs: node:fs's BigIntStats, from the
 * kernel's struct statx.  Every field a bigint; times in whole milliseconds
 * (`atimeMs`...) and exact nanoseconds (`atimeNs`...), with `birthtime`
 * (statx's btime; 0 where the file system keeps none, as libuv).
 */
export class BigIntStats extends FileType {
  dev: bigint;
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  blksize: bigint;
  ino: bigint;
  size: bigint;
  blocks: bigint;
  atimeMs: bigint;
  mtimeMs: bigint;
  ctimeMs: bigint;
  birthtimeMs: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;

  /** @internal built by k.fs from a struct statx (256 bytes, as the kernel filled it) */
  constructor(statx: Uint8Array) {
    super();
    const v = new DataView(statx.buffer, statx.byteOffset, 256);
    const u32 = (at: number): bigint => BigInt(v.getUint32(at, true));
    const time = (at: number): bigint => v.getBigInt64(at, true) * 1_000_000_000n + u32(at + 8);
    // glibc's makedev, as libuv builds st_dev and st_rdev from statx.
    const makedev = (at: number): bigint => {
      const major = u32(at);
      const minor = u32(at + 4);
      return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
    };
    this.dev = makedev(136);
    this.mode = BigInt(v.getUint16(28, true));
    this.nlink = u32(16);
    this.uid = u32(20);
    this.gid = u32(24);
    this.rdev = makedev(128);
    this.blksize = u32(4);
    this.ino = v.getBigUint64(32, true);
    this.size = v.getBigUint64(40, true);
    this.blocks = v.getBigUint64(48, true);
    this.atimeNs = time(64);
    this.birthtimeNs = time(80);
    this.ctimeNs = time(96);
    this.mtimeNs = time(112);
    this.atimeMs = this.atimeNs / NS_PER_MS;
    this.mtimeMs = this.mtimeNs / NS_PER_MS;
    this.ctimeMs = this.ctimeNs / NS_PER_MS;
    this.birthtimeMs = this.birthtimeNs / NS_PER_MS;
  }

  protected typeBits(): number {
    return Number(this.mode) & S_IFMT;
  }
  get atime(): Date {
    return new Date(Number(this.atimeMs));
  }
  get mtime(): Date {
    return new Date(Number(this.mtimeMs));
  }
  get ctime(): Date {
    return new Date(Number(this.ctimeMs));
  }
  get birthtime(): Date {
    return new Date(Number(this.birthtimeMs));
  }
}

/** The result of statfsSync, with node:fs's field names. */
export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

/** d_type of a directory, and of an entry whose type the file system did not give. */
export const DT_DIR = 4;
export const DT_UNKNOWN = 0;

// d_type values of getdents64 (DT_*): the S_IF* type bits shifted by 12.
function dirTypeToMode(dtype: number): number {
  return dtype << 12;
}

/** A directory entry from readdirSync(path, { withFileTypes: true }). */
export class Dirent extends FileType {
  readonly name: string;
  readonly parentPath: string;
  readonly #mode: number;

  /** @internal */
  constructor(name: string, parentPath: string, dtype: number) {
    super();
    this.name = name;
    this.parentPath = parentPath;
    this.#mode = dirTypeToMode(dtype);
  }

  /** node:fs (20) keeps this alias of parentPath (deprecated there). */
  get path(): string {
    return this.parentPath;
  }

  protected typeBits(): number {
    return this.#mode & S_IFMT;
  }
}
