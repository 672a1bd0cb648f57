// SPDX-License-Identifier: GPL-2.0-only
// Every k.sys call on real files in an ext4 image made at test time.

import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { Kernel, KernelError, syscalls, type Disk } from '../dist/index.js';
import { bootForTests, e2fs, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let image: string;
let disk: Disk;
const MNT = '/mnt/test';

beforeAll(async () => {
  image = makeExt4Image(64 * 1024 * 1024);
  k = await bootForTests();
  disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: MNT });
});

function writeFile(path: string, data: Buffer | string, mode = 0o644): void {
  const fd = k.sys.openSync(path, 'w', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    expect(k.sys.writeSync(fd, bytes)).toBe(bytes.length);
  } finally {
    k.sys.closeSync(fd);
  }
}

function readFile(path: string): Buffer {
  const fd = k.sys.openSync(path);
  try {
    const size = k.sys.fstatSync(fd).size;
    const buffer = Buffer.alloc(size);
    expect(k.sys.readSync(fd, buffer, 0, size, 0)).toBe(size);
    return buffer;
  } finally {
    k.sys.closeSync(fd);
  }
}

function expectCode(fn: () => unknown, code: string, syscall: string, path?: string): KernelError {
  const caught = thrown(fn);
  expect(caught).toBeInstanceOf(KernelError);
  const error = caught as KernelError;
  expect(error.code).toBe(code);
  expect(error.syscall).toBe(syscall);
  if (path !== undefined) expect(error.path).toBe(path);
  expect(error.message).toContain(code);
  return error;
}

describe('files', () => {
  it('open, write, read, close: what is written reads back', () => {
    const fd = k.sys.openSync(`${MNT}/hello.txt`, 'w+', 0o640);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(k.sys.writeSync(fd, 'hello, ext4\n')).toBe(12);
    expect(k.sys.lseekSync(fd, 0, 'set')).toBe(0);
    const buffer = Buffer.alloc(64);
    expect(k.sys.readSync(fd, buffer)).toBe(12);
    expect(buffer.subarray(0, 12).toString()).toBe('hello, ext4\n');
    expect(k.sys.readSync(fd, buffer)).toBe(0); // end of file
    k.sys.closeSync(fd);
    expectCode(() => k.sys.closeSync(fd), 'EBADF', 'close');
  });

  it('readSync/writeSync honour offset, length and position (also as an options object)', () => {
    const fd = k.sys.openSync(`${MNT}/positions.bin`, 'w+');
    const data = Buffer.from('0123456789abcdef');
    expect(k.sys.writeSync(fd, data, 4, 8, 100)).toBe(8); // '456789ab' at 100
    const out = Buffer.alloc(16, '.');
    expect(k.sys.readSync(fd, out, 2, 8, 100)).toBe(8);
    expect(out.toString()).toBe('..456789ab......');
    expect(k.sys.readSync(fd, out, { offset: 0, length: 3, position: 102 })).toBe(3);
    expect(out.subarray(0, 3).toString()).toBe('678');
    expect(k.sys.fstatSync(fd).size).toBe(108);
    // A hole reads as zeros.
    const hole = Buffer.alloc(4, 1);
    expect(k.sys.readSync(fd, hole, 0, 4, 10)).toBe(4);
    expect([...hole]).toEqual([0, 0, 0, 0]);
    k.sys.closeSync(fd);
  });

  it('preadSync/pwriteSync do not move the file position', () => {
    const fd = k.sys.openSync(`${MNT}/pread.bin`, 'w+');
    k.sys.writeSync(fd, 'abcdefgh');
    expect(k.sys.lseekSync(fd, 0, 'cur')).toBe(8);
    expect(k.sys.pwriteSync(fd, Buffer.from('XY'), 0, 2, 2)).toBe(2);
    const out = Buffer.alloc(4);
    expect(k.sys.preadSync(fd, out, 0, 4, 1)).toBe(4);
    expect(out.toString()).toBe('bXYe');
    expect(k.sys.lseekSync(fd, 0, 'cur')).toBe(8);
    expect(k.sys.preadSync(fd, out, 0, 4, 1000)).toBe(0);
    k.sys.closeSync(fd);
  });

  it('lseek: set, cur, end, data and hole, with bigint offsets', () => {
    const fd = k.sys.openSync(`${MNT}/seek.bin`, 'w+');
    k.sys.pwriteSync(fd, Buffer.alloc(4096, 7), 0, 4096, 1 << 20);
    expect(k.sys.lseekSync(fd, 10)).toBe(10);
    expect(k.sys.lseekSync(fd, 5, 'cur')).toBe(15);
    expect(k.sys.lseekSync(fd, -96, 'end')).toBe((1 << 20) + 4000);
    expect(k.sys.lseekSync(fd, 0n, 'data')).toBe(1 << 20);
    expect(k.sys.lseekSync(fd, 1 << 20, 'hole')).toBe((1 << 20) + 4096);
    expectCode(() => k.sys.lseekSync(fd, -1, 'set'), 'EINVAL', 'lseek');
    k.sys.closeSync(fd);
  });

  it('openat resolves relative to a directory descriptor', () => {
    k.sys.mkdirSync(`${MNT}/atdir`);
    const dirfd = k.sys.openSync(`${MNT}/atdir`, 'r');
    const fd = k.sys.openatSync(dirfd, 'inner.txt', 'w');
    k.sys.writeSync(fd, 'inside');
    k.sys.closeSync(fd);
    expect(readFile(`${MNT}/atdir/inner.txt`).toString()).toBe('inside');
    expectCode(() => k.sys.openatSync(dirfd, 'missing', 'r'), 'ENOENT', 'open', 'missing');
    k.sys.closeSync(dirfd);
  });

  it("a KernelError's stack starts at the k.sys method and names the caller", () => {
    const error = thrown(() => k.sys.statSync(`${MNT}/no-such`)) as KernelError;
    const frames = error.stack!.split('\n').slice(1);
    expect(frames[0]).toMatch(/statSync/);
    expect(frames.some((f) => f.includes('sys.test.ts'))).toBe(true);
    expect(frames.some((f) => /#fail|Kernel\.error/.test(f))).toBe(false);
  });

  it('open flags: wx refuses an existing file, a appends', () => {
    writeFile(`${MNT}/flags.txt`, 'one');
    expectCode(() => k.sys.openSync(`${MNT}/flags.txt`, 'wx'), 'EEXIST', 'open', `${MNT}/flags.txt`);
    const fd = k.sys.openSync(`${MNT}/flags.txt`, 'a');
    k.sys.writeSync(fd, '+two');
    k.sys.closeSync(fd);
    expect(readFile(`${MNT}/flags.txt`).toString()).toBe('one+two');
    expectCode(() => k.sys.openSync(`${MNT}/nope/x`, 'r'), 'ENOENT', 'open', `${MNT}/nope/x`);
  });

  it('readFileSync, writeFileSync and existsSync', () => {
    expect(k.sys.existsSync(`${MNT}/whole.txt`)).toBe(false);
    k.sys.writeFileSync(`${MNT}/whole.txt`, 'line one\nline two\n', { mode: 0o600 });
    expect(k.sys.existsSync(`${MNT}/whole.txt`)).toBe(true);
    expect(k.sys.existsSync(`${MNT}/whole.txt/below`)).toBe(false);
    expect(k.sys.readFileSync(`${MNT}/whole.txt`, 'utf8')).toBe('line one\nline two\n');
    expect(k.sys.statSync(`${MNT}/whole.txt`).mode & 0o777).toBe(0o600);
    const big = randomBytes(100_000);
    k.sys.writeFileSync(`${MNT}/whole.bin`, big);
    expect(k.sys.readFileSync(`${MNT}/whole.bin`).equals(big)).toBe(true);
    k.sys.writeFileSync(`${MNT}/whole.txt`, '+three', { flag: 'a' });
    expect(k.sys.readFileSync(`${MNT}/whole.txt`).toString()).toBe('line one\nline two\n+three');
    expectCode(() => k.sys.readFileSync(`${MNT}/none.txt`), 'ENOENT', 'open', `${MNT}/none.txt`);
    expect(() => k.sys.readFileSync(`${MNT}/whole.txt`, 'klingon' as never)).toThrow(TypeError);
  });

  it('readFileSync and writeFileSync take an encoding, alone or in options, as node:fs', () => {
    k.sys.writeFileSync(`${MNT}/latin1.txt`, 'caf\u00e9', { encoding: 'latin1' });
    expect(k.sys.readFileSync(`${MNT}/latin1.txt`).equals(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe(true);
    expect(k.sys.readFileSync(`${MNT}/latin1.txt`, { encoding: 'latin1' })).toBe('caf\u00e9');
    k.sys.writeFileSync(`${MNT}/b64.txt`, 'aGVsbG8=', 'base64');
    expect(k.sys.readFileSync(`${MNT}/b64.txt`, { encoding: 'utf8', flag: 'r' })).toBe('hello');
    expect(Buffer.isBuffer(k.sys.readFileSync(`${MNT}/b64.txt`, { encoding: null }))).toBe(true);
    expect(() => k.sys.writeFileSync(`${MNT}/x.txt`, 'x', { encoding: 'klingon' as never })).toThrow(/"encoding" is not a known encoding/);
    expect(() => k.sys.readFileSync(`${MNT}/b64.txt`, { encoding: 'klingon' as never })).toThrow(/"encoding" is not a known encoding/);
    expectCode(() => k.sys.readFileSync(`${MNT}/b64.txt`, { flag: 'wx' }), 'EEXIST', 'open', `${MNT}/b64.txt`);
  });

  it('readFileSync reads files whose size says 0 (procfs) to their end', () => {
    k.sys.mkdirSync('/proc');
    k.sys.syscallSync(syscalls.mount, Buffer.from('proc\0'), Buffer.from('/proc\0'), Buffer.from('proc\0'), 0, 0);
    expect(k.sys.statSync('/proc/self/status').size).toBe(0);
    expect(k.sys.readFileSync('/proc/self/status', 'utf8')).toMatch(/^Name:/);
    expect(k.sys.readFileSync('/proc/mounts', 'utf8')).toContain(`/dev/lkl${disk.id} ${MNT} ext4`);
  });

  it('a large file of random data survives unmount and remount', () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    writeFile(`${MNT}/random.bin`, data);
    k.umount(MNT);
    k.mount(disk, { type: 'ext4', at: MNT });
    expect(readFile(`${MNT}/random.bin`).equals(data)).toBe(true);
  });
});

describe('metadata', () => {
  it('fstat, stat and lstat return Node-like Stats', () => {
    writeFile(`${MNT}/stat.txt`, 'x'.repeat(5000), 0o600);
    k.sys.symlinkSync('stat.txt', `${MNT}/stat.link`);
    const fd = k.sys.openSync(`${MNT}/stat.txt`);
    const f = k.sys.fstatSync(fd);
    k.sys.closeSync(fd);
    const s = k.sys.statSync(`${MNT}/stat.link`);
    const l = k.sys.lstatSync(`${MNT}/stat.link`);
    for (const st of [f, s]) {
      expect(st.isFile()).toBe(true);
      expect(st.isDirectory()).toBe(false);
      expect(st.size).toBe(5000);
      expect(st.mode & 0o7777).toBe(0o600);
      expect(st.nlink).toBe(1);
      expect(st.blocks).toBeGreaterThanOrEqual(8);
      expect(st.blksize).toBe(4096);
    }
    expect(s.ino).toBe(f.ino);
    expect(l.isSymbolicLink()).toBe(true);
    expect(l.size).toBe('stat.txt'.length);
    expect(l.ino).not.toBe(f.ino);
    expect(f.mtime).toBeInstanceOf(Date);
    expect(Math.abs(f.mtimeMs - Date.now())).toBeLessThan(60_000);
    expect(f.mtimeNs / 1_000_000n).toBe(BigInt(Math.floor(f.mtimeMs)));
    expect(k.sys.statSync(MNT).isDirectory()).toBe(true);
    expectCode(() => k.sys.statSync(`${MNT}/none`), 'ENOENT', 'stat', `${MNT}/none`);
    expectCode(() => k.sys.lstatSync(`${MNT}/none`), 'ENOENT', 'lstat', `${MNT}/none`);
  });

  it('ftruncate and truncate change the size; fsync and fdatasync succeed', () => {
    writeFile(`${MNT}/trunc.bin`, Buffer.alloc(10_000, 1));
    const fd = k.sys.openSync(`${MNT}/trunc.bin`, 'r+');
    k.sys.ftruncateSync(fd, 100);
    expect(k.sys.fstatSync(fd).size).toBe(100);
    k.sys.ftruncateSync(fd, 1n << 32n);
    expect(k.sys.fstatSync(fd).size).toBe(2 ** 32);
    k.sys.fsyncSync(fd);
    k.sys.fdatasyncSync(fd);
    k.sys.closeSync(fd);
    k.sys.truncateSync(`${MNT}/trunc.bin`);
    expect(k.sys.statSync(`${MNT}/trunc.bin`).size).toBe(0);
    const ro = k.sys.openSync(`${MNT}/trunc.bin`, 'r');
    expectCode(() => k.sys.ftruncateSync(ro, 1), 'EINVAL', 'ftruncate');
    k.sys.closeSync(ro);
  });

  it('chmod and fchmod change the mode', () => {
    writeFile(`${MNT}/mode.txt`, 'm');
    k.sys.chmodSync(`${MNT}/mode.txt`, 0o751);
    expect(k.sys.statSync(`${MNT}/mode.txt`).mode & 0o7777).toBe(0o751);
    k.sys.chmodSync(`${MNT}/mode.txt`, '600');
    expect(k.sys.statSync(`${MNT}/mode.txt`).mode & 0o7777).toBe(0o600);
    const fd = k.sys.openSync(`${MNT}/mode.txt`);
    k.sys.fchmodSync(fd, 0o4755);
    expect(k.sys.fstatSync(fd).mode & 0o7777).toBe(0o4755);
    k.sys.closeSync(fd);
    expectCode(() => k.sys.chmodSync(`${MNT}/gone`, 0o600), 'ENOENT', 'chmod');
  });

  it('utimes sets access and modification times exactly', () => {
    writeFile(`${MNT}/times.txt`, 't');
    k.sys.utimesSync(`${MNT}/times.txt`, 1_000_000_000.25, new Date('2020-02-02T02:02:02.500Z'));
    const st = k.sys.statSync(`${MNT}/times.txt`);
    expect(st.atimeMs).toBe(1_000_000_000_250);
    expect(st.atimeNs).toBe(1_000_000_000_250_000_000n);
    expect(st.mtime.toISOString()).toBe('2020-02-02T02:02:02.500Z');
    expectCode(() => k.sys.utimesSync(`${MNT}/none`, 1, 1), 'ENOENT', 'utime');
  });

  it('statfs describes the ext4 file system', () => {
    const fs = k.sys.statfsSync(MNT);
    expect(fs.type).toBe(0xef53); // EXT4_SUPER_MAGIC
    expect(fs.bsize).toBe(4096);
    expect(fs.blocks * fs.bsize).toBeGreaterThan(50 * 1024 * 1024);
    expect(fs.bfree).toBeLessThanOrEqual(fs.blocks);
    expect(fs.bavail).toBeLessThanOrEqual(fs.bfree);
    expect(fs.files).toBeGreaterThan(1000);
    expect(fs.namelen).toBe(255);
  });
});

describe('directories and links', () => {
  it('statSync, lstatSync and fstatSync take { bigint, throwIfNoEntry } as node:fs', () => {
    writeFile(`${MNT}/st.txt`, 'twelve bytes');
    k.sys.symlinkSync('st.txt', `${MNT}/st.link`);
    const plain = k.sys.statSync(`${MNT}/st.txt`);
    const big = k.sys.statSync(`${MNT}/st.txt`, { bigint: true });
    expect(big.size).toBe(12n);
    expect(big.ino).toBe(BigInt(plain.ino));
    expect(big.mode).toBe(BigInt(plain.mode));
    expect(big.mtimeNs / 1_000_000n).toBe(BigInt(Math.floor(plain.mtimeMs)));
    expect(k.sys.lstatSync(`${MNT}/st.link`, { bigint: true }).isSymbolicLink()).toBe(true);
    const fd = k.sys.openSync(`${MNT}/st.txt`);
    try {
      expect(k.sys.fstatSync(fd, { bigint: true }).size).toBe(12n);
    } finally {
      k.sys.closeSync(fd);
    }
    expect(k.sys.statSync(`${MNT}/none`, { throwIfNoEntry: false })).toBeUndefined();
    expect(k.sys.lstatSync(`${MNT}/st.txt/below`, { throwIfNoEntry: false })).toBeUndefined(); // ENOTDIR
    expectCode(() => k.sys.statSync(`${MNT}/${'n'.repeat(300)}`, { throwIfNoEntry: false }), 'ENAMETOOLONG', 'stat');
    expectCode(() => k.sys.statSync(`${MNT}/none`), 'ENOENT', 'stat');
    expect(() => k.sys.statSync(`${MNT}/st.txt`, { bigint: 'yes' as never })).toThrow(/"options.bigint" argument must be of type boolean/);
  });

  it('readdirSync encoding: buffer or any Buffer encoding for names; said to be missing with withFileTypes', () => {
    k.sys.mkdirSync(`${MNT}/enc`);
    writeFile(`${MNT}/enc/caf\u00e9`, 'x');
    const names = k.sys.readdirSync(`${MNT}/enc`, { encoding: 'buffer' });
    expect(names.map((b) => Buffer.isBuffer(b))).toEqual([true]);
    expect(names[0]!.equals(Buffer.from('caf\u00e9'))).toBe(true);
    expect(k.sys.readdirSync(`${MNT}/enc`, 'hex')).toEqual([Buffer.from('caf\u00e9').toString('hex')]);
    const missing = thrown(() => k.sys.readdirSync(`${MNT}/enc`, { encoding: 'buffer', withFileTypes: true } as never));
    expect((missing as { code?: string }).code).toBe('ERR_METHOD_NOT_IMPLEMENTED');
    expect(() => k.sys.readdirSync(`${MNT}/enc`, { encoding: 'klingon' as never })).toThrow(/"options.encoding" is not a known encoding/);
  });

  it('readdirSync recursive: breadth first, relative paths, symbolic links listed and not entered', () => {
    const top = `${MNT}/tree`;
    k.sys.mkdirSync(`${top}/a/b/c`, { recursive: true });
    writeFile(`${top}/a/b/c/deep`, 'x');
    writeFile(`${top}/f`, 'y');
    k.sys.symlinkSync(top, `${top}/a/up`); // a loop if it were followed
    k.sys.symlinkSync('b', `${top}/a/alias`);
    const names = k.sys.readdirSync(top, { recursive: true });
    expect([...names].sort()).toEqual(['a', 'a/alias', 'a/b', 'a/b/c', 'a/b/c/deep', 'a/up', 'f']);
    // Breadth first: every name of a level before the next level's.
    const depth = (n: string): number => n.split('/').length;
    expect(names.map(depth)).toEqual([...names.map(depth)].sort((x, y) => x - y));
    const typed = k.sys.readdirSync(top, { recursive: true, withFileTypes: true });
    const deep = typed.find((e) => e.name === 'deep')!;
    expect(deep.parentPath).toBe(`${top}/a/b/c`);
    expect(deep.isFile()).toBe(true);
    expect(typed.find((e) => e.name === 'up')!.isSymbolicLink()).toBe(true);
    expect(k.sys.readdirSync(top, { recursive: false }).sort()).toEqual(['a', 'f']);
    expect(thrown(() => k.sys.readdirSync(top, { recursive: 'yes' as never }))).toBeInstanceOf(TypeError);
    expect(thrown(() => k.sys.readdirSync(top, { withFileTypes: 1 as never }))).toBeInstanceOf(TypeError);
  });

  it('mkdir, readdir, rename, unlink, rmdir', () => {
    k.sys.mkdirSync(`${MNT}/d`, 0o750);
    expect(k.sys.statSync(`${MNT}/d`).mode & 0o777).toBe(0o750);
    for (const name of ['a', 'b', 'c']) writeFile(`${MNT}/d/${name}`, name);
    k.sys.mkdirSync(`${MNT}/d/sub`);
    expect(k.sys.readdirSync(`${MNT}/d`).sort()).toEqual(['a', 'b', 'c', 'sub']);
    const typed = k.sys.readdirSync(`${MNT}/d`, { withFileTypes: true });
    const byName = Object.fromEntries(typed.map((e) => [e.name, e]));
    expect(byName.sub!.isDirectory()).toBe(true);
    expect(byName.a!.isFile()).toBe(true);
    expect(byName.a!.parentPath).toBe(`${MNT}/d`);
    k.sys.renameSync(`${MNT}/d/a`, `${MNT}/d/sub/a2`);
    expect(readFile(`${MNT}/d/sub/a2`).toString()).toBe('a');
    expectCode(() => k.sys.rmdirSync(`${MNT}/d`), 'ENOTEMPTY', 'rmdir', `${MNT}/d`);
    expectCode(() => k.sys.unlinkSync(`${MNT}/d/sub`), 'EISDIR', 'unlink');
    expectCode(() => k.sys.mkdirSync(`${MNT}/d`), 'EEXIST', 'mkdir', `${MNT}/d`);
    const e = expectCode(() => k.sys.renameSync(`${MNT}/d/none`, `${MNT}/d/x`), 'ENOENT', 'rename', `${MNT}/d/none`);
    expect(e.dest).toBe(`${MNT}/d/x`);
    for (const p of ['sub/a2', 'b', 'c']) k.sys.unlinkSync(`${MNT}/d/${p}`);
    k.sys.rmdirSync(`${MNT}/d/sub`);
    k.sys.rmdirSync(`${MNT}/d`);
    expectCode(() => k.sys.statSync(`${MNT}/d`), 'ENOENT', 'stat');
  });

  it('mkdir recursive creates every missing parent', () => {
    expect(k.sys.mkdirSync(`${MNT}/p/q/r`, { recursive: true })).toBe(`${MNT}/p`);
    expect(k.sys.statSync(`${MNT}/p/q/r`).isDirectory()).toBe(true);
    expect(k.sys.mkdirSync(`${MNT}/p/q/r`, { recursive: true })).toBeUndefined();
    writeFile(`${MNT}/p/file`, 'f');
    expectCode(() => k.sys.mkdirSync(`${MNT}/p/file/x`, { recursive: true }), 'ENOTDIR', 'mkdir');
  });

  it('readdir lists a directory of 1000 entries across several getdents64 calls', () => {
    k.sys.mkdirSync(`${MNT}/many`);
    const names: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const name = `entry-with-a-long-name-${String(i).padStart(4, '0')}`;
      names.push(name);
      k.sys.closeSync(k.sys.openSync(`${MNT}/many/${name}`, 'w'));
    }
    expect(k.sys.readdirSync(`${MNT}/many`).sort()).toEqual(names);
    expectCode(() => k.sys.readdirSync(`${MNT}/many/${names[0]}`), 'ENOTDIR', 'scandir');
  });

  it('paths: UTF-8 names, Buffer and file: URL paths name the same file', () => {
    writeFile(`${MNT}/ünïcødé 文件.txt`, 'utf8');
    expect(k.sys.readdirSync(MNT)).toContain('ünïcødé 文件.txt');
    expect(k.sys.statSync(Buffer.from(`${MNT}/ünïcødé 文件.txt`)).size).toBe(4);
    expect(k.sys.statSync(new URL(`file://${MNT}/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6.txt`)).size).toBe(4);
    k.sys.renameSync(`${MNT}/ünïcødé 文件.txt`, `${MNT}/ascii.txt`);
    expect(readFile(`${MNT}/ascii.txt`).toString()).toBe('utf8');
  });

  it('symlink and readlink', () => {
    k.sys.symlinkSync('/some/where/üñí', `${MNT}/link`);
    expect(k.sys.readlinkSync(`${MNT}/link`)).toBe('/some/where/üñí');
    expectCode(() => k.sys.readlinkSync(MNT), 'EINVAL', 'readlink', MNT);
    expectCode(() => k.sys.symlinkSync('x', `${MNT}/link`), 'EEXIST', 'symlink');
    expect(k.sys.readlinkSync(`${MNT}/link`, { encoding: 'buffer' }).equals(Buffer.from('/some/where/üñí'))).toBe(true);
    expect(k.sys.readlinkSync(`${MNT}/link`, 'buffer').equals(Buffer.from('/some/where/üñí'))).toBe(true);
    expect(k.sys.readlinkSync(`${MNT}/link`, { encoding: 'hex' } as never)).toBe(Buffer.from('/some/where/üñí').toString('hex'));
    expect(() => k.sys.readlinkSync(`${MNT}/link`, { encoding: 'klingon' } as never)).toThrow(/"options.encoding" is not a known encoding/);
  });

  it("options node:fs has and k.sys does not are refused, not ignored", () => {
    k.sys.mkdirSync(`${MNT}/full/inner`, { recursive: true });
    for (const call of [() => k.sys.rmdirSync(`${MNT}/full`, { recursive: true }), () => k.sys.statfsSync(MNT, { bigint: true })]) {
      const error = thrown(call) as { code?: string; message: string };
      expect(error.code).toBe('ERR_METHOD_NOT_IMPLEMENTED');
      expect(error.message).toMatch(/is not implemented in k\.sys/);
    }
    expect(k.sys.existsSync(`${MNT}/full/inner`)).toBe(true);
    k.sys.rmdirSync(`${MNT}/full/inner`, { recursive: false });
    k.sys.rmdirSync(`${MNT}/full`);
    expect(k.sys.statfsSync(MNT, { bigint: false }).bsize).toBeGreaterThan(0);
  });

  it('host e2fsprogs see the kernel\'s files after unmount', () => {
    writeFile(`${MNT}/for-debugfs.txt`, 'read by the host\n');
    k.umount(MNT);
    expect(e2fs('debugfs', ['-R', 'cat /for-debugfs.txt', image])).toBe('read by the host\n');
    e2fs('e2fsck', ['-fn', image]); // throws on a non-zero exit: errors found
    k.mount(disk, { type: 'ext4', at: MNT });
  });
});

describe('descriptors and processes', () => {
  it('pipe and dup: bytes written to the pipe come out of a duplicate of its read end', () => {
    const [r, w] = k.sys.pipeSync();
    const r2 = k.sys.dupSync(r);
    expect(r2).not.toBe(r);
    expect(k.sys.writeSync(w, 'through the pipe')).toBe(16);
    const out = Buffer.alloc(32);
    expect(k.sys.readSync(r2, out)).toBe(16);
    expect(out.subarray(0, 16).toString()).toBe('through the pipe');
    expect(k.sys.fstatSync(r).isFIFO()).toBe(true);
    for (const fd of [r, w, r2]) k.sys.closeSync(fd);
    expectCode(() => k.sys.dupSync(r), 'EBADF', 'dup');
  });

  it('getpid is the process the kernel runs us in, stable across calls', () => {
    const pid = k.sys.getpidSync();
    expect(pid).toBeGreaterThan(0);
    expect(k.sys.getpidSync()).toBe(pid);
    expect(k.sys.syscallSync(syscalls.getpid)).toBe(pid);
  });

  it('syscallSync: uname fills a buffer; getcwd returns its length', () => {
    const uts = Buffer.alloc(6 * 65);
    expect(k.sys.syscallSync(syscalls.uname, uts)).toBe(0);
    const field = (i: number): string => uts.subarray(i * 65, uts.indexOf(0, i * 65)).toString();
    expect(field(0)).toBe('Linux');
    expect(field(2)).toBe(k.release);
    const cwd = Buffer.alloc(64);
    expect(k.sys.syscallSync(syscalls.getcwd, cwd, cwd.length)).toBe(2);
    expect(cwd.subarray(0, 1).toString()).toBe('/');
    const e = expectCode(() => k.sys.syscallSync(syscalls.close, 9999), 'EBADF', 'close');
    expect(e.errno).toBe(-9);
  });
});

describe('disks', () => {
  it('a read-only disk mounts read-only and refuses writes with EROFS', () => {
    const second = makeExt4Image(16 * 1024 * 1024, 'ro.img');
    const ro = k.disks.attach(second, { readOnly: true });
    expect(ro.device).toBe(`/dev/lkl${ro.id}`);
    expect(k.disks.list()).toEqual([disk, ro]);
    k.mount(ro, { type: 'ext4', at: '/mnt/ro' });
    expectCode(() => k.sys.openSync('/mnt/ro/new', 'w'), 'EROFS', 'open', '/mnt/ro/new');
    expectCode(() => k.disks.detach(ro), 'EBUSY', 'detach');
    k.umount('/mnt/ro');
    k.disks.detach(ro);
    expect(k.disks.list()).toEqual([disk]);
    expect(() => k.disks.detach(ro)).toThrow(TypeError);
  });

  it('an attached image is locked: a second attach, here or in another process, fails with EBUSY', () => {
    expectCode(() => k.disks.attach(image), 'EBUSY', 'attach', image);
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const script = `
      const { Kernel } = await import(${JSON.stringify(entry)});
      const k = await Kernel.boot();
      try { k.disks.attach(${JSON.stringify(image)}); console.log('attached'); }
      catch (e) { console.log(e.code); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('EBUSY');
  });

  it('direct: an image opened with O_DIRECT keeps what the kernel wrote', () => {
    const path = makeExt4Image(16 * 1024 * 1024, 'direct.img');
    const d = k.disks.attach(path, { direct: true });
    expect(d.direct).toBe(true);
    k.mount(d, { type: 'ext4', at: '/mnt/direct' });
    const data = randomBytes(300_000);
    writeFile('/mnt/direct/f', data);
    k.umount('/mnt/direct');
    k.mount(d, { type: 'ext4', at: '/mnt/direct' });
    expect(readFile('/mnt/direct/f').equals(data)).toBe(true);
    k.umount('/mnt/direct');
    k.disks.detach(d);
    e2fs('e2fsck', ['-fn', path]);
  });

  it('direct: a host file system that refuses O_DIRECT fails the attach with EOPNOTSUPP', () => {
    // procfs refuses O_DIRECT at open (as tmpfs did before Linux 6.6).
    const e = expectCode(() => k.disks.attach('/proc/self/status', { readOnly: true, direct: true }), 'EOPNOTSUPP', 'attach', '/proc/self/status');
    expect(e.message).toMatch(/refuses O_DIRECT/);
  });

  it('latencyUs: a read of an uncached block sleeps in the kernel at least that long', () => {
    const path = makeExt4Image(16 * 1024 * 1024, 'slow.img');
    const d = k.disks.attach(path, { latencyUs: 200 });
    expect(d.latencyUs).toBe(200);
    k.mount(d, { type: 'ext4', at: '/mnt/slow' });
    const data = randomBytes(65536);
    writeFile('/mnt/slow/f', data);
    k.umount('/mnt/slow');
    k.mount(d, { type: 'ext4', at: '/mnt/slow' });
    const fd = k.sys.openSync('/mnt/slow/f');
    const buffer = Buffer.alloc(4096);
    const t0 = process.hrtime.bigint();
    expect(k.sys.readSync(fd, buffer, 0, 4096, 32768)).toBe(4096);
    const elapsedUs = Number(process.hrtime.bigint() - t0) / 1000;
    k.sys.closeSync(fd);
    expect(elapsedUs).toBeGreaterThanOrEqual(200);
    expect(buffer.equals(data.subarray(32768, 36864))).toBe(true);
    k.umount('/mnt/slow');
    k.disks.detach(d);
  });

  it('mount errors: unknown file system type, a non-ext4 image', () => {
    const blank = makeExt4Image(8 * 1024 * 1024, 'blank.img');
    const d = k.disks.attach(blank);
    expectCode(() => k.mount(d, { type: 'nosuchfs', at: '/mnt/x' }), 'ENODEV', 'mount', '/mnt/x');
    k.disks.detach(d);
    expectCode(() => k.disks.attach('/nonexistent/image.img'), 'ENOENT', 'attach', '/nonexistent/image.img');
    // Not images: refused at once (opening a FIFO would wait for a writer).
    const fifo = join(dirname(blank), 'fifo');
    execFileSync('mkfifo', [fifo]);
    // At most 64 disks at once; the 65th attach says so.
    const many = Array.from({ length: 64 - k.disks.list().length }, () => k.disks.attach(blank, { readOnly: true }));
    const full = thrown(() => k.disks.attach(blank, { readOnly: true }));
    for (const d of many) k.disks.detach(d);
    expect((full as KernelError).code).toBe('ENOSPC');
    expect((full as Error).message).toMatch(/64 disks are attached already/);
    for (const path of [fifo, '/dev/null', dirname(blank)]) {
      expectCode(() => k.disks.attach(path, { readOnly: true }), 'EINVAL', 'attach', path);
      expect((thrown(() => k.disks.attach(path, { readOnly: true })) as Error).message).toMatch(/an image is a non-empty regular file or a block device/);
    }
    expectCode(() => k.umount('/mnt/not-mounted'), 'ENOENT', 'umount');
  });
});
