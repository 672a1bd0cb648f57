/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_SWITCH_TO_H
#define _ASM_LKL_SWITCH_TO_H

#include <asm-generic/switch_to.h>

struct task_struct;

/*
 * Called by the scheduler core (patch 0002) when @tsk is about to sleep:
 * a task running a syslet for its caller hands the caller a spare task.
 */
void arch_task_will_sleep(struct task_struct *tsk);
#define arch_task_will_sleep arch_task_will_sleep

#endif
