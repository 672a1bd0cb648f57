/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal interfaces of the host library (libc side). */
#ifndef _LKL_HOST_INTERNAL_H
#define _LKL_HOST_INTERNAL_H

#include <lkl_host.h>

/* posix.c: the host operations, without print and panic. */
void lkl_posix_fill_ops(struct lkl_host_ops *ops);
int lkl_posix_thread_count(void);
extern struct lkl_stats lkl_host_stats;
void *lkl_posix_thread_create(void (*fn)(void *), void *arg);
void lkl_posix_thread_join(void *handle);

/* The eventfd the disk ring signals on completions, -1 if none. */
extern int lkl_host_io_eventfd;

/* usercopy.c: fault-catching copies of callers' memory. */
void lkl_usercopy_fill_ops(struct lkl_host_ops *ops);
/* Copy @n bytes; a fault stops it. Returns the bytes not copied. */
unsigned long lkl_uc_copy(void *dst, const void *src, unsigned long n);

/* disk.c: block backends. */
void lkl_disk_fill_ops(struct lkl_host_ops *ops);
void lkl_disk_forget_unmounted(void);
void lkl_disk_shutdown(void);

#endif
