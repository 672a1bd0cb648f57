/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_DMA_H
#define _ASM_LKL_DMA_H

/* Every address of kernel memory can be used for I/O. */
#define MAX_DMA_ADDRESS		(~0UL)

#endif
