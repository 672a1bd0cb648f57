// SPDX-License-Identifier: GPL-2.0-only
// A kernel panic: the call that caused it, and every later one, throws
// KernelPanicError carrying the panic message; the process carries on.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelPanicError } from '../dist/index.js';
import { bootForTests, thrown } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests({ cmdline: 'lkl_test_hooks=1' });
});

describe('kernel panic', () => {
  it('the kernel works before the panic', () => {
    expect(k.sys.getpidSync()).toBeGreaterThan(0);
    expect(k.state).toBe('running');
  });

  it('the panicking call throws KernelPanicError with the panic message and log', () => {
    const error = thrown(() => k.panicForTesting());
    expect(error).toBeInstanceOf(KernelPanicError);
    const panic = error as KernelPanicError;
    expect(panic.message).toMatch(/the kernel panicked \(during panicForTesting\).*Kernel panic - not syncing: lkl: panic requested through the test hook/);
    expect(panic.kernelLog.some((line) => line.includes('Kernel panic - not syncing'))).toBe(true);
    expect(k.state).toBe('dead');
  });

  it('every later call throws KernelPanicError, from any API', () => {
    for (const call of [() => k.sys.getpidSync(), () => k.sys.statSync('/'), () => k.sys.mkdirSync('/x'), () => k.umount('/')]) {
      const error = thrown(call);
      expect(error).toBeInstanceOf(KernelPanicError);
      expect((error as Error).message).toMatch(/cannot be used again in this process/);
    }
  });

  it('halt after a panic returns, the process lives, and no second boot is allowed', async () => {
    k.halt();
    expect(1 + 1).toBe(2); // still running JavaScript in this process
    await expect(Kernel.boot()).rejects.toThrow(/already booted in this process \(it is dead\)/);
  });
});
