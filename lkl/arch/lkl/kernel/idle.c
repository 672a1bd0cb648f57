// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPU thread: the idle task is bound to it, and its only wait is the host
 * idle wait, which ends on the next timer deadline, on a notification from
 * another thread, or on I/O completions.
 */
#include <linux/sched.h>
#include <linux/sched/idle.h>
#include <linux/sched/task.h>
#include <linux/cpu.h>
#include "lkl.h"

unsigned int lkl_idle_seq;

void lkl_notify_cpu_thread(void)
{
	__atomic_add_fetch(&lkl_idle_seq, 1, __ATOMIC_SEQ_CST);
	lkl_ops->idle_notify(&lkl_idle_seq);
}

void arch_cpu_idle(void)
{
	struct lkl_thread *self = lkl_cpu_thread;

	/*
	 * Sleep only if no interrupt is pending: interrupts run on return,
	 * with interrupts enabled, and the idle loop then re-evaluates the
	 * next timer event (a handler may have added a timer).
	 */
	if (!lkl_ctx_save(&self->entry_ctx)) {
		if (!READ_ONCE(lkl_irq_pending) && !need_resched()) {
			lkl_cpu_unlock();
			lkl_thread_wait(self);
		}
	} else if (self->entry_switched) {
		schedule_tail(lkl_switch_last);
	}
	raw_local_irq_enable();
}

/*
 * The wait of the CPU thread, on its wait stack.  On every wake-up: take
 * the CPU if it was handed over; run expired timers and pending interrupts;
 * and if the CPU is free while a task in user mode is current, park that task
 * so that the scheduler runs whatever is runnable, then idle.
 */
void __noreturn lkl_cpu_thread_loop(struct lkl_thread *self)
{
	struct task_struct *cur, *target;
	unsigned int seen;

	for (;;) {
		seen = __atomic_load_n(&lkl_idle_seq, __ATOMIC_SEQ_CST);
		if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING &&
		    READ_ONCE(lkl_state) != LKL_STATE_BOOTING)
			lkl_ctx_jump(&self->escape_ctx);

		if (__atomic_load_n(&self->handed, __ATOMIC_SEQ_CST)) {
			self->handed = 0;
			target = self->target;
			if (target->thread.ctx_valid) {
				target->thread.ctx_valid = 0;
				lkl_ctx_jump(&target->thread.ctx);
			}
			/* Idle, handed over without a switch: it is current. */
			self->entry_switched = false;
			lkl_ctx_jump(&self->entry_ctx);
		}

		lkl_timer_check();
		if (lkl_ops->io_reap())
			lkl_irq_raise_pending(LKL_DISK_IRQ);

		if ((READ_ONCE(lkl_irq_pending) ||
		     !is_idle_task(READ_ONCE(lkl_current_task))) &&
		    lkl_cpu_try_lock(self)) {
			cur = current;
			if (is_idle_task(cur)) {
				self->entry_switched = false;
				lkl_ctx_jump(&self->entry_ctx);
			}
			if (READ_ONCE(lkl_irq_pending))
				lkl_run_pending_irqs();
			/* @cur belongs to a thread outside the kernel. */
			set_current_state(TASK_IDLE);
			self->borrowed = cur;
			schedule();
			self->borrowed = NULL;
			lkl_cpu_release(self);
			continue;
		}

		lkl_ops->idle_wait(&lkl_idle_seq, seen,
				   READ_ONCE(lkl_timer_deadline));
	}
}
