// SPDX-License-Identifier: GPL-2.0-only
// A hostile image: its superblock asks for a kernel panic on the first
// corruption found, and its one directory block is garbage.  The library
// mounts ext4 with errors=remount-ro unless the caller chooses: the call
// that finds the corruption fails with a clear error, the kernel lives on,
// and the file system stops writing.

import { beforeAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Kernel, KernelError, type Disk } from '../dist/index.js';
import { bootForTests, e2fs, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let image: string;
const MNT = '/mnt/corrupt';

/** Overwrites the first block of directory /d with 0xff bytes, after its first entry's header. */
function corruptDirectory(path: string): void {
  const block = Number(e2fs('debugfs', ['-R', 'bmap /d 0', path]).trim());
  expect(block).toBeGreaterThan(0);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(1000, 0xff), 0, 1000, block * 4096 + 24);
  } finally {
    closeSync(fd);
  }
}

function expectCorruptionError(error: unknown): void {
  expect(error).toBeInstanceOf(KernelError);
  expect(['EBADMSG', 'EUCLEAN']).toContain((error as KernelError).code);
  expect((error as Error).message).toMatch(/corrupt file-system metadata/);
  expect((error as KernelError).kernelLog.some((line) => /EXT4-fs error/.test(line))).toBe(true);
}

function attachAndMount(options?: string): Disk {
  const disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: MNT, options });
  return disk;
}

beforeAll(async () => {
  image = makeExt4Image(32 * 1024 * 1024, 'hostile.img');
  k = await bootForTests();
  const disk = attachAndMount();
  k.sys.mkdirSync(`${MNT}/d`);
  for (let i = 0; i < 40; i++) k.sys.writeFileSync(`${MNT}/d/file-${i}`, `file ${i}\n`);
  k.umount(MNT);
  k.disks.detach(disk);
  e2fs('debugfs', ['-w', '-R', 'ssv errors 3', image]); // 3: panic
  expect(e2fs('dumpe2fs', ['-h', image])).toMatch(/Errors behavior:\s+Panic/);
  corruptDirectory(image);
});

describe('an image that asks for a panic on corruption', () => {
  it('fails the call that finds the corruption, and the kernel lives on', () => {
    const disk = attachAndMount();
    try {
      expectCorruptionError(thrown(() => k.sys.readdirSync(`${MNT}/d`)));
      expect(k.state).toBe('running');
      expect(k.sys.getpidSync()).toBe(1);
      // ext4 aborted its journal: nothing more is written to this image.
      const error = thrown(() => k.sys.writeFileSync(`${MNT}/after`, 'x'));
      expect(error).toBeInstanceOf(KernelError);
      expect(['EIO', 'EROFS']).toContain((error as KernelError).code);
    } finally {
      k.umount(MNT);
      k.disks.detach(disk);
    }
  });

  it("keeps the caller's own errors= choice", () => {
    const disk = attachAndMount('errors=continue');
    try {
      expectCorruptionError(thrown(() => k.sys.readdirSync(`${MNT}/d`)));
      k.sys.writeFileSync(`${MNT}/after`, 'still writable');
      expect(k.sys.readFileSync(`${MNT}/after`, 'utf8')).toBe('still writable');
    } finally {
      k.umount(MNT);
      k.disks.detach(disk);
    }
  });

  it('refuses mount options longer than the kernel reads', () => {
    const disk = k.disks.attach(image);
    try {
      const error = thrown(() => k.mount(disk, { type: 'ext4', at: MNT, options: 'a'.repeat(5000) }));
      expect(error).toBeInstanceOf(KernelError);
      expect((error as KernelError).code).toBe('EINVAL');
    } finally {
      k.disks.detach(disk);
    }
  });
});
