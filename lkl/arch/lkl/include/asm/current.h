/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_CURRENT_H
#define _ASM_LKL_CURRENT_H

#ifndef __ASSEMBLY__
struct task_struct;

/*
 * One CPU, and only the host thread that holds it runs kernel code, so the
 * running task is a plain variable that __switch_to() updates.
 */
extern struct task_struct *lkl_current_task;

static __always_inline struct task_struct *get_current(void)
{
	return lkl_current_task;
}

#define current get_current()
#endif

#endif /* _ASM_LKL_CURRENT_H */
