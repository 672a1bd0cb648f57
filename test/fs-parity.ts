// SPDX-License-Identifier: GPL-2.0-only
// The harness of the k.fs parity tests (fs.test.ts, fs-more.test.ts): each
// case runs with node:fs/promises in a host folder and with k.fs in the
// kernel, on the same layout, and the outcomes (normalised: contents, sizes,
// types, modes, names, error codes) must be equal.

import { expect } from 'vitest';
import * as nodeFs from 'node:fs';
import { BigIntStats, Dirent, Stats, type Disk, type Kernel } from '../dist/index.js';

/** One side of a case: the Promise API, its sync twin for setup, its folder. */
export interface Side {
  name: 'node' | 'kfs';
  fs: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  sync: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  root: string;
}

/** A side with the case's own folder. */
export type CaseSide = Side & { d: string };

export const STAT_FIELDS = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks'] as const;
const TIME_FIELDS = ['atimeMs', 'mtimeMs', 'ctimeMs', 'birthtimeMs', 'atimeNs', 'mtimeNs', 'ctimeNs', 'birthtimeNs'] as const;

/** Results in a form both sides can give: no inode numbers, times, devices; folder roots as <root>. */
export function normalise(value: unknown, root: string): unknown {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return value.split(root).join('<root>');
  if (Buffer.isBuffer(value)) return { buffer: value.toString('hex') };
  if (ArrayBuffer.isView(value)) return { view: value.constructor.name, bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  if (value instanceof Stats || value instanceof nodeFs.Stats) {
    const s = value as nodeFs.Stats;
    return { size: s.size, mode: s.mode, nlink: s.nlink, file: s.isFile(), dir: s.isDirectory(), link: s.isSymbolicLink() };
  }
  if (value instanceof BigIntStats || value?.constructor?.name === 'BigIntStats') {
    const s = value as nodeFs.BigIntStats;
    return {
      bigint: { size: s.size, mode: s.mode, nlink: s.nlink, file: s.isFile(), dir: s.isDirectory(), link: s.isSymbolicLink() },
      types: [...STAT_FIELDS, ...TIME_FIELDS].map((f) => typeof s[f]),
      dates: [s.atime, s.mtime, s.ctime, s.birthtime].map((d) => d instanceof Date),
    };
  }
  if (value instanceof Dirent || value instanceof nodeFs.Dirent) {
    const d = value as nodeFs.Dirent;
    return { name: d.name, parentPath: normalise(d.parentPath, root), path: normalise(d.path, root), file: d.isFile(), dir: d.isDirectory(), link: d.isSymbolicLink() };
  }
  if (Array.isArray(value)) return value.map((v) => normalise(v, root));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as object)) out[key] = normalise(v, root);
    return out;
  }
  return value;
}

/** What a case gave: { ok: result } or { code, name }. */
export async function outcome(side: Side, fn: (s: Side) => Promise<unknown>): Promise<unknown> {
  let p: unknown;
  try {
    p = fn(side);
  } catch (error) {
    return { threwSynchronously: String(error) };
  }
  try {
    return { ok: normalise(await p, side.root) };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { code: e.code, name: e.name === 'KernelError' ? 'Error' : e.name };
  }
}

/** The two sides of a test file, and its cases' folders. */
export class Parity {
  sides: Side[] = [];
  #cases = 0;

  /** A fresh folder for a case, on both sides. */
  dirs(): CaseSide[] {
    this.#cases++;
    return this.sides.map((s) => {
      const d = `${s.root}/case${this.#cases}`;
      s.sync.mkdirSync(d);
      return { ...s, d };
    });
  }

  /** Runs @fn on both sides (after @setup) and expects the same outcome; returns it. */
  async same(fn: (s: CaseSide) => Promise<unknown>, setup?: (s: CaseSide) => void): Promise<unknown> {
    const [node, kfs] = this.dirs();
    setup?.(node!);
    setup?.(kfs!);
    const a = await outcome(node!, fn as (s: Side) => Promise<unknown>);
    const b = await outcome(kfs!, fn as (s: Side) => Promise<unknown>);
    expect(b).toEqual(a);
    return a;
  }

  /** @fn is bad input: both sides reject it (never throw synchronously) with a TypeError or RangeError and the same ERR_* code. */
  async badInput(fn: (s: CaseSide) => Promise<unknown>, setup?: (s: CaseSide) => void): Promise<void> {
    const result = (await this.same(fn, setup)) as { code?: string; name?: string };
    expect(result.code).toMatch(/^ERR_/);
    expect(['TypeError', 'RangeError']).toContain(result.name);
  }

  /** Deliberate differences: node:fs takes each case, k.fs refuses it with the code given. */
  async refusedByKfs(cases: Array<[(s: CaseSide) => Promise<unknown>, string]>, setup: (s: CaseSide) => void): Promise<void> {
    const [node, kfs] = this.dirs();
    setup(node!);
    setup(kfs!);
    for (const [fn, code] of cases) {
      expect(await outcome(node!, fn as (s: Side) => Promise<unknown>)).toHaveProperty('ok');
      expect(await outcome(kfs!, fn as (s: Side) => Promise<unknown>)).toMatchObject({ code });
    }
  }
}

/**
 * @image attached with 200 us of latency per request and mounted at @at:
 * reads that miss the kernel's cache really wait.  dropCache() unmounts and
 * mounts it again, which empties its page cache.
 */
export function slowDisk(k: Kernel, image: string, at: string): { disk: Disk; dropCache(): void; close(): void } {
  const disk = k.disks.attach(image, { latencyUs: 200 });
  k.mount(disk, { type: 'ext4', at });
  return {
    disk,
    dropCache() {
      k.umount(at);
      k.mount(disk, { type: 'ext4', at });
    },
    close() {
      k.umount(at);
      k.disks.detach(disk);
    },
  };
}
