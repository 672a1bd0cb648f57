// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-memory checks for confined syscalls (see asm/uaccess.h), the copies,
 * which go through the host's fault-catching copy, and the string copies,
 * which must stop at the end of the caller's buffer rather than read a word
 * past it as the generic versions may.
 */
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/sched.h>
#include <linux/minmax.h>
#include "lkl.h"

/* Bytes of the current window readable from @addr on, at most @max. */
static unsigned long window_bytes_from(unsigned long addr, unsigned long max)
{
	const struct lkl_user_window *window = current_thread_info()->user_window;

	return window ? lkl_window_bytes_from(window, addr, max) : max;
}

extern const struct lkl_user_fixup __start_lkl_user_fixups[], __stop_lkl_user_fixups[];

/*
 * Where an inline user access that faulted at @ip resumes, or 0 if @ip is
 * not one.  Called by the host's fault handler (a signal handler): it only
 * reads the table.  A linear search: faults on user memory are rare, and
 * the table is sorted nowhere.
 */
__visible unsigned long lkl_kernel_user_fixup(unsigned long ip)
{
	const struct lkl_user_fixup *f;

	for (f = __start_lkl_user_fixups; f < __stop_lkl_user_fixups; f++)
		if ((unsigned long)&f->insn + f->insn == ip)
			return (unsigned long)&f->fixup + f->fixup;
	return 0;
}

unsigned long __clear_user(void __user *to, unsigned long n)
{
	return lkl_ops->user_copy((void __force *)to, NULL, n);
}

/* Length of the string at @src within @max bytes, -EFAULT if unmapped. */
static long user_strnlen(const char __user *src, unsigned long max)
{
	return lkl_ops->user_strnlen((const char __force *)src, max);
}

long strncpy_from_user(char *dst, const char __user *src, long count)
{
	unsigned long avail;
	long len;

	might_fault();
	if (count <= 0)
		return 0;
	avail = window_bytes_from((unsigned long)src, count);
	if (!avail)
		return -EFAULT;
	len = user_strnlen(src, avail);
	if (len < 0)
		return -EFAULT;
	if (len < avail) {
		if (raw_copy_from_user(dst, src, len + 1))
			return -EFAULT;
		return len;
	}
	/* No NUL inside the window: the string runs past the caller's buffer. */
	if (avail < count)
		return -EFAULT;
	if (raw_copy_from_user(dst, src, count))
		return -EFAULT;
	return count;
}

long strnlen_user(const char __user *str, long count)
{
	unsigned long avail;
	long len;

	might_fault();
	if (count <= 0)
		return 0;
	avail = window_bytes_from((unsigned long)str, count);
	if (!avail)
		return 0;
	len = user_strnlen(str, avail);
	if (len < 0)
		return 0;
	if (len < avail)
		return len + 1;
	return avail < count ? 0 : count + 1;
}
