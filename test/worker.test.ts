// SPDX-License-Identifier: GPL-2.0-only
// Syscalls from worker threads into the kernel the main thread booted, while
// the main thread makes calls too.

import { beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Kernel, syscalls } from '../dist/index.js';
import { bootForTests } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/shared';
const ROUNDS = 2000;

beforeAll(async () => {
  k = await bootForTests();
  k.sys.mkdirSync(MNT, { recursive: true });
  k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from(`${MNT}\0`), Buffer.from('tmpfs\0'), 0, 0);
  k.sys.mkdirSync('/proc');
  k.sys.syscallSync(syscalls.mount, Buffer.from('proc\0'), Buffer.from('/proc\0'), Buffer.from('proc\0'), 0, 0);
});

/** Kernel tasks of the process all callers share (one per calling thread). */
const callerTasks = (): number => k.sys.readdirSync('/proc/1/task').length;

// Runs in the worker: writes ROUNDS records to its own file, reading each
// back, then reports what it saw.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.entry).then(({ Kernel }) => {
  const k = Kernel.current();
  const { name, rounds } = workerData;
  const fd = k.sys.openSync(name, 'w+');
  const record = Buffer.alloc(64);
  const back = Buffer.alloc(64);
  let mismatches = 0;
  for (let i = 0; i < rounds; i++) {
    record.fill(i & 0xff);
    record.write(name + ':' + i);
    k.sys.pwriteSync(fd, record, 0, 64, i * 64);
    k.sys.preadSync(fd, back, 0, 64, i * 64);
    if (!back.equals(record)) mismatches++;
  }
  const size = k.sys.fstatSync(fd).size;
  k.sys.closeSync(fd);
  let error;
  try { k.sys.openSync('/definitely/missing'); } catch (e) { error = { name: e.name, code: e.code, path: e.path }; }
  const tasks = k.sys.readdirSync('/proc/1/task').length;
  parentPort.postMessage({ pid: k.sys.getpidSync(), size, mismatches, error, tasks });
}).catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));
`;

function runWorker(name: string): Promise<Record<string, unknown>> {
  const entry = new URL('../dist/index.js', import.meta.url).href;
  const worker = new Worker(workerSource, { eval: true, workerData: { entry, name, rounds: ROUNDS } });
  return new Promise((resolve, reject) => {
    let result: Record<string, unknown> | undefined;
    worker.on('message', (m) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exit ${code}`))));
  });
}

describe('worker threads', () => {
  it('two workers and the main thread make calls at the same time, each on its own file', async () => {
    const workers = [runWorker(`${MNT}/w1`), runWorker(`${MNT}/w2`)];
    // The main thread keeps calling while the workers run.
    const fd = k.sys.openSync(`${MNT}/main`, 'w+');
    const record = Buffer.alloc(64);
    const back = Buffer.alloc(64);
    let mainMismatches = 0;
    let rounds = 0;
    let done = false;
    const all = Promise.all(workers).finally(() => (done = true));
    while (!done || rounds < ROUNDS) {
      record.fill(rounds & 0xff);
      k.sys.pwriteSync(fd, record, 0, 64, (rounds % ROUNDS) * 64);
      k.sys.preadSync(fd, back, 0, 64, (rounds % ROUNDS) * 64);
      if (!back.equals(record)) mainMismatches++;
      rounds++;
      if (rounds % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await all;
    k.sys.closeSync(fd);
    expect(mainMismatches).toBe(0);
    for (const r of results) {
      expect(r.failed).toBeUndefined();
      expect(r.mismatches).toBe(0);
      expect(r.size).toBe(ROUNDS * 64);
      // Threads of one process: the same pid as the main thread sees.
      expect(r.pid).toBe(k.sys.getpidSync());
      expect(r.error).toEqual({ name: 'KernelError', code: 'ENOENT', path: '/definitely/missing' });
    }
    // Every file is complete, seen from the main thread.
    expect(k.sys.statSync(`${MNT}/w1`).size).toBe(ROUNDS * 64);
    expect(k.sys.statSync(`${MNT}/w2`).size).toBe(ROUNDS * 64);
  });

  it('a worker has its own kernel task while it runs, gone when it exits', async () => {
    const tasksBefore = callerTasks();
    const threadsBefore = k.hostThreadCount();
    const result = await runWorker(`${MNT}/w3`);
    expect(result.tasks).toBe(tasksBefore + 1);
    await expect.poll(callerTasks).toBe(tasksBefore);
    expect(k.hostThreadCount()).toBe(threadsBefore);
    expect(k.sys.statSync(`${MNT}/w3`).size).toBe(ROUNDS * 64);
  });

  it('Kernel.boot in a worker rejects: the kernel is one per process', async () => {
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.entry).then(({ Kernel }) => Kernel.boot()).then(
         () => parentPort.postMessage('booted'), (e) => parentPort.postMessage(e.message));`,
      { eval: true, workerData: { entry } },
    );
    const message = await new Promise((resolve) => worker.once('message', resolve));
    expect(message).toMatch(/already booted in this process/);
  });
});
