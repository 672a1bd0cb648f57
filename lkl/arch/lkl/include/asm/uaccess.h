/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_UACCESS_H
#define _ASM_LKL_UACCESS_H

/*
 * No MMU: "user" memory is the host process's memory and a copy is a memcpy.
 * A syscall made through lkl_syscall_confined() carries a window of caller
 * buffers (thread_info.user_window); every user access must fall inside it,
 * so a bad pointer from a language binding gets -EFAULT instead of reaching
 * arbitrary host memory.  Without a window every address is accepted.
 */
#include <linux/compiler.h>
#include <asm/current.h>
#include <asm/thread_info.h>

bool lkl_user_window_allows(const void __user *ptr, unsigned long size);

#define __access_ok __access_ok
static inline int __access_ok(const void __user *ptr, unsigned long size)
{
	if (likely(!((struct thread_info *)get_current())->user_window))
		return 1;
	return lkl_user_window_allows(ptr, size);
}

#include <asm-generic/uaccess.h>

#endif /* _ASM_LKL_UACCESS_H */
