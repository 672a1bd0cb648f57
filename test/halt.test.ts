// SPDX-License-Identifier: GPL-2.0-only
// halt() leaves every image clean whatever the caller did before: dropped
// privileges, open files, cwd or root inside the mount, covering mounts.
// Each case halts, so each runs in a child process of its own (one kernel
// per process); the test then checks the image with the host's e2fsck.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { e2fs, makeExt4Image } from './helpers.js';

const entry = new URL('../dist/index.js', import.meta.url).href;

interface Outcome {
  halted: string;
  after: string;
  secondHalt: string;
  before?: string;
}

/**
 * Boots in a child, mounts @image at /mnt/x, runs @body (k, sys, syscalls and
 * cstr in scope), halts and reports what it saw.
 */
function haltInChild(image: string, body: string, extraImage?: string): Outcome {
  const script = `
    const { Kernel, syscalls } = await import(${JSON.stringify(entry)});
    const cstr = (s) => Buffer.from(s + '\\0');
    const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code ?? String(e); } };
    const k = await Kernel.boot();
    const sys = k.sys;
    k.mount(k.disks.attach(${JSON.stringify(image)}), { type: 'ext4', at: '/mnt/x' });
    const extra = ${JSON.stringify(extraImage ?? null)};
    const out = {};
    ${body}
    k.halt();
    out.halted = k.state;
    out.after = code(() => sys.statSync('/'));
    out.secondHalt = code(() => k.halt());
    process.stdout.write(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(stdout) as Outcome;
}

/** Unmounted cleanly: no journal recovery needed (a later read-only mount would fail with EROFS), e2fsck clean. */
function expectClean(image: string): void {
  const features = e2fs('dumpe2fs', ['-h', image]).split('\n').find((line) => line.startsWith('Filesystem features:'));
  expect(features).toBeDefined();
  expect(features).not.toMatch(/needs_recovery/);
  e2fs('e2fsck', ['-fn', image]); // throws unless it exits 0
}

function expectHaltedClean(outcome: Outcome, image: string, file: string, text: string): void {
  expect(outcome.halted).toBe('halted');
  expect(outcome.after).toBe('ESHUTDOWN');
  expect(outcome.secondHalt).toBe('ok');
  expectClean(image);
  expect(e2fs('debugfs', ['-R', `cat ${file}`, image])).toBe(text);
}

const writeFile = (path: string, text: string) => `sys.writeFileSync(${JSON.stringify(path)}, ${JSON.stringify(text)});`;

describe('halt after the halting thread dropped its privileges', () => {
  const capsetBody = `
    const header = new Uint32Array([0x20080522, 0]);
    const data = new Uint32Array(6);
    sys.syscallSync(syscalls.capset, header, data);`;
  it.each([
    ['setuid(1000)', 'sys.syscallSync(syscalls.setuid, 1000);'],
    ['setreuid(1000, 1000)', 'sys.syscallSync(syscalls.setreuid, 1000, 1000);'],
    ['setresuid(1000, 1000, 1000)', 'sys.syscallSync(syscalls.setresuid, 1000, 1000, 1000);'],
    ['setfsuid(1000)', 'sys.syscallSync(syscalls.setfsuid, 1000);'],
    ['capset() with no capabilities', capsetBody],
  ])('%s', (name, drop) => {
    const image = makeExt4Image(32 * 1024 * 1024, 'priv.img');
    const outcome = haltInChild(
      image,
      `${writeFile('/mnt/x/file', 'kept')}
       ${drop}
       // umount needs CAP_SYS_ADMIN, which the caller no longer has (but setfsuid keeps it).
       out.before = code(() => k.umount('/mnt/x'));`,
    );
    if (!name.startsWith('setfsuid')) expect(outcome.before).toBe('EPERM');
    expectHaltedClean(outcome, image, '/file', 'kept');
  });
});

describe('halt with the mount still in use', () => {
  it('a file on the mount is still open (with data written)', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'open.img');
    const outcome = haltInChild(image, `const fd = sys.openSync('/mnt/x/file', 'w'); sys.writeSync(fd, 'still open');`);
    expectHaltedClean(outcome, image, '/file', 'still open');
  });

  it('the working directory is inside the mount', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'cwd.img');
    const outcome = haltInChild(
      image,
      `sys.mkdirSync('/mnt/x/dir'); ${writeFile('/mnt/x/dir/file', 'cwd')}
       sys.syscallSync(syscalls.chdir, cstr('/mnt/x/dir'));`,
    );
    expectHaltedClean(outcome, image, '/dir/file', 'cwd');
  });

  it('after chroot into the mount', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'chroot.img');
    const outcome = haltInChild(
      image,
      `sys.syscallSync(syscalls.chroot, cstr('/mnt/x'));
       sys.syscallSync(syscalls.chdir, cstr('/'));
       ${writeFile('/inside', 'chrooted')}`,
    );
    expectHaltedClean(outcome, image, '/inside', 'chrooted');
  });

  it('another disk mounted over it, with files open on both', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'under.img');
    const over = makeExt4Image(32 * 1024 * 1024, 'over.img');
    const outcome = haltInChild(
      image,
      `const a = sys.openSync('/mnt/x/file', 'w'); sys.writeSync(a, 'under');
       k.mount(k.disks.attach(extra), { type: 'ext4', at: '/mnt/x' });
       const b = sys.openSync('/mnt/x/file', 'w'); sys.writeSync(b, 'over');`,
      over,
    );
    expectHaltedClean(outcome, image, '/file', 'under');
    expectClean(over);
    expect(e2fs('debugfs', ['-R', 'cat /file', over])).toBe('over');
  });
});

describe('a halt that cannot unmount', () => {
  it('throws EBUSY and leaves the kernel running until the blocker is gone', () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'busy.img');
    // A worker blocks in a read of a fifo on the mount (its own fd is a
    // writer, so no end of file): that read holds the file, whatever halt closes.
    const worker = `
      const { parentPort, workerData } = await import('node:worker_threads');
      const { Kernel, syscalls } = await import(workerData.entry);
      const sys = Kernel.current().sys;
      const fd = sys.openSync('/mnt/x/fifo', 'r+');
      parentPort.postMessage(sys.syscallSync(syscalls.gettid));
      parentPort.postMessage(sys.readSync(fd, Buffer.alloc(1)));`;
    const body = `
      const { Worker } = await import('node:worker_threads');
      const { constants } = await import(${JSON.stringify(entry)});
      ${writeFile('/mnt/x/file', 'busy')}
      sys.syscallSync(syscalls.mknodat, -100, cstr('/mnt/x/fifo'), 0o10600, 0);
      sys.mkdirSync('/proc');
      sys.syscallSync(syscalls.mount, cstr('proc'), cstr('/proc'), cstr('proc'), 0, 0);
      const w = new Worker(${JSON.stringify(worker)}, { eval: true, workerData: { entry: ${JSON.stringify(entry)} } });
      const messages = [];
      let wake;
      w.on('message', (m) => { messages.push(m); wake?.(); });
      const next = async (n) => { while (messages.length < n) await new Promise((r) => (wake = r)); };
      await next(1);
      const tid = messages[0];
      // Halt only once the worker sleeps in the kernel.
      while (!sys.readFileSync('/proc/1/task/' + tid + '/stat', 'utf8').includes(') S '))
        await new Promise((r) => setTimeout(r, 1));
      try { k.halt(); out.firstHalt = 'ok'; } catch (e) { out.firstHalt = e.code; out.message = e.message; out.log = e.kernelLog.join('\\n'); }
      out.stateAfterFailure = k.state;
      out.callAfterFailure = code(() => sys.statSync('/mnt/x/file'));
      const wfd = sys.openSync('/mnt/x/fifo', constants.O_WRONLY | constants.O_NONBLOCK);
      sys.writeSync(wfd, 'x');
      sys.closeSync(wfd);
      await next(2);
      out.workerRead = messages[1];
      await w.terminate();`;
    const outcome = haltInChild(image, body) as Outcome & Record<string, string>;
    expect(outcome.firstHalt).toBe('EBUSY');
    expect(outcome.message).toMatch(/^EBUSY: .*halt: a disk could not be unmounted, the kernel keeps running/);
    expect(outcome.log).toMatch(/lkl: halt: cannot unmount \/mnt\/x/);
    expect(outcome.stateAfterFailure).toBe('running');
    expect(outcome.callAfterFailure).toBe('ok');
    expect(outcome.workerRead).toBe(1);
    expectHaltedClean(outcome, image, '/file', 'busy');
  });
});
