// SPDX-License-Identifier: GPL-2.0-only
// The native addon (binding/lkl_binding.cc), loaded once per thread.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Values the addon passes as syscall arguments. */
export type NativeArg = number | bigint | ArrayBufferView | ArrayBuffer | undefined | null;

export interface NativeBinding {
  boot(cmdline: string): number;
  halt(): number;
  /** 0 never booted, 1 running, 2 halted, 3 dead (panicked). */
  state(): number;
  listenConsole(onText: () => void): void;
  takeConsole(): string;
  consoleTail(): string;
  setStatArray(values: Float64Array): void;
  /**
   * The result is a bigint when it is not a safe integer (see
   * syscallExact); elsewhere results are fds, 0 or byte counts bounded by a
   * buffer, always numbers.
   */
  syscall(nr: number, ...args: NativeArg[]): number;
  io(nr: number, fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): number;
  stat(fd: number, path: Uint8Array | undefined, flags: number): number;
  getpid(): number;
  diskAttach(path: string, readOnly: boolean, direct: boolean, latencyNs: number): number;
  diskDetach(id: number): number;
  mount(disk: number, fstype: string, mountPoint: string, flags: number, options: string | undefined): number;
  umount(mountPoint: string): number;
  diskBackend(): string;
  kernelRelease(): string;
  hostThreadCount(): number;
  /** struct lkl_stats, field by field (see STATS_FIELDS in kernel.ts). */
  stats(): number[];
  testPanic(): number;
  /** Syslets (binding/syslets.cc): a ring's [handle, memory]; drain() runs on this thread when completions land. */
  ringCreate(entries: number, drain: () => void): [unknown, ArrayBuffer];
  /** Takes up to count completions the kernel posted; status per completion (0, -1 unknown, 1 + atom with a detached buffer). */
  ringConsume(ring: unknown, count: number, status: Int32Array): number;
  ringNotify(ring: unknown): number;
  ringAbandon(ring: unknown): number;
  ringClose(ring: unknown): number;
  /** [event-loop wake-ups, notify hook calls, in flight, kernel_head, user_tail, flags] */
  ringInfo(ring: unknown): number[];
  ringWakeups(): number;
  /** Submits chains: out[2i] 1 (done; out[2i+1] the last atom), 0 (asynchronous) or -errno. */
  asyncExec(ring: unknown, descs: Float64Array[], refs: unknown[][], out: Float64Array): number;
  /** Lays a chain out once for runs on @ring: [handle (its lifetime; asyncPatch), token (asyncSubmit)]. */
  asyncPrepare(ring: unknown, desc: Float64Array, refs: unknown[]): [unknown, number];
  /** A new value for a plain integer argument of a prepared chain. */
  asyncPatch(prepared: unknown, atom: number, arg: number, value: number): void;
  /**
   * Runs a prepared chain; the outcome goes to the ring's scratch: [1] the
   * last atom's index (done; [0] its result, NaN if unsafe), ASYNC_QUEUED,
   * ASYNC_BUFFER_GONE, or -errno.  With patchAtom >= 0, first sets that
   * plain integer argument (as asyncPatch).
   */
  asyncSubmit(token: number, id: number, patchAtom?: number, patchArg?: number, patchValue?: number): void;
}

export const KERNEL_NEVER_BOOTED = 0;
export const KERNEL_RUNNING = 1;
export const KERNEL_HALTED = 2;
export const KERNEL_DEAD = 3;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(root, 'build', 'Release', 'lkl.node');

function load(): NativeBinding {
  try {
    return createRequire(import.meta.url)(addonPath) as NativeBinding;
  } catch (cause) {
    throw new Error(
      `lkl-node: the native addon ${addonPath} could not be loaded; run "npm install" ` +
        `(or "npm run build") in ${root} to build it`,
      { cause },
    );
  }
}

export const native: NativeBinding = load();

/**
 * native.syscall typed as what it returns for calls whose result may exceed
 * 2^53 (lseek, any raw syscall): a bigint then, never a rounded number.
 */
export const syscallExact = native.syscall as (nr: number, ...args: NativeArg[]) => number | bigint;
