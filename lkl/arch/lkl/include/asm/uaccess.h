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
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <asm/current.h>
#include <asm/thread_info.h>

#include <lkl_host.h>

extern const struct lkl_host_ops *lkl_ops;

/*
 * Bytes of @window readable from @addr on, at most @max.  Inline, as the
 * copies below: a syslet atom makes half a dozen small user accesses
 * (its argument slots, its result) and each paid two calls for this.
 */
static __always_inline unsigned long
lkl_window_bytes_from(const struct lkl_user_window *window, unsigned long addr,
		      unsigned long max)
{
	unsigned int i;

	for (i = 0; i < window->count; i++) {
		const struct lkl_user_range *range = &window->ranges[i];

		if (addr >= range->start && addr - range->start < range->len)
			return min(max, range->len - (addr - range->start));
	}
	return 0;
}

#define __access_ok __access_ok
static inline int __access_ok(const void __user *ptr, unsigned long size)
{
	const struct lkl_user_window *window =
		((struct thread_info *)get_current())->user_window;

	if (likely(!window) || !size)
		return 1;
	return lkl_window_bytes_from(window, (unsigned long)ptr, size) == size;
}

/*
 * The host's user_copy() takes a NULL source to mean "zero the
 * destination" (__clear_user); a NULL user pointer must fault instead.
 */
static inline unsigned long raw_copy_from_user(void *to, const void __user *from,
					       unsigned long n)
{
	if (unlikely(!from))
		return n;
	return lkl_ops->user_copy(to, (const void __force *)from, n);
}

static inline unsigned long raw_copy_to_user(void __user *to, const void *from,
					     unsigned long n)
{
	return lkl_ops->user_copy((void __force *)to, from, n);
}

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
