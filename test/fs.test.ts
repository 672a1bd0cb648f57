// SPDX-License-Identifier: GPL-2.0-only
// k.fs against node:fs/promises: every case runs with node:fs/promises in a
// host temporary folder and with k.fs in an ext4 image in the kernel, on the
// same layout; results (normalised: contents, sizes, types, modes, names)
// and error codes must be the same.  Then: the cached and the cachemiss
// paths, AbortSignal, stacks, worker threads.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AbortError, Kernel, KernelError } from '../dist/index.js';
import { Parity, slowDisk, type CaseSide } from './fs-parity.js';
import { bootForTests, makeExt4Image, tempDir } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/kfs';
let hostRoot: string;

const parity = new Parity();
const same = (fn: (s: CaseSide) => Promise<unknown>, setup?: (s: CaseSide) => void): Promise<unknown> => parity.same(fn, setup);

beforeAll(async () => {
  k = await bootForTests({ memory: '256M' });
  hostRoot = join(tempDir(), 'root');
  nodeFs.mkdirSync(hostRoot);
  const image = makeExt4Image(64 * 1024 * 1024, 'kfs.img');
  const disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: MNT });
  parity.sides = [
    { name: 'node', fs: nodeFs.promises, sync: nodeFs, root: hostRoot },
    { name: 'kfs', fs: k.fs, sync: k.sys, root: MNT },
  ];
});

const big = Buffer.alloc(200 * 1024);
for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);

describe('k.fs and node:fs/promises give the same results', () => {
  const files = (s: CaseSide): void => {
    s.sync.writeFileSync(`${s.d}/f`, 'hello');
    s.sync.writeFileSync(`${s.d}/big`, big);
    s.sync.mkdirSync(`${s.d}/dir`);
    s.sync.writeFileSync(`${s.d}/dir/inner`, 'x');
    s.sync.symlinkSync('f', `${s.d}/link`);
  };
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['readFile utf8', (s) => s.fs.readFile(`${s.d}/f`, 'utf8')],
    ['readFile a Buffer', (s) => s.fs.readFile(`${s.d}/f`)],
    ['readFile { encoding: "hex" }', (s) => s.fs.readFile(`${s.d}/f`, { encoding: 'hex' })],
    ['readFile of 200 KiB (more than the first chain)', (s) => s.fs.readFile(`${s.d}/big`)],
    ['readFile of an empty file', async (s) => (await s.fs.writeFile(`${s.d}/e`, ''), s.fs.readFile(`${s.d}/e`))],
    ['readFile through a symlink', (s) => s.fs.readFile(`${s.d}/link`, 'utf8')],
    ['readFile missing: ENOENT', (s) => s.fs.readFile(`${s.d}/missing`)],
    ['readFile of a directory: EISDIR', (s) => s.fs.readFile(`${s.d}/dir`)],
    ['readFile under a file: ENOTDIR', (s) => s.fs.readFile(`${s.d}/f/x`)],
    ['readFile { flag: "a+" } creates', async (s) => [await s.fs.readFile(`${s.d}/new`, { flag: 'a+' }), await s.fs.stat(`${s.d}/new`)]],
    ['writeFile then readFile', async (s) => (await s.fs.writeFile(`${s.d}/w`, 'written'), s.fs.readFile(`${s.d}/w`, 'utf8'))],
    ['writeFile replaces', async (s) => (await s.fs.writeFile(`${s.d}/f`, 'ab'), s.fs.readFile(`${s.d}/f`, 'utf8'))],
    ['writeFile a Uint16Array', async (s) => (await s.fs.writeFile(`${s.d}/u`, new Uint16Array([1, 2, 0xffff])), s.fs.readFile(`${s.d}/u`))],
    ['writeFile 200 KiB', async (s) => (await s.fs.writeFile(`${s.d}/b2`, big), (await s.fs.readFile(`${s.d}/b2`)).equals(big))],
    ['writeFile { encoding: "base64" }', async (s) => (await s.fs.writeFile(`${s.d}/b64`, 'aGVsbG8=', 'base64'), s.fs.readFile(`${s.d}/b64`, 'utf8'))],
    ['writeFile { mode: 0o600 }', async (s) => (await s.fs.writeFile(`${s.d}/m`, 'x', { mode: 0o600 }), s.fs.stat(`${s.d}/m`))],
    ['writeFile { flag: "wx" } on an existing file: EEXIST', (s) => s.fs.writeFile(`${s.d}/f`, 'x', { flag: 'wx' })],
    ['writeFile in a missing folder: ENOENT', (s) => s.fs.writeFile(`${s.d}/missing/x`, 'x')],
    ['writeFile onto a directory: EISDIR', (s) => s.fs.writeFile(`${s.d}/dir`, 'x')],
    ['appendFile twice', async (s) => (await s.fs.appendFile(`${s.d}/a`, 'one,'), await s.fs.appendFile(`${s.d}/a`, Buffer.from('two')), s.fs.readFile(`${s.d}/a`, 'utf8'))],
    ['stat a file', (s) => s.fs.stat(`${s.d}/f`)],
    ['stat a directory', (s) => s.fs.stat(`${s.d}/dir`)],
    ['stat a symlink follows it', (s) => s.fs.stat(`${s.d}/link`)],
    ['lstat a symlink', (s) => s.fs.lstat(`${s.d}/link`)],
    ['stat missing: ENOENT', (s) => s.fs.stat(`${s.d}/missing`)],
    ['lstat under a file: ENOTDIR', (s) => s.fs.lstat(`${s.d}/f/x`)],
    ['readdir', (s) => s.fs.readdir(s.d)],
    ['readdir withFileTypes', (s) => s.fs.readdir(s.d, { withFileTypes: true })],
    ['readdir of an empty folder', (s) => s.fs.readdir(`${s.d}/dir/..`).then(() => s.fs.mkdir(`${s.d}/empty`)).then(() => s.fs.readdir(`${s.d}/empty`))],
    ['readdir of a file: ENOTDIR', (s) => s.fs.readdir(`${s.d}/f`)],
    ['readdir missing: ENOENT', (s) => s.fs.readdir(`${s.d}/missing`)],
    ['mkdir', async (s) => [await s.fs.mkdir(`${s.d}/m`), await s.fs.stat(`${s.d}/m`)]],
    ['mkdir with a mode', async (s) => [await s.fs.mkdir(`${s.d}/m`, 0o700), await s.fs.stat(`${s.d}/m`)]],
    ['mkdir existing: EEXIST', (s) => s.fs.mkdir(`${s.d}/dir`)],
    ['mkdir in a missing folder: ENOENT', (s) => s.fs.mkdir(`${s.d}/a/b`)],
    ['mkdir recursive: the first folder made', async (s) => [await s.fs.mkdir(`${s.d}/a/b/c`, { recursive: true }), await s.fs.readdir(`${s.d}/a/b`)]],
    ['mkdir recursive, partly there', (s) => s.fs.mkdir(`${s.d}/dir/b/c`, { recursive: true })],
    ['mkdir recursive, all there: undefined', (s) => s.fs.mkdir(`${s.d}/dir`, { recursive: true })],
    ['mkdir recursive through a file: ENOTDIR', (s) => s.fs.mkdir(`${s.d}/f/b/c`, { recursive: true })],
    ['mkdir recursive onto a file: EEXIST', (s) => s.fs.mkdir(`${s.d}/f`, { recursive: true })],
    ['mkdir recursive, 30 levels (two chains)', async (s) => [await s.fs.mkdir(`${s.d}/${'x/'.repeat(30)}`, { recursive: true }), (await s.fs.stat(`${s.d}/${'x/'.repeat(30)}`)).isDirectory()]],
    ['rm a file', async (s) => [await s.fs.rm(`${s.d}/f`), await s.fs.readdir(s.d)]],
    ['rm a symlink to a file', async (s) => [await s.fs.rm(`${s.d}/link`), await s.fs.readdir(s.d)]],
    ['rm missing: ENOENT', (s) => s.fs.rm(`${s.d}/missing`)],
    ['rm missing with force', (s) => s.fs.rm(`${s.d}/missing`, { force: true })],
    ['rm a directory without recursive: ERR_FS_EISDIR', (s) => s.fs.rm(`${s.d}/dir`)],
    ['rm -r a tree', async (s) => {
      await s.fs.mkdir(`${s.d}/t/a/b`, { recursive: true });
      for (let i = 0; i < 40; i++) await s.fs.writeFile(`${s.d}/t/a/f${i}`, `${i}`);
      await s.fs.writeFile(`${s.d}/t/a/b/deep`, 'deep');
      await s.fs.rm(`${s.d}/t`, { recursive: true });
      return s.fs.readdir(s.d);
    }],
    ['rename', async (s) => [await s.fs.rename(`${s.d}/f`, `${s.d}/g`), await s.fs.readdir(s.d), await s.fs.readFile(`${s.d}/g`, 'utf8')]],
    ['rename missing: ENOENT', (s) => s.fs.rename(`${s.d}/missing`, `${s.d}/g`)],
    ['rename a directory onto a file: ENOTDIR', (s) => s.fs.rename(`${s.d}/dir`, `${s.d}/f`)],
    ['unlink', async (s) => [await s.fs.unlink(`${s.d}/f`), await s.fs.readdir(s.d)]],
    ['unlink a directory: EISDIR', (s) => s.fs.unlink(`${s.d}/dir`)],
    ['unlink missing: ENOENT', (s) => s.fs.unlink(`${s.d}/missing`)],
    ['copyFile', async (s) => [await s.fs.copyFile(`${s.d}/big`, `${s.d}/copy`), (await s.fs.readFile(`${s.d}/copy`)).equals(big), await s.fs.stat(`${s.d}/copy`)]],
    ['copyFile keeps the mode', async (s) => {
      await s.fs.writeFile(`${s.d}/x`, 'x', { mode: 0o640 });
      await s.fs.copyFile(`${s.d}/x`, `${s.d}/y`);
      return s.fs.stat(`${s.d}/y`);
    }],
    ['copyFile over an existing longer file', async (s) => [await s.fs.copyFile(`${s.d}/f`, `${s.d}/big`), await s.fs.readFile(`${s.d}/big`, 'utf8')]],
    ['copyFile onto itself', async (s) => [await s.fs.copyFile(`${s.d}/f`, `${s.d}/f`), await s.fs.readFile(`${s.d}/f`, 'utf8')]],
    ['copyFile of an empty file', async (s) => (await s.fs.writeFile(`${s.d}/e`, ''), await s.fs.copyFile(`${s.d}/e`, `${s.d}/e2`), s.fs.stat(`${s.d}/e2`))],
    ['copyFile COPYFILE_EXCL onto an existing file: EEXIST', (s) => s.fs.copyFile(`${s.d}/f`, `${s.d}/big`, nodeFs.constants.COPYFILE_EXCL)],
    ['copyFile COPYFILE_FICLONE copies', async (s) => [await s.fs.copyFile(`${s.d}/f`, `${s.d}/c`, nodeFs.constants.COPYFILE_FICLONE), await s.fs.readFile(`${s.d}/c`, 'utf8')]],
    ['copyFile missing source: ENOENT', (s) => s.fs.copyFile(`${s.d}/missing`, `${s.d}/c`)],
    ['copyFile a directory: EISDIR, no destination left', async (s) => [await s.fs.copyFile(`${s.d}/dir`, `${s.d}/c`).catch((e: { code: string }) => e.code), await s.fs.readdir(s.d)]],
    ['copyFile into a missing folder: ENOENT', (s) => s.fs.copyFile(`${s.d}/f`, `${s.d}/missing/c`)],
    ['access a file', (s) => s.fs.access(`${s.d}/f`)],
    ['access R_OK | W_OK', (s) => s.fs.access(`${s.d}/f`, nodeFs.constants.R_OK | nodeFs.constants.W_OK)],
    ['access missing: ENOENT', (s) => s.fs.access(`${s.d}/missing`, nodeFs.constants.F_OK)],
    ['access with mode 8: ERR_OUT_OF_RANGE', (s) => s.fs.access(`${s.d}/f`, 8)],
    ['chmod', async (s) => (await s.fs.chmod(`${s.d}/f`, 0o600), s.fs.stat(`${s.d}/f`))],
    ['chmod an octal string', async (s) => (await s.fs.chmod(`${s.d}/dir`, '750'), s.fs.stat(`${s.d}/dir`))],
    ['chmod missing: ENOENT', (s) => s.fs.chmod(`${s.d}/missing`, 0o600)],
    ['symlink, then readlink and lstat', async (s) => [await s.fs.symlink('dir/inner', `${s.d}/l2`), await s.fs.readlink(`${s.d}/l2`), await s.fs.lstat(`${s.d}/l2`), await s.fs.readFile(`${s.d}/l2`, 'utf8')]],
    ['symlink onto an existing path: EEXIST', (s) => s.fs.symlink('f', `${s.d}/dir`)],
    ['readlink as a Buffer', (s) => s.fs.readlink(`${s.d}/link`, 'buffer')],
    ['readlink { encoding: "hex" }', (s) => s.fs.readlink(`${s.d}/link`, { encoding: 'hex' })],
    ['readlink of a file: EINVAL', (s) => s.fs.readlink(`${s.d}/f`)],
    ['readlink missing: ENOENT', (s) => s.fs.readlink(`${s.d}/missing`)],
    ['link, then both names', async (s) => [await s.fs.link(`${s.d}/f`, `${s.d}/hard`), await s.fs.stat(`${s.d}/hard`), await s.fs.readFile(`${s.d}/hard`, 'utf8')]],
    ['link missing: ENOENT', (s) => s.fs.link(`${s.d}/missing`, `${s.d}/hard`)],
    ['link onto an existing file: EEXIST', (s) => s.fs.link(`${s.d}/f`, `${s.d}/big`)],
    ['truncate', async (s) => [await s.fs.truncate(`${s.d}/f`, 2), await s.fs.readFile(`${s.d}/f`, 'utf8'), await s.fs.truncate(`${s.d}/big`), await s.fs.stat(`${s.d}/big`)]],
    ['truncate to extend', async (s) => (await s.fs.truncate(`${s.d}/f`, 10), s.fs.readFile(`${s.d}/f`))],
    ['truncate missing: ENOENT', (s) => s.fs.truncate(`${s.d}/missing`)],
    ['truncate a directory: EISDIR', (s) => s.fs.truncate(`${s.d}/dir`)],
    ['utimes, then stat', async (s) => {
      await s.fs.utimes(`${s.d}/f`, 1000000000.5, new Date(1500000000125));
      const st = await s.fs.stat(`${s.d}/f`);
      return [st.atimeMs, st.mtimeMs];
    }],
    ['utimes missing: ENOENT', (s) => s.fs.utimes(`${s.d}/missing`, 1, 1)],
    ['open missing: ENOENT', (s) => s.fs.open(`${s.d}/missing`)],
    ['open "wx" existing: EEXIST', (s) => s.fs.open(`${s.d}/f`, 'wx')],
    ['open a directory for writing: EISDIR', (s) => s.fs.open(`${s.d}/dir`, 'r+')],
    ['FileHandle write, read, stat, truncate, sync, close', async (s) => {
      const fh = await s.fs.open(`${s.d}/h`, 'w+', 0o644);
      const out: unknown[] = [];
      out.push(await fh.write(Buffer.from('abcdefgh')));
      out.push(await fh.write('XY', 2));
      out.push(await fh.write(Buffer.from('--12--'), 2, 2, 6));
      out.push(await fh.write(Buffer.from('zz'), { position: 10 }));
      out.push(await fh.read(Buffer.alloc(16), 0, 16, 0));
      out.push(await fh.read(Buffer.alloc(8), { offset: 2, length: 4, position: 1 }));
      out.push(await fh.read({ buffer: Buffer.alloc(4), position: 3 }));
      out.push((await fh.read()).bytesRead);
      out.push(await fh.read(Buffer.alloc(4), 0, 0, 0));
      out.push(await fh.stat());
      out.push(await fh.truncate(3));
      out.push(await fh.read(Buffer.alloc(8), 0, 8, 0));
      out.push(await fh.truncate());
      out.push((await fh.stat()).size);
      out.push(await fh.sync());
      out.push(await fh.datasync());
      out.push(await fh.close());
      out.push(await fh.close());
      return out;
    }],
    ['FileHandle reads at the file position', async (s) => {
      const fh = await s.fs.open(`${s.d}/big`);
      const a = await fh.read(Buffer.alloc(100), 0, 100, null);
      const b = await fh.read(Buffer.alloc(100), 0, 100, -1);
      await fh.close();
      return [a.bytesRead, a.buffer.equals(big.subarray(0, 100)), b.buffer.equals(big.subarray(100, 200))];
    }],
    ['FileHandle reads the same buffer at many positions', async (s) => {
      const fh = await s.fs.open(`${s.d}/big`);
      const buffer = Buffer.alloc(4096);
      const seen = [];
      for (const p of [0, 4096 * 7, 1000, 200 * 1024 - 10, 300 * 1024]) seen.push((await fh.read(buffer, 0, 4096, p)).bytesRead, buffer.equals(big.subarray(p, p + 4096)) || buffer.subarray(0, 10).equals(big.subarray(p, p + 10)));
      await fh.close();
      return seen;
    }],
    ['FileHandle read after close: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      await fh.close();
      return fh.read(Buffer.alloc(4), 0, 4, 0);
    }],
    ['FileHandle write on a read-only handle: EBADF', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      try {
        return await fh.write(Buffer.from('x'));
      } finally {
        await fh.close();
      }
    }],
    ['FileHandle asyncDispose closes', async (s) => {
      const fh = await s.fs.open(`${s.d}/f`);
      await fh[Symbol.asyncDispose]();
      return fh.fd;
    }],
    ['readFile with an aborted signal: AbortError', (s) => s.fs.readFile(`${s.d}/f`, { signal: AbortSignal.abort() })],
    ['writeFile with an aborted signal: AbortError', (s) => s.fs.writeFile(`${s.d}/x`, 'x', { signal: AbortSignal.abort() })],
  ];
  it.each(cases)('%s', async (_, fn) => {
    await same(fn, files);
  });
});

describe('bad input rejects with Node-style errors, as node:fs/promises', () => {
  const cases: Array<[string, (s: CaseSide) => Promise<unknown>]> = [
    ['readFile(123)', (s) => s.fs.readFile(123n)],
    ['readFile path with a NUL', (s) => s.fs.readFile(`${s.d}/a\0b`)],
    ['readFile unknown encoding', (s) => s.fs.readFile(`${s.d}/f`, { encoding: 'bogus' })],
    ['readFile signal not a signal', (s) => s.fs.readFile(`${s.d}/f`, { signal: 'stop' })],
    ['readFile unknown flag', (s) => s.fs.readFile(`${s.d}/f`, { flag: 'rw' })],
    ['writeFile data a number', (s) => s.fs.writeFile(`${s.d}/f`, 42)],
    ['writeFile mode not a mode', (s) => s.fs.writeFile(`${s.d}/f`, 'x', { mode: 'rw' })],
    ['open unknown flag', (s) => s.fs.open(`${s.d}/f`, 'bogus')],
    ['open path an object', (s) => s.fs.open({})],
    ['mkdir recursive not a boolean', (s) => s.fs.mkdir(`${s.d}/m`, { recursive: 'yes' })],
    ['mkdir mode negative', (s) => s.fs.mkdir(`${s.d}/m`, -1)],
    ['rm force not a boolean', (s) => s.fs.rm(`${s.d}/f`, { force: 1 })],
    ['copyFile mode 8', (s) => s.fs.copyFile(`${s.d}/f`, `${s.d}/g`, 8)],
    ['rename a number', (s) => s.fs.rename(1, `${s.d}/g`)],
    ['FileHandle.read length beyond the buffer', async (s) => withHandle(s, (fh) => fh.read(Buffer.alloc(4), 0, 5, 0))],
    ['FileHandle.read negative offset', async (s) => withHandle(s, (fh) => fh.read(Buffer.alloc(4), -1, 2, 0))],
    ['FileHandle.read offset beyond the buffer', async (s) => withHandle(s, (fh) => fh.read(Buffer.alloc(4), 5, 1, 0))],
    ['FileHandle.read buffer a string', async (s) => withHandle(s, (fh) => fh.read('abc', 0, 1, 0))],
    ['FileHandle.read into an empty buffer', async (s) => withHandle(s, (fh) => fh.read(Buffer.alloc(0), 0, 1, 0))],
    ['FileHandle.write length beyond the buffer', async (s) => withHandle(s, (fh) => fh.write(Buffer.alloc(4), 0, 5, 0))],
  ];
  async function withHandle(s: CaseSide, fn: (fh: any) => Promise<unknown>): Promise<unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const fh = await s.fs.open(`${s.d}/f`, 'r+');
    try {
      return await fn(fh);
    } finally {
      await fh.close();
    }
  }
  it.each(cases)('%s', async (_, fn) => {
    await parity.badInput(fn, (s) => s.sync.writeFileSync(`${s.d}/f`, 'hello'));
  });

  it('deliberate differences: k.fs refuses what node:fs/promises (Node 20) lets through', async () => {
    await parity.refusedByKfs([
      // node: copies (the mode is a bit mask, 1.5 passes)
      [(s) => s.fs.copyFile(`${s.d}/f`, `${s.d}/g`, 1.5), 'ERR_OUT_OF_RANGE'],
      // node: any truthy value means true
      [(s) => s.fs.readdir(s.d, { withFileTypes: 'yes' }), 'ERR_INVALID_ARG_TYPE'],
      // node: writes the string as UTF-8
      [(s) => withHandle(s, (fh) => fh.write('abc', 0, 'bogus')), 'ERR_INVALID_ARG_VALUE'],
    ], (s) => s.sync.writeFileSync(`${s.d}/f`, 'hello'));
  });

  it('k.fs calls never throw synchronously, whatever they get', async () => {
    const junk = [undefined, null, 0, -1, 1.5, 2n ** 70n, NaN, '', '\0', {}, [], Symbol('s'), () => 1, new Proxy({}, {}), Buffer.alloc(0), new Uint8Array(3)];
    const calls = ['open', 'readFile', 'writeFile', 'appendFile', 'stat', 'lstat', 'readdir', 'mkdir', 'rm', 'rename', 'unlink', 'rmdir', 'copyFile', 'access', 'chmod', 'symlink', 'readlink', 'link', 'truncate', 'utimes', 'opendir'] as const;
    let settled = 0;
    for (const name of calls) {
      for (const a of junk) {
        for (const b of [undefined, ...junk.slice(0, 6)]) {
          const p = (k.fs as any)[name](a, b); // eslint-disable-line @typescript-eslint/no-explicit-any
          expect(p).toBeInstanceOf(Promise);
          await p.then(
            () => settled++,
            (e: unknown) => {
              expect(e).toBeInstanceOf(Error);
              settled++;
            },
          );
        }
      }
    }
    expect(settled).toBe(calls.length * junk.length * 7);
    expect(k.state).toBe('running');
  });
});

describe('errors', () => {
  it('a KernelError with code, errno, syscall and path, its stack at the call (cached path)', async () => {
    const error = (await k.fs.readFile(`${MNT}/nothing-here`).catch((e: unknown) => e)) as KernelError;
    expect(error).toBeInstanceOf(KernelError);
    expect(error).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: `${MNT}/nothing-here` });
    expect(error.message).toBe(`ENOENT: no such file or directory, open '${MNT}/nothing-here'`);
    const frames = error.stack!.split('\n').slice(1);
    expect(frames[0]).toMatch(/fs\.test\.ts/);
    expect(error.stack).not.toMatch(/dist\/fs\.js/);
  });

  it('rename errors carry path and dest', async () => {
    const error = (await k.fs.rename(`${MNT}/no-a`, `${MNT}/no-b`).catch((e: unknown) => e)) as KernelError;
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'rename', path: `${MNT}/no-a`, dest: `${MNT}/no-b` });
  });
});

describe('the cached path and the cachemiss path', () => {
  let slow: ReturnType<typeof slowDisk>;
  const SLOW = '/mnt/kfs-slow';
  const content = Buffer.alloc(256 * 1024);
  for (let i = 0; i < content.length; i += 4) content.writeUInt32LE(i ^ 0x5a5a5a5a, i);

  beforeAll(() => {
    slow = slowDisk(k, makeExt4Image(32 * 1024 * 1024, 'slow.img'), SLOW);
    k.sys.writeFileSync(`${SLOW}/data`, content);
    k.sys.mkdirSync(`${SLOW}/small`);
    for (let i = 0; i < 20; i++) k.sys.writeFileSync(`${SLOW}/small/f${i}`, `small file ${i}`);
  });
  afterAll(() => slow.close());
  const dropCache = (): void => slow.dropCache();

  it('reads that miss the cache go asynchronous and give the right data; cached ones complete at once', async () => {
    dropCache();
    let before = k.stats();
    const [whole, handle] = await Promise.all([
      k.fs.readFile(`${SLOW}/data`),
      (async () => {
        const fh = await k.fs.open(`${SLOW}/data`);
        const b = Buffer.alloc(4096);
        const r = await fh.read(b, 0, 4096, 128 * 1024);
        await fh.close();
        return r;
      })(),
    ]);
    let after = k.stats();
    expect(whole.equals(content)).toBe(true);
    expect(handle.bytesRead).toBe(4096);
    expect(handle.buffer.equals(content.subarray(128 * 1024, 132 * 1024))).toBe(true);
    expect(after.sysletCachemisses - before.sysletCachemisses).toBeGreaterThanOrEqual(1);
    expect(after.sysletCompletions - before.sysletCompletions).toBeGreaterThanOrEqual(1);

    // Now in the page cache: every chain runs to its end at once.
    before = k.stats();
    const again = await k.fs.readFile(`${SLOW}/data`);
    after = k.stats();
    expect(again.equals(content)).toBe(true);
    expect(after.sysletCachemisses - before.sysletCachemisses).toBe(0);
    expect(after.sysletCompletions - before.sysletCompletions).toBe(0);
    expect(after.sysletChainsInline - before.sysletChainsInline).toBeGreaterThanOrEqual(1);
  });

  it('32 readFiles and readdir in flight on a cold cache', async () => {
    dropCache();
    const before = k.stats();
    const [names, ...texts] = await Promise.all([
      k.fs.readdir(`${SLOW}/small`),
      ...Array.from({ length: 32 }, (_, i) => k.fs.readFile(`${SLOW}/small/f${i % 20}`, 'utf8')),
    ]);
    expect((names as string[]).length).toBe(20);
    texts.forEach((t, i) => expect(t).toBe(`small file ${i % 20}`));
    expect(k.stats().sysletCachemisses - before.sysletCachemisses).toBeGreaterThanOrEqual(1);
  });

  it('a cachemiss error keeps the stack of the call', async () => {
    dropCache();
    const error = (await k.fs.readFile(`${SLOW}/small/nothing`).catch((e: unknown) => e)) as KernelError;
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(error.stack!.split('\n')[1]).toMatch(/fs\.test\.ts/);
  });

  it('abort in flight: rejects with AbortError at once; the chain completes in the kernel and leaves nothing open', async () => {
    dropCache();
    const controller = new AbortController();
    const before = k.stats();
    const reading = k.fs.readFile(`${SLOW}/data`, { signal: controller.signal });
    expect(k.stats().sysletCachemisses - before.sysletCachemisses).toBe(1); // in flight
    controller.abort(new Error('changed my mind'));
    const error = (await reading.catch((e: unknown) => e)) as AbortError;
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((error.cause as Error).message).toBe('changed my mind');
    // The kernel finishes the chain; the file it left open (more than 64
    // KiB: the chain stops after the probe) is closed then, so the disk
    // unmounts.
    await expect.poll(() => k.stats().sysletCompletions - before.sysletCompletions).toBeGreaterThanOrEqual(1);
    await expect.poll(() => {
      try {
        dropCache();
        return 'unmounted';
      } catch (e) {
        return (e as KernelError).code;
      }
    }).toBe('unmounted');
  });

  it('abort of a writeFile in flight', async () => {
    dropCache();
    const controller = new AbortController();
    const writing = k.fs.writeFile(`${SLOW}/small/f3`, 'rewritten', { signal: controller.signal });
    controller.abort();
    const error = (await writing.catch((e: unknown) => e)) as Error & { code: string };
    // Either the chain had completed at once (then the write happened and
    // the Promise resolved) or it was in flight and the abort rejected it.
    if (error) expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect.poll(() => k.sys.readFileSync(`${SLOW}/small/f3`, 'utf8')).toBe('rewritten');
  });
});

describe('worker threads', () => {
  it('k.fs from a worker: its completions settle on its own thread', async () => {
    k.sys.writeFileSync(`${MNT}/from-worker`, 'worker data');
    const source = `
      const { parentPort, workerData, threadId } = require('node:worker_threads');
      import(workerData.entry).then(async ({ Kernel }) => {
        const k = Kernel.current();
        const text = await k.fs.readFile(workerData.path, 'utf8');
        const stat = await k.fs.stat(workerData.path);
        const error = await k.fs.stat(workerData.path + '-missing').catch((e) => e.code);
        parentPort.postMessage({ text, size: stat.size, error, threadId, ringThread: k.fs.ring.inFlight });
      }).catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));
    `;
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const workers = [0, 1].map(() => new Worker(source, { eval: true, workerData: { entry, path: `${MNT}/from-worker` } }));
    const ids = workers.map((w) => w.threadId);
    const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    const [a, b] = await Promise.all([
      ...workers.map((w) => new Promise<Record<string, unknown>>((resolve) => w.once('message', resolve))),
      k.fs.readFile(`${MNT}/from-worker`, 'utf8'),
    ]);
    for (const [m, id] of [[a, ids[0]], [b, ids[1]]] as const) {
      expect(m).toEqual({ text: 'worker data', size: 11, error: 'ENOENT', threadId: id, ringThread: 0 });
    }
    await Promise.all(exited);
  });
});
