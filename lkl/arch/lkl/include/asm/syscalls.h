/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_SYSCALLS_H
#define _ASM_LKL_SYSCALLS_H

#include <asm-generic/syscalls.h>
#include <linux/linkage.h>
#include <linux/compiler_types.h>

typedef long (*lkl_syscall_fn)(long, long, long, long, long, long);
extern const lkl_syscall_fn lkl_syscall_table[];

/* The syslet calls (kernel/syslet.c); gen-syscalls.py reads these too. */
struct syslet_atom;
struct syslet_ring;
asmlinkage long sys_async_exec(struct syslet_atom __user *atom, struct syslet_ring __user *ring);
asmlinkage long sys_async_wait(struct syslet_ring __user *ring, unsigned long min_events);
asmlinkage long sys_async_ring_notify(struct syslet_ring __user *ring);

#endif
