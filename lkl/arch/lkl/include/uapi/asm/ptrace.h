/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_PTRACE_H
#define _UAPI_ASM_LKL_PTRACE_H

#ifndef __ASSEMBLY__
/* There are no user-mode registers: syscalls are C function calls. */
struct pt_regs {
	unsigned long unused;
};
#endif

#endif
