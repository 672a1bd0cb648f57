// SPDX-License-Identifier: GPL-2.0-only
// Filling the kernel's memory with files in its root file system (a ramfs,
// whose pages nothing can reclaim): the writes that find no memory fail with
// ENOMEM, the kernel lives on, and deleting the files frees the memory.
// Without patches/0005 the next allocation panicked ("System is deadlocked on
// memory": the kernel has no process the OOM killer could kill).

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError } from '../dist/index.js';
import { bootForTests } from './helpers.js';

let k: Kernel;

beforeAll(async () => {
  k = await bootForTests({ memory: '64M' });
});

/** Writes 1 MiB pieces into /fill/N until a write fails; returns the files and the error. */
function fill(): { files: string[]; error: unknown } {
  const piece = Buffer.alloc(1 << 20, 0x5a);
  const files: string[] = [];
  k.sys.mkdirSync('/fill', { recursive: true });
  for (let i = 0; i < 1024; i++) {
    const path = `/fill/${i}`;
    let fd: number;
    try {
      fd = k.sys.openSync(path, 'w');
    } catch (error) {
      return { files, error };
    }
    files.push(path);
    try {
      for (let j = 0; j < 4; j++) k.sys.writeSync(fd, piece);
    } catch (error) {
      return { files, error };
    } finally {
      k.sys.closeSync(fd);
    }
  }
  return { files, error: undefined };
}

describe('out of memory', () => {
  it('ramfs files that fill the memory: ENOMEM, the kernel lives on, deleting them frees it', () => {
    const first = fill();
    expect(first.error).toBeInstanceOf(KernelError);
    expect((first.error as KernelError).code).toBe('ENOMEM');
    // Most of the 64 MiB went into files before the failure.
    expect(first.files.length).toBeGreaterThan(8);
    expect(k.state).toBe('running');
    expect(k.console.lines().some((line) => /Out of memory and nothing to kill/.test(line))).toBe(true);
    expect(k.console.lines().some((line) => /deadlocked on memory/.test(line))).toBe(false);

    for (const path of first.files) k.sys.unlinkSync(path);
    // The memory is back: as much fits again, and a file reads back whole.
    const second = fill();
    expect((second.error as KernelError).code).toBe('ENOMEM');
    expect(second.files.length).toBeGreaterThanOrEqual(first.files.length - 1);
    for (const path of second.files) k.sys.unlinkSync(path);
    k.sys.writeFileSync('/after', Buffer.alloc(3 << 20, 7));
    expect(k.sys.readFileSync('/after').equals(Buffer.alloc(3 << 20, 7))).toBe(true);
    expect(k.state).toBe('running');
  }, 120_000);
});
