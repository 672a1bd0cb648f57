// SPDX-License-Identifier: GPL-2.0-only
// The k.fs calls added after the first set, against node:fs/promises (as
// test/fs.test.ts): FileHandle readFile/writeFile/appendFile/readv/writev,
// opendir and Dir, readdir recursive, bigint stats.  Each case runs with
// node:fs/promises in a host temporary folder and with k.fs in an ext4 image
// on the same layout; results and error codes must be the same.

import { beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { BigIntStats, Dirent, Kernel, Stats } from '../dist/index.js';
import { bootForTests, makeExt4Image, tempDir } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/kfs';

interface Side {
  name: 'node' | 'kfs';
  fs: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  sync: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  root: string;
}
type CaseSide = Side & { d: string };

let sides: Side[];

const STAT_FIELDS = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks'] as const;
const TIME_FIELDS = ['atimeMs', 'mtimeMs', 'ctimeMs', 'birthtimeMs', 'atimeNs', 'mtimeNs', 'ctimeNs', 'birthtimeNs'] as const;

/** Results in a form both sides can give: no inode numbers, times, devices; folder roots as <root>. */
function normalise(value: unknown, root: string): unknown {
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
async function outcome(side: Side, fn: (s: Side) => Promise<unknown>): Promise<unknown> {
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

let caseNumber = 0;
function dirs(): CaseSide[] {
  caseNumber++;
  return sides.map((s) => {
    const d = `${s.root}/case${caseNumber}`;
    s.sync.mkdirSync(d);
    return { ...s, d };
  });
}

/** Runs @fn on both sides (after @setup) and expects the same outcome; returns it. */
async function same(fn: (s: CaseSide) => Promise<unknown>, setup?: (s: CaseSide) => void): Promise<unknown> {
  const [node, kfs] = dirs();
  setup?.(node!);
  setup?.(kfs!);
  const a = await outcome(node!, fn as (s: Side) => Promise<unknown>);
  const b = await outcome(kfs!, fn as (s: Side) => Promise<unknown>);
  expect(b).toEqual(a);
  return a;
}

/** Sorted, for results whose order the file system decides. */
function sorted<T>(list: T[]): T[] {
  const key = (v: T): string => (typeof v === 'string' ? v : `${(v as Dirent).parentPath}/${(v as Dirent).name}`);
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function withHandle(s: CaseSide, flags: string, fn: (fh: any) => Promise<unknown>, name = 'f'): Promise<unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const fh = await s.fs.open(`${s.d}/${name}`, flags);
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  k = await bootForTests({ memory: '256M' });
  const hostRoot = join(tempDir(), 'root');
  nodeFs.mkdirSync(hostRoot);
  const disk = k.disks.attach(makeExt4Image(64 * 1024 * 1024, 'kfs-more.img'));
  k.mount(disk, { type: 'ext4', at: MNT });
  sides = [
    { name: 'node', fs: nodeFs.promises, sync: nodeFs, root: hostRoot },
    { name: 'kfs', fs: k.fs, sync: k.sys, root: MNT },
  ];
});

const big = Buffer.alloc(200 * 1024);
for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);

/** The layout of every case: files, a directory, a symlink, and a 3-level tree. */
function files(s: CaseSide): void {
  s.sync.writeFileSync(`${s.d}/f`, 'hello world');
  s.sync.writeFileSync(`${s.d}/big`, big);
  s.sync.mkdirSync(`${s.d}/dir`);
  s.sync.writeFileSync(`${s.d}/dir/inner`, 'x');
  s.sync.symlinkSync('f', `${s.d}/link`);
  s.sync.mkdirSync(`${s.d}/t`);
  s.sync.mkdirSync(`${s.d}/t/a`);
  s.sync.mkdirSync(`${s.d}/t/a/b`);
  s.sync.mkdirSync(`${s.d}/t/a/b/c`);
  s.sync.mkdirSync(`${s.d}/t/empty`);
  s.sync.writeFileSync(`${s.d}/t/top`, '1');
  s.sync.writeFileSync(`${s.d}/t/a/one`, '2');
  s.sync.writeFileSync(`${s.d}/t/a/b/two`, '3');
  s.sync.writeFileSync(`${s.d}/t/a/b/c/three`, '4');
  s.sync.symlinkSync('../top', `${s.d}/t/a/to-top`);
}

describe('FileHandle readFile, writeFile, appendFile, readv, writev', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['readFile', (s) => withHandle(s, 'r', (fh) => fh.readFile())],
    ['readFile utf8 (a string option)', (s) => withHandle(s, 'r', (fh) => fh.readFile('utf8'))],
    ['readFile { encoding: "hex" }', (s) => withHandle(s, 'r', (fh) => fh.readFile({ encoding: 'hex' }))],
    ['readFile after a partial read: the rest, then nothing', (s) =>
      withHandle(s, 'r', async (fh) => [await fh.read(Buffer.alloc(6), 0, 6, null), await fh.readFile('utf8'), await fh.readFile('utf8')])],
    ['readFile after a positional read: the whole file (the position did not move)', (s) =>
      withHandle(s, 'r', async (fh) => [await fh.read(Buffer.alloc(6), 0, 6, 3), await fh.readFile('utf8')])],
    ['readFile of 200 KiB (more than the first chain)', (s) => withHandle(s, 'r', async (fh) => (await fh.readFile()).equals(big), 'big')],
    ['readFile of 200 KiB after reading 150 KiB', (s) =>
      withHandle(s, 'r', async (fh) => {
        await fh.read(Buffer.alloc(150 * 1024), 0, 150 * 1024, null);
        const rest = await fh.readFile();
        return [rest.length, rest.equals(big.subarray(150 * 1024))];
      }, 'big')],
    ['readFile of an empty file', (s) => (s.sync.writeFileSync(`${s.d}/e`, ''), withHandle(s, 'r', (fh) => fh.readFile(), 'e'))],
    ['readFile on a write-only handle: EBADF', (s) => withHandle(s, 'a', (fh) => fh.readFile())],
    ['readFile of a directory: EISDIR', (s) => withHandle(s, 'r', (fh) => fh.readFile(), 'dir')],
    ['readFile after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      await fh.close();
      return fh.readFile();
    }],
    ['readFile with an aborted signal: AbortError', (s) => withHandle(s, 'r', (fh) => fh.readFile({ signal: AbortSignal.abort() }))],
    ['writeFile at the file position, no truncation', async (s) => [
      await withHandle(s, 'r+', async (fh) => [await fh.read(Buffer.alloc(2), 0, 2, null), await fh.writeFile('XY')]),
      await s.fs.readFile(`${s.d}/f`, 'utf8'),
    ]],
    ['writeFile on a "w" handle, twice: one after the other', async (s) => [
      await withHandle(s, 'w', async (fh) => [await fh.writeFile('one,'), await fh.writeFile(Buffer.from('two'))], 'n'),
      await s.fs.readFile(`${s.d}/n`, 'utf8'),
    ]],
    ['writeFile 200 KiB, a Uint16Array and base64', async (s) => [
      await withHandle(s, 'w', async (fh) => [await fh.writeFile(big), await fh.writeFile(new Uint16Array([1, 0xffff])), await fh.writeFile('aGk=', 'base64')], 'n'),
      (await s.fs.readFile(`${s.d}/n`)).equals(Buffer.concat([big, Buffer.from([1, 0, 0xff, 0xff]), Buffer.from('hi')])),
    ]],
    ['writeFile of nothing', async (s) => [await withHandle(s, 'r+', (fh) => fh.writeFile('')), await s.fs.readFile(`${s.d}/f`, 'utf8')]],
    ['writeFile on a read-only handle: EBADF', (s) => withHandle(s, 'r', (fh) => fh.writeFile('x'))],
    ['writeFile after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`, 'r+');
      await fh.close();
      return fh.writeFile('x');
    }],
    ['writeFile with an aborted signal: AbortError, nothing written', async (s) => [
      await withHandle(s, 'r+', (fh) => fh.writeFile('x', { signal: AbortSignal.abort() })).catch((e: Error) => e.name),
      await s.fs.readFile(`${s.d}/f`, 'utf8'),
    ]],
    ['appendFile on an "a" handle', async (s) => [
      await withHandle(s, 'a', async (fh) => [await fh.appendFile('!'), await fh.appendFile(Buffer.from('?'), { encoding: 'utf8' })]),
      await s.fs.readFile(`${s.d}/f`, 'utf8'),
    ]],
    ['appendFile on an "r+" handle writes at the position (as writeFile)', async (s) => [
      await withHandle(s, 'r+', (fh) => fh.appendFile('HE')),
      await s.fs.readFile(`${s.d}/f`, 'utf8'),
    ]],
    ['readv into 3 buffers at a position', (s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(3), Buffer.alloc(4), Buffer.alloc(2)], 1))],
    ['readv at the file position moves it', (s) =>
      withHandle(s, 'r', async (fh) => [await fh.readv([Buffer.alloc(2), Buffer.alloc(3)]), await fh.readv([Buffer.alloc(4)], null), await fh.readFile('utf8')])],
    ['readv past the end: partly filled buffers', (s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)], 5))],
    ['readv at the end of file: 0', (s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(4)], 100))],
    ['readv into typed arrays and a DataView', (s) =>
      withHandle(s, 'r', (fh) => fh.readv([new Uint16Array(2), new DataView(new ArrayBuffer(3)), new Uint8Array(2)], 0))],
    ['readv into empty buffers: 0', (s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(0), Buffer.alloc(0)], 0))],
    ['readv of no buffers: EINVAL', (s) => withHandle(s, 'r', (fh) => fh.readv([], 0))],
    ['readv 200 KiB into 20 buffers', (s) =>
      withHandle(s, 'r', async (fh) => {
        const buffers = Array.from({ length: 20 }, () => Buffer.alloc(10 * 1024));
        const { bytesRead } = await fh.readv(buffers, 0);
        return [bytesRead, Buffer.concat(buffers).equals(big)];
      }, 'big')],
    ['readv of a directory: EISDIR', (s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(4)]), 'dir')],
    ['readv after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      await fh.close();
      return fh.readv([Buffer.alloc(4)]);
    }],
    ['writev then read back', async (s) => [
      await withHandle(s, 'w+', async (fh) => [
        await fh.writev([Buffer.from('ab'), Buffer.from('cde'), new Uint8Array([0x66])]),
        await fh.writev([Buffer.from('XY')], 1),
        await fh.writev([Buffer.from('!')]),
        await fh.readv([Buffer.alloc(3), Buffer.alloc(4)], 0),
      ], 'n'),
      await s.fs.readFile(`${s.d}/n`, 'utf8'),
    ]],
    ['writev beyond the end leaves a hole', async (s) => [await withHandle(s, 'r+', (fh) => fh.writev([Buffer.from('z')], 14)), await s.fs.readFile(`${s.d}/f`)]],
    ['writev on an "a" handle appends (position ignored, as pwrite on Linux)', async (s) => [
      await withHandle(s, 'a', async (fh) => [await fh.writev([Buffer.from('1'), Buffer.from('2')]), await fh.writev([Buffer.from('3')], 0)]),
      await s.fs.readFile(`${s.d}/f`, 'utf8'),
    ]],
    ['writev of no buffers: 0', (s) => withHandle(s, 'r+', (fh) => fh.writev([]))],
    ['writev of empty buffers: 0', (s) => withHandle(s, 'r+', (fh) => fh.writev([Buffer.alloc(0), new Uint8Array(0)], 3))],
    ['writev far past the end', async (s) => [await withHandle(s, 'r+', (fh) => fh.writev([Buffer.from('q')], 2 ** 20)), (await s.fs.stat(`${s.d}/f`)).size]],
    ['writev 200 KiB from 20 buffers', async (s) => [
      await withHandle(s, 'w', async (fh) => (await fh.writev(Array.from({ length: 20 }, (_, i) => big.subarray(i * 10240, (i + 1) * 10240)))).bytesWritten, 'n'),
      (await s.fs.readFile(`${s.d}/n`)).equals(big),
    ]],
    ['writev on a read-only handle: EBADF', (s) => withHandle(s, 'r', (fh) => fh.writev([Buffer.from('x')]))],
    ['writev after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`, 'r+');
      await fh.close();
      return fh.writev([Buffer.from('x')]);
    }],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await same(fn, files);
  });
});

describe('bigint stats', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['stat { bigint: true } of a file', (s) => s.fs.stat(`${s.d}/f`, { bigint: true })],
    ['stat { bigint: true } of a directory', (s) => s.fs.stat(`${s.d}/dir`, { bigint: true })],
    ['stat { bigint: true } follows a symlink', (s) => s.fs.stat(`${s.d}/link`, { bigint: true })],
    ['lstat { bigint: true } of a symlink', (s) => s.fs.lstat(`${s.d}/link`, { bigint: true })],
    ['stat { bigint: false }', (s) => s.fs.stat(`${s.d}/f`, { bigint: false })],
    ['FileHandle.stat { bigint: true }', (s) => withHandle(s, 'r', (fh) => fh.stat({ bigint: true }))],
    ['FileHandle.stat { bigint: true } after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      await fh.close();
      return fh.stat({ bigint: true });
    }],
    ['stat { bigint: true } missing: ENOENT', (s) => s.fs.stat(`${s.d}/missing`, { bigint: true })],
    ['lstat { bigint: true } under a file: ENOTDIR', (s) => s.fs.lstat(`${s.d}/f/x`, { bigint: true })],
    ['utimes, then the bigint times', async (s) => {
      await s.fs.utimes(`${s.d}/f`, 1000000000.5, new Date(1500000000125));
      const st = await s.fs.stat(`${s.d}/f`, { bigint: true });
      return [st.atimeMs, st.atimeNs, st.mtimeMs, st.mtimeNs, st.atime.getTime(), st.mtime.getTime()];
    }],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await same(fn, files);
  });

  it('every field agrees with the number stats and with the kernel', async () => {
    k.sys.writeFileSync(`${MNT}/bigint-file`, 'twelve bytes');
    for (const [big, small] of [
      [await k.fs.stat(`${MNT}/bigint-file`, { bigint: true }), await k.fs.stat(`${MNT}/bigint-file`)],
      [await k.fs.lstat(MNT, { bigint: true }), await k.fs.lstat(MNT)],
    ] as const) {
      expect(big).toBeInstanceOf(BigIntStats);
      for (const f of STAT_FIELDS) expect([f, big[f]]).toEqual([f, BigInt(small[f])]);
      for (const t of ['atime', 'mtime', 'ctime'] as const) {
        expect(big[`${t}Ns`]).toBe(small[`${t}Ns`]);
        expect(big[`${t}Ms`]).toBe(big[`${t}Ns`] / 1_000_000n);
        expect(Math.abs(Number(big[`${t}Ms`]) - small[`${t}Ms`])).toBeLessThan(1);
        expect(big[t].getTime()).toBe(Number(big[`${t}Ms`]));
      }
      // ext4 keeps a creation time: no later than the change time.
      expect(big.birthtimeNs).toBeGreaterThan(0n);
      expect(big.birthtimeNs).toBeLessThanOrEqual(big.ctimeNs);
      expect(big.birthtime.getTime()).toBe(Number(big.birthtimeMs));
    }
    const fh = await k.fs.open(`${MNT}/bigint-file`);
    const [a, b] = [await fh.stat({ bigint: true }), await k.fs.stat(`${MNT}/bigint-file`, { bigint: true })];
    await fh.close();
    expect(a).toEqual(b);
    expect(a.size).toBe(12n);
    expect(a.isFile()).toBe(true);
  });
});

