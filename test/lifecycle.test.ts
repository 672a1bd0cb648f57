// SPDX-License-Identifier: GPL-2.0-only
// Boot options, the console, halt at process exit, and the log check.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import createDebug from 'debug';
import { Kernel, KernelError } from '../dist/index.js';
import { checkKernelLog, e2fs, makeExt4Image } from './helpers.js';

describe('before boot', () => {
  it('Kernel.current() says no kernel is running', () => {
    expect(() => Kernel.current()).toThrow(/no kernel is running in this process \(it is not booted\); call Kernel.boot\(\) first/);
  });

  it.each([
    [{ memory: '12M' }, RangeError, /"memory" is out of range. It must be >= 16M. Received 12M/],
    [{ memory: 'lots' }, TypeError, /"memory" must be a size like '256M'/],
    [{ memory: 1000 }, RangeError, /"memory" is out of range/],
    [{ memory: true }, TypeError, /"memory" argument must be a number of bytes/],
    [{ cmdline: 7 }, TypeError, /"cmdline" argument must be of type string/],
    [{ cmdline: 'a\0b' }, TypeError, /"cmdline" must not contain null bytes/],
  ])('boot(%o) rejects', async (options, type, message) => {
    const promise = Kernel.boot(options as never);
    await expect(promise).rejects.toBeInstanceOf(type);
    await expect(promise).rejects.toThrow(message);
  });
});

describe('a booted kernel', () => {
  it('boots, sends its console lines to debug("lkl:console"), and keeps them for errors', async () => {
    const seen: string[] = [];
    createDebug.enable('lkl:console');
    createDebug.log = (...args: unknown[]) => seen.push(args.map(String).join(' '));
    const k = await Kernel.boot({ memory: '64M', cmdline: 'loglevel=7' });
    expect(k.state).toBe('running');
    expect(k.release).toMatch(/^6\.12\.\d+$/);
    expect(k.console.lines().some((line) => line.includes(`Linux version ${k.release}`))).toBe(true);
    // Lines reach debug asynchronously, on the event loop.
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.some((line) => line.includes('lkl:console') && line.includes('Linux version'))).toBe(true);

    // A mount prints a line; an error carries the latest lines.
    const image = makeExt4Image(16 * 1024 * 1024);
    const disk = k.disks.attach(image);
    k.mount(disk, { type: 'ext4', at: '/mnt/log' });
    let error: KernelError | undefined;
    try {
      k.sys.openSync('/mnt/log/missing');
    } catch (e) {
      error = e as KernelError;
    }
    expect(error).toBeInstanceOf(KernelError);
    expect(error!.kernelLog.length).toBeGreaterThan(0);
    expect(error!.kernelLog.length).toBeLessThanOrEqual(20);
    expect(error!.kernelLog.some((line) => /EXT4-fs \(lkl\d+\): mounted filesystem/.test(line))).toBe(true);
    expect(checkKernelLog(k, 0)).toBe(k.console.lineCount);

    await expect(Kernel.boot()).rejects.toThrow(
      /a kernel was already booted in this process \(it is running\); there is one kernel per process/,
    );
    expect(Kernel.current()).toBe(k);
    k.umount('/mnt/log');
    k.halt();
    expect(k.state).toBe('halted');
    createDebug.disable();
  });

  it('the log check fails on BUG:, WARNING: and Oops lines', () => {
    for (const bad of ['[    1.0] BUG: kernel NULL pointer dereference', '[    1.0] WARNING: CPU: 0 PID: 1 at x.c:1', '[    1.0] Oops: 0000']) {
      const lines = ['[    0.5] fine', bad];
      const fake = { console: { lines: () => lines, lineCount: 2, tail: () => lines } } as unknown as Kernel;
      expect(() => checkKernelLog(fake, 0)).toThrow(/the kernel log shows a problem/);
      expect(() => checkKernelLog(fake, 2)).not.toThrow();
    }
  });
});

describe('process exit', () => {
  it('a process that exits without halt still writes its data to the image', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'exit.img');
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const script = `
      const { Kernel } = await import(${JSON.stringify(entry)});
      const k = await Kernel.boot();
      const d = k.disks.attach(${JSON.stringify(image)});
      k.mount(d, { type: 'ext4', at: '/mnt/x' });
      const fd = k.sys.openSync('/mnt/x/kept.txt', 'w');
      k.sys.writeSync(fd, 'written just before exit\\n');
      k.sys.closeSync(fd);
      process.exit(0); // no fsync, no umount, no halt
    `;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
    expect(e2fs('debugfs', ['-R', 'cat /kept.txt', image])).toBe('written just before exit\n');
    e2fs('e2fsck', ['-fn', image]);
  });

  it('a kernel booted by a terminated worker is still written back when the process exits', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'worker-exit.img');
    const entry = new URL('../dist/index.js', import.meta.url).href;
    // The worker boots, writes a file and is terminated without halting; the
    // main thread never touches the kernel and then exits.
    // (ESM: the worker inherits --input-type=module.)
    const worker = `
      import { parentPort, workerData } from 'node:worker_threads';
      const { Kernel } = await import(workerData.entry);
      const k = await Kernel.boot();
      k.mount(k.disks.attach(workerData.image), { type: 'ext4', at: '/mnt/w' });
      const fd = k.sys.openSync('/mnt/w/from-worker.txt', 'w');
      k.sys.writeSync(fd, 'the worker wrote this');
      k.sys.closeSync(fd);
      parentPort.postMessage('written');
      setInterval(() => {}, 1000);`;
    const main = `
      const { Worker } = await import('node:worker_threads');
      const w = new Worker(${JSON.stringify(worker)}, { eval: true, workerData: ${JSON.stringify({ entry, image })} });
      await new Promise((resolve) => w.once('message', resolve));
      await w.terminate();
    `;
    execFileSync(process.execPath, ['--input-type=module', '-e', main], { stdio: 'pipe' });
    expect(e2fs('debugfs', ['-R', 'cat /from-worker.txt', image])).toBe('the worker wrote this');
    e2fs('e2fsck', ['-fn', image]);
  });
});
