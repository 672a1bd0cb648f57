/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lkl_user_range.h - a range of caller memory, shared by the public API
 * (lkl.h) and the kernel/host contract (lkl_host.h).  No includes: the
 * kernel side includes it too.
 */
#ifndef _LKL_USER_RANGE_H
#define _LKL_USER_RANGE_H

/* A range of caller memory a confined syscall may read and write. */
struct lkl_user_range {
	unsigned long start;
	unsigned long len;
};

#endif /* _LKL_USER_RANGE_H */
