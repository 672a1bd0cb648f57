/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_UNISTD_H
#define _UAPI_ASM_LKL_UNISTD_H

#define __ARCH_WANT_RENAMEAT
#define __ARCH_WANT_SET_GET_RLIMIT
#define __ARCH_WANT_NEW_STAT
#define __ARCH_WANT_SYS_CLONE3

#include <asm/unistd_64.h>

#endif
