// SPDX-License-Identifier: GPL-2.0-only
// node:fs parity on edge cases: each call runs with node:fs on files in a host
// temporary folder and with k.sys on the same layout in an ext4 image in the
// kernel; both must fail with the same code (errno name or Node's ERR_*
// code) or both succeed with the same result.  The differences that are
// deliberate are in a second table, with what each side gives (they are
// listed in docs/node-api.md).

import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../dist/index.js';
import { bootForTests, makeExt4Image, tempDir } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/parity';
let hostRoot: string;

/** What a case gets: the API (node:fs or k.sys), its folder, open descriptors. */
interface Side {
  fs: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  root: string;
  /** 'f' (10 bytes) open read-write, read-only, write-only (append); directory 'd'. */
  fd: number;
  rofd: number;
  wofd: number;
  dirfd: number;
  p(name: string): string;
}

let host: Side;
let kernel: Side;

/** The same layout on both sides: f (10 bytes), d/ with d/inner, link -> f. */
function populate(side: Side): void {
  const f = side.fs;
  for (const name of f.readdirSync(side.root)) {
    const p = side.p(name);
    if (f.lstatSync(p).isDirectory()) {
      for (const inner of f.readdirSync(p)) f.unlinkSync(`${p}/${inner}`);
      f.rmdirSync(p);
    } else {
      f.unlinkSync(p);
    }
  }
  f.writeFileSync(side.p('f'), '0123456789');
  f.mkdirSync(side.p('d'));
  f.writeFileSync(side.p('d/inner'), 'x');
  f.symlinkSync('f', side.p('link'));
  for (const fd of [side.fd, side.rofd, side.wofd, side.dirfd]) if (fd >= 0) f.closeSync(fd);
  side.fd = f.openSync(side.p('f'), 'r+');
  side.rofd = f.openSync(side.p('f'), 'r');
  side.wofd = f.openSync(side.p('f'), 'a');
  side.dirfd = f.openSync(side.p('d'), 'r');
}

beforeAll(async () => {
  hostRoot = join(tempDir(), 'root');
  fs.mkdirSync(hostRoot);
  const image = makeExt4Image(32 * 1024 * 1024);
  k = await bootForTests();
  k.mount(k.disks.attach(image), { type: 'ext4', at: MNT });
  k.sys.mkdirSync(`${MNT}/root`);
  const side = (api: unknown, root: string): Side => ({ fs: api, root, fd: -1, rofd: -1, wofd: -1, dirfd: -1, p: (n) => `${root}/${n}` });
  host = side(fs, hostRoot);
  kernel = side(k.sys, `${MNT}/root`);
});

beforeEach(() => {
  populate(host);
  populate(kernel);
});

type Outcome = { code: string } | { ok: unknown };

function outcome(call: (s: Side) => unknown, side: Side): Outcome {
  try {
    const value = call(side);
    // Descriptors differ between the two sides; only say one was returned.
    return { ok: typeof value === 'number' && value > 2 && call.toString().includes('openSync') ? 'fd' : value };
  } catch (error) {
    return { code: String((error as { code?: unknown }).code ?? (error as Error).name) };
  }
}

const huge = 2 ** 40;
const big = 2 ** 50; // beyond ext4's largest file (16 TiB with 4 KiB blocks)

// [description, call, what node:fs gives on this machine (and so k.sys)]
const same: Array<[string, (s: Side) => unknown, string]> = [
  // empty paths reach the kernel, which says ENOENT, as node:fs
  ["openSync('')", (s) => s.fs.openSync(''), 'ENOENT'],
  ["openSync('', 'w')", (s) => s.fs.openSync('', 'w'), 'ENOENT'],
  ["statSync('')", (s) => s.fs.statSync(''), 'ENOENT'],
  ["lstatSync('')", (s) => s.fs.lstatSync(''), 'ENOENT'],
  ["mkdirSync('')", (s) => s.fs.mkdirSync(''), 'ENOENT'],
  ["mkdirSync('', { recursive })", (s) => s.fs.mkdirSync('', { recursive: true }), 'ENOENT'],
  ["rmdirSync('')", (s) => s.fs.rmdirSync(''), 'ENOENT'],
  ["unlinkSync('')", (s) => s.fs.unlinkSync(''), 'ENOENT'],
  ["renameSync('', p)", (s) => s.fs.renameSync('', s.p('x')), 'ENOENT'],
  ["renameSync(p, '')", (s) => s.fs.renameSync(s.p('f'), ''), 'ENOENT'],
  ["readdirSync('')", (s) => s.fs.readdirSync(''), 'ENOENT'],
  ["symlinkSync('', p)", (s) => s.fs.symlinkSync('', s.p('sl')), 'ENOENT'],
  ["symlinkSync(t, '')", (s) => s.fs.symlinkSync('t', ''), 'ENOENT'],
  ["readlinkSync('')", (s) => s.fs.readlinkSync(''), 'ENOENT'],
  ["chmodSync('')", (s) => s.fs.chmodSync('', 0o644), 'ENOENT'],
  ["utimesSync('')", (s) => s.fs.utimesSync('', 0, 0), 'ENOENT'],
  ["statfsSync('')", (s) => s.fs.statfsSync(''), 'ENOENT'],
  ["readFileSync('')", (s) => s.fs.readFileSync(''), 'ENOENT'],
  ["writeFileSync('')", (s) => s.fs.writeFileSync('', 'x'), 'ENOENT'],
  ["truncateSync('')", (s) => s.fs.truncateSync(''), 'ENOENT'],
  ["openSync(Buffer.alloc(0))", (s) => s.fs.openSync(Buffer.alloc(0)), 'ENOENT'],
  // truncate lengths
  ['ftruncateSync(fd, 1.5)', (s) => s.fs.ftruncateSync(s.fd, 1.5), 'ERR_OUT_OF_RANGE'],
  ['ftruncateSync(fd, NaN)', (s) => s.fs.ftruncateSync(s.fd, NaN), 'ERR_OUT_OF_RANGE'],
  ['ftruncateSync(fd, 2 ** 53)', (s) => s.fs.ftruncateSync(s.fd, 2 ** 53), 'ERR_OUT_OF_RANGE'],
  ['ftruncateSync(fd, -(2 ** 53))', (s) => s.fs.ftruncateSync(s.fd, -(2 ** 53)), 'ERR_OUT_OF_RANGE'],
  ['ftruncateSync(fd, 2 ** 50)', (s) => s.fs.ftruncateSync(s.fd, big), 'EFBIG'],
  ["ftruncateSync(fd, '3')", (s) => s.fs.ftruncateSync(s.fd, '3'), 'ERR_INVALID_ARG_TYPE'],
  ['ftruncateSync(read-only fd, 1)', (s) => s.fs.ftruncateSync(s.rofd, 1), 'EINVAL'],
  ['ftruncateSync(directory fd)', (s) => s.fs.ftruncateSync(s.dirfd, 0), 'EINVAL'],
  ['truncateSync(directory)', (s) => s.fs.truncateSync(s.p('d'), 0), 'EISDIR'],
  // descriptors
  ['fstatSync(-1)', (s) => s.fs.fstatSync(-1), 'ERR_OUT_OF_RANGE'],
  ['fstatSync(2 ** 31)', (s) => s.fs.fstatSync(2 ** 31), 'ERR_OUT_OF_RANGE'],
  ['fstatSync(NaN)', (s) => s.fs.fstatSync(NaN), 'ERR_OUT_OF_RANGE'],
  ['fstatSync(1.5)', (s) => s.fs.fstatSync(1.5), 'ERR_OUT_OF_RANGE'],
  ["fstatSync('3')", (s) => s.fs.fstatSync('3'), 'ERR_INVALID_ARG_TYPE'],
  ['fstatSync(99999)', (s) => s.fs.fstatSync(99999), 'EBADF'],
  ['closeSync(-1)', (s) => s.fs.closeSync(-1), 'ERR_OUT_OF_RANGE'],
  ['closeSync(99999)', (s) => s.fs.closeSync(99999), 'EBADF'],
  ['fsyncSync(-1)', (s) => s.fs.fsyncSync(-1), 'ERR_OUT_OF_RANGE'],
  ['fchmodSync(99999)', (s) => s.fs.fchmodSync(99999, 0o644), 'EBADF'],
  ['writeSync(read-only fd)', (s) => s.fs.writeSync(s.rofd, 'x'), 'EBADF'],
  ['readSync(write-only fd)', (s) => s.fs.readSync(s.wofd, Buffer.alloc(2)), 'EBADF'],
  ['readSync(directory fd)', (s) => s.fs.readSync(s.dirfd, Buffer.alloc(4)), 'EISDIR'],
  // buffers, offsets, lengths, positions
  ['readSync into an empty buffer', (s) => s.fs.readSync(s.fd, Buffer.alloc(0)), 'ok'],
  ['readSync length 0 at 0', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 0, 0), 'ok'],
  ['writeSync an empty buffer', (s) => s.fs.writeSync(s.fd, Buffer.alloc(0)), 'ok'],
  ["writeSync('')", (s) => s.fs.writeSync(s.fd, ''), 'ok'],
  ['readSync length past the buffer', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 5, 0), 'ERR_OUT_OF_RANGE'],
  ['readSync length negative', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, -1, 0), 'ERR_OUT_OF_RANGE'],
  ['readSync offset negative', (s) => s.fs.readSync(s.fd, Buffer.alloc(8), -1, 1, 0), 'ERR_OUT_OF_RANGE'],
  ['writeSync length 2 ** 40', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, huge, 0), 'ERR_OUT_OF_RANGE'],
  ['writeSync length past the buffer', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, 5, 0), 'ERR_OUT_OF_RANGE'],
  ['readSync position 1.5', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, 1.5), 'ERR_OUT_OF_RANGE'],
  ['readSync position NaN', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, NaN), 'ERR_OUT_OF_RANGE'],
  ['readSync position -2', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, -2), 'ERR_OUT_OF_RANGE'],
  ['readSync position 2 ** 53', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, 2 ** 53), 'ERR_OUT_OF_RANGE'],
  ["readSync position '0'", (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, '0'), 'ERR_INVALID_ARG_TYPE'],
  ['readSync position -1 (the file position)', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, -1), 'ok'],
  ['readSync position -1n (the file position)', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, -1n), 'ok'],
  ['readSync position 2n ** 62n (past the end)', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, 2n ** 62n), 'ok'],
  ['readSync position 2n ** 63n - 1n', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, 2n ** 63n - 1n), 'EINVAL'],
  ['writeSync position 2 ** 50', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, 4, big), 'EFBIG'],
  ["readSync into a string", (s) => s.fs.readSync(s.fd, 'abc'), 'ERR_INVALID_ARG_TYPE'],
  // paths
  ['a path with a NUL byte', (s) => s.fs.openSync(s.p('a\0b')), 'ERR_INVALID_ARG_VALUE'],
  ['a path that is a number', (s) => s.fs.statSync(42), 'ERR_INVALID_ARG_TYPE'],
  ['a path that is undefined', (s) => s.fs.statSync(undefined), 'ERR_INVALID_ARG_TYPE'],
  ['a path of 5,000 bytes', (s) => s.fs.statSync('/' + 'a'.repeat(5000)), 'ENAMETOOLONG'],
  ['a name of 300 bytes', (s) => s.fs.openSync(s.p('n'.repeat(300)), 'w'), 'ENAMETOOLONG'],
  ['stat of a file with a trailing slash', (s) => s.fs.statSync(s.p('f') + '/'), 'ENOTDIR'],
  ['open a new file with a trailing slash', (s) => s.fs.openSync(s.p('new/'), 'w'), 'EISDIR'],
  ['open a directory for writing', (s) => s.fs.openSync(s.p('d'), 'w'), 'EISDIR'],
  ['open a file with O_DIRECTORY', (s) => s.fs.openSync(s.p('f'), fs.constants.O_DIRECTORY), 'ENOTDIR'],
  ["open with flags 'rw'", (s) => s.fs.openSync(s.p('f'), 'rw'), 'ERR_INVALID_ARG_VALUE'],
  ["open 'wx' an existing file", (s) => s.fs.openSync(s.p('f'), 'wx'), 'EEXIST'],
  ['open through a file', (s) => s.fs.openSync(s.p('f/x')), 'ENOTDIR'],
  ['readFileSync of a directory', (s) => s.fs.readFileSync(s.p('d')), 'EISDIR'],
  ['mkdir an existing name', (s) => s.fs.mkdirSync(s.p('d')), 'EEXIST'],
  ['mkdir a file with a trailing slash', (s) => s.fs.mkdirSync(s.p('f') + '/'), 'EEXIST'],
  ['mkdir -p through a file', (s) => s.fs.mkdirSync(s.p('f/a/b'), { recursive: true }), 'ENOTDIR'],
  ['mkdir -p of an existing directory', (s) => s.fs.mkdirSync(s.p('d'), { recursive: true }), 'ok'],
  ['mkdir with mode -1', (s) => s.fs.mkdirSync(s.p('m'), -1), 'ERR_OUT_OF_RANGE'],
  ["mkdir with mode '9'", (s) => s.fs.mkdirSync(s.p('m'), '9'), 'ERR_INVALID_ARG_VALUE'],
  ['rmdir a non-empty directory', (s) => s.fs.rmdirSync(s.p('d')), 'ENOTEMPTY'],
  ['rmdir a file', (s) => s.fs.rmdirSync(s.p('f')), 'ENOTDIR'],
  ['unlink a directory', (s) => s.fs.unlinkSync(s.p('d')), 'EISDIR'],
  ['unlink a missing file', (s) => s.fs.unlinkSync(s.p('missing')), 'ENOENT'],
  ['readdir a file', (s) => s.fs.readdirSync(s.p('f')), 'ENOTDIR'],
  ['readdir with options 5', (s) => s.fs.readdirSync(s.p('d'), 5), 'ERR_INVALID_ARG_TYPE'],
  ['readlink a file', (s) => s.fs.readlinkSync(s.p('f')), 'EINVAL'],
  ['readlink a symlink', (s) => s.fs.readlinkSync(s.p('link')), 'ok'],
  ['symlink onto an existing name', (s) => s.fs.symlinkSync('x', s.p('f')), 'EEXIST'],
  ['rename a directory into itself', (s) => s.fs.renameSync(s.p('d'), s.p('d/sub')), 'EINVAL'],
  ['rename a directory over a file', (s) => s.fs.renameSync(s.p('d'), s.p('f')), 'ENOTDIR'],
  ['rename a file over a non-empty directory', (s) => s.fs.renameSync(s.p('f'), s.p('d')), 'EISDIR'],
  // modes and times
  ['chmod 0o10000 (kept: the permission bits)', (s) => s.fs.chmodSync(s.p('f'), 0o10000), 'ok'],
  ['chmod 0o77777', (s) => s.fs.chmodSync(s.p('f'), 0o77777), 'ok'],
  ['chmod 2 ** 32', (s) => s.fs.chmodSync(s.p('f'), 2 ** 32), 'ERR_OUT_OF_RANGE'],
  ['chmod -1', (s) => s.fs.chmodSync(s.p('f'), -1), 'ERR_OUT_OF_RANGE'],
  ['open with mode 0o10000', (s) => s.fs.openSync(s.p('m'), 'w', 0o10000), 'ok'],
  ["open with mode '9'", (s) => s.fs.openSync(s.p('f'), 'r', '9'), 'ERR_INVALID_ARG_VALUE'],
  ['utimes with NaN', (s) => s.fs.utimesSync(s.p('f'), NaN, NaN), 'ERR_INVALID_ARG_TYPE'],
  ['utimes with Infinity', (s) => s.fs.utimesSync(s.p('f'), 0, Infinity), 'ERR_INVALID_ARG_TYPE'],
  ['utimes with an object', (s) => s.fs.utimesSync(s.p('f'), {}, 0), 'ERR_INVALID_ARG_TYPE'],
  ["utimes with numeric strings", (s) => s.fs.utimesSync(s.p('f'), '12.5', '1e3'), 'ok'],
  ['existsSync of a missing path', (s) => s.fs.existsSync(s.p('missing')), 'ok'],
  ["existsSync('')", (s) => s.fs.existsSync(''), 'ok'],
];

describe('node:fs and k.sys agree', () => {
  it(`the table has at least 100 cases (${same.length})`, () => {
    expect(same.length).toBeGreaterThanOrEqual(100);
  });

  it.each(same)('%s', (_name, call, expected) => {
    const onHost = outcome(call, host);
    const inKernel = outcome(call, kernel);
    if (expected === 'ok') expect(onHost, 'node:fs on this machine').toHaveProperty('ok');
    else expect(onHost, 'node:fs on this machine').toEqual({ code: expected });
    expect(inKernel).toEqual(onHost);
  });

  it('ftruncateSync(fd, -1) truncates to 0 on both sides (node:fs clamps a negative length)', () => {
    for (const side of [host, kernel]) {
      side.fs.ftruncateSync(side.fd, -1);
      expect(side.fs.fstatSync(side.fd).size).toBe(0);
      side.fs.writeFileSync(side.p('f'), 'abc');
      side.fs.truncateSync(side.p('f'), -5);
      expect(side.fs.statSync(side.p('f')).size).toBe(0);
    }
  });

  it('chmod keeps only the permission bits of a larger mode, on both sides', () => {
    for (const side of [host, kernel]) {
      side.fs.chmodSync(side.p('f'), 0o177640);
      expect(side.fs.statSync(side.p('f')).mode & 0o7777).toBe(0o7640);
      expect(side.fs.statSync(side.p('f')).isFile()).toBe(true);
    }
  });
});

// [description, call, node:fs gives, k.sys gives] -- see docs/node-api.md.
const different: Array<[string, (s: Side) => unknown, string, string]> = [
  // node 20's readSync does not check offset/length against the buffer when
  // it would read nothing... it returns 0; k.sys refuses them, like writeSync.
  ['readSync length 2 ** 40 into 4 bytes', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, huge, 0), 'ok', 'ERR_OUT_OF_RANGE'],
  ['readSync offset past the buffer', (s) => s.fs.readSync(s.fd, Buffer.alloc(8), 9, 0, 0), 'ok', 'ERR_OUT_OF_RANGE'],
  // node:fs treats any other position as "the file position"; k.sys says what is wrong.
  ['writeSync position -2', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, 4, -2), 'ok', 'ERR_OUT_OF_RANGE'],
  ['writeSync position 1.5', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, 4, 1.5), 'ok', 'ERR_OUT_OF_RANGE'],
  ['readSync position -2n', (s) => s.fs.readSync(s.fd, Buffer.alloc(4), 0, 4, -2n), 'ok', 'ERR_OUT_OF_RANGE'],
  ["writeSync(fd, string, -5)", (s) => s.fs.writeSync(s.fd, 'abc', -5), 'ok', 'ERR_OUT_OF_RANGE'],
  // node 20's writeSync ignores a bigint position (it writes at the file
  // position); k.sys writes where it is told, which ext4 refuses.
  ['writeSync position 2n ** 62n', (s) => s.fs.writeSync(s.fd, Buffer.alloc(4), 0, 4, 2n ** 62n), 'ok', 'EFBIG'],
  // An invalid Date: node:fs passes NaN on and the host kernel says EINVAL;
  // k.sys refuses it before the call, as it does NaN seconds.
  ['utimes with an invalid Date', (s) => s.fs.utimesSync(s.p('f'), new Date(NaN), 0), 'EINVAL', 'ERR_INVALID_ARG_TYPE'],
  // k.sys takes bigint lengths (node:fs only numbers).
  ['ftruncateSync(fd, 5n)', (s) => s.fs.ftruncateSync(s.fd, 5n), 'ERR_INVALID_ARG_TYPE', 'ok'],
  // A detached buffer is refused rather than read as empty.
  [
    'writeSync a detached buffer',
    (s) => {
      const b = Buffer.from(new ArrayBuffer(8));
      structuredClone(b.buffer, { transfer: [b.buffer] });
      return s.fs.writeSync(s.fd, b);
    },
    'ok',
    'ERR_INVALID_ARG_VALUE',
  ],
];

describe('deliberate differences (docs/node-api.md)', () => {
  it.each(different)('%s', (_name, call, onHost, inKernel) => {
    const expected = (code: string): Outcome | object => (code === 'ok' ? { ok: expect.anything() } : { code });
    const h = outcome(call, host);
    const kk = outcome(call, kernel);
    if (onHost === 'ok') expect(h).toHaveProperty('ok');
    else expect(h).toEqual(expected(onHost));
    if (inKernel === 'ok') expect(kk).toHaveProperty('ok');
    else expect(kk).toEqual(expected(inKernel));
  });

  it('utimes with a negative time: node:fs sets the current time, k.sys the time given', () => {
    fs.utimesSync(host.p('f'), -1, -1);
    expect(fs.statSync(host.p('f')).mtimeMs).toBeGreaterThan(0);
    k.sys.utimesSync(kernel.p('f'), -1, -1);
    expect(k.sys.statSync(kernel.p('f')).mtimeMs).toBe(-1000);
  });
});
