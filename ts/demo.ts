// SPDX-License-Identifier: GPL-2.0-only
// `npm start`: boots the kernel over a default ext4 image in a cache folder,
// writes and reads files through the kernel's ext4, and prints what it did
// with a few timings.

import { closeSync, fstatSync as hostFstatSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { Kernel, createExt4Image } from './index.js';
import { existsSync } from 'node:fs';

const IMAGE_SIZE = 256 * 1024 * 1024;
const SMALL_FILES = 200;
const SMALL_SIZE = 4096;
const BIG_SIZE = 32 * 1024 * 1024;

function cacheDir(): string {
  if (process.env.LKL_NODE_CACHE) return process.env.LKL_NODE_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'lkl-node');
}

function ms(start: bigint): string {
  return `${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms`;
}

/** Median cost in ns of @fn over a few batches of @n calls. */
function nsPerCall(n: number, fn: () => unknown): number {
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    batches.push(Number(process.hrtime.bigint() - start) / n);
  }
  return batches.sort((a, b) => a - b)[2]!;
}

function row(label: string, text: string): void {
  console.log(`  ${label.padEnd(9)}${text}`);
}

async function main(): Promise<void> {
  const dir = cacheDir();
  const image = join(dir, 'default-ext4.img');
  mkdirSync(dir, { recursive: true });
  let created = false;
  if (!existsSync(image)) {
    createExt4Image(image, { size: IMAGE_SIZE, label: 'lkl-demo' });
    created = true;
  }

  let t = process.hrtime.bigint();
  const k = await Kernel.boot({ memory: '256M' });
  const bootTime = ms(t);
  console.log(`lkl-node: Linux ${k.release} running inside this Node.js process (pid ${process.pid})`);
  row('image', `${image} (${IMAGE_SIZE >> 20} MiB ext4, ${created ? 'created now with mke2fs' : 'reused from the last run'})`);
  row('boot', `${bootTime} (memory 256M)`);

  t = process.hrtime.bigint();
  const disk = k.disks.attach(image);
  const at = k.mount(disk, { type: 'ext4', at: '/mnt/data' });
  row('mount', `${ms(t)}  ${disk.device} on ${at} (ext4, disk backend ${k.diskBackend})`);

  const sys = k.sys;
  const work = `${at}/demo`;
  sys.mkdirSync(work, { recursive: true });

  // Write: small files and one big one, each fsynced, so they are on the image.
  const small = Buffer.alloc(SMALL_SIZE);
  const big = Buffer.alloc(BIG_SIZE);
  randomFillSync(big);
  t = process.hrtime.bigint();
  for (let i = 0; i < SMALL_FILES; i++) {
    small.fill(i & 0xff);
    small.write(`file ${i}\n`);
    const fd = sys.openSync(`${work}/small-${i}.txt`, 'w', 0o644);
    sys.writeSync(fd, small);
    sys.closeSync(fd);
  }
  let fd = sys.openSync(`${work}/big.bin`, 'w', 0o644);
  for (let off = 0; off < BIG_SIZE; off += 1 << 20) sys.writeSync(fd, big, off, 1 << 20);
  sys.fsyncSync(fd);
  sys.closeSync(fd);
  const writeNs = Number(process.hrtime.bigint() - t);
  const written = SMALL_FILES * SMALL_SIZE + BIG_SIZE;
  row('write', `${SMALL_FILES} files x 4 KiB + one 32 MiB file, fsync: ${(writeNs / 1e6).toFixed(1)} ms (${(written / writeNs * 1e3).toFixed(0)} MB/s)`);

  // Read back and compare byte for byte.
  t = process.hrtime.bigint();
  const check = Buffer.alloc(SMALL_SIZE);
  for (let i = 0; i < SMALL_FILES; i++) {
    small.fill(i & 0xff);
    small.write(`file ${i}\n`);
    fd = sys.openSync(`${work}/small-${i}.txt`, 'r');
    const n = sys.readSync(fd, check, 0, SMALL_SIZE, 0);
    sys.closeSync(fd);
    if (n !== SMALL_SIZE || !check.equals(small)) throw new Error(`small-${i}.txt read back wrong`);
  }
  const back = Buffer.alloc(BIG_SIZE);
  fd = sys.openSync(`${work}/big.bin`, 'r');
  for (let off = 0; off < BIG_SIZE; ) off += sys.preadSync(fd, back, off, BIG_SIZE - off, off);
  const bigFd = fd;
  if (!back.equals(big)) throw new Error('big.bin read back wrong');
  const readNs = Number(process.hrtime.bigint() - t);
  row('read', `the same ${(written / 1048576).toFixed(1)} MiB (page cache): ${(readNs / 1e6).toFixed(1)} ms, verified byte for byte`);

  const names = sys.readdirSync(work);
  const fsInfo = sys.statfsSync(at);
  const st = sys.statSync(`${work}/big.bin`);
  row('list', `${names.length} entries in ${work}; big.bin: ${st.size} bytes, mode ${(st.mode & 0o777).toString(8)}, inode ${st.ino}`);
  row('statfs', `${((fsInfo.bavail * fsInfo.bsize) / 1048576).toFixed(0)} MiB free of ${((fsInfo.blocks * fsInfo.bsize) / 1048576).toFixed(0)} MiB`);

  // Syscall cost from JavaScript, next to Node's own fstat on a host file.
  const hostFd = openSync(image, 'r');
  const getpidNs = nsPerCall(100_000, () => sys.getpidSync());
  const fstatNs = nsPerCall(100_000, () => sys.fstatSync(bigFd));
  const hostNs = nsPerCall(100_000, () => hostFstatSync(hostFd));
  closeSync(hostFd);
  sys.closeSync(bigFd);
  row('syscalls', `getpidSync ${getpidNs.toFixed(0)} ns, fstatSync ${fstatNs.toFixed(0)} ns; host fs.fstatSync ${hostNs.toFixed(0)} ns (ratio ${(fstatNs / hostNs).toFixed(2)})`);

  t = process.hrtime.bigint();
  k.umount(at);
  k.disks.detach(disk);
  k.halt();
  row('halt', `${ms(t)} (unmounted, written back, kernel stopped)`);
  console.log(`\nThe files stay in ${image}; run again to reuse it, or delete it.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
