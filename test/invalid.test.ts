// SPDX-License-Identifier: GPL-2.0-only
// Misuse: a table of invalid calls, each with the error it must raise, and
// checks that no call can make the kernel write outside the buffer it got.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, syscalls } from '../dist/index.js';
import { bootForTests, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let fd: number; // a file with 4 KiB of data
let dirfd: number;
let image: string; // an ext4 image, attached by the mount cases
const MNT = '/mnt/invalid';

beforeAll(async () => {
  k = await bootForTests();
  k.sys.mkdirSync(MNT, { recursive: true });
  k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from(`${MNT}\0`), Buffer.from('tmpfs\0'), 0, 0);
  fd = k.sys.openSync(`${MNT}/data`, 'w+');
  k.sys.writeSync(fd, Buffer.alloc(4096, 0x5a));
  dirfd = k.sys.openSync(MNT, 'r');
  image = makeExt4Image(8 * 1024 * 1024, 'invalid.img');
});

/** Calls @fn with a freshly attached disk, detached afterwards. */
function withDisk(fn: (disk: ReturnType<Kernel['disks']['attach']>) => unknown): unknown {
  const disk = k.disks.attach(image);
  try {
    return fn(disk);
  } finally {
    k.disks.detach(disk);
  }
}

const detached = (): Buffer => {
  const b = Buffer.from(new ArrayBuffer(64));
  structuredClone(b.buffer, { transfer: [b.buffer] });
  return b;
};

type Expect =
  | { type: typeof TypeError | typeof RangeError; message: RegExp }
  | { code: string };

// [description, call, expected error]
const cases: Array<[string, () => unknown, Expect]> = [
  // file descriptors
  ['fd as a string', () => k.sys.closeSync('3' as never), { type: TypeError, message: /"fd" argument must be of type number. Received type string \('3'\)/ }],
  ['fd negative', () => k.sys.fstatSync(-1), { type: RangeError, message: /"fd" is out of range. It must be >= 0 && <= 2147483647. Received -1/ }],
  ['fd fractional', () => k.sys.fstatSync(1.5), { type: RangeError, message: /"fd" is out of range. It must be an integer. Received 1.5/ }],
  ['fd too large', () => k.sys.readSync(2 ** 31, Buffer.alloc(1)), { type: RangeError, message: /"fd" is out of range/ }],
  ['fd NaN', () => k.sys.fsyncSync(NaN), { type: RangeError, message: /"fd"/ }],
  ['fd undefined', () => k.sys.dupSync(undefined as never), { type: TypeError, message: /"fd" argument must be of type number. Received undefined/ }],
  ['fd a bigint', () => k.sys.closeSync(3n as never), { type: TypeError, message: /Received type bigint \(3n\)/ }],
  ['fd not open', () => k.sys.fstatSync(4000), { code: 'EBADF' }],
  ['close a closed fd', () => k.sys.closeSync(3999), { code: 'EBADF' }],
  ['write to a read-only fd', () => k.sys.writeSync(dirfd, 'x'), { code: 'EBADF' }],
  ['read a directory', () => k.sys.readSync(dirfd, Buffer.alloc(8)), { code: 'EISDIR' }],
  ['fsync a pipe end that is closed', () => k.sys.fsyncSync(3998), { code: 'EBADF' }],
  // buffers
  ['buffer a string', () => k.sys.readSync(fd, 'abc' as never), { type: TypeError, message: /"buffer" argument must be an instance of Buffer, TypedArray, or DataView. Received type string/ }],
  ['buffer a plain array', () => k.sys.readSync(fd, [1, 2] as never), { type: TypeError, message: /Received an instance of Array/ }],
  ['buffer an ArrayBuffer', () => k.sys.readSync(fd, new ArrayBuffer(8) as never), { type: TypeError, message: /Received an instance of ArrayBuffer/ }],
  ['buffer null', () => k.sys.preadSync(fd, null as never, 0, 1, 0), { type: TypeError, message: /Received null/ }],
  ['buffer detached (read)', () => k.sys.readSync(fd, detached()), { type: TypeError, message: /detached buffer/ }],
  ['buffer detached (write)', () => k.sys.writeSync(fd, detached()), { type: TypeError, message: /detached buffer/ }],
  ['buffer detached (syscallSync)', () => k.sys.syscallSync(syscalls.read, fd, detached(), 8), { type: TypeError, message: /detached buffer/ }],
  ['offset negative', () => k.sys.readSync(fd, Buffer.alloc(8), -1, 1, 0), { type: RangeError, message: /"offset" is out of range. It must be >= 0 && <= 8. Received -1/ }],
  ['offset past the end', () => k.sys.readSync(fd, Buffer.alloc(8), 9, 0, 0), { type: RangeError, message: /"offset" is out of range/ }],
  ['length past the end', () => k.sys.readSync(fd, Buffer.alloc(8), 4, 5, 0), { type: RangeError, message: /"length" is out of range. It must be >= 0 && <= 4. Received 5/ }],
  ['length negative', () => k.sys.writeSync(fd, Buffer.alloc(8), 0, -1), { type: RangeError, message: /"length" is out of range/ }],
  ['length huge', () => k.sys.preadSync(fd, Buffer.alloc(8), 0, 2 ** 40, 0), { type: RangeError, message: /"length" is out of range/ }],
  ['length a string', () => k.sys.readSync(fd, Buffer.alloc(8), 0, '4' as never, 0), { type: TypeError, message: /"length" argument must be of type number/ }],
  ['offset in options past the end', () => k.sys.readSync(fd, Buffer.alloc(8), { offset: 100 }), { type: RangeError, message: /"offset"/ }],
  ['position negative', () => k.sys.preadSync(fd, Buffer.alloc(8), 0, 8, -5), { type: RangeError, message: /"position" is out of range/ }],
  ['position not safe', () => k.sys.pwriteSync(fd, Buffer.alloc(8), 0, 8, 2 ** 60), { type: RangeError, message: /"position"/ }],
  ['position beyond 2^63 - 1', () => k.sys.preadSync(fd, Buffer.alloc(8), 0, 8, 1n << 63n), { type: RangeError, message: /"position" is out of range. It must be >= 0 && <= 9223372036854775807/ }],
  ['position a string', () => k.sys.preadSync(fd, Buffer.alloc(8), 0, 8, '0' as never), { type: TypeError, message: /"position" argument must be of type number/ }],
  // paths
  ['path a number', () => k.sys.statSync(42 as never), { type: TypeError, message: /"path" argument must be of type string or an instance of Buffer or URL. Received type number \(42\)/ }],
  ['path with a NUL byte', () => k.sys.openSync('/tmp/a\0b'), { type: TypeError, message: /without null bytes/ }],
  ['path empty', () => k.sys.unlinkSync(''), { code: 'ENOENT' }],
  ['path an object', () => k.sys.mkdirSync({} as never), { type: TypeError, message: /Received an instance of Object/ }],
  ['path a non-file URL', () => k.sys.statSync(new URL('http://example.com/')), { type: TypeError, message: /file: URL/ }],
  ['path too long', () => k.sys.statSync('/' + 'a'.repeat(5000)), { code: 'ENAMETOOLONG' }],
  ['path component too long', () => k.sys.openSync(`${MNT}/${'n'.repeat(300)}`, 'w'), { code: 'ENAMETOOLONG' }],
  ['path missing', () => k.sys.openSync('/no/such/file'), { code: 'ENOENT' }],
  ['path through a file', () => k.sys.statSync(`${MNT}/data/inside`), { code: 'ENOTDIR' }],
  ['rmdir a file', () => k.sys.rmdirSync(`${MNT}/data`), { code: 'ENOTDIR' }],
  ['rename across file systems', () => k.sys.renameSync(`${MNT}/data`, '/data'), { code: 'EXDEV' }],
  ['readlink of a regular file', () => k.sys.readlinkSync(`${MNT}/data`), { code: 'EINVAL' }],
  // flags, modes, whence, times
  ['open flags unknown string', () => k.sys.openSync(`${MNT}/x`, 'rw'), { type: TypeError, message: /"flags" is invalid/ }],
  ['open flags negative', () => k.sys.openSync(`${MNT}/x`, -1), { type: RangeError, message: /"flags" is out of range/ }],
  ['open mode not octal', () => k.sys.openSync(`${MNT}/x`, 'w', '9'), { type: TypeError, message: /"mode"/ }],
  ['open mode beyond 32 bits', () => k.sys.openSync(`${MNT}/x`, 'w', 2 ** 32), { type: RangeError, message: /"mode" is out of range. It must be >= 0 && <= 4294967295/ }],
  ['chmod without a mode', () => k.sys.chmodSync(`${MNT}/data`, undefined as never), { type: TypeError, message: /"mode" argument must be of type number or an octal string/ }],
  ['lseek whence unknown', () => k.sys.lseekSync(fd, 0, 'start' as never), { type: TypeError, message: /"whence"/ }],
  ['lseek whence out of range', () => k.sys.lseekSync(fd, 0, 7), { type: RangeError, message: /"whence" is out of range/ }],
  ['lseek offset fractional', () => k.sys.lseekSync(fd, 0.5), { type: RangeError, message: /"offset"/ }],
  ['lseek before the start', () => k.sys.lseekSync(fd, -10, 'set'), { code: 'EINVAL' }],
  ['ftruncate fractional', () => k.sys.ftruncateSync(fd, -1.5), { type: RangeError, message: /"length" is out of range. It must be an integer/ }],
  ['utimes with an object', () => k.sys.utimesSync(`${MNT}/data`, {} as never, 0), { type: TypeError, message: /"atime" argument must be a finite number of seconds/ }],
  ['utimes with Infinity', () => k.sys.utimesSync(`${MNT}/data`, 0, Infinity), { type: TypeError, message: /"mtime" argument must be a finite number of seconds/ }],
  ['mkdir recursive not boolean', () => k.sys.mkdirSync(`${MNT}/r`, { recursive: 'yes' as never }), { type: TypeError, message: /"options.recursive"/ }],
  ['readdir options a number', () => k.sys.readdirSync(MNT, 5 as never), { type: TypeError, message: /"options" argument must be of type object/ }],
  ['writeSync with an unknown encoding', () => k.sys.writeSync(fd, 'x', 0, 'klingon' as never), { type: TypeError, message: /"encoding"/ }],
  // raw syscalls
  ['syscallSync nr a string', () => k.sys.syscallSync('getpid' as never), { type: TypeError, message: /"nr" argument must be of type number/ }],
  ['syscallSync nr negative', () => k.sys.syscallSync(-1), { type: RangeError, message: /"nr" is out of range/ }],
  ['syscallSync internal library number', () => k.sys.syscallSync(0x10010, 0, 0, 0), { type: RangeError, message: /"nr" is out of range. It must be >= 0 && <= 65535. Received 65552/ }],
  ['syscallSync exit refused', () => k.sys.syscallSync(syscalls.exit, 0), { type: TypeError, message: /exit, which would end the calling task/ }],
  ['syscallSync set_tid_address refused', () => k.sys.syscallSync(syscalls.set_tid_address, Buffer.alloc(4)), { type: TypeError, message: /set_tid_address, which would .* keep a pointer past the call/ }],
  ['syscallSync reboot refused', () => k.sys.syscallSync(syscalls.reboot, 0, 0, 0, 0), { type: TypeError, message: /reboot/ }],
  ['syscallSync seven arguments', () => k.sys.syscallSync(syscalls.getpid, 1, 2, 3, 4, 5, 6, 7 as never), { type: RangeError, message: /"args.length" is out of range/ }],
  ['syscallSync a string argument', () => k.sys.syscallSync(syscalls.getpid, 'x' as never), { type: TypeError, message: /"args\[0\]" argument must be an integer/ }],
  ['syscallSync a float argument', () => k.sys.syscallSync(syscalls.close, 1.5), { type: RangeError, message: /"args\[0\]"/ }],
  ['syscallSync a bigint beyond 64 bits', () => k.sys.syscallSync(syscalls.close, 1n << 65n), { type: RangeError, message: /64-bit/ }],
  ['syscallSync unknown number', () => k.sys.syscallSync(4000), { code: 'ENOSYS' }],
  ['syscallSync an integer used as a pointer', () => k.sys.syscallSync(syscalls.uname, 0x7fff0000), { code: 'EFAULT' }],
  ['syscallSync a path given as an address', () => k.sys.syscallSync(syscalls.openat, -100, 4096, 0, 0), { code: 'EFAULT' }],
  ['syscallSync fstat into a short buffer', () => k.sys.syscallSync(syscalls.fstat, fd, Buffer.alloc(16)), { code: 'EFAULT' }],
  ['syscallSync uname into a short buffer', () => k.sys.syscallSync(syscalls.uname, Buffer.alloc(10)), { code: 'EFAULT' }],
  ['syscallSync a path without a NUL', () => k.sys.syscallSync(syscalls.mkdirat, -100, Buffer.from(`${MNT}/nonul`), 0o755), { code: 'EFAULT' }],
  // kernel, disks, mounts
  ['boot twice', () => Kernel.boot(), { type: Error as never, message: /already booted in this process/ }],
  ['attach a path that is a number', () => k.disks.attach(5 as never), { type: TypeError, message: /"path" argument must be of type string/ }],
  ['attach readOnly not boolean', () => k.disks.attach('/x', { readOnly: 1 as never }), { type: TypeError, message: /"options.readOnly"/ }],
  ['attach direct not boolean', () => k.disks.attach('/x', { direct: 'yes' as never }), { type: TypeError, message: /"options.direct" argument must be of type boolean/ }],
  ['attach latencyUs not a number', () => k.disks.attach('/x', { latencyUs: '5' as never }), { type: TypeError, message: /"options.latencyUs" argument must be of type number/ }],
  ['attach latencyUs negative', () => k.disks.attach('/x', { latencyUs: -1 }), { type: RangeError, message: /"options.latencyUs" is out of range/ }],
  ['attach latencyUs above 10 s', () => k.disks.attach('/x', { latencyUs: 10_000_001 }), { type: RangeError, message: /<= 10000000/ }],
  ['attach latencyUs NaN', () => k.disks.attach('/x', { latencyUs: NaN }), { type: RangeError, message: /"options.latencyUs"/ }],
  ['mount a made-up disk', () => k.mount({ id: 0 } as never, { type: 'ext4', at: '/mnt/a' }), { type: TypeError, message: /"disk" is not attached/ }],
  ['mount without a disk', () => k.mount(undefined as never, { type: 'ext4', at: '/mnt/a' }), { type: TypeError, message: /"disk" argument must be a Disk/ }],
  ['umount a number', () => k.umount(1 as never), { type: TypeError, message: /"at" argument must be of type string/ }],
  // A NUL in a string that goes to C would cut it there: another file, another mount point.
  ['attach a path with a NUL byte', () => k.disks.attach(`${image}\0.other`), { type: TypeError, message: /"path" must be a string without null bytes/ }],
  ['mount at a path with a NUL byte', () => withDisk((d) => k.mount(d, { type: 'ext4', at: '/mnt/a\0b' })), { type: TypeError, message: /"options.at" must be a string without null bytes/ }],
  ['mount a type with a NUL byte', () => withDisk((d) => k.mount(d, { type: 'ext4\0x', at: '/mnt/a' })), { type: TypeError, message: /"options.type" must be a string without null bytes/ }],
  ['mount options with a NUL byte', () => withDisk((d) => k.mount(d, { type: 'ext4', at: '/mnt/a', options: 'errors=panic\0,x' })), { type: TypeError, message: /"options.options" must be a string without null bytes/ }],
  ['umount a path with a NUL byte', () => k.umount('/mnt/a\0b'), { type: TypeError, message: /"at" must be a string without null bytes/ }],
  // Found by test/api-fuzz.test.ts: these leaked raw TypeErrors without a code.
  ['k.fs.opendir of an array holding a symbol', () => k.fs.opendir([Symbol('x')] as never), { type: TypeError, message: /"path" argument must be of type string/ }],
  ['k.fs.opendir with an array as encoding', () => k.fs.opendir(MNT, { encoding: [Symbol('x')] } as never), { type: Error, message: /opendir with encoding an instance of Array is not implemented/ }],
  ['FileHandle.read with a bigint offset and no length', async () => {
    const h = await k.fs.open(`${MNT}/data`);
    try {
      return await h.read(Buffer.alloc(8), { offset: 1n } as never);
    } finally {
      await h.close();
    }
  }, { type: TypeError, message: /"offset" argument must be of type number/ }],
];

describe('invalid calls', () => {
  it(`the table has at least 50 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.each(cases)('%s', async (_name, call, expected) => {
    let caught: unknown;
    try {
      await call();
    } catch (error) {
      caught = error;
    }
    expect(caught, 'the call must throw').toBeInstanceOf(Error);
    if ('code' in expected) {
      expect(caught).toBeInstanceOf(KernelError);
      expect((caught as KernelError).code).toBe(expected.code);
    } else {
      expect(caught).toBeInstanceOf(expected.type);
      expect((caught as Error).message).toMatch(expected.message);
    }
  });

  it('the kernel and the process are fine after all of them', () => {
    expect(k.sys.getpidSync()).toBeGreaterThan(0);
    const out = Buffer.alloc(16);
    expect(k.sys.preadSync(fd, out, 0, 16, 0)).toBe(16);
    expect(out.every((b) => b === 0x5a)).toBe(true);
  });
});

describe('the kernel writes only inside the buffers it is given', () => {
  // A view into the middle of a larger allocation, whose outside is a guard.
  function guarded(size: number): { view: Uint8Array; intact: () => boolean } {
    const whole = new Uint8Array(size + 8192).fill(0xee);
    const view = whole.subarray(4096, 4096 + size);
    const intact = (): boolean =>
      whole.subarray(0, 4096).every((b) => b === 0xee) && whole.subarray(4096 + size).every((b) => b === 0xee);
    return { view, intact };
  }

  it('read with a length larger than the buffer fails with EFAULT and writes nothing outside', () => {
    const { view, intact } = guarded(16);
    expect(() => k.sys.syscallSync(syscalls.pread64, fd, view, 4096, 0)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(intact()).toBe(true);
  });

  it('getdents64 with a count beyond the buffer cannot overrun it', () => {
    // Room for one 24-byte record: the kernel stops at the first record
    // that would cross the end and returns what fitted.
    const { view, intact } = guarded(24);
    expect(k.sys.syscallSync(syscalls.getdents64, dirfd, view, 65536)).toBe(24);
    expect(intact()).toBe(true);
    const { view: tiny, intact: tinyIntact } = guarded(8);
    expect(() => k.sys.syscallSync(syscalls.getdents64, dirfd, tiny, 65536)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(tinyIntact()).toBe(true);
  });

  it('a buffer of exactly the right size works', () => {
    const { view, intact } = guarded(4096);
    expect(k.sys.syscallSync(syscalls.pread64, fd, view, 4096, 0)).toBe(4096);
    expect(view.every((b) => b === 0x5a)).toBe(true);
    expect(intact()).toBe(true);
  });

  it('a DataView and a typed array with an element size > 1 are bounded by their byte length', () => {
    const words = new Uint32Array(4);
    expect(k.sys.syscallSync(syscalls.pread64, fd, words, 16, 0)).toBe(16);
    expect(words[0]).toBe(0x5a5a5a5a);
    const dv = new DataView(new ArrayBuffer(32), 8, 8);
    expect(() => k.sys.syscallSync(syscalls.pread64, fd, dv, 9, 0)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(k.sys.syscallSync(syscalls.pread64, fd, dv, 8, 0)).toBe(8);
  });
});

describe('calls after halt', () => {
  it('every call fails with a clear error, and the process lives on', () => {
    k.halt();
    expect(k.state).toBe('halted');
    for (const call of [() => k.sys.getpidSync(), () => k.sys.fstatSync(fd), () => k.sys.openSync('/x'), () => k.sys.readSync(fd, Buffer.alloc(4))]) {
      const caught = thrown(call);
      expect(caught).toBeInstanceOf(KernelError);
      expect((caught as KernelError).code).toBe('ESHUTDOWN');
      expect((caught as KernelError).message).toMatch(/kernel is not running \(halted\)/);
    }
    k.halt(); // idempotent
    expect(() => Kernel.current()).toThrow(/no kernel is running in this process \(it is halted\)/);
  });
});
