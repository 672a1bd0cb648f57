/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_UNISTD_H
#define _ASM_LKL_UNISTD_H

#include <uapi/asm/unistd.h>

#define __ARCH_WANT_SYS_CLONE

#endif
