// SPDX-License-Identifier: GPL-2.0-only
// Disk images for the kernel's file systems, made with the host's e2fsprogs.

import { execFileSync } from 'node:child_process';
import { accessSync, constants, closeSync, openSync, ftruncateSync, existsSync } from 'node:fs';
import { invalidType, invalidValue, outOfRange } from './errors.js';

export interface Ext4ImageOptions {
  /** Image size in bytes (at least 4 MiB). */
  size: number;
  /** Replace an existing file (default: refuse). */
  overwrite?: boolean;
  /** Volume label. */
  label?: string;
  /** File-system block size (default 4096; mke2fs alone picks 1024 for small images). */
  blockSize?: 1024 | 2048 | 4096;
}

const MIN_IMAGE = 4 * 1024 * 1024;

function findMke2fs(): string {
  for (const dir of ['/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(':')]) {
    const candidate = `${dir}/mke2fs`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  throw new Error('createExt4Image: mke2fs was not found; install e2fsprogs (apt-get install e2fsprogs)');
}

/**
 * Creates a sparse host file of @options.size bytes at @path holding an empty
 * ext4 file system (mke2fs -t ext4), ready for k.disks.attach().
 */
export function createExt4Image(path: string, options: Ext4ImageOptions): void {
  if (typeof path !== 'string' || path === '') throw invalidType('path', 'a non-empty string', path);
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'of type object', options);
  const { size, overwrite = false, label, blockSize = 4096 } = options;
  if (blockSize !== 1024 && blockSize !== 2048 && blockSize !== 4096)
    throw invalidValue('options.blockSize', 'must be 1024, 2048 or 4096', blockSize);
  if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw invalidType('options.size', 'an integer number of bytes', size);
  if (size < MIN_IMAGE) throw outOfRange('options.size', `>= ${MIN_IMAGE}`, size);
  if (label !== undefined && (typeof label !== 'string' || label.length > 16))
    throw invalidValue('options.label', 'must be a string of at most 16 characters', label);
  if (!overwrite && existsSync(path)) throw new Error(`createExt4Image: ${path} exists (pass overwrite: true to replace it)`);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  const args = ['-q', '-F', '-t', 'ext4', '-b', String(blockSize)];
  if (label) args.push('-L', label);
  args.push(path);
  execFileSync(findMke2fs(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
