// SPDX-License-Identifier: GPL-2.0-only
// lkl-node: the Linux 6.12 kernel as a library inside Node.js.

export { Kernel, Disks } from './kernel.js';
export type { KernelStats } from './kernel.js';
export type { BootOptions, AttachOptions, MountOptions, Disk, KernelState } from './kernel.js';
export { Sys, socketConstants } from './sys.js';
export type { ReadOptions, ReaddirOptions, MkdirOptions, Whence } from './sys.js';
export { Stats, BigIntStats, Dirent } from './stats.js';
export { KernelFs, FileHandle, Dir, AbortError } from './fs.js';
export type { PathLike, ReadFileOptions, WriteFileOptions, FsMkdirOptions, RmOptions, FsReaddirOptions, OpenDirOptions, ReadVResult, WriteVResult, FileReadOptions, FileReadResult, FileWriteResult } from './fs.js';
export { Syslet, SysletAtom, SysletResult, SysletRing } from './syslet.js';
export type { AtomOptions, IoAtomOptions, StopOn, SysletCompletion, AsyncExecResult, RingOptions, RingCloseOptions } from './syslet.js';
export type { StatFs } from './stats.js';
export { KernelError, KernelPanicError } from './errors.js';
export { KernelConsole } from './console.js';
export { createExt4Image } from './images.js';
export type { Ext4ImageOptions } from './images.js';
import { socketConstants } from './sys.js';
import { syscallNumbers, errnoNumbers, openFlags, atFlags, modeBits, mountFlags } from './generated/constants.js';

/** Syscall numbers of the kernel's table, by name (for k.sys.syscallSync). */
export const syscalls = syscallNumbers;
/** Constants: errno numbers, O_*, AT_*, S_I*, MS_* from the kernel's headers; AF_UNIX and SOCK_*. */
export const constants = Object.freeze({ ...errnoNumbers, ...openFlags, ...atFlags, ...modeBits, ...mountFlags, ...socketConstants });
