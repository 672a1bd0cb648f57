// SPDX-License-Identifier: GPL-2.0-only
/* memcpy and friends, through the host: the generic ones go byte by byte. */
#include <linux/string.h>
#include <linux/export.h>
#include "lkl.h"

void *memcpy(void *dest, const void *src, size_t n)
{
	return lkl_ops->memcpy(dest, src, n);
}
EXPORT_SYMBOL(memcpy);

void *memset(void *s, int c, size_t n)
{
	return lkl_ops->memset(s, c, n);
}
EXPORT_SYMBOL(memset);

void *memmove(void *dest, const void *src, size_t n)
{
	return lkl_ops->memmove(dest, src, n);
}
EXPORT_SYMBOL(memmove);
