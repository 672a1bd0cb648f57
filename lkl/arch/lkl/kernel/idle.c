// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPU thread: the idle task is bound to it, and its only wait is the host
 * idle wait, which ends on the next timer deadline, on a notification from
 * another thread, or on I/O completions.
 */
#include <linux/sched.h>
#include <linux/sched/idle.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/sched/task.h>
#include <linux/cpu.h>
#include <linux/blkdev.h>
#include "lkl.h"

unsigned int lkl_idle_seq;

/*
 * The time the CPU thread sleeps until in its idle wait (the timer deadline,
 * at most IDLE_SLEEP_MAX_NS away): 0 while it is awake.  Published before it sleeps and
 * read by the others after they changed what it waits for (both with full
 * ordering), so a notification or a new deadline is never missed, and costs
 * no host call while the CPU thread is awake anyway.
 */
static unsigned long long sleep_until;

/*
 * The longest the CPU thread sleeps, whatever the deadline.  A thread that
 * leaves idle on its own restarts the tick without telling the sleeping CPU
 * thread (see lkl_idle_exit_by_entry); the timer-wheel timers its calls add
 * then run at most this late.
 */
#define IDLE_SLEEP_MAX_NS	(1000ULL * 1000 * 1000)

/*
 * Set by a thread that resumes idle to leave it on its own thread
 * (lkl_switch_to_own_task()); the first deadline programmed after that is
 * the restarted tick, which needs no alarm: the CPU thread comes by within
 * IDLE_SLEEP_MAX_NS anyway, and an alarm is a host call that costs more
 * than the rest of the idle exit.  CPU owner only.
 */
bool lkl_idle_exit_by_entry;

/*
 * Set by the CPU thread when it woke to run other tasks but found the CPU
 * held: the next caller leaving the kernel yields to them instead.
 */
bool lkl_cpu_wanted;

bool lkl_io_unsubmitted;

/*
 * Set by the CPU owner while it waits for host I/O itself (lkl_io_wait()).
 * A thread that needs the CPU or raises an interrupt meanwhile first makes
 * its need visible, then kicks it; the owner sets this, then looks for such
 * needs before it waits (both with full ordering): no kick is missed.
 */
bool lkl_io_waiting;

void lkl_io_waiter_kick(void)
{
	if (__atomic_load_n(&lkl_io_waiting, __ATOMIC_SEQ_CST))
		lkl_ops->io_wait_kick();
}

/**
 * lkl_io_wait - @tsk (current) is about to sleep: wait for host I/O here
 *
 * Called before the scheduler picks the next task (arch_task_will_sleep()).
 * With nothing else to run, the next task would be idle, whose context is
 * the CPU thread's: this thread would hand it the CPU, the completion would
 * wake it, and it would run the interrupt and hand the CPU back, three
 * cross-thread wake-ups per request.  Instead this thread, holding the CPU,
 * waits for the completion itself and runs the disk interrupt like one
 * arriving while interrupts are enabled; the task is then usually running
 * again and does not sleep at all.  The wait ends as soon as anything else
 * needs the CPU: a task to run, a timer due, another thread wanting the CPU
 * or raising an interrupt (lkl_io_waiter_kick()).  The CPU thread takes
 * over as before when nothing is in flight or the backend cannot wait so.
 */
void lkl_io_wait(struct task_struct *tsk)
{
	struct lkl_thread *self = lkl_cpu_owner();
	unsigned long long now, deadline;
	int n;

	if (!lkl_ops->io_wait || self->cpu_thread || self->in_entry ||
	    tsk == self->borrowed || (tsk->flags & (PF_WQ_WORKER | PF_IO_WORKER)))
		return;
	/* A signal keeps an interruptible sleeper running anyway. */
	if (signal_pending_state(READ_ONCE(tsk->__state), tsk))
		return;
	if (tsk->plug)
		blk_flush_plug(tsk->plug, false);
	while (!task_is_running(tsk) && nr_running() == 1 && lkl_kernel_alive()) {
		if (READ_ONCE(lkl_irq_pending)) {
			lkl_run_pending_irqs();
			continue;
		}
		now = lkl_ops->time_ns();
		deadline = READ_ONCE(lkl_timer_deadline);
		if (deadline && now >= deadline) {
			lkl_timer_check();
			continue;
		}
		if (!deadline || deadline - now > IDLE_SLEEP_MAX_NS)
			deadline = now + IDLE_SLEEP_MAX_NS;

		__atomic_store_n(&lkl_io_waiting, true, __ATOMIC_SEQ_CST);
		if (lkl_cpu_has_waiters() ||
		    __atomic_load_n(&lkl_irq_pending, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&lkl_io_waiting, false, __ATOMIC_SEQ_CST);
			if (READ_ONCE(lkl_irq_pending))
				continue;
			break;
		}
		/* The host submits what is queued before it waits. */
		lkl_io_unsubmitted = false;
		n = lkl_ops->io_wait(deadline);
		__atomic_store_n(&lkl_io_waiting, false, __ATOMIC_SEQ_CST);
		if (n < 0)
			break;
		if (n)
			lkl_irq_raise_pending(LKL_DISK_IRQ);
	}
}

void lkl_notify_cpu_thread(void)
{
	__atomic_add_fetch(&lkl_idle_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sleep_until, __ATOMIC_SEQ_CST)) {
		lkl_stat_inc(cpu_thread_notifies);
		lkl_ops->idle_notify(&lkl_idle_seq);
	}
}

/**
 * lkl_idle_deadline_moved - the timer deadline became @deadline
 *
 * Called by the CPU owner after it stored the new deadline.  A deadline
 * earlier than the CPU thread's sleep only needs it to wake by then: a host
 * alarm does that without waking it now.  The tick restarted by a thread
 * leaving idle on its own needs not even that (lkl_idle_exit_by_entry).
 */
void lkl_idle_deadline_moved(unsigned long long deadline)
{
	unsigned long long until = __atomic_load_n(&sleep_until, __ATOMIC_SEQ_CST);

	if (lkl_idle_exit_by_entry) {
		lkl_idle_exit_by_entry = false;
		return;
	}
	if (until && deadline && deadline < until) {
		lkl_stat_inc_owner(idle_alarms);
		lkl_ops->idle_alarm(deadline);
	}
}

void arch_cpu_idle(void)
{
	struct lkl_thread *self = lkl_cpu_thread;
	struct lkl_thread *runner = lkl_thread_self();

	if (unlikely(runner != self)) {
		/*
		 * A thread in its entry runs idle (lkl_switch_to_own_task()).
		 * With something to run, the idle loop switches to it at once.
		 * Otherwise park idle where the CPU thread keeps it and send
		 * the thread back to its entry, which returns to its caller
		 * (its task could not be created).
		 */
		if (!need_resched()) {
			WARN_ON_ONCE(!runner->task_error);
			if (!lkl_ctx_save(&self->entry_ctx))
				lkl_thread_leave_idle(runner);
			if (self->entry_switched)
				schedule_tail(lkl_switch_last);
		}
		raw_local_irq_enable();
		return;
	}
	/*
	 * Sleep only if no interrupt is pending: interrupts run on return,
	 * with interrupts enabled, and the idle loop then re-evaluates the
	 * next timer event (a handler may have added a timer).
	 */
	if (!lkl_ctx_save(&self->entry_ctx)) {
		if (!READ_ONCE(lkl_irq_pending) && !need_resched()) {
			/* Another thread may resume the idle context saved
			 * on this stack as soon as the CPU is free: free it
			 * only once off this stack. */
			lkl_syslet_flush_notifications();
			self->unlock_on_wait = true;
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
	unsigned long long deadline, sleep_max;
	unsigned int seen;
	bool wants_cpu;

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

		wants_cpu = READ_ONCE(lkl_irq_pending) ||
			    !is_idle_task(READ_ONCE(lkl_current_task));
		if (wants_cpu && !lkl_cpu_try_lock(self)) {
			/*
			 * A caller holds the CPU.  If tasks wait to run, it
			 * runs them itself when it leaves (lkl_cpu_wanted):
			 * waking this thread again on every call would only
			 * repeat this failed attempt.
			 */
			if (nr_running() > 1)
				WRITE_ONCE(lkl_cpu_wanted, true);
		} else if (wants_cpu) {
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

		deadline = __atomic_load_n(&lkl_timer_deadline, __ATOMIC_SEQ_CST);
		sleep_max = lkl_ops->time_ns() + IDLE_SLEEP_MAX_NS;
		__atomic_store_n(&sleep_until, deadline ? min(deadline, sleep_max) : sleep_max,
				 __ATOMIC_SEQ_CST);
		/* A deadline set before sleep_until was seen needs no alarm. */
		if (__atomic_load_n(&lkl_timer_deadline, __ATOMIC_SEQ_CST) == deadline &&
		    lkl_ops->idle_wait(&lkl_idle_seq, seen,
				       __atomic_load_n(&sleep_until, __ATOMIC_RELAXED)))
			lkl_stat_inc_owner(cpu_thread_wakeups);
		__atomic_store_n(&sleep_until, 0, __ATOMIC_SEQ_CST);
	}
}
