// SPDX-License-Identifier: GPL-2.0-only
// k.halt() with syslets in flight: every Promise settles.  Chains that could
// not finish reject with ECANCELED (posted by the kernel, or lost because
// their ring was full); a chain that finished keeps its result.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError } from '../dist/index.js';
import { bootForTests, thrown } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests();
});

describe('halt with chains in flight', () => {
  it('every pending Promise settles: ECANCELED for blocked chains, the result for a finished one', async () => {
    const ring = k.createRing({ entries: 8 });
    const full = k.createRing({ entries: 1 });
    const pipes = Array.from({ length: 4 }, () => k.sys.pipeSync());
    const submit = (rfd: number, r = ring) => {
      const c = k.syslet();
      const buffer = Buffer.alloc(4);
      c.read(rfd, buffer);
      const result = k.asyncExec(c, r);
      if (result.done) throw new Error('a read of an empty pipe completed at once');
      return { completion: result.completion, buffer };
    };
    const blocked = [submit(pipes[0]![0]), submit(pipes[1]![0])];
    // Three blocked on a one-entry ring: at the halt only one -ECANCELED
    // fits, the others are lost (kernel log) and settled all the same.
    const crowded = [submit(pipes[2]![0], full), submit(pipes[2]![0], full), submit(pipes[2]![0], full)];
    const finished = submit(pipes[3]![0]);
    k.sys.writeSync(pipes[3]![1], 'done');
    expect(ring.inFlight + full.inFlight).toBe(6);

    k.halt();
    expect(k.state).toBe('halted');

    const outcomes = await Promise.allSettled([...blocked, ...crowded].map((b) => b.completion));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as KernelError;
      expect(error).toBeInstanceOf(KernelError);
      expect(error.code).toBe('ECANCELED');
      expect(error.message).toMatch(/^ECANCELED: operation canceled, syslet \(the kernel halted before the chain finished\)$/i);
    }
    expect(await finished.completion).toBe(4);
    expect(finished.buffer.toString()).toBe('done');
    expect(ring.inFlight).toBe(0);
    expect(full.inFlight).toBe(0);
    // Nothing in flight: the rings close, and the process is free to exit.
    ring.close();
    full.close();
  });

  it('after the halt a submission throws ESHUTDOWN', () => {
    const ring = k.createRing();
    const c = k.syslet();
    c.getpid();
    const error = thrown(() => k.asyncExec(c, ring)) as KernelError;
    expect(error).toBeInstanceOf(KernelError);
    expect(error.code).toBe('ESHUTDOWN');
    expect(error.message).toMatch(/the kernel is not running \(halted\)/);
  });
});
