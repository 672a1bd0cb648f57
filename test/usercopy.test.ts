// SPDX-License-Identifier: GPL-2.0-only
// Buffers handed to the kernel are used to their last byte and never past
// it (mount options in a tight buffer), and O_DIRECT, which cannot work on
// JavaScript memory, is refused with EINVAL instead of failing halfway.

import { beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, constants, syscalls, type Disk } from '../dist/index.js';
import { bootForTests, makeExt4Image, thrown } from './helpers.js';

let k: Kernel;
let disk: Disk;
const MNT = '/mnt/uc';
/** fcntl command (asm-generic/fcntl.h; not among the generated constants). */
const F_SETFL = 4;

beforeAll(async () => {
  const image = makeExt4Image(16 * 1024 * 1024);
  k = await bootForTests();
  disk = k.disks.attach(image);
  k.mount(disk, { type: 'ext4', at: MNT });
  k.sys.writeFileSync(`${MNT}/file`, 'data');
});

function mountTmpfs(at: string, options: Buffer): void {
  k.sys.mkdirSync(at, { recursive: true });
  k.sys.syscallSync(syscalls.mount, Buffer.from('none\0'), Buffer.from(`${at}\0`), Buffer.from('tmpfs\0'), 0, options);
}

describe('mount options in a buffer of their exact size', () => {
  it.each(['mode=0755', 'mode=0', 'mode=1777', 'mode=0700'])('%s arrives whole', (option) => {
    const at = `/opts/${option.replace('=', '-')}`;
    mountTmpfs(at, Buffer.from(`${option}\0`));
    expect((k.sys.statSync(at).mode & 0o7777).toString(8)).toBe(option.split('=')[1]!.replace(/^0+(?=.)/, ''));
    k.sys.syscallSync(syscalls.umount2, Buffer.from(`${at}\0`), 0);
  });

  it('options without a NUL are read up to the end of their buffer, not past it', () => {
    // As on Linux, the kernel copies what it can reach and zero-fills the
    // rest of its page: the options end where the buffer ends.
    mountTmpfs('/opts/nonul', Buffer.from('mode=0751'));
    expect((k.sys.statSync('/opts/nonul').mode & 0o7777).toString(8)).toBe('751');
    k.sys.syscallSync(syscalls.umount2, Buffer.from('/opts/nonul\0'), 0);
  });
});

describe('O_DIRECT', () => {
  it('open with O_DIRECT on ext4 gives EINVAL', () => {
    const error = thrown(() => k.sys.openSync(`${MNT}/file`, constants.O_RDONLY | constants.O_DIRECT)) as KernelError;
    expect(error).toBeInstanceOf(KernelError);
    expect(error.code).toBe('EINVAL');
  });

  it('fcntl(F_SETFL, O_DIRECT) gives EINVAL', () => {
    const fd = k.sys.openSync(`${MNT}/file`, 'r');
    try {
      const error = thrown(() => k.sys.syscallSync(syscalls.fcntl, fd, F_SETFL, constants.O_DIRECT)) as KernelError;
      expect(error.code).toBe('EINVAL');
    } finally {
      k.sys.closeSync(fd);
    }
  });
});
