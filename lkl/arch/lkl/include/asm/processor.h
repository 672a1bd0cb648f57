/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_PROCESSOR_H
#define _ASM_LKL_PROCESSOR_H

#include <asm/ptrace.h>
#include <asm/context.h>

struct lkl_thread;
struct syslet_stack;

/**
 * struct thread_struct - how a task is run by the host
 * @ctx: saved registers while the task is switched out; valid only when
 *	@ctx_valid is set
 * @ctx_valid: the task has a saved kernel context to jump back into
 * @bound: host thread the task is bound to, or NULL for an unbound task
 *	(kernel threads) that any host thread holding the CPU may run
 * @stack: host stack of an unbound task (guard page below it)
 * @stack_size: its size in bytes
 * @fn: for a new unbound task, the function to run, and @fn_arg its argument
 * @syslet: the syslet chain the task runs (kernel/syslet.c), or NULL
 * @regs: placeholder register state for generic code
 */
struct thread_struct {
	struct lkl_ctx ctx;
	int ctx_valid;
	struct lkl_thread *bound;
	void *stack;
	unsigned long stack_size;
	int (*fn)(void *);
	void *fn_arg;
	struct syslet_stack *syslet;
	struct pt_regs regs;
};

#define INIT_THREAD { }

#define task_pt_regs(tsk)	(&(tsk)->thread.regs)

static inline void cpu_relax(void)
{
	__asm__ __volatile__("" : : : "memory");
}

static inline unsigned long __get_wchan(struct task_struct *p)
{
	return 0;
}

#define KSTK_EIP(tsk)	(0)
#define KSTK_ESP(tsk)	(0)

/* Host addresses are all valid "user" addresses. */
#define TASK_SIZE	(~0UL)
#define TASK_SIZE_MAX	TASK_SIZE
#define TASK_UNMAPPED_BASE	0
#define STACK_TOP	TASK_SIZE
#define STACK_TOP_MAX	STACK_TOP

static inline void prepare_to_copy(struct task_struct *tsk) { }

#define cpu_relax_yield() cpu_relax()

#endif /* _ASM_LKL_PROCESSOR_H */
