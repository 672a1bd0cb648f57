// SPDX-License-Identifier: GPL-2.0-only
// The k.fs calls added after the first set, against node:fs/promises (as
// test/fs.test.ts): FileHandle readFile/writeFile/appendFile/readv/writev,
// opendir and Dir, readdir recursive, bigint stats.  Each case runs with
// node:fs/promises in a host temporary folder and with k.fs in an ext4 image
// on the same layout; results and error codes must be the same.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { BigIntStats, Dir, Dirent, Kernel } from '../dist/index.js';
import { Parity, STAT_FIELDS, normalise, slowDisk, type CaseSide } from './fs-parity.js';
import { bootForTests, makeExt4Image, tempDir } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/kfs';

const parity = new Parity();
const dirs = (): CaseSide[] => parity.dirs();
const same = (fn: (s: CaseSide) => Promise<unknown>, setup?: (s: CaseSide) => void): Promise<unknown> => parity.same(fn, setup);

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
  parity.sides = [
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

describe('opendir and Dir', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['iterate with for await: every entry, then closed', async (s) => {
      const dir = await s.fs.opendir(s.d);
      const seen = [];
      for await (const e of dir) seen.push(e);
      return [dir.path, sorted(seen), await (async () => dir.close())().catch((e: { code: string }) => e.code)];
    }],
    ['break out of for await closes the Dir', async (s) => {
      const dir = await s.fs.opendir(s.d);
      let n = 0;
      for await (const e of dir) {
        void e;
        if (++n === 2) break;
      }
      // node:fs's Dir throws these synchronously; k.fs rejects (a deliberate difference).
      const code = (fn: () => Promise<unknown>): Promise<unknown> => (async () => fn())().catch((e: { code: string }) => e.code);
      return [n, await code(() => dir.read()), await code(() => dir.close())];
    }],
    ['read() one by one, null at the end, then close()', async (s) => {
      const dir = await s.fs.opendir(`${s.d}/t/a`);
      const seen = [];
      for (let e = await dir.read(); e !== null; e = await dir.read()) seen.push(e);
      return [sorted(seen), await dir.read(), await dir.close()];
    }],
    ['reads called together come in order, without repeats', async (s) => {
      const dir = await s.fs.opendir(`${s.d}/t`);
      const all = await Promise.all([dir.read(), dir.read(), dir.read(), dir.read(), dir.read()]);
      await dir.close();
      return [all.filter((e) => e === null).length, new Set(all.filter(Boolean).map((e) => e.name)).size, sorted(all.filter(Boolean))];
    }],
    ['an empty directory', async (s) => {
      const dir = await s.fs.opendir(`${s.d}/t/empty`);
      return [await dir.read(), await dir.close()];
    }],
    ['recursive: the whole tree', async (s) => {
      const seen = [];
      for await (const e of await s.fs.opendir(`${s.d}/t`, { recursive: true })) seen.push(e);
      return sorted(seen);
    }],
    ['bufferSize is accepted', async (s) => {
      const dir = await s.fs.opendir(`${s.d}/dir`, { bufferSize: 1 });
      return [await dir.read(), await dir.read(), await dir.close()];
    }],
    ['read after close: ERR_DIR_CLOSED', async (s) => {
      const dir = await s.fs.opendir(s.d);
      await dir.close();
      return dir.read();
    }],
    ['close twice: ERR_DIR_CLOSED', async (s) => {
      const dir = await s.fs.opendir(s.d);
      await dir.close();
      return dir.close();
    }],
    ['opendir missing: ENOENT', (s) => s.fs.opendir(`${s.d}/missing`)],
    ['opendir of a file: ENOTDIR', (s) => s.fs.opendir(`${s.d}/f`)],
    ['opendir through a symlink to a file: ENOTDIR', (s) => s.fs.opendir(`${s.d}/link`)],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await same(fn, files);
  });

  it('the error names opendir, as node:fs', async () => {
    await expect(k.fs.opendir(`${MNT}/nothing-here`)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'opendir', path: `${MNT}/nothing-here` });
  });

  it('read() and close() of a closed Dir reject (node:fs throws synchronously)', async () => {
    const dir = await k.fs.opendir(MNT);
    await dir.close();
    const read = dir.read();
    const close = dir.close();
    expect(read).toBeInstanceOf(Promise);
    await expect(read).rejects.toMatchObject({ code: 'ERR_DIR_CLOSED' });
    await expect(close).rejects.toMatchObject({ code: 'ERR_DIR_CLOSED' });
    const node = await nodeFs.promises.opendir(tempDir());
    await node.close();
    expect(() => node.read()).toThrow(expect.objectContaining({ code: 'ERR_DIR_CLOSED' }));
  });

  it('a Dir of k.fs is a Dir, and [Symbol.asyncDispose] closes it', async () => {
    const dir = await k.fs.opendir(MNT);
    expect(dir).toBeInstanceOf(Dir);
    await dir[Symbol.asyncDispose]();
    await expect(dir.read()).rejects.toMatchObject({ code: 'ERR_DIR_CLOSED' });
    await dir[Symbol.asyncDispose]();
  });
});

describe('readdir recursive', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['names: relative paths of a 3-level tree', async (s) => sorted(await s.fs.readdir(`${s.d}/t`, { recursive: true }))],
    ['withFileTypes: Dirents with parentPath and path', async (s) => sorted(await s.fs.readdir(`${s.d}/t`, { recursive: true, withFileTypes: true }))],
    ['a trailing slash is kept in the top parentPath', async (s) => sorted(await s.fs.readdir(`${s.d}/t/`, { recursive: true, withFileTypes: true }))],
    ['recursive: false is the plain readdir', (s) => s.fs.readdir(`${s.d}/t`, { recursive: false })],
    ['of an empty folder', (s) => s.fs.readdir(`${s.d}/t/empty`, { recursive: true })],
    ['a symlink to a file is listed, not followed', async (s) => sorted(await s.fs.readdir(`${s.d}/t/a`, { recursive: true, withFileTypes: true }))],
    ['of a wide tree (40 folders of 3 files)', async (s) => {
      for (let i = 0; i < 40; i++) {
        s.sync.mkdirSync(`${s.d}/w${i}`, { recursive: true });
        for (let j = 0; j < 3; j++) s.sync.writeFileSync(`${s.d}/w${i}/f${j}`, '');
      }
      return sorted(await s.fs.readdir(s.d, { recursive: true }));
    }],
    ['missing: ENOENT', (s) => s.fs.readdir(`${s.d}/missing`, { recursive: true })],
    ['of a file: ENOTDIR', (s) => s.fs.readdir(`${s.d}/f`, { recursive: true, withFileTypes: true })],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await same(fn, files);
  });

  it('a symlink to a directory: k.fs lists it and does not follow it (node 20 follows it without withFileTypes)', async () => {
    const [node, kfs] = dirs();
    for (const s of [node!, kfs!]) {
      files(s);
      s.sync.symlinkSync('a', `${s.d}/t/dl`);
    }
    const plain = async (s: CaseSide): Promise<string[]> => sorted(await s.fs.readdir(`${s.d}/t`, { recursive: true }));
    const typed = async (s: CaseSide): Promise<unknown> => normalise(sorted(await s.fs.readdir(`${s.d}/t`, { recursive: true, withFileTypes: true })), s.root);
    expect(await typed(kfs!)).toEqual(await typed(node!));
    const k = await plain(kfs!);
    expect(k).toContain('dl');
    expect(k).not.toContain('dl/one');
    expect(await plain(node!)).toContain('dl/one');
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

describe('bad input rejects with Node-style errors, as node:fs/promises', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['readv buffers not an array', (s) => withHandle(s, 'r', (fh) => fh.readv('abc'))],
    ['readv an array of numbers', (s) => withHandle(s, 'r', (fh) => fh.readv([1, 2]))],
    ['writev buffers not an array', (s) => withHandle(s, 'r+', (fh) => fh.writev(Buffer.from('x')))],
    ['writev an array with a string', (s) => withHandle(s, 'r+', (fh) => fh.writev(['x']))],
    ['FileHandle.readFile unknown encoding', (s) => withHandle(s, 'r', (fh) => fh.readFile({ encoding: 'bogus' }))],
    ['FileHandle.readFile signal not a signal', (s) => withHandle(s, 'r', (fh) => fh.readFile({ signal: 'stop' }))],
    ['FileHandle.readFile options a number', (s) => withHandle(s, 'r', (fh) => fh.readFile(42))],
    ['FileHandle.writeFile data a number', (s) => withHandle(s, 'r+', (fh) => fh.writeFile(42))],
    ['FileHandle.writeFile unknown encoding', (s) => withHandle(s, 'r+', (fh) => fh.writeFile('x', 'bogus'))],
    ['FileHandle.appendFile data an object', (s) => withHandle(s, 'r+', (fh) => fh.appendFile({}))],
    ['opendir path a number', (s) => s.fs.opendir(42)],
    ['opendir path with a NUL', (s) => s.fs.opendir(`${s.d}/a\0b`)],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await parity.badInput(fn, (s) => s.sync.writeFileSync(`${s.d}/f`, 'hello'));
  });

  it('deliberate differences: k.fs refuses what node:fs/promises (Node 20) lets through', async () => {
    await parity.refusedByKfs([
      // node: a position that is not a number means the file position
      [(s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(1)], 'p')), 'ERR_INVALID_ARG_TYPE'],
      [(s) => withHandle(s, 'r+', (fh) => fh.writev([Buffer.alloc(1)], {})), 'ERR_INVALID_ARG_TYPE'],
      // node: so does a number that is not a safe integer
      [(s) => withHandle(s, 'r', (fh) => fh.readv([Buffer.alloc(1)], 1.5)), 'ERR_OUT_OF_RANGE'],
      // node: any truthy value means true
      [(s) => s.fs.readdir(s.d, { recursive: 'yes' }), 'ERR_INVALID_ARG_TYPE'],
      [(s) => s.fs.opendir(s.d, { recursive: 1 }), 'ERR_INVALID_ARG_TYPE'],
      // node: only true means true (number stats)
      [(s) => s.fs.stat(`${s.d}/f`, { bigint: 'yes' }), 'ERR_INVALID_ARG_TYPE'],
      // node: options that are not an object are ignored
      [(s) => s.fs.stat(`${s.d}/f`, 'bigint'), 'ERR_INVALID_ARG_TYPE'],
    ], (s) => s.sync.writeFileSync(`${s.d}/f`, 'hello'));
    // A bigint position is a position in k.fs (node:fs's readv ignores it and reads at the file position).
    const [, kfs] = dirs();
    kfs!.sync.writeFileSync(`${kfs!.d}/f`, 'hello');
    expect(await withHandle(kfs!, 'r', async (fh) => (await fh.readv([Buffer.alloc(3)], 2n)).buffers[0].toString())).toBe('llo');
  });

  it('opendir bufferSize out of range rejects (node 20 throws it uncaught from a callback)', async () => {
    for (const bufferSize of [0, -1, 1.5, 2 ** 32]) await expect(k.fs.opendir(MNT, { bufferSize })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' });
    await expect(k.fs.opendir(MNT, { bufferSize: '1' as unknown as number })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('the new calls never throw synchronously, whatever they get', async () => {
    const junk = [undefined, null, 0, -1, 1.5, 2n ** 70n, NaN, '', '\0', {}, [], Symbol('s'), () => 1, new Proxy({}, {}), Buffer.alloc(0), new Uint8Array(3), [Buffer.alloc(2)], [1]];
    k.sys.writeFileSync(`${MNT}/junk-target`, 'junk');
    let settled = 0;
    const check = async (p: unknown): Promise<void> => {
      expect(p).toBeInstanceOf(Promise);
      await (p as Promise<unknown>).then(
        (v) => {
          if (v instanceof Dir) return v.close().then(() => settled++);
          settled++;
        },
        (e: unknown) => {
          expect(e).toBeInstanceOf(Error);
          settled++;
        },
      );
    };
    for (const a of junk) for (const b of [undefined, ...junk.slice(0, 6)]) await check(k.fs.opendir(a as string, b as never));
    for (const a of junk) await check(k.fs.readdir(MNT, { recursive: true, withFileTypes: a } as never));
    for (const a of junk) await check(k.fs.stat(`${MNT}/junk-target`, { bigint: a } as never));
    const fh = await k.fs.open(`${MNT}/junk-target`, 'r+');
    const methods = ['readFile', 'writeFile', 'appendFile', 'readv', 'writev', 'stat'] as const;
    for (const name of methods) {
      for (const a of junk) {
        for (const b of [undefined, ...junk.slice(0, 6)]) await check((fh as any)[name](a, b)); // eslint-disable-line @typescript-eslint/no-explicit-any
      }
    }
    await fh.close();
    expect(settled).toBe(junk.length * 7 + junk.length * 2 + methods.length * junk.length * 7);
    expect(k.state).toBe('running');
  });
});

describe('the cachemiss path', () => {
  let slow: ReturnType<typeof slowDisk>;
  const SLOW = '/mnt/kfs-more-slow';
  const content = Buffer.alloc(256 * 1024);
  for (let i = 0; i < content.length; i += 4) content.writeUInt32LE(i ^ 0x5a5a5a5a, i);

  beforeAll(() => {
    slow = slowDisk(k, makeExt4Image(32 * 1024 * 1024, 'slow-more.img'), SLOW);
    k.sys.writeFileSync(`${SLOW}/data`, content);
    for (const d of ['t', 't/a', 't/a/b', 't/c']) k.sys.mkdirSync(`${SLOW}/${d}`);
    for (let i = 0; i < 10; i++) k.sys.writeFileSync(`${SLOW}/t/a/b/f${i}`, `${i}`);
  });
  afterAll(() => slow.close());
  const dropCache = (): void => slow.dropCache();

  it('FileHandle readFile and readv that wait for the disk give the right data', async () => {
    dropCache();
    const before = k.stats();
    const fh = await k.fs.open(`${SLOW}/data`);
    const parts = [Buffer.alloc(1000), Buffer.alloc(5000), Buffer.alloc(100)];
    const [v, whole] = await Promise.all([fh.readv(parts, 200 * 1024), fh.readFile()]);
    await fh.close();
    expect(v.bytesRead).toBe(6100);
    expect(Buffer.concat(parts).equals(content.subarray(200 * 1024, 200 * 1024 + 6100))).toBe(true);
    expect(whole.equals(content)).toBe(true);
    expect(k.stats().sysletCachemisses - before.sysletCachemisses).toBeGreaterThanOrEqual(1);
  });

  it('readdir recursive, opendir and bigint stat on a cold cache', async () => {
    dropCache();
    const before = k.stats();
    const [names, stats] = await Promise.all([k.fs.readdir(`${SLOW}/t`, { recursive: true }), k.fs.stat(`${SLOW}/t/a/b/f3`, { bigint: true })]);
    expect(names.sort()).toEqual(['a', 'a/b', ...Array.from({ length: 10 }, (_, i) => `a/b/f${i}`).sort(), 'c']);
    expect(stats.size).toBe(1n);
    expect(k.stats().sysletCachemisses - before.sysletCachemisses).toBeGreaterThanOrEqual(1);
    dropCache();
    const seen: string[] = [];
    for await (const e of await k.fs.opendir(`${SLOW}/t`, { recursive: true })) seen.push(`${e.parentPath}/${e.name}`);
    expect(seen.length).toBe(13);
    expect(seen).toContain(`${SLOW}/t/a/b/f9`);
  });
});
