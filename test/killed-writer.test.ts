// SPDX-License-Identifier: GPL-2.0-only
// kill -9 of a process writing to an image: what it fsynced survives, the
// image needs its journal replayed, and a read-only attach says so and how
// to proceed instead of a bare EROFS.

import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { Kernel, KernelError } from '../dist/index.js';
import { bootForTests, e2fs, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let image: string;

/** Runs the writer fixture on @path until it says ready, then SIGKILLs it. */
function killWriter(path: string): Promise<void> {
  const script = new URL('./fixtures/killed-writer.mjs', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('ready')) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the writer exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

beforeAll(async () => {
  image = makeExt4Image(64 * 1024 * 1024, 'killed.img');
  await killWriter(image);
  k = await bootForTests();
});

describe('an image whose writer was killed with SIGKILL', () => {
  it('needs its journal replayed', () => {
    expect(e2fs('dumpe2fs', ['-h', image])).toMatch(/Filesystem features:.*needs_recovery/);
  });

  it('a read-only mount fails with EROFS and says how to proceed', () => {
    const disk = k.disks.attach(image, { readOnly: true });
    try {
      const error = thrown(() => k.mount(disk, { type: 'ext4', at: '/mnt/ro' }));
      expect(error).toBeInstanceOf(KernelError);
      expect((error as KernelError).code).toBe('EROFS');
      expect((error as Error).message).toMatch(/journal needs recovery.*read-write once.*'noload'/);
    } finally {
      k.disks.detach(disk);
    }
  });

  it("read-only with 'noload', it mounts without touching the image", () => {
    const copy = `${image}.noload`;
    copyFileSync(image, copy);
    const disk = k.disks.attach(copy, { readOnly: true });
    try {
      k.mount(disk, { type: 'ext4', at: '/mnt/ro', options: 'noload' });
      expect(k.sys.readdirSync('/mnt/ro')).toContain('lost+found');
      k.umount('/mnt/ro');
    } finally {
      k.disks.detach(disk);
    }
    expect(e2fs('dumpe2fs', ['-h', copy])).toMatch(/needs_recovery/);
  });

  it('read-write, the journal is replayed: the fsynced file is there and e2fsck finds the image clean', () => {
    const disk = k.disks.attach(image);
    k.mount(disk, { type: 'ext4', at: '/mnt/rw' });
    expect(k.sys.readFileSync('/mnt/rw/committed.txt', 'utf8')).toBe('fsynced before the kill\n');
    k.umount('/mnt/rw');
    k.disks.detach(disk);
    expect(e2fs('dumpe2fs', ['-h', image])).not.toMatch(/needs_recovery/);
    e2fs('e2fsck', ['-fn', image]);
  });
});
