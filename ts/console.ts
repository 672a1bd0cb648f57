// SPDX-License-Identifier: GPL-2.0-only
// The kernel's console: every line goes to the `debug` namespace
// `lkl:console` and into a bounded in-memory tail that errors carry.

import createDebug from 'debug';
import { native } from './binding.js';
import { integer } from './validate.js';

const log = createDebug('lkl:console');

/** Lines kept in memory. */
export const CONSOLE_LINES_KEPT = 2000;

export class KernelConsole {
  #lines: string[] = [];
  #partial = '';
  #count = 0;
  readonly #owner: boolean;

  /**
   * @internal  The thread that booted the kernel owns its console stream;
   * other threads (workers) read only the shared recent tail.
   */
  constructor(owner: boolean) {
    this.#owner = owner;
    if (owner) native.listenConsole(() => this.#pull());
  }

  #pull(): void {
    const text = native.takeConsole();
    if (!text) return;
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop()!;
    for (const line of parts) {
      this.#count++;
      this.#lines.push(line);
      log('%s', line);
    }
    if (this.#lines.length > CONSOLE_LINES_KEPT)
      this.#lines.splice(0, this.#lines.length - CONSOLE_LINES_KEPT);
  }

  /** Every complete line printed so far (the last CONSOLE_LINES_KEPT). */
  lines(): string[] {
    if (!this.#owner) return tailLines(native.consoleTail());
    this.#pull();
    return this.#lines.slice();
  }

  /** Lines printed since the kernel booted (including those no longer kept). */
  get lineCount(): number {
    if (this.#owner) this.#pull();
    return this.#count;
  }

  /** The last @n lines. */
  tail(n: number): string[] {
    const count = integer('n', n, 0, Number.MAX_SAFE_INTEGER);
    if (count === 0) return [];
    if (!this.#owner) return tailLines(native.consoleTail()).slice(-count);
    this.#pull();
    return this.#lines.slice(-count);
  }
}

function tailLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop(); // the line being printed
  return lines;
}
