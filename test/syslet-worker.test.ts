// SPDX-License-Identifier: GPL-2.0-only
// Syslets from worker threads: each thread has its own rings, and a
// completion settles on the thread that submitted it.

import { beforeAll, describe, expect, it } from 'vitest';
import { Worker, threadId } from 'node:worker_threads';
import { Kernel } from '../dist/index.js';
import { bootForTests } from './helpers.js';

let k: Kernel;
const entry = new URL('../dist/index.js', import.meta.url).href;

beforeAll(async () => {
  k = await bootForTests();
});

// In the worker: a ring, a read of an empty pipe (asynchronous), then the
// completion, reported with the thread it settled on.
const workerSource = `
const { parentPort, workerData, threadId } = require('node:worker_threads');
import(workerData.entry).then(async ({ Kernel }) => {
  const k = Kernel.current();
  const ring = k.createRing({ entries: 4 });
  const c = k.syslet();
  const buffer = Buffer.alloc(16);
  c.read(workerData.rfd, buffer);
  const r = k.asyncExec(c, ring);
  parentPort.postMessage({ submitted: true, done: r.done, threadId });
  if (workerData.abandon) return; // exits (terminated) with the chain in flight
  const result = await r.completion;
  parentPort.postMessage({ result, text: buffer.toString('utf8', 0, result), settledOn: threadId, inFlight: ring.inFlight });
  ring.close();
}).catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));
`;

function start(rfd: number, abandon = false): { worker: Worker; messages: Record<string, unknown>[]; next: () => Promise<Record<string, unknown>> } {
  const worker = new Worker(workerSource, { eval: true, workerData: { entry, rfd, abandon } });
  const messages: Record<string, unknown>[] = [];
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  worker.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  });
  worker.on('error', (e) => waiting.shift()?.({ failed: String(e) }));
  return { worker, messages, next: () => new Promise((resolve) => (messages.length ? resolve(messages.shift()!) : waiting.push(resolve))) };
}

describe('syslets in worker threads', () => {
  it('two workers and the main thread each get their own completion, on their own thread', async () => {
    const pipes = [k.sys.pipeSync(), k.sys.pipeSync(), k.sys.pipeSync()];
    const workers = [start(pipes[0]![0]), start(pipes[1]![0])];
    for (const w of workers) expect(await w.next()).toMatchObject({ submitted: true, done: false });
    // The main thread's own asynchronous read.
    const ring = k.createRing();
    const c = k.syslet();
    const buffer = Buffer.alloc(16);
    c.read(pipes[2]![0], buffer);
    const r = k.asyncExec(c, ring);
    expect(r.done).toBe(false);
    let mainSettledOn = -1;
    const mine = r.done ? Promise.resolve(r.result) : r.completion.then((v) => ((mainSettledOn = threadId), v));

    pipes.forEach(([, wfd], i) => k.sys.writeSync(wfd, `for ${i}`));
    const results = await Promise.all(workers.map((w) => w.next()));
    results.forEach((m, i) => {
      expect(m.failed).toBeUndefined();
      expect(m).toMatchObject({ result: 5, text: `for ${i}`, settledOn: workers[i]!.worker.threadId, inFlight: 0 });
    });
    expect(await mine).toBe(5);
    expect(mainSettledOn).toBe(threadId);
    expect(buffer.toString('utf8', 0, 5)).toBe('for 2');
    await Promise.all(workers.map((w) => new Promise((resolve) => w.worker.once('exit', resolve))));
    for (const [a, b] of pipes) {
      k.sys.closeSync(a);
      k.sys.closeSync(b);
    }
  });

  it('a worker terminated with a chain in flight: the chain completes later into kept memory, nothing breaks', async () => {
    const [rfd, wfd] = k.sys.pipeSync();
    const w = start(rfd, true);
    expect(await w.next()).toMatchObject({ submitted: true, done: false });
    // Its ring holds the worker's event loop while the read is in flight.
    await w.worker.terminate();
    const before = k.stats().sysletCompletions;
    k.sys.writeSync(wfd, 'orphan');
    await expect.poll(() => k.stats().sysletCompletions - before).toBe(1);
    // The kernel and the main thread carry on.
    const ring = k.createRing();
    const c = k.syslet();
    c.getpid({ async: true });
    const r = k.asyncExec(c, ring);
    expect(r.done ? r.result : await r.completion).toBe(1);
    k.sys.closeSync(rfd);
    k.sys.closeSync(wfd);
  });
});
