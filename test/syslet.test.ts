// SPDX-License-Identifier: GPL-2.0-only
// Syslets from JavaScript: chains that complete at once or through a ring,
// result handles, flags, bounce buffers, misuse, and many completions.

import { beforeAll, describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { Kernel, SysletRing, Syslet, constants, syscalls } from '../dist/index.js';
import { native } from '../dist/binding.js';
import { bootForTests, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
const MNT = '/mnt/syslet';
const TEXT = 'hello from a syslet chain';

beforeAll(async () => {
  k = await bootForTests({ memory: '512M' });
  k.sys.mkdirSync(MNT, { recursive: true });
  k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from(`${MNT}\0`), Buffer.from('tmpfs\0'), 0, 0);
  k.sys.writeFileSync(`${MNT}/text`, TEXT);
});

/** A chain that reads the whole of @path: open -> pread -> close; the pread's buffer. */
function readChain(path: string, size = 64): { chain: Syslet; buffer: Buffer; pread: ReturnType<Syslet['pread']> } {
  const chain = k.syslet();
  const buffer = Buffer.alloc(size);
  const fd = chain.open(path, 'r', undefined, { stopOn: 'negative' }).result;
  const pread = chain.pread(fd, buffer, 0);
  chain.close(fd);
  return { chain, buffer, pread };
}

describe('synchronous completion', () => {
  it('open -> pread -> close runs at once: results in the handles, data in the buffer', () => {
    const ring = k.createRing();
    const { chain, buffer, pread } = readChain(`${MNT}/text`);
    const before = k.stats();
    const r = k.asyncExec(chain, ring);
    const after = k.stats();
    expect(r).toEqual({ done: true, id: expect.any(Number), result: 0 });
    const [open, , close] = chain.atoms;
    expect(open!.result.value).toBeGreaterThanOrEqual(0);
    expect(pread.result.value).toBe(TEXT.length);
    expect(close!.result.value).toBe(0);
    expect(buffer.toString('utf8', 0, TEXT.length)).toBe(TEXT);
    expect(buffer.subarray(TEXT.length).every((b) => b === 0)).toBe(true);
    // Ran inline: nothing posted, no ring round trip.
    expect(after.sysletChainsInline - before.sysletChainsInline).toBe(1);
    expect(after.sysletCompletions - before.sysletCompletions).toBe(0);
    expect(ring.inFlight).toBe(0);
    // The descriptor is closed: the fd the open returned is free again.
    expect(thrown(() => k.sys.fstatSync(open!.result.value!))).toMatchObject({ code: 'EBADF' });
  });

  it('the result is the last atom executed; a stop ends the chain and later atoms did not run', () => {
    const ring = k.createRing();
    const { chain, pread } = readChain(`${MNT}/missing`);
    const r = k.asyncExec(chain, ring);
    expect(r).toMatchObject({ done: true, result: -constants.ENOENT });
    expect(chain.atoms[0]!.result.value).toBe(-constants.ENOENT);
    expect(pread.result.value).toBeUndefined();
    expect(chain.atoms[2]!.result.value).toBeUndefined();
  });

  it('write, fstat, lseek, read, fsync, mkdir, rename, unlink, statx, getdents64 in chains', () => {
    const ring = k.createRing({ entries: 4 });
    const c = k.syslet();
    const fd = c.open(`${MNT}/w`, 'w+', 0o640).result;
    const write = c.write(fd, 'abcdef');
    const pwrite = c.pwrite(fd, Buffer.from('XY'), 2, { offset: 0, length: 2 });
    const stat = c.fstat(fd);
    c.lseek(fd, 1, 'set');
    const back = Buffer.alloc(8, 0x2e);
    const read = c.read(fd, back, { offset: 2, length: 4 });
    c.fsync(fd);
    c.close(fd);
    c.mkdir(`${MNT}/dir`, 0o700);
    c.rename(`${MNT}/w`, `${MNT}/dir/w2`);
    const statx = c.statx(-100, `${MNT}/dir/w2`);
    const dfd = c.open(`${MNT}/dir`, constants.O_RDONLY | constants.O_DIRECTORY).result;
    const dents = Buffer.alloc(1024);
    const getdents = c.getdents64(dfd, dents);
    c.close(dfd);
    const unlink = c.unlink(`${MNT}/dir/w2`);
    expect(k.asyncExec(c, ring)).toMatchObject({ done: true, result: 0 });
    expect(write.result.value).toBe(6);
    expect(pwrite.result.value).toBe(2);
    expect(stat.stats()!.size).toBe(6);
    expect(stat.stats()!.mode & 0o777).toBe(0o640);
    expect(stat.stats()!.isFile()).toBe(true);
    expect(read.result.value).toBe(4);
    expect(back.toString()).toBe('..bXYe..');
    expect(statx.result.value).toBe(0);
    // struct statx: stx_size at 40.
    expect(Number(new DataView(statx.buffer!.buffer).getBigUint64(40, true))).toBe(6);
    expect(getdents.result.value).toBeGreaterThan(0);
    expect(dents.includes(Buffer.from('w2\0'))).toBe(true);
    expect(unlink.result.value).toBe(0);
    expect(k.sys.existsSync(`${MNT}/dir/w2`)).toBe(false);
    expect(k.sys.statSync(`${MNT}/dir`).mode & 0o777).toBe(0o700);
  });

  it('a buffer shared by atoms carries data from one to the next (copy a file in one chain)', () => {
    const ring = k.createRing();
    const c = k.syslet();
    const buffer = Buffer.alloc(TEXT.length);
    const src = c.open(`${MNT}/text`).result;
    c.pread(src, buffer, 0);
    const dst = c.open(`${MNT}/copy`, 'w').result;
    c.pwrite(dst, buffer, 0);
    c.close(src);
    c.close(dst);
    expect(k.asyncExec(c, ring).done).toBe(true);
    expect(k.sys.readFileSync(`${MNT}/copy`, 'utf8')).toBe(TEXT);
  });

  it('a chain can be submitted again once it completed; data to write is taken at each submission', () => {
    const ring = k.createRing();
    const c = k.syslet();
    const data = Buffer.from('first');
    const fd = c.open(`${MNT}/again`, 'w').result;
    c.write(fd, data);
    c.close(fd);
    expect(k.asyncExec(c, ring).done).toBe(true);
    expect(k.sys.readFileSync(`${MNT}/again`, 'utf8')).toBe('first');
    data.write('again');
    expect(k.asyncExec(c, ring).done).toBe(true);
    expect(k.sys.readFileSync(`${MNT}/again`, 'utf8')).toBe('again');
    expect(thrown(() => c.getpid())).toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});

describe('flags', () => {
  it('skipToNextOnStop branches: the atom after runs on a stop, setNext is the other way', () => {
    const ring = k.createRing();
    const build = (path: string): { c: Syslet; created: ReturnType<Syslet['open']>; opened: ReturnType<Syslet['open']> } => {
      // open O_RDONLY; if it fails, create it instead; either way close.
      const c = k.syslet();
      const opened = c.open(path, 'r', undefined, { stopOn: 'negative', skipToNextOnStop: true });
      const created = c.open(path, 'w', 0o600);
      const close = c.close(opened.result);
      opened.setNext(close);
      created.setNext(null);
      return { c, created, opened };
    };
    const fresh = build(`${MNT}/branch`);
    expect(k.asyncExec(fresh.c, ring)).toMatchObject({ done: true });
    expect(fresh.opened.result.value).toBe(-constants.ENOENT);
    expect(fresh.created.result.value).toBeGreaterThanOrEqual(0);
    expect(fresh.c.atoms[2]!.result.value).toBeUndefined();
    k.sys.closeSync(fresh.created.result.value!);
    expect(k.sys.existsSync(`${MNT}/branch`)).toBe(true);

    const existing = build(`${MNT}/branch`);
    expect(k.asyncExec(existing.c, ring)).toMatchObject({ done: true, result: 0 });
    expect(existing.opened.result.value).toBeGreaterThanOrEqual(0);
    expect(existing.created.result.value).toBeUndefined();
  });

  it('stopOn zero, nonzero and nonPositive stop where they should', () => {
    const ring = k.createRing();
    const run = (stopOn: 'zero' | 'nonzero' | 'nonPositive', path: string): boolean => {
      const c = k.syslet();
      const fd = c.open(path).result;
      const buffer = Buffer.alloc(4);
      c.pread(fd, buffer, 0, { stopOn });
      const next = c.close(fd);
      k.asyncExec(c, ring);
      if (next.result.value === undefined) k.sys.closeSync(c.atoms[0]!.result.value!);
      return next.result.value !== undefined;
    };
    k.sys.writeFileSync(`${MNT}/empty`, '');
    expect(run('zero', `${MNT}/empty`)).toBe(false);
    expect(run('zero', `${MNT}/text`)).toBe(true);
    expect(run('nonzero', `${MNT}/text`)).toBe(false);
    expect(run('nonzero', `${MNT}/empty`)).toBe(true);
    expect(run('nonPositive', `${MNT}/empty`)).toBe(false);
    expect(run('nonPositive', `${MNT}/text`)).toBe(true);
  });

  it('async goes asynchronous at once; noComplete posts nothing; sync waits', async () => {
    const ring = k.createRing();
    const c = k.syslet();
    c.getpid({ async: true });
    const r = k.asyncExec(c, ring);
    expect(r.done).toBe(false);
    if (!r.done) expect(await r.completion).toBe(1);

    // An async chain ending with noComplete posts nothing: the next
    // completion on the ring is the marker's.
    const quiet = k.syslet();
    quiet.getpid({ async: true, noComplete: true });
    const before = k.stats().sysletCompletions;
    expect(k.asyncExec(quiet, ring).done).toBe(false);
    const marker = k.syslet();
    marker.getpid({ async: true });
    const m = k.asyncExec(marker, ring);
    const seen: number[] = [];
    for await (const completion of ring) {
      seen.push(completion.id);
      if (completion.id === m.id) break;
    }
    expect(seen).toEqual([m.id]);
    expect(k.stats().sysletCompletions - before).toBe(1);
    // The quiet submission stays pending: its Promise never settles, so the
    // ring cannot close.
    expect(ring.inFlight).toBe(1);
    expect(thrown(() => ring.close())).toMatchObject({ code: 'ERR_INVALID_STATE' });

    // sync on an atom that does not sleep: done at once, as without it
    // (a sync atom that sleeps makes asyncExec wait like a plain call).
    const [rfd, wfd] = k.sys.pipeSync();
    k.sys.writeSync(wfd, 'x');
    const s = k.syslet();
    const buffer = Buffer.alloc(1);
    s.read(rfd, buffer, { sync: true });
    expect(k.asyncExec(s, ring)).toMatchObject({ done: true, result: 1 });
    expect(buffer.toString()).toBe('x');
    k.sys.closeSync(rfd);
    k.sys.closeSync(wfd);
  });
});

describe('asynchronous completion', () => {
  it('a pipe read with no data goes asynchronous and completes when the pipe is written', async () => {
    const ring = k.createRing({ entries: 8 });
    const [rfd, wfd] = k.sys.pipeSync();
    const c = k.syslet();
    const buffer = Buffer.alloc(16, 0xee);
    const read = c.read(rfd, buffer);
    const before = k.stats();
    const r = k.asyncExec(c, ring);
    expect(r.done).toBe(false);
    expect(ring.inFlight).toBe(1);
    expect(c.inFlight).toBe(true);
    expect(read.result.value).toBeUndefined();
    expect(thrown(() => k.asyncExec(c, ring))).toMatchObject({ code: 'ERR_INVALID_STATE' });
    // Nothing reached the JavaScript buffer yet.
    expect(buffer.every((b) => b === 0xee)).toBe(true);
    k.sys.writeSync(wfd, 'ping');
    if (r.done) throw new Error('unreachable');
    expect(await r.completion).toBe(4);
    expect(read.result.value).toBe(4);
    expect(buffer.toString('utf8', 0, 4)).toBe('ping');
    expect(buffer.subarray(4).every((b) => b === 0xee)).toBe(true);
    const after = k.stats();
    expect(after.sysletCachemisses - before.sysletCachemisses).toBe(1);
    expect(after.sysletCompletions - before.sysletCompletions).toBe(1);
    expect(ring.wakeups).toBeGreaterThanOrEqual(1);
    expect(ring.inFlight).toBe(0);
    expect(c.inFlight).toBe(false);
    k.sys.closeSync(rfd);
    k.sys.closeSync(wfd);
    ring.close();
    expect(ring.closed).toBe(true);
    expect(thrown(() => k.asyncExec(c, ring))).toMatchObject({ code: 'ERR_INVALID_STATE', message: /closed/ });
  });

  it('reads from a disk with 200 us latency go asynchronous, in one chain open -> pread -> close', async () => {
    const image = makeExt4Image(32 * 1024 * 1024, 'latency.img');
    const disk = k.disks.attach(image, { latencyUs: 200 });
    k.mount(disk, { type: 'ext4', at: '/mnt/slow' });
    const content = Buffer.alloc(256 * 1024);
    for (let i = 0; i < content.length; i += 4) content.writeUInt32LE(i, i);
    k.sys.writeFileSync('/mnt/slow/data', content);
    // Remount: the page cache is empty, the reads must go to the disk.
    k.umount('/mnt/slow');
    k.mount(disk, { type: 'ext4', at: '/mnt/slow' });
    const ring = k.createRing({ entries: 16 });
    const reads = [];
    for (let i = 0; i < 4; i++) {
      const { chain, buffer, pread } = readChain('/mnt/slow/data', 64 * 1024);
      reads.push({ r: k.asyncExec(chain, ring), buffer, pread });
    }
    const asynchronous = reads.filter((x) => !x.r.done).length;
    expect(asynchronous).toBeGreaterThanOrEqual(1);
    for (const { r, buffer, pread } of reads) {
      expect(r.done ? r.result : await r.completion).toBe(0);
      expect(pread.result.value).toBe(64 * 1024);
      expect(buffer.equals(content.subarray(0, 64 * 1024))).toBe(true);
    }
    k.umount('/mnt/slow');
    k.disks.detach(disk);
  });

  it('a batch submits many chains in one call, each settling on its own', async () => {
    const ring = k.createRing({ entries: 4 });
    const pipes = Array.from({ length: 6 }, () => k.sys.pipeSync());
    const buffers = pipes.map(() => Buffer.alloc(8));
    const chains = pipes.map(([rfd], i) => {
      const c = k.syslet();
      c.read(rfd, buffers[i]!);
      return c;
    });
    const sync = k.syslet();
    sync.getpid();
    const results = k.asyncExecBatch([...chains, sync], ring);
    expect(results.map((r) => r.done)).toEqual([false, false, false, false, false, false, true]);
    expect(results[6]).toMatchObject({ done: true, result: 1 });
    pipes.forEach(([, wfd], i) => k.sys.writeSync(wfd, `pipe ${i}`));
    const values = await Promise.all(results.slice(0, 6).map((r) => (r.done ? r.result : r.completion)));
    expect(values).toEqual(Array(6).fill(6));
    buffers.forEach((b, i) => expect(b.toString('utf8', 0, 6)).toBe(`pipe ${i}`));
    for (const [r, w] of pipes) {
      k.sys.closeSync(r);
      k.sys.closeSync(w);
    }
    expect(thrown(() => k.asyncExecBatch([sync, sync], ring))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('the ring is an async iterator of raw completions { result, id }', async () => {
    const ring = k.createRing({ entries: 2 });
    const ids = new Set<number>();
    const promises = [];
    for (let i = 0; i < 10; i++) {
      const c = k.syslet();
      c.getpid({ async: true });
      const r = k.asyncExec(c, ring);
      ids.add(r.id);
      if (!r.done) promises.push(r.completion);
    }
    const seen: number[] = [];
    for await (const c of ring) {
      expect(c.result).toBe(1);
      seen.push(c.id);
      if (seen.length === 10) break;
    }
    expect(new Set(seen)).toEqual(ids);
    expect(await Promise.all(promises)).toEqual(Array(10).fill(1));
    // Iteration ends when the ring closes.
    const iterating = (async () => {
      let n = 0;
      for await (const _ of ring) n++;
      return n;
    })();
    ring.close();
    expect(await iterating).toBe(0);
  });

  it('a buffer transferred away while its read is in flight: the kernel wrote only native memory, the completion rejects clearly', async () => {
    const ring = k.createRing();
    const [rfd, wfd] = k.sys.pipeSync();
    const memory = new ArrayBuffer(64);
    const view = new Uint8Array(memory).fill(0xaa);
    const c = k.syslet();
    c.read(rfd, view);
    const r = k.asyncExec(c, ring);
    expect(r.done).toBe(false);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
    port1.postMessage(memory, [memory]);
    expect(view.byteLength).toBe(0); // detached here
    const moved = await received;
    k.sys.writeSync(wfd, 'data that must go nowhere');
    if (r.done) throw new Error('unreachable');
    const error = (await r.completion.catch((e: unknown) => e)) as Error & { code: string; result: number };
    expect(error.code).toBe('ERR_INVALID_STATE');
    expect(error.message).toMatch(/completed \(result 25\) but the buffer of atom 0 \(read\) was detached/);
    expect(error.result).toBe(25);
    // The memory, now owned by the other port, was not written.
    expect(new Uint8Array(moved).every((b) => b === 0xaa)).toBe(true);
    expect(c.atoms[0]!.result.value).toBe(25);
    port1.close();
    port2.close();
    k.sys.closeSync(rfd);
    k.sys.closeSync(wfd);
  });
});

describe('prepared chains (laid out once per ring, run many times)', () => {
  it('a chain runs on one ring, then another, then the first again, with fresh data each run', () => {
    const [a, b] = [k.createRing(), k.createRing()];
    const data = Buffer.from('run 0');
    const got = Buffer.alloc(5);
    const c = k.syslet();
    const fd = c.open(`${MNT}/prepared`, constants.O_CREAT | constants.O_RDWR, 0o644, { stopOn: 'negative' }).result;
    c.pwrite(fd, data, 0);
    c.pread(fd, got, 0);
    c.close(fd);
    for (const [i, ring] of [a, b, a, b].entries()) {
      data.write(`run ${i}`);
      got.fill(0);
      const r = k.asyncExec(c, ring);
      expect(r).toMatchObject({ done: true, result: 0 });
      expect(got.toString()).toBe(`run ${i}`);
      expect(c.atoms.map((atom) => atom.result.value)).toEqual([c.atoms[0]!.result.value, 5, 5, 0]);
    }
    a.close();
    b.close();
  });

  // A chain's first run on a ring is laid out for that run; the second
  // keeps its layout (checked natively at each run from then on).
  it.each([1, 2, 3])('a buffer detached after %i run(s) refuses the next run before anything reaches the kernel', (runs) => {
    const ring = k.createRing();
    const memory = new ArrayBuffer(8);
    const c = k.syslet();
    const fd = c.open(`${MNT}/text`, 'r', undefined, { stopOn: 'negative' }).result;
    c.read(fd, new Uint8Array(memory));
    c.close(fd);
    for (let i = 0; i < runs; i++) expect(k.asyncExec(c, ring).done).toBe(true);
    structuredClone(memory, { transfer: [memory] });
    const before = k.stats();
    const error = thrown(() => k.asyncExec(c, ring)) as Error & { code: string };
    expect(error.code).toBe('ERR_INVALID_STATE');
    expect(error.message).toMatch(/detached \(transferred\) or shrunk since it was added: nothing ran/);
    expect(k.stats().sysletChainsInline).toBe(before.sysletChainsInline);
    ring.close();
  });

  it('the native entry points take nothing but a prepared chain of this thread', () => {
    const ring = k.createRing();
    const c = k.syslet();
    c.getpid();
    expect(k.asyncExec(c, ring).done).toBe(true);
    for (const bogus of [undefined, 0, {}, Buffer.alloc(64), ring, native]) {
      expect(thrown(() => native.asyncSubmit(bogus as never, 1))).toBeInstanceOf(TypeError);
      expect(thrown(() => native.asyncPatch(bogus, 0, 0, 1))).toBeInstanceOf(TypeError);
    }
    // Tokens: only the exact token of a live prepared chain (the slot's
    // generation is part of it).
    for (const token of [-1, 0.5, 2 ** 24 - 1, 2 ** 53, NaN, 1e300]) expect(thrown(() => native.asyncSubmit(token, 1))).toBeInstanceOf(TypeError);
    ring.close();
  });
});

describe('many completions', () => {
  it('10,000 concurrent reads across 8 rings, contents verified', async () => {
    const FILES = 16;
    const SIZE = 4096;
    for (let f = 0; f < FILES; f++) {
      const data = Buffer.alloc(64 * SIZE);
      for (let i = 0; i < data.length; i += 8) data.writeUInt32LE(f, i), data.writeUInt32LE(i, i + 4);
      k.sys.writeFileSync(`${MNT}/many${f}`, data);
    }
    const fds = Array.from({ length: FILES }, (_, f) => k.sys.openSync(`${MNT}/many${f}`));
    // Every read waits on a pipe first, so all are in flight together.
    const [gate, open] = k.sys.pipeSync();
    const rings = Array.from({ length: 8 }, () => k.createRing({ entries: 64 }));
    const reads = [];
    for (let i = 0; i < 10_000; i++) {
      const c = k.syslet();
      const f = i % FILES;
      const block = (i * 7) % 64;
      const buffer = Buffer.alloc(SIZE);
      if (i < 64) c.read(gate, Buffer.alloc(1)); // the first 64 wait for the gate
      c.pread(fds[f]!, buffer, block * SIZE, { async: true });
      const r = k.asyncExec(c, rings[i % 8]!);
      reads.push({ r, buffer, f, block });
    }
    k.sys.writeSync(open, Buffer.alloc(64, 1));
    let verified = 0;
    await Promise.all(
      reads.map(async ({ r, buffer, f, block }) => {
        expect(r.done ? r.result : await r.completion).toBe(SIZE);
        for (let i = 0; i < SIZE; i += 8) {
          if (buffer.readUInt32LE(i) !== f || buffer.readUInt32LE(i + 4) !== block * SIZE + i) throw new Error(`read ${f}/${block} wrong at ${i}`);
        }
        verified++;
      }),
    );
    expect(verified).toBe(10_000);
    expect(rings.every((ring) => ring.inFlight === 0)).toBe(true);
    for (const fd of [...fds, gate, open]) k.sys.closeSync(fd);
  });

  it('1,000,000 completions through a 16-entry ring, each exactly once, at most 64 in flight', async () => {
    const N = 1_000_000;
    const IN_FLIGHT = 64;
    const ring = k.createRing({ entries: 16 });
    const chains = Array.from({ length: IN_FLIGHT }, () => {
      const c = k.syslet();
      c.getpid({ async: true });
      return c;
    });
    const count = new Uint8Array(N + IN_FLIGHT);
    let submitted = 0;
    let completed = 0;
    let firstId = -1;
    const wakeupsBefore = ring.wakeups;
    const before = k.stats();
    await new Promise<void>((resolve, reject) => {
      const submit = (chain: Syslet): void => {
        if (submitted === N) return;
        submitted++;
        const r = k.asyncExec(chain, ring);
        if (firstId < 0) firstId = r.id;
        if (r.done) return reject(new Error('an ASYNC chain completed at once'));
        r.completion.then((value) => {
          if (value !== 1) return reject(new Error(`getpid gave ${value}`));
          count[r.id - firstId]!++;
          if (++completed === N) return resolve();
          submit(chain);
        }, reject);
      };
      chains.forEach(submit);
    });
    const after = k.stats();
    // Every submission completed exactly once.
    expect(completed).toBe(N);
    expect(count.subarray(0, N).every((n) => n === 1)).toBe(true);
    expect(count.subarray(N).every((n) => n === 0)).toBe(true);
    expect(after.sysletCompletions - before.sysletCompletions).toBe(N);
    expect(ring.inFlight).toBe(0);
    // Completions are coalesced into far fewer event-loop wake-ups.
    expect(ring.wakeups - wakeupsBefore).toBeLessThan(N);
    expect(after.sysletRingFullWaits - before.sysletRingFullWaits).toBeGreaterThan(0);
    ring.close();
  }, 600_000);
});

describe('misuse', () => {
  const ring = (): SysletRing => k.createRing({ entries: 2 });
  const cases: Array<[string, () => unknown, { name: string; code: string; message: RegExp }]> = [
    ['entries not a power of two', () => k.createRing({ entries: 3 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"options.entries" is out of range. It must be a power of two >= 1 && <= 1048576. Received 3/ }],
    ['entries 0', () => k.createRing({ entries: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /Received 0/ }],
    ['entries 2^21', () => k.createRing({ entries: 2 ** 21 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /Received 2097152/ }],
    ['entries a string', () => k.createRing({ entries: '16' as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"options.entries" argument must be of type number/ }],
    ['options a number', () => k.createRing(16 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"options" argument must be of type object/ }],
    ['asyncExec without a chain', () => k.asyncExec({} as never, ring()), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"chain" argument must be a Syslet from k.syslet\(\). Received an instance of Object/ }],
    ['asyncExec without a ring', () => k.asyncExec(k.syslet(), {} as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"ring" argument must be a SysletRing/ }],
    ['an empty chain', () => k.asyncExec(k.syslet(), ring()), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"chain" has no atoms/ }],
    ['batch not an array', () => k.asyncExecBatch(k.syslet() as never, ring()), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"chains" argument must be an array/ }],
    ['batch with a non-chain', () => k.asyncExecBatch([1 as never], ring()), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"chains\[0\]"/ }],
    ['fd a string', () => k.syslet().close('3' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"fd" argument must be of type number or a SysletResult/ }],
    ['fd negative', () => k.syslet().close(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"fd" is out of range/ }],
    ['fd fractional', () => k.syslet().fsync(1.5), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /It must be an integer. Received 1.5/ }],
    ['a result of another chain', () => k.syslet().close(k.syslet().getpid().result), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"fd" is the result of an atom of another chain/ }],
    ['buffer not a buffer', () => k.syslet().read(0, 'x' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"buffer" argument must be an instance of Buffer, TypedArray, or DataView. Received type string/ }],
    ['length beyond the buffer', () => k.syslet().read(0, Buffer.alloc(4), { length: 5 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"length" is out of range. It must be >= 0 && <= 4. Received 5/ }],
    ['offset beyond the buffer', () => k.syslet().pread(0, Buffer.alloc(4), 0, { offset: 5 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"offset" is out of range/ }],
    ['a detached buffer', () => { const b = Buffer.from(new ArrayBuffer(8)); structuredClone(b.buffer, { transfer: [b.buffer] }); return k.syslet().read(0, b); }, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /detached/ }],
    ['position missing', () => k.syslet().pread(0, Buffer.alloc(4), undefined as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"position"/ }],
    ['position negative', () => k.syslet().pwrite(0, Buffer.alloc(4), -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"position"/ }],
    ['position bigint too large', () => k.syslet().pread(0, Buffer.alloc(4), 2n ** 63n), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /"position"/ }],
    ['path with a NUL', () => k.syslet().open('/a\0b'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"path" must be a string or Uint8Array without null bytes/ }],
    ['path a number', () => k.syslet().unlink(5 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"path"/ }],
    ['unknown open flags', () => k.syslet().open('/x', 'rw'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"flags" is invalid/ }],
    ['bad whence', () => k.syslet().lseek(0, 0, 'middle' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"whence"/ }],
    ['stopOn unknown', () => k.syslet().getpid({ stopOn: 'positive' as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"options.stopOn" must be 'negative', 'zero', 'nonzero' or 'nonPositive'. Received type string \('positive'\)/ }],
    ['a flag not a boolean', () => k.syslet().getpid({ async: 1 as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"options.async" argument must be of type boolean/ }],
    ['async and sync', () => k.syslet().getpid({ async: true, sync: true }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /cannot be both async and sync/ }],
    ['skipToNextOnStop without stopOn', () => k.syslet().getpid({ skipToNextOnStop: true }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /needs a stopOn condition/ }],
    ['setNext to another chain', () => k.syslet().getpid().setNext(k.syslet().getpid()), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /must be an atom of the same chain or null/ }],
    ['stats of a non-stat atom', () => k.syslet().getpid().stats(), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /is not an fstat, stat or lstat atom/ }],
    ['more than 30 buffers', () => { const c = k.syslet(); for (let i = 0; i < 31; i++) c.read(0, Buffer.alloc(1)); }, { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /at most 30 distinct buffers per chain/ }],
    ['more than 1024 atoms', () => { const c = k.syslet(); for (let i = 0; i < 1025; i++) c.getpid(); }, { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /at most 1024 per chain/ }],
    ['close({ cancel: true })', () => ring().close({ cancel: true }), { name: 'Error', code: 'ERR_METHOD_NOT_IMPLEMENTED', message: /not implemented: the kernel has no way to cancel one chain/ }],
    ['close({ cancel: 1 })', () => ring().close({ cancel: 1 as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"options.cancel"/ }],
    ['two iterations at once', () => { const r = ring(); r[Symbol.asyncIterator](); r[Symbol.asyncIterator](); }, { name: 'Error', code: 'ERR_INVALID_STATE', message: /already being iterated/ }],
  ];

  it.each(cases)('%s', (_, call, expected) => {
    const before = k.stats();
    const error = thrown(call) as Error & { code: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(expected.name);
    expect(error.code).toBe(expected.code);
    expect(error.message).toMatch(expected.message);
    // Refused before anything reached the kernel.
    const after = k.stats();
    expect(after.sysletChainsInline + after.sysletCachemisses).toBe(before.sysletChainsInline + before.sysletCachemisses);
  });

  it('the ring memory cannot be transferred or reached from outside', () => {
    const r = ring();
    expect(Object.keys(r)).toEqual(['entries']);
    expect(r.entries).toBe(2);
  });

  it('syscallSync refuses async_exec: its chain would outlive the call and its buffers', () => {
    const error = thrown(() => k.sys.syscallSync(syscalls.async_exec, Buffer.alloc(80), Buffer.alloc(64))) as Error & { code: string };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(error.message).toMatch(/async_exec/);
  });
});
