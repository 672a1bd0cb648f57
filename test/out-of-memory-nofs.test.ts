// SPDX-License-Identifier: GPL-2.0-only
// The last resort when memory runs out, and how it ends: with the reserve
// that keeps pipe buffers, socket buffers and ramfs files from taking the
// last eighth of memory turned off (user_memory_reserve=0 on the command
// line, patches 0006 and 0007), pipe buffers take everything, then an ext4
// write needs an allocation its journal cannot do without (GFP_NOFS).
// Nothing can be killed to free memory here, so after 10 s of retries the
// kernel panics with a message that says why (patch 0005), instead of
// spinning in the allocator on the caller's thread for ever, as stock Linux
// would.  With the reserve, the same fill stops early and ext4 works
// (out-of-memory.test.ts).

import { describe, expect, it } from 'vitest';
import { Kernel, KernelError, KernelPanicError } from '../dist/index.js';
import { fillMemoryWithPipes, makeExt4Image } from './helpers.js';

describe('out of memory where a file system cannot do without memory', () => {
  it('without the reserve, pipe buffers take the memory, an ext4 write retries 10 s, then a KernelPanicError that says why', async () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'nofs.img');
    // Not bootForTests(): this kernel is meant to panic.
    const k = await Kernel.boot({ memory: '64M', cmdline: 'user_memory_reserve=0' });
    const disk = k.disks.attach(image);
    k.mount(disk, { type: 'ext4', at: '/mnt/disk' });
    const { error } = fillMemoryWithPipes(k);
    expect((error as KernelError).code).toBe('ENOMEM');
    const started = Date.now();
    let thrown: unknown;
    try {
      for (let i = 0; i < 8; i++) k.sys.writeFileSync(`/mnt/disk/f${i}`, Buffer.alloc(64 * 1024, i));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(KernelPanicError);
    expect((thrown as Error).message).toMatch(/Out of memory for 10 s, and a file system cannot do without it/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(k.state).toBe('dead');
  }, 120_000);
});
