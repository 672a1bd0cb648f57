// SPDX-License-Identifier: GPL-2.0-only
// Syslets and the process: an idle ring never keeps it alive, a chain in
// flight does, and garbage collection while chains are in flight (run with
// --expose-gc in a child process) loses nothing and crashes nothing.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/syslet-child.mjs', import.meta.url));

/** Runs a scenario; throws if the child fails or does not exit by itself. */
function child(scenario: string, flags: string[] = []): Record<string, unknown> {
  const stdout = execFileSync(process.execPath, [...flags, script, scenario], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // Not a measurement: a child that never exits is the failure.
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('syslets and the process', () => {
  it('a process with a ring and one asynchronous chain exits on its own once it completed', () => {
    expect(child('idle')).toEqual({ done: false, result: 1, inFlight: 0 });
  });

  it('a chain in flight keeps the process alive until it completes', () => {
    expect(child('pending')).toEqual({ result: 4, text: 'late' });
  });

  it('garbage collection with chains in flight: every completion arrives, dropped idle rings are finalized without harm', () => {
    const out = child('gc', ['--expose-gc']);
    expect(out.results).toEqual(Array(20).fill(4));
    expect(out.kept).toBe('AAAA');
  });
});
