// SPDX-License-Identifier: GPL-2.0-only
// Errors thrown by the API: kernel errors with Node's fields, the panic error,
// and the TypeError/RangeError helpers of argument validation.

import { errnoByNumber } from './generated/constants.js';

/** How many kernel log lines an error carries. */
export const ERROR_LOG_LINES = 20;

export interface KernelErrorDetails {
  syscall: string;
  path?: string;
  dest?: string;
  kernelLog?: string[];
}

/** The name ('ENOENT') and message ('No such file or directory') of an errno. */
export function errnoName(errno: number): [string, string] {
  const entry = errnoByNumber[errno];
  return entry ? [entry[0], entry[1]] : [`E${errno}`, `Unknown error ${errno}`];
}

/**
 * A syscall failed in the kernel: the same fields as Node's fs errors
 * (`code`, `errno` (negative, as Node), `syscall`, `path`, `dest`), plus the
 * last kernel log lines.
 */
export class KernelError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;
  readonly kernelLog: string[];

  constructor(errno: number, details: KernelErrorDetails) {
    const [code, text] = errnoName(errno);
    let message = `${code}: ${text.charAt(0).toLowerCase()}${text.slice(1)}, ${details.syscall}`;
    if (details.path !== undefined) message += ` '${details.path}'`;
    if (details.dest !== undefined) message += ` -> '${details.dest}'`;
    // ext4's codes for a bad checksum and for a broken structure on disk.
    if (code === 'EBADMSG' || code === 'EUCLEAN') message += ' (the kernel found corrupt file-system metadata; see kernelLog)';
    super(message);
    this.name = 'KernelError';
    this.code = code;
    this.errno = -errno;
    this.syscall = details.syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.dest !== undefined) this.dest = details.dest;
    this.kernelLog = details.kernelLog ?? [];
  }
}

/** The kernel panicked: it is dead for the rest of this process. */
export class KernelPanicError extends Error {
  readonly code = 'EKERNELPANIC';
  readonly syscall?: string;
  readonly kernelLog: string[];

  constructor(syscall: string | undefined, kernelLog: string[]) {
    const panic = kernelLog.find((line) => /Kernel panic/.test(line));
    super(
      `the kernel panicked${syscall ? ` (during ${syscall})` : ''}; it cannot be used again in this process` +
        (panic ? `: ${panic.replace(/^\[[^\]]*\]\s*/, '')}` : ''),
    );
    this.name = 'KernelPanicError';
    if (syscall !== undefined) this.syscall = syscall;
    this.kernelLog = kernelLog;
  }
}

/** A short description of a received value, for TypeError messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  let shown = String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  if (typeof value === 'string') shown = `'${shown}'`;
  if (typeof value === 'bigint') shown += 'n';
  return `type ${typeof value} (${shown})`;
}

export function invalidType(name: string, expected: string, value: unknown): TypeError {
  const error = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(value)}`);
  (error as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

export function outOfRange(name: string, expected: string, value: unknown): RangeError {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  const error = new RangeError(`The value of "${name}" is out of range. It must be ${expected}. Received ${shown}`);
  (error as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
  return error;
}

export function invalidValue(name: string, reason: string, value: unknown): TypeError {
  const error = new TypeError(`The argument "${name}" ${reason}. Received ${describe(value)}`);
  (error as TypeError & { code: string }).code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** What the API leaves out, said rather than ignored: @what is not implemented in @where. */
export function notImplemented(what: string, where: 'k.fs' | 'k.sys'): Error {
  const error = new Error(`${what} is not implemented in ${where}`);
  (error as Error & { code: string }).code = 'ERR_METHOD_NOT_IMPLEMENTED';
  return error;
}
