// SPDX-License-Identifier: GPL-2.0-only
/*
 * The system call table: the generic 64-bit one, every entry called through
 * one six-long-argument type (lkl_syscall_fn).  Calls reach it through
 * lkl_kernel_syscall() in syscalls.c.
 */
#include <linux/syscalls.h>
#include <asm/syscalls.h>
#include <asm/unistd.h>

/* Generic 64-bit syscalls that an arch provides itself; none apply here. */
#define sys_mmap	sys_ni_syscall
#define sys_rt_sigreturn	sys_ni_syscall

#undef __SYSCALL
#define __SYSCALL(nr, call)	[nr] = (lkl_syscall_fn)(call),
#define __SYSCALL_WITH_COMPAT(nr, native, compat)	__SYSCALL(nr, native)

const lkl_syscall_fn lkl_syscall_table[__NR_syscalls] = {
	[0 ... __NR_syscalls - 1] = (lkl_syscall_fn)sys_ni_syscall,
#include <asm/syscall_table_64.h>
};
