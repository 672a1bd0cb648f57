// SPDX-License-Identifier: GPL-2.0-only
// Running the kernel out of memory.  Memory that callers fill at will and
// nothing can reclaim (files and inodes in its root file system, a ramfs;
// pages read into holes of its files; pipe and socket buffers) stops with an
// eighth of memory left for the rest of the kernel, so ext4 keeps working:
// ENOSPC for files (patch 0006), ENOMEM for hole reads and pipes, ENOBUFS for
// sockets (patch 0007).  Before, a full ramfs made the next allocation panic
// ("System is deadlocked on memory": the OOM killer has nothing to kill
// here), or an ext4 call spin in the allocator for ever, and full pipes or
// sockets ended the kernel at the next ext4 call.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, type Disk } from '../dist/index.js';
import { bootForTests, e2fs, fillMemoryWithDescriptors, fillMemoryWithPipes, fillMemoryWithSockets, makeExt4Image } from './helpers.js';

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

/** ext4 has the memory it needs: files written, synced, read back and removed. */
function ext4Works(tag: string): void {
  k.sys.mkdirSync(`/mnt/disk/${tag}`);
  for (let i = 0; i < 16; i++) k.sys.writeFileSync(`/mnt/disk/${tag}/${i}`, Buffer.alloc(64 * 1024, i));
  const synced = k.sys.openSync(`/mnt/disk/${tag}/0`, 'r');
  k.sys.fsyncSync(synced);
  k.sys.closeSync(synced);
  for (let i = 0; i < 16; i++) expect(k.sys.readFileSync(`/mnt/disk/${tag}/${i}`).equals(Buffer.alloc(64 * 1024, i))).toBe(true);
  for (let i = 0; i < 16; i++) k.sys.unlinkSync(`/mnt/disk/${tag}/${i}`);
  k.sys.rmdirSync(`/mnt/disk/${tag}`);
}

/** Closes the descriptors of pipes or socket pairs. */
function closeAll(pairs: number[][]): void {
  for (const pair of pairs) for (const fd of pair) k.sys.closeSync(fd);
}

/** The memory is back: 8 MiB written to the ramfs and read back. */
function memoryIsBack(): void {
  k.sys.writeFileSync('/after', Buffer.alloc(8 << 20, 7));
  expect(k.sys.readFileSync('/after').equals(Buffer.alloc(8 << 20, 7))).toBe(true);
  k.sys.unlinkSync('/after');
}

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

    ext4Works('meanwhile');

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

  it('pipe buffers stop at ENOMEM with an eighth of memory left, ext4 works meanwhile, closing them frees it', () => {
    const { pipes, error } = fillMemoryWithPipes(k);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as KernelError).code).toBe('ENOMEM');
    // Most of the memory went into the pipes, but not all of it.
    expect(pipes.length).toBeGreaterThan(MEMORY / 2 / (1 << 20));
    expect(pipes.length).toBeLessThan(MEMORY / (1 << 20));
    ext4Works('while-pipes');
    expect(k.state).toBe('running');
    closeAll(pipes);
    memoryIsBack();
  }, 120_000);

  it('socket buffers stop at ENOBUFS with an eighth of memory left, ext4 works meanwhile, closing them frees it', () => {
    const { pairs, error } = fillMemoryWithSockets(k);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as KernelError).code).toBe('ENOBUFS');
    expect(pairs.length).toBeGreaterThan(100);
    ext4Works('while-sockets');
    // The data sent before is all there, in order.
    const got = Buffer.alloc(64 << 10);
    expect(k.sys.readSync(pairs[0]![1]!, got)).toBe(got.length);
    expect(got.equals(Buffer.alloc(64 << 10, 2))).toBe(true);
    expect(k.state).toBe('running');
    closeAll(pairs);
    memoryIsBack();
  }, 120_000);

  it('reading the holes of a huge sparse ramfs file stops at ENOMEM, ext4 works meanwhile, deleting the file frees it', () => {
    // Each page read from a hole stays in the page cache, as a written one.
    const fd = k.sys.openSync('/sparse', 'w+');
    k.sys.writeSync(fd, 'x');
    k.sys.ftruncateSync(fd, 1 << 30);
    const chunk = Buffer.alloc(1 << 20, 0xff);
    let read = 0;
    let error: unknown;
    try {
      for (; read < 1 << 30; ) read += k.sys.readSync(fd, chunk, 0, chunk.length, read);
    } catch (e) {
      error = e;
    }
    expect((error as KernelError).code).toBe('ENOMEM');
    expect(read).toBeGreaterThan(MEMORY / 2);
    expect(read).toBeLessThan(MEMORY);
    ext4Works('while-holes');
    // What was read is the file's contents: its byte, then zeroes.
    const head = Buffer.alloc(4096, 0xff);
    expect(k.sys.readSync(fd, head, 0, head.length, 0)).toBe(head.length);
    expect(head[0]).toBe(0x78);
    expect(head.subarray(1).every((b) => b === 0)).toBe(true);
    k.sys.closeSync(fd);
    k.sys.unlinkSync('/sparse');
    expect(k.state).toBe('running');
    memoryIsBack();
  }, 120_000);

  it('open descriptors beyond the default limits take all the memory: calls fail with ENOMEM, ext4 loses nothing, closing frees it', () => {
    // Written and synced before; opened now, as a new open fails once memory is gone.
    k.sys.writeFileSync('/mnt/disk/kept', Buffer.alloc(256 * 1024, 9));
    const fds = Array.from({ length: 8 }, (_, i) => k.sys.openSync(`/mnt/disk/late${i}`, 'w'));
    const before = k.sys.readdirSync('/').length;
    const { made, error } = fillMemoryWithDescriptors(k);
    // Out of memory, not of descriptors: a socket whose inode cannot be
    // allocated is ENFILE ("no more sockets"), other allocations ENOMEM.
    expect(['ENOMEM', 'ENFILE']).toContain((error as KernelError).code);
    expect(made).toBeGreaterThan(5000);
    // ext4 writes now either work or fail with ENOMEM, without harm.
    const written: number[] = [];
    for (const [i, fd] of fds.entries()) {
      try {
        k.sys.writeSync(fd, Buffer.alloc(16 * 1024, i + 1));
        k.sys.fsyncSync(fd);
        written.push(i);
      } catch (e) {
        expect((e as KernelError).code).toBe('ENOMEM');
      }
    }
    expect(k.state).toBe('running');
    // Closing every descriptor the fill made gives the memory back.
    for (let fd = 0; fd < made * 2 + 64; fd++) {
      if (fds.includes(fd)) continue;
      try {
        k.sys.closeSync(fd);
      } catch {
        // not open
      }
    }
    for (const [i, fd] of fds.entries()) {
      k.sys.closeSync(fd);
      const expected = written.includes(i) ? Buffer.alloc(16 * 1024, i + 1) : Buffer.alloc(0);
      expect(k.sys.readFileSync(`/mnt/disk/late${i}`).equals(expected)).toBe(true);
      k.sys.unlinkSync(`/mnt/disk/late${i}`);
    }
    expect(k.sys.readFileSync('/mnt/disk/kept').equals(Buffer.alloc(256 * 1024, 9))).toBe(true);
    expect(k.sys.readdirSync('/').length).toBe(before + 1); // and /proc
    ext4Works('after-descriptors');
    memoryIsBack();
  }, 120_000);

  it('the image is consistent after all of it', () => {
    k.umount('/mnt/disk');
    k.disks.detach(disk);
    e2fs('e2fsck', ['-fn', image]); // throws unless it exits 0
    expect(e2fs('dumpe2fs', ['-h', image])).not.toMatch(/needs_recovery/);
  });
});
