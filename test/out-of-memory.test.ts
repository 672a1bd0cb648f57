// SPDX-License-Identifier: GPL-2.0-only
// Running the kernel out of memory.  Files in its root file system (a ramfs,
// whose pages nothing can reclaim), and new inodes there, stop at ENOSPC with
// an eighth of memory left for the rest of the kernel, so ext4 keeps working
// (patch 0006); other
// memory (pipe buffers) runs out with ENOMEM instead of a panic (patch 0005).
// Before, a full ramfs made the next allocation panic ("System is deadlocked
// on memory": the OOM killer has nothing to kill here), or an ext4 call spin
// in the allocator for ever.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, type Disk } from '../dist/index.js';
import { bootForTests, e2fs, fillMemoryWithPipes, makeExt4Image } from './helpers.js';

let k: Kernel;
let image: string;
let disk: Disk;
const MEMORY = 64 << 20;

beforeAll(async () => {
  k = await bootForTests({ memory: MEMORY });
  image = makeExt4Image(32 * 1024 * 1024, 'oom.img');
  disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: '/mnt/disk' });
  k.sys.writeFileSync('/mnt/disk/before', 'written before');
});

/** Writes 1 MiB pieces into /fill/N until a call fails; returns the files, the bytes and the error. */
function fill(): { files: string[]; bytes: number; error: unknown } {
  const piece = Buffer.alloc(1 << 20, 0x5a);
  const files: string[] = [];
  let bytes = 0;
  k.sys.mkdirSync('/fill', { recursive: true });
  for (let i = 0; i < 1024; i++) {
    const path = `/fill/${i}`;
    let fd: number;
    try {
      fd = k.sys.openSync(path, 'w'); // a new inode: ENOSPC too when memory is short
    } catch (error) {
      return { files, bytes, error };
    }
    files.push(path);
    try {
      for (let j = 0; j < 4; j++) bytes += k.sys.writeSync(fd, piece);
    } catch (error) {
      return { files, bytes, error };
    } finally {
      k.sys.closeSync(fd);
    }
  }
  return { files, bytes, error: undefined };
}

describe('out of memory', () => {
  it('ramfs files stop at ENOSPC with an eighth of memory left, ext4 works meanwhile, deleting them frees it', () => {
    const first = fill();
    expect(first.error).toBeInstanceOf(KernelError);
    expect((first.error as KernelError).code).toBe('ENOSPC');
    // Most of the memory went into files, but not all of it.
    expect(first.bytes).toBeGreaterThan(MEMORY / 2);
    expect(first.bytes).toBeLessThan(MEMORY - MEMORY / 8);
    // Overwriting what a file has needs no memory.
    const fd = k.sys.openSync(first.files[0]!, 'r+');
    expect(k.sys.pwriteSync(fd, Buffer.alloc(4096, 1), 0, 4096, 0)).toBe(4096);
    k.sys.closeSync(fd);

    // ext4 has the memory it needs: files written and read back meanwhile.
    k.sys.mkdirSync('/mnt/disk/meanwhile');
    for (let i = 0; i < 16; i++) k.sys.writeFileSync(`/mnt/disk/meanwhile/${i}`, Buffer.alloc(64 * 1024, i));
    const synced = k.sys.openSync('/mnt/disk/meanwhile/0', 'r');
    k.sys.fsyncSync(synced);
    k.sys.closeSync(synced);
    for (let i = 0; i < 16; i++) expect(k.sys.readFileSync(`/mnt/disk/meanwhile/${i}`).equals(Buffer.alloc(64 * 1024, i))).toBe(true);

    for (const path of first.files) k.sys.unlinkSync(path);
    const second = fill();
    expect((second.error as KernelError).code).toBe('ENOSPC');
    expect(second.bytes).toBeGreaterThan(first.bytes - (4 << 20));
    for (const path of second.files) k.sys.unlinkSync(path);
    expect(k.sys.readFileSync('/mnt/disk/before', 'utf8')).toBe('written before');
    expect(k.state).toBe('running');
  }, 120_000);

  it('empty ramfs files (inodes and dentries, kept in memory too) stop at ENOSPC, and ext4 works meanwhile', () => {
    k.sys.mkdirSync('/many');
    let created = 0;
    let error: unknown;
    for (; created < 1_000_000; created++) {
      try {
        k.sys.closeSync(k.sys.openSync(`/many/${created}`, 'w'));
      } catch (e) {
        error = e;
        break;
      }
    }
    expect((error as KernelError).code).toBe('ENOSPC');
    expect(created).toBeGreaterThan(10_000);
    k.sys.writeFileSync('/mnt/disk/while-many', Buffer.alloc(256 * 1024, 3));
    expect(k.sys.readFileSync('/mnt/disk/while-many').equals(Buffer.alloc(256 * 1024, 3))).toBe(true);
    for (let i = 0; i < created; i++) k.sys.unlinkSync(`/many/${i}`);
    k.sys.rmdirSync('/many');
  }, 120_000);

  it('pipe buffers that take all the memory: ENOMEM instead of a panic, closing them frees it', () => {
    const { pipes, error } = fillMemoryWithPipes(k);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as KernelError).code).toBe('ENOMEM');
    expect(k.state).toBe('running');
    expect(k.console.lines().some((line) => /Out of memory and nothing to kill: the allocation fails/.test(line))).toBe(true);
    expect(k.console.lines().some((line) => /deadlocked on memory/.test(line))).toBe(false);

    for (const [r, w] of pipes) {
      k.sys.closeSync(r!);
      k.sys.closeSync(w!);
    }
    // The memory is back.
    k.sys.writeFileSync('/after', Buffer.alloc(8 << 20, 7));
    expect(k.sys.readFileSync('/after').equals(Buffer.alloc(8 << 20, 7))).toBe(true);
    k.sys.unlinkSync('/after');
  }, 120_000);

  it('the image is consistent after all of it', () => {
    k.umount('/mnt/disk');
    k.disks.detach(disk);
    e2fs('e2fsck', ['-fn', image]); // throws unless it exits 0
    expect(e2fs('dumpe2fs', ['-h', image])).not.toMatch(/needs_recovery/);
  });
});
