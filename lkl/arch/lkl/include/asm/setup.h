/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_SETUP_H
#define _ASM_LKL_SETUP_H

#include <uapi/asm/setup.h>

#endif
