// SPDX-License-Identifier: GPL-2.0-only
// The kernel: boot, halt, disks and mounts.  One per process.

import { KERNEL_DEAD, KERNEL_HALTED, KERNEL_NEVER_BOOTED, KERNEL_RUNNING, native } from './binding.js';
import { KernelConsole } from './console.js';
import { ERROR_LOG_LINES, KernelError, KernelPanicError, invalidType, invalidValue, outOfRange } from './errors.js';
import { mountFlags } from './generated/constants.js';
import { KernelFs } from './fs.js';
import { Sys } from './sys.js';
import { Syslet, SysletRing, ringEntries, type AsyncExecResult, type RingOptions } from './syslet.js';
import * as check from './validate.js';

export interface BootOptions {
  /** Kernel memory: bytes, or a string like '256M' / '1G' (default 64M, at least 16M). */
  memory?: number | string;
  /** Extra kernel command line, e.g. 'loglevel=4'. */
  cmdline?: string;
}

export interface AttachOptions {
  /** Attach read-only: writes fail with EROFS and mounts are read-only. */
  readOnly?: boolean;
  /**
   * Open the image with O_DIRECT: every request goes to the host's device,
   * bypassing the host's page cache. Fails with EOPNOTSUPP where the host
   * file system refuses O_DIRECT (no silent fallback).
   */
  direct?: boolean;
  /**
   * Latency injected into every request, in microseconds (0 to 10000000):
   * a syscall that reads the disk really sleeps in the kernel this long.
   */
  latencyUs?: number;
}

/** Largest injected latency: 10 s. */
const MAX_LATENCY_US = 10_000_000;

export interface MountOptions {
  /** File system type: 'ext4' (also 'ext2', 'ext3' through ext4). */
  type: string;
  /** Absolute mount point in the kernel; created (with parents) when missing. */
  at: string;
  readOnly?: boolean;
  /**
   * File-system options, e.g. 'noatime'.  ext4 gets 'errors=remount-ro' unless
   * these choose an errors= behaviour: a corrupt image cannot panic the kernel.
   */
  options?: string;
}

/** A host file attached as a kernel block device (`/dev/lklN`). */
export interface Disk {
  readonly id: number;
  readonly path: string;
  readonly readOnly: boolean;
  /** Opened with O_DIRECT. */
  readonly direct: boolean;
  /** Injected latency per request, in microseconds. */
  readonly latencyUs: number;
  readonly device: string;
}

/** Counters of the library's mechanics (struct lkl_stats in lkl.h). */
export interface KernelStats {
  /** Syscalls whose caller's task was already current: no switch at all. */
  syscallsFast: number;
  /** Syscalls that made the caller's task current on the caller's own thread. */
  syscallsBorrowed: number;
  /** Syscalls whose caller waited for another thread to hand it the CPU. */
  syscallsHanded: number;
  /** Times the CPU was handed from one host thread to another. */
  cpuHandoffs: number;
  /** Times a thread slept because another held the CPU. */
  cpuLockWaits: number;
  /** Returns of the CPU thread from its idle wait. */
  cpuThreadWakeups: number;
  /** Block requests done at submission (host cache, tmpfs). */
  diskRequestsInline: number;
  /** Block requests queued to the host backend, completed by an interrupt. */
  diskRequestsQueued: number;
  /** Host threads the library started. */
  hostThreadsCreated: number;
  /** Notifications written to the sleeping CPU thread (each wakes it). */
  cpuThreadNotifies: number;
  /** Host alarms set so that the sleeping CPU thread wakes at an earlier deadline. */
  idleAlarms: number;
  /** Spare tasks (each with a pooled stack) created for syslets. */
  sysletContextsCreated: number;
  /** Spares freed because the pool sat idle. */
  sysletContextsFreed: number;
  /** Syslet chains that completed without sleeping (nothing posted). */
  sysletChainsInline: number;
  /** Chains that went asynchronous because an atom was about to sleep. */
  sysletCachemisses: number;
  /** Completions posted to rings. */
  sysletCompletions: number;
  /** Times a completion waited for space in a full ring. */
  sysletRingFullWaits: number;
  /** Calls of the ring notify hook (one per batch of completions). */
  sysletRingNotifications: number;
  /** Block reads of an image in host memory (tmpfs) copied from its mapping, no host syscall. */
  diskReadsMapped: number;
  /** Disk requests the host canceled or interrupted (io_uring does, for a thread that exits), done again synchronously. */
  diskRequestsRedone: number;
}

/** Field order of struct lkl_stats. */
const STATS_FIELDS: readonly (keyof KernelStats)[] = [
  'syscallsFast',
  'syscallsBorrowed',
  'syscallsHanded',
  'cpuHandoffs',
  'cpuLockWaits',
  'cpuThreadWakeups',
  'diskRequestsInline',
  'diskRequestsQueued',
  'hostThreadsCreated',
  'cpuThreadNotifies',
  'idleAlarms',
  'sysletContextsCreated',
  'sysletContextsFreed',
  'sysletChainsInline',
  'sysletCachemisses',
  'sysletCompletions',
  'sysletRingFullWaits',
  'sysletRingNotifications',
  'diskReadsMapped',
  'diskRequestsRedone',
];

export type KernelState = 'running' | 'halted' | 'dead';

const MIN_MEMORY = 16 * 1024 * 1024;

function memoryArgument(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < MIN_MEMORY)
      throw outOfRange('memory', `an integer number of bytes >= ${MIN_MEMORY} (16M)`, value);
    return `${Math.floor(value / 1024)}K`;
  }
  if (typeof value === 'string') {
    const m = /^(\d+)([KMG])$/i.exec(value);
    if (!m) throw invalidValue('memory', "must be a size like '256M' or '1G'", value);
    const bytes = Number(m[1]) * 1024 ** ('KMG'.indexOf(m[2]!.toUpperCase()) + 1);
    if (bytes < MIN_MEMORY) throw outOfRange('memory', '>= 16M', value);
    return value.toUpperCase();
  }
  throw invalidType('memory', "a number of bytes or a string like '256M'", value);
}

let booted: Kernel | undefined;

export class Kernel {
  /** Typed system calls, named like node:fs (`openSync`, `preadSync`, ...). */
  readonly sys: Sys;
  /** node:fs/promises-shaped Promise API over syslets (`k.fs.readFile`, `k.fs.open`...). */
  readonly fs: KernelFs;
  /** Disks: attach host image files as block devices. */
  readonly disks: Disks;
  /** The kernel's console output. */
  readonly console: KernelConsole;
  /** The kernel version, e.g. '6.12.117'. */
  readonly release: string;

  private constructor(owner: boolean) {
    this.console = new KernelConsole(owner);
    this.sys = new Sys(this);
    this.fs = new KernelFs(this);
    this.disks = new Disks(this);
    this.release = native.kernelRelease();
  }

  /**
   * Boots the kernel in this process.  Rejects if a kernel was already booted
   * here (even one halted since): Linux keeps global state, so it is one per
   * process; use worker threads or child processes for more.
   */
  static async boot(options: BootOptions = {}): Promise<Kernel> {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'of type object', options);
    const parts: string[] = [];
    if (options.memory !== undefined) parts.push(`mem=${memoryArgument(options.memory)}`);
    if (options.cmdline !== undefined) {
      const cmdline = check.string('cmdline', options.cmdline);
      if (cmdline.includes('\0')) throw invalidValue('cmdline', 'must not contain null bytes', cmdline);
      parts.push(cmdline);
    }
    const state = native.state();
    if (state !== KERNEL_NEVER_BOOTED)
      throw new Error(
        `Kernel.boot: a kernel was already booted in this process (it is ${stateName(state)}); ` +
          'there is one kernel per process: use Kernel.current() to reach it from another thread',
      );
    // Listen to the console before booting, to keep the boot log.
    const kernel = new Kernel(true);
    const ret = native.boot(parts.join(' '));
    if (ret < 0) {
      if (ret === -114) throw new Error('Kernel.boot: a kernel was already booted in this process');
      throw new KernelError(-ret, { syscall: 'boot', kernelLog: kernel.console.tail(ERROR_LOG_LINES) });
    }
    booted = kernel;
    // Nothing written may be lost: halt (sync, unmount) when the process (or
    // the worker that booted it) exits.
    process.once('exit', () => {
      if (native.state() === KERNEL_RUNNING) native.halt();
    });
    return kernel;
  }

  /**
   * The kernel booted in this process, from any thread: lets a worker
   * thread make syscalls into the kernel its parent booted.
   */
  static current(): Kernel {
    const state = native.state();
    if (state !== KERNEL_RUNNING)
      throw new Error(`Kernel.current: no kernel is running in this process (it is ${stateName(state)}); call Kernel.boot() first`);
    booted ??= new Kernel(false);
    return booted;
  }

  get state(): KernelState {
    return stateName(native.state()) as KernelState;
  }

  /**
   * Shuts the kernel down, leaving every disk image clean: with the kernel's
   * own credentials (whatever uid or capabilities the calls before set), it
   * closes every open file, undoes chdir and chroot, unmounts every mount of
   * a disk (and whatever covers one), writes everything back and stops the
   * kernel's threads.  Calls made afterwards (from any thread) fail with
   * ESHUTDOWN.  Also run automatically at process exit.  Idempotent.
   *
   * Throws a KernelError (EBUSY, or the failed unmount's code) when a disk
   * is still in use after that, e.g. by a call blocked in a worker: the
   * kernel then keeps running (state 'running'; its files were closed) and
   * halt() can be called again.
   */
  halt(): void {
    const state = native.state();
    if (state === KERNEL_HALTED) return;
    const ret = native.halt();
    if (ret < 0 && ret !== -131 && ret !== -108) {
      const error = this.error(-ret, 'halt');
      error.message += ': a disk could not be unmounted, the kernel keeps running (see kernelLog)';
      throw error;
    }
  }

  /** Mounts @disk; returns the mount point. */
  mount(disk: Disk, options: MountOptions): string {
    const d = this.disks.check(disk);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'of type object', options);
    const type = check.cString('options.type', options.type);
    const at = check.cString('options.at', options.at);
    if (!at.startsWith('/')) throw invalidValue('options.at', 'must be an absolute path', at);
    let flags = 0;
    if (options.readOnly !== undefined) {
      if (typeof options.readOnly !== 'boolean') throw invalidType('options.readOnly', 'of type boolean', options.readOnly);
      if (options.readOnly) flags |= mountFlags.MS_RDONLY;
    }
    if (options.options !== undefined) check.cString('options.options', options.options);
    const ret = native.mount(d.id, type, at, flags, options.options);
    if (ret < 0) {
      const error = this.error(-ret, 'mount', at);
      if (error instanceof KernelError && error.code === 'EROFS' && error.kernelLog.some((line) => /recovery required on readonly/.test(line)))
        error.message +=
          " (the image's journal needs recovery: its last writer stopped without unmounting it. Attach it read-write once" +
          " to replay the journal, or mount it read-only with options: 'noload' to read it as of its last checkpoint)";
      throw error;
    }
    return at;
  }

  /** Unmounts the file system at @at, writing everything back first. */
  umount(at: string): void {
    check.cString('at', at);
    const ret = native.umount(at);
    if (ret < 0) throw this.error(-ret, 'umount', at);
  }

  /**
   * A completion ring for asynchronous syslets (docs/syslets.md,
   * "JavaScript"): `entries` a power of two from 1 to 2^20 (default 256).
   * Its memory is native; it belongs to this thread and never keeps the
   * process alive while nothing is in flight.
   */
  createRing(options?: RingOptions): SysletRing {
    return new SysletRing(this, ringEntries(options));
  }

  /** A new, empty chain of system calls for asyncExec. */
  syslet(): Syslet {
    return new Syslet();
  }

  /**
   * Runs @chain.  `{ done: true, result }` when it ran to its end at once
   * (nothing posted; every atom's result is in its handle, read buffers are
   * filled); `{ done: false, completion }` when an atom had to wait: the
   * chain goes on in the kernel and completion settles from @ring.  Throws
   * a KernelError when the kernel refuses the submission (ESHUTDOWN after a
   * halt).
   */
  asyncExec(chain: Syslet, ring: SysletRing): AsyncExecResult {
    if (!(chain instanceof Syslet)) throw invalidType('chain', 'a Syslet from k.syslet()', chain);
    if (!(ring instanceof SysletRing)) throw invalidType('ring', 'a SysletRing from k.createRing()', ring);
    return ring.submitOne(chain);
  }

  /**
   * Submits several chains in one native call; one result per chain, in
   * order.  A chain the kernel refuses gets a rejected completion (the
   * others are submitted all the same).
   */
  asyncExecBatch(chains: readonly Syslet[], ring: SysletRing): AsyncExecResult[] {
    if (!Array.isArray(chains)) throw invalidType('chains', 'an array of Syslets', chains);
    chains.forEach((c, i) => {
      if (!(c instanceof Syslet)) throw invalidType(`chains[${i}]`, 'a Syslet from k.syslet()', c);
    });
    if (!(ring instanceof SysletRing)) throw invalidType('ring', 'a SysletRing from k.createRing()', ring);
    if (chains.length === 0) return [];
    return ring.submit([...chains], true);
  }

  /** Event-loop wake-ups caused by completions, for all rings of the process since it started. */
  ringWakeups(): number {
    return native.ringWakeups();
  }

  /** Host threads the library runs (the CPU thread and disk helpers). */
  hostThreadCount(): number {
    return native.hostThreadCount();
  }

  /**
   * The library's counters since the process started (see docs/node-api.md):
   * how syscalls reached the CPU, CPU handoffs between host threads, wake-ups
   * of the CPU thread, disk requests done inline or queued, host threads
   * created.  Works before boot and after halt; take two readings and
   * subtract them to measure a piece of code.
   */
  stats(): KernelStats {
    const values = native.stats();
    const out = {} as Record<keyof KernelStats, number>;
    STATS_FIELDS.forEach((name, i) => {
      out[name] = values[i] ?? 0;
    });
    return out;
  }

  /** The disk I/O backend in use: 'uring', 'threads', or 'none' before the first attach. */
  get diskBackend(): string {
    return native.diskBackend();
  }

  /**
   * Panics the kernel on purpose, for tests of panic handling.  Works only
   * when booted with `cmdline: 'lkl_test_hooks=1'`; always throws: the
   * KernelPanicError, or an Error when the hook is off.
   */
  panicForTesting(): never {
    const ret = native.testPanic();
    if (ret === -38) {
      const error = new Error("panicForTesting: boot with cmdline 'lkl_test_hooks=1' to enable the test hook");
      (error as Error & { code: string }).code = 'ERR_INVALID_STATE';
      throw error;
    }
    throw this.error(-ret, 'panicForTesting');
  }

  /** @internal  The error for a failed call: KernelError, or KernelPanicError. */
  error(errno: number, syscall: string, path?: string, dest?: string): Error {
    if (typeof errno !== 'number') throw invalidType('errno', 'a number', errno);
    if (typeof syscall !== 'string') throw invalidType('syscall', 'a string', syscall);
    const state = native.state();
    let error: Error;
    if (state === KERNEL_DEAD) {
      error = new KernelPanicError(syscall, this.console.tail(ERROR_LOG_LINES));
    } else {
      error = new KernelError(errno, { syscall, path, dest, kernelLog: this.console.tail(ERROR_LOG_LINES) });
      if (state !== KERNEL_RUNNING && errno === 108)
        error.message = `ESHUTDOWN: the kernel is not running (${stateName(state)}), ${syscall}`;
    }
    // The stack starts at the API method that failed (callers may trim more).
    Error.captureStackTrace(error, Kernel.prototype.error);
    return error;
  }
}

function stateName(state: number): string {
  switch (state) {
    case KERNEL_NEVER_BOOTED:
      return 'not booted';
    case KERNEL_RUNNING:
      return 'running';
    case KERNEL_HALTED:
      return 'halted';
    default:
      return 'dead';
  }
}

export class Disks {
  readonly #kernel: Kernel;
  readonly #attached = new Map<number, Disk>();

  /** @internal */
  constructor(kernel: Kernel) {
    this.#kernel = kernel;
  }

  /** Attaches host file @path (an image) as /dev/lklN. */
  attach(path: string, options: AttachOptions = {}): Disk {
    check.cString('path', path);
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'of type object', options);
    const readOnly = options.readOnly ?? false;
    if (typeof readOnly !== 'boolean') throw invalidType('options.readOnly', 'of type boolean', readOnly);
    const direct = options.direct ?? false;
    if (typeof direct !== 'boolean') throw invalidType('options.direct', 'of type boolean', direct);
    const latencyUs = options.latencyUs ?? 0;
    if (typeof latencyUs !== 'number') throw invalidType('options.latencyUs', 'of type number', latencyUs);
    if (!Number.isFinite(latencyUs) || latencyUs < 0 || latencyUs > MAX_LATENCY_US)
      throw outOfRange('options.latencyUs', `a number of microseconds >= 0 && <= ${MAX_LATENCY_US}`, latencyUs);
    const id = native.diskAttach(path, readOnly, direct, Math.round(latencyUs * 1000));
    if (id < 0) {
      const error = this.#kernel.error(-id, 'attach', path);
      if (direct && (error as KernelError).code === 'EOPNOTSUPP')
        error.message = `${error.message} (the host file system refuses O_DIRECT; attach without { direct: true })`;
      else if ((error as KernelError).code === 'EINVAL')
        error.message = `${error.message} (an image is a non-empty regular file or a block device)`;
      else if ((error as KernelError).code === 'ENOSPC')
        error.message = `${error.message} (64 disks are attached already: detach one first)`;
      throw error;
    }
    const disk: Disk = Object.freeze({ id, path, readOnly, direct, latencyUs, device: `/dev/lkl${id}` });
    this.#attached.set(id, disk);
    return disk;
  }

  /** Detaches @disk; fails with EBUSY while it is mounted. */
  detach(disk: Disk): void {
    const d = this.check(disk);
    const ret = native.diskDetach(d.id);
    if (ret < 0) throw this.#kernel.error(-ret, 'detach', d.path);
    this.#attached.delete(d.id);
  }

  /** The disks attached through this handle. */
  list(): Disk[] {
    return [...this.#attached.values()];
  }

  /** @internal */
  check(disk: unknown): Disk {
    if (typeof disk !== 'object' || disk === null || typeof (disk as Disk).id !== 'number')
      throw invalidType('disk', 'a Disk returned by k.disks.attach()', disk);
    const known = this.#attached.get((disk as Disk).id);
    if (known !== disk) throw invalidValue('disk', 'is not attached (detached already, or from another kernel handle)', disk);
    return known;
  }
}
