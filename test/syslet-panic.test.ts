// SPDX-License-Identifier: GPL-2.0-only
// A panic with syslets in flight: the kernel posts -ENOTRECOVERABLE for
// each, and every pending Promise rejects with KernelPanicError.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelPanicError } from '../dist/index.js';
import { bootForTests, thrown } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests({ cmdline: 'lkl_test_hooks=1' });
});

describe('panic with chains in flight', () => {
  it('every pending Promise rejects with KernelPanicError', async () => {
    const rings = [k.createRing({ entries: 4 }), k.createRing({ entries: 1 })];
    const [rfd] = k.sys.pipeSync();
    const completions: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) {
      const c = k.syslet();
      c.read(rfd, Buffer.alloc(1));
      const r = k.asyncExec(c, rings[i % 2]!);
      if (r.done) throw new Error('a read of an empty pipe completed at once');
      completions.push(r.completion);
    }
    expect(thrown(() => k.panicForTesting())).toBeInstanceOf(KernelPanicError);
    expect(k.state).toBe('dead');
    const outcomes = await Promise.allSettled(completions);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as KernelPanicError;
      expect(error).toBeInstanceOf(KernelPanicError);
      expect(error.message).toMatch(/the kernel panicked \(during syslet\).*cannot be used again/);
    }
    expect(rings.map((r) => r.inFlight)).toEqual([0, 0]);
  });

  it('a submission after the panic throws KernelPanicError', () => {
    const c = k.syslet();
    c.getpid();
    expect(thrown(() => k.asyncExec(c, k.createRing()))).toBeInstanceOf(KernelPanicError);
  });
});
