// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-memory checks for confined syscalls (see asm/uaccess.h) and the string
 * copies, which must stop at the end of the caller's buffer rather than read
 * a word past it as the generic versions may.
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
	unsigned int i;

	if (!window)
		return max;
	for (i = 0; i < window->count; i++) {
		const struct lkl_user_range *range = &window->ranges[i];

		if (addr >= range->start && addr - range->start < range->len)
			return min(max, range->len - (addr - range->start));
	}
	return 0;
}

bool lkl_user_window_allows(const void __user *ptr, unsigned long size)
{
	if (!size)
		return true;
	return window_bytes_from((unsigned long)ptr, size) == size;
}

long strncpy_from_user(char *dst, const char __user *src, long count)
{
	const char *from = (const char __force *)src;
	unsigned long avail, len;

	might_fault();
	if (count <= 0)
		return 0;
	avail = window_bytes_from((unsigned long)src, count);
	if (!avail)
		return -EFAULT;
	len = strnlen(from, avail);
	if (len < avail) {
		memcpy(dst, from, len + 1);
		return len;
	}
	/* No NUL inside the window: the string runs past the caller's buffer. */
	if (avail < count)
		return -EFAULT;
	memcpy(dst, from, count);
	return count;
}

long strnlen_user(const char __user *str, long count)
{
	unsigned long avail, len;

	might_fault();
	if (count <= 0)
		return 0;
	avail = window_bytes_from((unsigned long)str, count);
	if (!avail)
		return 0;
	len = strnlen((const char __force *)str, avail);
	if (len < avail)
		return len + 1;
	return avail < count ? 0 : count + 1;
}
