// SPDX-License-Identifier: GPL-2.0-only
// Local (AF_UNIX) sockets: socketpair round trips, a socket bound to a path on
// an ext4 image, and a connection accepted on a worker thread.

import { beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Kernel, constants, syscalls, type Disk } from '../dist/index.js';
import { bootForTests, e2fs, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let image: string;
let disk: Disk;
const MNT = '/mnt/sock';

beforeAll(async () => {
  image = makeExt4Image(16 * 1024 * 1024);
  k = await bootForTests();
  disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: MNT });
});

/** struct sockaddr_un for @path: sa_family_t (u16) then the NUL-terminated path. */
function unixAddress(path: string): Buffer {
  const bytes = Buffer.from(path);
  const sa = Buffer.alloc(2 + bytes.length + 1);
  sa.writeUInt16LE(constants.AF_UNIX, 0);
  bytes.copy(sa, 2);
  return sa;
}

function socket(): number {
  return k.sys.syscallSync(syscalls.socket, constants.AF_UNIX, constants.SOCK_STREAM | constants.SOCK_CLOEXEC, 0);
}

/** Reads exactly @n bytes from @fd. */
function readExactly(fd: number, n: number): Buffer {
  const buffer = Buffer.alloc(n);
  for (let got = 0; got < n; ) {
    const r = k.sys.readSync(fd, buffer, got, n - got, null);
    expect(r).toBeGreaterThan(0);
    got += r;
  }
  return buffer;
}

describe('AF_UNIX sockets', () => {
  it('socketpairSync carries bytes both ways; a shutdown reads as end of file', () => {
    const [a, b] = k.sys.socketpairSync();
    const there = Buffer.from('x'.repeat(3000) + 'end');
    const back = Buffer.from('a reply');
    expect(k.sys.writeSync(a, there)).toBe(there.length);
    expect(readExactly(b, there.length)).toEqual(there);
    expect(k.sys.writeSync(b, back)).toBe(back.length);
    expect(readExactly(a, back.length)).toEqual(back);
    expect(k.sys.fstatSync(a).isSocket()).toBe(true);
    k.sys.syscallSync(syscalls.shutdown, a, 1 /* SHUT_WR */);
    expect(k.sys.readSync(b, Buffer.alloc(8))).toBe(0);
    k.sys.closeSync(a);
    k.sys.closeSync(b);
  });

  it('socketpair through syscallSync, and dgram/seqpacket pairs keep message boundaries', () => {
    const fds = new Int32Array(2);
    expect(k.sys.syscallSync(syscalls.socketpair, constants.AF_UNIX, constants.SOCK_STREAM, 0, fds)).toBe(0);
    expect(k.sys.writeSync(fds[0]!, 'raw')).toBe(3);
    expect(readExactly(fds[1]!, 3).toString()).toBe('raw');
    k.sys.closeSync(fds[0]!);
    k.sys.closeSync(fds[1]!);
    for (const type of ['dgram', 'seqpacket'] as const) {
      const [a, b] = k.sys.socketpairSync(type);
      k.sys.writeSync(a, 'one');
      k.sys.writeSync(a, 'two!');
      const buffer = Buffer.alloc(64);
      expect(k.sys.readSync(b, buffer)).toBe(3);
      expect(k.sys.readSync(b, buffer)).toBe(4);
      k.sys.closeSync(a);
      k.sys.closeSync(b);
    }
    expect(thrown(() => k.sys.socketpairSync('raw' as never))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: /"type" must be 'stream', 'dgram' or 'seqpacket'/ });
  });

  it('bind on ext4 makes a socket file (S_IFSOCK) that unlink removes', () => {
    const fd = socket();
    const path = `${MNT}/listener`;
    expect(k.sys.syscallSync(syscalls.bind, fd, unixAddress(path), unixAddress(path).length)).toBe(0);
    const st = k.sys.statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & constants.S_IFMT).toBe(constants.S_IFSOCK);
    expect(k.sys.readdirSync(MNT, { withFileTypes: true }).find((d) => d.name === 'listener')?.isSocket()).toBe(true);
    // The name is taken while the file exists, even after the socket closes.
    const other = socket();
    expect(thrown(() => k.sys.syscallSync(syscalls.bind, other, unixAddress(path), unixAddress(path).length))).toMatchObject({ code: 'EADDRINUSE' });
    k.sys.closeSync(other);
    k.sys.closeSync(fd);
    expect(k.sys.lstatSync(path).isSocket()).toBe(true);
    k.sys.unlinkSync(path);
    expect(k.sys.existsSync(path)).toBe(false);
  });

  it('a socket file survives unmount and the host e2fsck and debugfs see it', () => {
    const fd = socket();
    const path = `${MNT}/kept.sock`;
    k.sys.syscallSync(syscalls.bind, fd, unixAddress(path), unixAddress(path).length);
    k.sys.closeSync(fd);
    k.umount(MNT);
    expect(e2fs('debugfs', ['-R', 'stat /kept.sock', image])).toMatch(/Type: socket/);
    e2fs('e2fsck', ['-fn', image]);
    k.mount(disk, { type: 'ext4', at: MNT });
    expect(k.sys.statSync(path).isSocket()).toBe(true);
    k.sys.unlinkSync(path);
  });

  it('a worker thread accepts the connection the main thread makes', async () => {
    const path = `${MNT}/echo.sock`;
    const listener = socket();
    k.sys.syscallSync(syscalls.bind, listener, unixAddress(path), unixAddress(path).length);
    k.sys.syscallSync(syscalls.listen, listener, 4);
    // The worker blocks in accept4 on its own thread, reads a message and
    // echoes it back upper-cased.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.entry).then(({ Kernel, syscalls }) => {
        const k = Kernel.current();
        parentPort.postMessage({ ready: true });
        const fd = k.sys.syscallSync(syscalls.accept4, workerData.listener, 0, 0, 0);
        const buffer = Buffer.alloc(64);
        const n = k.sys.readSync(fd, buffer);
        k.sys.writeSync(fd, buffer.subarray(0, n).toString().toUpperCase());
        k.sys.closeSync(fd);
        parentPort.postMessage({ got: buffer.subarray(0, n).toString() });
      }).catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));
    `;
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const worker = new Worker(source, { eval: true, workerData: { entry, listener } });
    const messages: Array<Record<string, unknown>> = [];
    const exited = new Promise<number>((resolve, reject) => {
      worker.on('message', (m) => messages.push(m));
      worker.on('error', reject);
      worker.on('exit', resolve);
    });
    const fd = socket();
    expect(k.sys.syscallSync(syscalls.connect, fd, unixAddress(path), unixAddress(path).length)).toBe(0);
    expect(k.sys.writeSync(fd, 'ping from main')).toBe(14);
    // Blocks this thread until the worker has accepted, read and replied.
    expect(readExactly(fd, 14).toString()).toBe('PING FROM MAIN');
    expect(await exited).toBe(0);
    expect(messages).toContainEqual({ got: 'ping from main' });
    k.sys.closeSync(fd);
    k.sys.closeSync(listener);
    k.sys.unlinkSync(path);
  });
});
