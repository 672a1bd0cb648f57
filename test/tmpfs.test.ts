// SPDX-License-Identifier: GPL-2.0-only
// The kernel's "tmpfs" (and its root file system) is ramfs: without an MMU
// there is no shmem.  These tests pin the limits docs/node-api.md states, so
// the documentation stays true.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, syscalls } from '../dist/index.js';
import { bootForTests, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
const TMP = '/mnt/tmp';
const EXT4 = '/mnt/ext4';
const MiB = 1024 * 1024;
const RAMFS_MAGIC = 0x858458f6;
const EXT4_SUPER_MAGIC = 0xef53;

beforeAll(async () => {
  const image = makeExt4Image(32 * MiB);
  k = await bootForTests();
  k.sys.mkdirSync(TMP, { recursive: true });
  k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from(`${TMP}\0`), Buffer.from('tmpfs\0'), 0, 0);
  k.mount(k.disks.attach(image), { type: 'ext4', at: EXT4 });
});

let serial = 0;
function emptyFile(dir = TMP): number {
  return k.sys.openSync(`${dir}/f${serial++}`, 'w+');
}

const FALLOC_MODES: Array<[string, number]> = [
  ['0 (allocate)', 0],
  ['KEEP_SIZE', 0x01],
  ['PUNCH_HOLE | KEEP_SIZE', 0x03],
  ['COLLAPSE_RANGE', 0x08],
  ['ZERO_RANGE', 0x10],
  ['ZERO_RANGE | KEEP_SIZE', 0x11],
  ['INSERT_RANGE', 0x20],
  ['UNSHARE_RANGE', 0x40],
];

describe('tmpfs is ramfs (no MMU, no shmem)', () => {
  it('statfs reports ramfs: f_type 0x858458f6, no block counts', () => {
    const st = k.sys.statfsSync(TMP);
    expect(st.type).toBe(RAMFS_MAGIC);
    expect(st.bsize).toBe(4096);
    expect(st.blocks).toBe(0);
    expect(k.sys.statfsSync('/').type).toBe(RAMFS_MAGIC);
    expect(k.sys.statfsSync(EXT4).type).toBe(EXT4_SUPER_MAGIC);
  });

  it('ftruncate of an empty file works up to exactly 4 MiB; one byte more is EFBIG', () => {
    const fd = emptyFile();
    k.sys.ftruncateSync(fd, 4 * MiB);
    expect(k.sys.fstatSync(fd).size).toBe(4 * MiB);
    // The memory is allocated, zeroed and pinned at once.
    const tail = Buffer.alloc(16, 0xff);
    expect(k.sys.preadSync(fd, tail, 0, 16, 4 * MiB - 16)).toBe(16);
    expect(tail.equals(Buffer.alloc(16))).toBe(true);
    k.sys.closeSync(fd);

    const fd2 = emptyFile();
    expect(thrown(() => k.sys.ftruncateSync(fd2, 4 * MiB + 1))).toMatchObject({ code: 'EFBIG', syscall: 'ftruncate' });
    expect(thrown(() => k.sys.ftruncateSync(fd2, 2 ** 32))).toMatchObject({ code: 'EFBIG' });
    expect(k.sys.fstatSync(fd2).size).toBe(0);
    k.sys.closeSync(fd2);
  });

  it('a file that is not empty can be extended with ftruncate to any size (sparse)', () => {
    const fd = emptyFile();
    k.sys.writeSync(fd, 'x');
    k.sys.ftruncateSync(fd, 2 ** 40);
    expect(k.sys.fstatSync(fd).size).toBe(2 ** 40);
    k.sys.ftruncateSync(fd, 2n ** 62n);
    expect(k.sys.fstatSync(fd).size).toBe(2 ** 62);
    k.sys.ftruncateSync(fd, 1);
    k.sys.closeSync(fd);
  });

  it('writes grow a file past 4 MiB (8 MiB written)', () => {
    const fd = emptyFile();
    const chunk = Buffer.alloc(MiB, 0x5a);
    for (let i = 0; i < 8; i++) expect(k.sys.writeSync(fd, chunk)).toBe(MiB);
    expect(k.sys.fstatSync(fd).size).toBe(8 * MiB);
    k.sys.ftruncateSync(fd, 0);
    k.sys.closeSync(fd);
  });

  it.each(FALLOC_MODES)('fallocate mode %s is EOPNOTSUPP on tmpfs', (_name, mode) => {
    const fd = emptyFile();
    k.sys.writeSync(fd, Buffer.alloc(8192));
    expect(thrown(() => k.sys.syscallSync(syscalls.fallocate, fd, mode, 0, 4096))).toMatchObject({ code: 'EOPNOTSUPP' });
    k.sys.closeSync(fd);
  });

  it('fallocate works on ext4 (the difference is tmpfs only)', () => {
    const fd = emptyFile(EXT4);
    expect(k.sys.syscallSync(syscalls.fallocate, fd, 0, 0, 64 * MiB / 8)).toBe(0);
    expect(k.sys.fstatSync(fd).size).toBe(8 * MiB);
    k.sys.closeSync(fd);
  });
});

// ramfs files may be as large as 2^63 - 1, so lseek can land above 2^53.
describe('lseek results above 2^53 are never rounded', () => {
  const SEEK_CUR = 1;

  it('with a bigint offset, a position above 2^53 - 1 comes back as an exact bigint', () => {
    const fd = emptyFile();
    expect(k.sys.lseekSync(fd, 2n ** 53n + 1n)).toBe(2n ** 53n + 1n);
    expect(k.sys.lseekSync(fd, 2n, 'cur')).toBe(2n ** 53n + 3n);
    expect(k.sys.lseekSync(fd, 2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    // ramfs files extend to the largest size there is (docs/node-api.md).
    k.sys.writeSync(fd, 'x', 0);
    k.sys.ftruncateSync(fd, 2n ** 63n - 1n);
    expect(k.sys.lseekSync(fd, 0n, 'end')).toBe(2n ** 63n - 1n);
    k.sys.ftruncateSync(fd, 0);
    // Safe positions stay numbers, whatever the offset's type.
    expect(k.sys.lseekSync(fd, 5n)).toBe(5);
    expect(k.sys.lseekSync(fd, 2n ** 53n - 1n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(thrown(() => k.sys.lseekSync(fd, 2n ** 63n))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => k.sys.lseekSync(fd, -1n))).toMatchObject({ code: 'EINVAL' });
    k.sys.closeSync(fd);
  });

  it('a number offset whose result is above 2^53 - 1 is a RangeError with the exact value, not a rounded number', () => {
    const fd = emptyFile();
    expect(k.sys.lseekSync(fd, Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    const error = thrown(() => k.sys.lseekSync(fd, 2, 'cur'));
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: /Received 9007199254740993n/ });
    // The seek happened; a bigint offset reads the exact position.
    expect(k.sys.lseekSync(fd, 0n, 'cur')).toBe(2n ** 53n + 1n);
    expect(thrown(() => k.sys.syscallSync(syscalls.lseek, fd, 0, SEEK_CUR))).toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
      message: /lseek returned more than 2\^53 - 1.*Received 9007199254740993n/,
    });
    expect(k.sys.syscallSync(syscalls.lseek, fd, 7, 0)).toBe(7);
    k.sys.closeSync(fd);
  });
});
