// SPDX-License-Identifier: GPL-2.0-only
// k.stats(): the library's counters, and what they show about the paths
// calls take (no CPU handoff for a call after a quiet moment; disk reads
// counted as queued or inline).

import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kernel, createExt4Image, type KernelStats } from '../dist/index.js';
import { native } from '../dist/binding.js';
import { bootForTests, makeExt4Image } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests();
});

function delta(before: KernelStats, after: KernelStats): KernelStats {
  const out = { ...after };
  for (const key of Object.keys(out) as (keyof KernelStats)[]) out[key] -= before[key];
  return out;
}

describe('k.stats()', () => {
  it('names every counter of the C struct, each a non-negative integer', () => {
    const stats = k.stats();
    expect(Object.keys(stats)).toHaveLength(native.stats().length);
    for (const value of Object.values(stats)) {
      expect(Number.isSafeInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
    }
    expect(stats.hostThreadsCreated).toBeGreaterThanOrEqual(1);
  });

  it('counts every syscall once, on one of its three paths', () => {
    const before = k.stats();
    for (let i = 0; i < 100; i++) k.sys.getpidSync();
    const d = delta(before, k.stats());
    expect(d.syscallsFast + d.syscallsBorrowed + d.syscallsHanded).toBe(100);
  });

  it('a call after a quiet moment takes the CPU without a handoff', async () => {
    // Within a second of quiet the CPU thread parks the caller's task and
    // goes idle (its longest sleep): the next call leaves idle itself.
    let borrowed = 0;
    for (let i = 0; i < 3; i++) {
      await sleep(1300);
      const before = k.stats();
      k.sys.getpidSync();
      const d = delta(before, k.stats());
      expect(d.cpuHandoffs).toBe(0);
      expect(d.syscallsHanded).toBe(0);
      borrowed += d.syscallsBorrowed;
    }
    // The quiet moments did park the caller's task (else this tested nothing).
    expect(borrowed).toBe(3);
  });

  it('counts the disk requests a cold read makes', () => {
    const image = makeExt4Image(16 * 1024 * 1024, 'stats.img');
    const disk = k.disks.attach(image);
    const before = k.stats();
    k.mount(disk, { type: 'ext4', at: '/mnt/stats' });
    const d = delta(before, k.stats());
    expect(d.diskRequestsInline + d.diskRequestsQueued).toBeGreaterThan(0);
    k.umount('/mnt/stats');
    k.disks.detach(disk);
  });

  it('reads an image on tmpfs a second time from its mapping, bytes unchanged', () => {
    const dir = mkdtempSync('/dev/shm/lkl-stats-');
    try {
      const image = join(dir, 'mapped.img');
      createExt4Image(image, { size: 32 * 1024 * 1024 });
      const disk = k.disks.attach(image);
      k.mount(disk, { type: 'ext4', at: '/mnt/mapped' });
      const data = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
      k.sys.writeFileSync('/mnt/mapped/f', data);
      const reads: number[] = [];
      // Cold each time (remount): the first read learns where the data
      // is in the host file, the second copies it from the mapping.
      for (let pass = 0; pass < 2; pass++) {
        k.umount('/mnt/mapped');
        k.mount(disk, { type: 'ext4', at: '/mnt/mapped' });
        const before = k.stats();
        expect(k.sys.readFileSync('/mnt/mapped/f').equals(data)).toBe(true);
        reads.push(delta(before, k.stats()).diskReadsMapped);
      }
      expect(reads[1]).toBeGreaterThan(0);
      k.umount('/mnt/mapped');
      k.disks.detach(disk);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
