// SPDX-License-Identifier: GPL-2.0-only
// Shared by the vitest files: boot once per file, images made at test time,
// and the kernel-log check that fails a test on BUG:, WARNING: or Oops.

import { afterAll, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Kernel, KernelError, createExt4Image, syscalls, type BootOptions } from '../dist/index.js';

const KERNEL_PROBLEM = /BUG:|WARNING:|Oops/;

/** What @fn throws (undefined if it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A fresh temporary folder, removed when the file's tests end. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lkl-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Makes an ext4 image of @size bytes in a temporary folder. */
export function makeExt4Image(size = 64 * 1024 * 1024, name = 'disk.img'): string {
  const path = join(tempDir(), name);
  createExt4Image(path, { size });
  return path;
}

/** Throws if the kernel printed BUG:, WARNING: or Oops since @from. */
export function checkKernelLog(k: Kernel, from: number): number {
  const lines = k.console.lines();
  const total = k.console.lineCount;
  const fresh = total > from ? lines.slice(Math.max(0, lines.length - (total - from))) : [];
  const bad = fresh.filter((line) => KERNEL_PROBLEM.test(line));
  if (bad.length) throw new Error(`the kernel log shows a problem:\n${bad.join('\n')}\n--- last lines:\n${k.console.tail(40).join('\n')}`);
  return total;
}

/** Boots the kernel for this test file and checks its log after every test. */
export async function bootForTests(options: BootOptions = {}): Promise<Kernel> {
  const k = await Kernel.boot({ memory: '128M', ...options });
  let seen = 0;
  afterEach(() => {
    seen = checkKernelLog(k, seen);
  });
  return k;
}

/** Runs a host e2fsprogs tool (debugfs, e2fsck) and returns its stdout. */
export function e2fs(tool: 'debugfs' | 'e2fsck' | 'dumpe2fs', args: string[]): string {
  for (const dir of ['/usr/sbin', '/sbin', '']) {
    try {
      return execFileSync(dir ? `${dir}/${tool}` : tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`${tool} not found (e2fsprogs)`);
}

/**
 * Fills the kernel's memory with pipe buffers: 1 MiB pipes, written without
 * blocking until a write fails with something other than EAGAIN.  Returns the
 * pipes (to close) and that error.
 */
export function fillMemoryWithPipes(k: Kernel): { pipes: number[][]; error: unknown } {
  const piece = Buffer.alloc(1 << 20, 1);
  const pipes: number[][] = [];
  let error: unknown;
  for (let i = 0; i < 256 && !error; i++) {
    const [r, w] = k.sys.pipeSync();
    pipes.push([r!, w!]);
    try {
      k.sys.syscallSync(syscalls.fcntl, w!, 4 /* F_SETFL */, 0o4000 /* O_NONBLOCK */);
      k.sys.syscallSync(syscalls.fcntl, w!, 1031 /* F_SETPIPE_SZ */, 1 << 20);
      for (let n = 0; n < piece.length; ) n += k.sys.writeSync(w!, piece, n);
    } catch (e) {
      if (!(e instanceof KernelError) || e.code !== 'EAGAIN') error = e;
    }
  }
  return { pipes, error };
}

/**
 * Fills the kernel's memory with socket buffers: stream socket pairs whose
 * first end is written without blocking until its send buffer is full
 * (EAGAIN), pair after pair, until a write or a new pair fails otherwise.
 * Returns the pairs (to close) and that error.
 */
export function fillMemoryWithSockets(k: Kernel): { pairs: number[][]; error: unknown } {
  const piece = Buffer.alloc(64 << 10, 2);
  const pairs: number[][] = [];
  let error: unknown;
  for (let i = 0; i < 480 && !error; i++) {
    try {
      const [a, b] = k.sys.socketpairSync();
      pairs.push([a, b]);
      k.sys.syscallSync(syscalls.fcntl, a, 4 /* F_SETFL */, 0o4000 /* O_NONBLOCK */);
      for (;;) k.sys.writeSync(a, piece);
    } catch (e) {
      if (!(e instanceof KernelError) || e.code !== 'EAGAIN') error = e;
    }
  }
  return { pairs, error };
}

/**
 * Fills the kernel's memory with open sockets, which only the descriptor
 * limits bound (raised here: RLIMIT_NOFILE to the kernel's nr_open, and
 * fs.file-max, through a /proc it mounts): socket pairs without any data
 * until one cannot be made.  Returns how many were made and that error.
 */
export function fillMemoryWithDescriptors(k: Kernel): { made: number; error: unknown } {
  k.sys.mkdirSync('/proc', { recursive: true });
  const text = (s: string) => Buffer.from(`${s}\0`);
  k.sys.syscallSync(syscalls.mount, text('proc'), text('/proc'), text('proc'), 0, 0);
  k.sys.writeFileSync('/proc/sys/fs/file-max', String(1 << 20));
  const limit = Buffer.alloc(16);
  limit.writeBigUInt64LE(1n << 20n, 0); // rlim_cur
  limit.writeBigUInt64LE(1n << 20n, 8); // rlim_max
  k.sys.syscallSync(syscalls.prlimit64, 0, 7 /* RLIMIT_NOFILE */, limit, 0);
  let made = 0;
  for (; made < 1 << 19; made++) {
    try {
      k.sys.socketpairSync();
    } catch (error) {
      return { made, error };
    }
  }
  return { made, error: undefined };
}
