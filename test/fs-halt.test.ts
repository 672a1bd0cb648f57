// SPDX-License-Identifier: GPL-2.0-only
// k.halt() with k.fs calls in flight: every Promise settles.  Calls blocked
// in the kernel (an open of a FIFO nobody writes) reject with ECANCELED;
// calls after the halt reject with ESHUTDOWN.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, constants, syscalls } from '../dist/index.js';
import { bootForTests, makeExt4Image } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests();
});

describe('halt with k.fs calls in flight', () => {
  it('every Promise settles', async () => {
    const disk = k.disks.attach(makeExt4Image(32 * 1024 * 1024, 'halt.img'), { latencyUs: 200 });
    k.mount(disk, { type: 'ext4', at: '/mnt/h' });
    for (let i = 0; i < 16; i++) k.sys.writeFileSync(`/mnt/h/f${i}`, Buffer.alloc(100 * 1024, i));
    k.umount('/mnt/h');
    k.mount(disk, { type: 'ext4', at: '/mnt/h' });
    k.sys.mkdirSync('/fifo');
    k.sys.syscallSync(syscalls.mknodat, constants.AT_FDCWD, Buffer.from('/fifo/p\0'), constants.S_IFIFO | 0o600, 0);

    const before = k.stats();
    const blocked = [k.fs.readFile('/fifo/p'), k.fs.open('/fifo/p')];
    const reads = Array.from({ length: 16 }, (_, i) => k.fs.readFile(`/mnt/h/f${i}`));
    const handle = k.fs.open('/mnt/h/f0');
    expect(k.stats().sysletCachemisses - before.sysletCachemisses).toBeGreaterThanOrEqual(2);

    k.halt();
    expect(k.state).toBe('halted');

    const outcomes = await Promise.allSettled([...blocked, ...reads, handle]);
    for (const o of outcomes.slice(0, 2)) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(KernelError);
      expect((o as PromiseRejectedResult).reason.code).toBe('ECANCELED');
      // The stack still starts at the call.
      expect((o as PromiseRejectedResult).reason.stack.split('\n')[1]).toMatch(/fs-halt\.test\.ts/);
    }
    // Reads either finished before the halt or were cancelled.
    for (const [i, o] of outcomes.slice(2, 18).entries()) {
      if (o.status === 'fulfilled') expect((o.value as Buffer).equals(Buffer.alloc(100 * 1024, i))).toBe(true);
      else expect((o as PromiseRejectedResult).reason.code).toMatch(/^(ECANCELED|ESHUTDOWN)$/);
    }
    expect(k.fs.ring.inFlight).toBe(0);
  });

  it('calls after the halt reject with ESHUTDOWN', async () => {
    for (const p of [k.fs.stat('/'), k.fs.readFile('/x'), k.fs.mkdir('/a/b', { recursive: true })]) {
      const error = (await p.catch((e: unknown) => e)) as KernelError;
      expect(error).toBeInstanceOf(KernelError);
      expect(error.code).toBe('ESHUTDOWN');
    }
  });
});
