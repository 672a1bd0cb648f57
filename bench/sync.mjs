// SPDX-License-Identifier: GPL-2.0-only
//
// `npm run bench`: the cost of synchronous kernel calls from JavaScript,
// each next to a host baseline measured in the same run (Node's own fs on a
// host file), with the ratio.  Medians of several trials.  Writes
// bench/results/sync.json and a bar chart, bench/results/sync.svg.  Not a
// test: nothing here asserts a time.

import { closeSync, fstatSync, statSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
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
  stat: measure(() => statSync(hostFile)),
  openClose: measure(() => closeSync(openSync(hostFile, 'r'))),
};
const rows = [
  // [name, our figure, host baseline name, host figure]
  ['k.sys.getpidSync()', measure(() => k.sys.getpidSync()), 'fs.fstatSync(fd)', host.fstat],
  ['k.sys.fstatSync(fd)', measure(() => k.sys.fstatSync(fd)), 'fs.fstatSync(fd)', host.fstat],
  ['k.sys.preadSync 4 KiB (tmpfs)', measure(() => k.sys.preadSync(fd, buffer, 0, 4096, 8192)), 'fs.readSync 4 KiB (host file, cached)', host.pread4k],
  ['k.sys.syscallSync(getppid)', measure(() => k.sys.syscallSync(syscalls.getppid)), 'fs.fstatSync(fd)', host.fstat],
  ['k.sys.statSync(path) (tmpfs)', measure(() => k.sys.statSync('/tmp/file')), 'fs.statSync(path)', host.stat],
  ['k.sys.openSync + closeSync', measure(() => k.sys.closeSync(k.sys.openSync('/tmp/file'))), 'fs.openSync + closeSync', host.openClose],
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
writeFileSync(out.replace(/\.json$/, '.svg'), chart(results));
console.log(`\nwrote ${out} and sync.svg`);

/** Horizontal bars: each call (blue) above its host baseline (grey), in ns. */
function chart(rows) {
  const width = 760;
  const left = 300;
  const barHeight = 14;
  const rowHeight = 2 * barHeight + 22;
  const max = Math.max(...rows.flatMap((r) => [r.ns, r.baselineNs]));
  const scale = (ns) => ((width - left - 80) * ns) / max;
  const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = rows.map((r, i) => {
    const y = 40 + i * rowHeight;
    return [
      `<text x="${left - 8}" y="${y + barHeight - 2}" text-anchor="end">${escape(r.name)}</text>`,
      `<rect x="${left}" y="${y}" width="${scale(r.ns).toFixed(1)}" height="${barHeight}" fill="#3b6fb6"/>`,
      `<text x="${left + scale(r.ns) + 4}" y="${y + barHeight - 2}">${r.ns.toFixed(0)} ns (x${r.ratio.toFixed(2)})</text>`,
      `<text x="${left - 8}" y="${y + 2 * barHeight}" text-anchor="end" fill="#666">${escape(r.baseline)}</text>`,
      `<rect x="${left}" y="${y + barHeight + 2}" width="${scale(r.baselineNs).toFixed(1)}" height="${barHeight}" fill="#aaa"/>`,
      `<text x="${left + scale(r.baselineNs) + 4}" y="${y + 2 * barHeight}" fill="#666">${r.baselineNs.toFixed(0)} ns</text>`,
    ].join('\n');
  });
  const height = 50 + rows.length * rowHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<text x="10" y="20" font-size="14">lkl-node sync calls vs host baseline (ns per call, median; lower is better)</text>
${parts.join('\n')}
</svg>
`;
}
