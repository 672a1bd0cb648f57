/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_BYTEORDER_H
#define _UAPI_ASM_LKL_BYTEORDER_H

/* x86-64 and arm64 hosts are both little endian. */
#include <linux/byteorder/little_endian.h>

#endif
