/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_UACCESS_H
#define _ASM_LKL_UACCESS_H

/*
 * No MMU: "user" memory is the host process's memory.  Two guards apply:
 *  - a syscall made through lkl_syscall_confined() carries a window of
 *    caller buffers (thread_info.user_window); every user access must fall
 *    inside it, so a bad pointer from a language binding gets -EFAULT
 *    instead of reaching arbitrary host memory.  Without a window every
 *    address is accepted;
 *  - every copy goes through the host's fault-catching copy (user_copy in
 *    the host operations): an unmapped address ends the copy and reports the
 *    bytes not copied, as exception tables do on a real architecture, so no
 *    user pointer can crash the process, confined or not.
 */
#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/unaligned.h>
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

unsigned long raw_copy_from_user(void *to, const void __user *from,
				 unsigned long n);
unsigned long raw_copy_to_user(void __user *to, const void *from,
			       unsigned long n);
unsigned long __clear_user(void __user *to, unsigned long n);
#define __clear_user __clear_user

/* Kernel memory: plain accesses (a fault there is a kernel bug). */
#define __get_kernel_nofault(dst, src, type, err_label)			\
do {									\
	*((type *)(dst)) = get_unaligned((type *)(src));		\
	if (0)								\
		goto err_label;						\
} while (0)

#define __put_kernel_nofault(dst, src, type, err_label)			\
do {									\
	put_unaligned(*((type *)(src)), (type *)(dst));			\
	if (0)								\
		goto err_label;						\
} while (0)

#include <asm-generic/uaccess.h>

#endif /* _ASM_LKL_UACCESS_H */
