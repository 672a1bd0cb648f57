// SPDX-License-Identifier: GPL-2.0-only
//
// `npm run bench`: the cost of synchronous kernel calls from JavaScript,
// each next to a host baseline measured in the same run (Node's own fs on a
// host file), with the ratio.  Medians of several trials.  Writes
// bench/results/sync.json.  Not a test: nothing here asserts a time.

import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel, syscalls } from '../dist/index.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 7);

/** Median ns per call of @fn over TRIALS trials of CALLS calls (after a warm-up). */
function measure(fn) {
  for (let i = 0; i < CALLS / 10; i++) fn();
  const trials = [];
  for (let t = 0; t < TRIALS; t++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) fn();
    trials.push(Number(process.hrtime.bigint() - start) / CALLS);
  }
  trials.sort((a, b) => a - b);
  return { median: trials[Math.floor(TRIALS / 2)], min: trials[0], max: trials[TRIALS - 1] };
}

const hostDir = mkdtempSync(join(tmpdir(), 'lkl-bench-'));
const hostFile = join(hostDir, 'file');
writeFileSync(hostFile, Buffer.alloc(1 << 20, 1));
const hostFd = openSync(hostFile, 'r');

const k = await Kernel.boot({ memory: '256M' });
k.sys.mkdirSync('/tmp');
k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from('/tmp\0'), Buffer.from('tmpfs\0'), 0, 0);
const fd = k.sys.openSync('/tmp/file', 'w+');
k.sys.writeSync(fd, Buffer.alloc(1 << 20, 1));
const buffer = Buffer.alloc(4096);

const host = {
  fstat: measure(() => fstatSync(hostFd)),
  pread4k: measure(() => readSync(hostFd, buffer, 0, 4096, 8192)),
};
const rows = [
  // [name, our figure, host baseline name, host figure]
  ['k.sys.getpidSync()', measure(() => k.sys.getpidSync()), 'fs.fstatSync(fd)', host.fstat],
  ['k.sys.fstatSync(fd)', measure(() => k.sys.fstatSync(fd)), 'fs.fstatSync(fd)', host.fstat],
  ['k.sys.preadSync 4 KiB (tmpfs)', measure(() => k.sys.preadSync(fd, buffer, 0, 4096, 8192)), 'fs.readSync 4 KiB (host file, cached)', host.pread4k],
  ['k.sys.syscallSync(getppid)', measure(() => k.sys.syscallSync(syscalls.getppid)), 'fs.fstatSync(fd)', host.fstat],
];
k.sys.closeSync(fd);
k.halt();
closeSync(hostFd);
rmSync(hostDir, { recursive: true, force: true });

const results = rows.map(([name, ours, baseline, theirs]) => ({
  name,
  ns: Number(ours.median.toFixed(1)),
  nsMin: Number(ours.min.toFixed(1)),
  nsMax: Number(ours.max.toFixed(1)),
  baseline,
  baselineNs: Number(theirs.median.toFixed(1)),
  ratio: Number((ours.median / theirs.median).toFixed(3)),
}));

console.log(`lkl-node sync-call benchmark: Linux ${k.release}, Node ${process.version}, ${CALLS} calls x ${TRIALS} trials (median)\n`);
const header = ['call', 'lkl ns', 'host baseline', 'host ns', 'ratio'];
const table = results.map((r) => [r.name, r.ns.toFixed(0), r.baseline, r.baselineNs.toFixed(0), r.ratio.toFixed(2)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i === 1 || i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'sync.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify({ date: new Date().toISOString(), node: process.version, kernel: k.release, calls: CALLS, trials: TRIALS, results }, null, 2) + '\n',
);
console.log(`\nwrote ${out}`);
