/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal interfaces of the host library (libc side). */
#ifndef _LKL_HOST_INTERNAL_H
#define _LKL_HOST_INTERNAL_H

#include <lkl_host.h>

/* posix.c: the host operations, without print and panic. */
void lkl_posix_fill_ops(struct lkl_host_ops *ops);
int lkl_posix_thread_count(void);

#endif
