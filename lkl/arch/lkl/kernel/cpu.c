// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one virtual CPU: a lock with an owner and a recursion count.
 *
 * Kernel code runs only on the host thread that holds the CPU; any host
 * thread may take it.  Leaving the kernel runs pending interrupts first and
 * tells the CPU thread when other tasks want to run (lkl_cpu_release()).
 * The CPU changes hands directly, without a release, when a task switch
 * moves it to the thread its next task is bound to (lkl_cpu_handoff()).
 */
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include "lkl.h"

/* The one CPU: a lock with an owner and a recursion count. */
static struct {
	struct lkl_thread *owner;
	unsigned int depth;
	unsigned int seq;	/* futex word for threads waiting to take it */
	int waiters;
} cpu;

/* The thread that holds the CPU, for __switch_to(), which runs on it. */
struct lkl_thread *lkl_cpu_owner(void)
{
	return cpu.owner;
}

/**
 * lkl_cpu_take - take the CPU for the calling thread, waiting if needed
 * Returns 0, or a negative errno when the kernel stopped meanwhile.
 */
int lkl_cpu_take(struct lkl_thread *self)
{
	struct lkl_thread *none;
	unsigned int seq;

	if (__atomic_load_n(&cpu.owner, __ATOMIC_RELAXED) == self) {
		cpu.depth++;
		return 0;
	}
	for (;;) {
		none = NULL;
		if (__atomic_compare_exchange_n(&cpu.owner, &none, self, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			break;
		if (!lkl_kernel_alive())
			return lkl_kernel_stopped_error();
		seq = __atomic_load_n(&cpu.seq, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&cpu.waiters, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&cpu.owner, __ATOMIC_SEQ_CST)) {
			lkl_stat_inc(cpu_lock_waits);
			/* The owner may be waiting for host I/O. */
			lkl_io_waiter_kick();
			lkl_ops->futex_wait(&cpu.seq, seq, 0);
		}
		__atomic_sub_fetch(&cpu.waiters, 1, __ATOMIC_SEQ_CST);
	}
	cpu.depth = 1;
	if (!lkl_kernel_alive()) {
		lkl_cpu_release(self);
		return lkl_kernel_stopped_error();
	}
	return 0;
}

/*
 * Take the CPU only if it is free.  Never recursive: a thread that finds
 * itself the owner here was handed the CPU for a task and must run that.
 */
bool lkl_cpu_try_lock(struct lkl_thread *self)
{
	struct lkl_thread *none = NULL;

	if (!__atomic_compare_exchange_n(&cpu.owner, &none, self, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return false;
	cpu.depth = 1;
	return true;
}

bool lkl_cpu_owned_by(struct lkl_thread *self)
{
	return __atomic_load_n(&cpu.owner, __ATOMIC_RELAXED) == self;
}

bool lkl_cpu_try_take(struct lkl_thread *self)
{
	if (__atomic_load_n(&cpu.owner, __ATOMIC_RELAXED) == self) {
		cpu.depth++;
		return true;
	}
	return lkl_cpu_try_lock(self);
}

/* Threads wait to take the CPU (a thread waiting for I/O with it stops). */
bool lkl_cpu_has_waiters(void)
{
	return __atomic_load_n(&cpu.waiters, __ATOMIC_SEQ_CST);
}

void lkl_cpu_unlock(void)
{
	cpu.depth = 0;
	__atomic_store_n(&cpu.owner, NULL, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&cpu.waiters, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&cpu.seq, 1, __ATOMIC_SEQ_CST);
		lkl_ops->futex_wake(&cpu.seq, 1);
	}
}

/* Wake every thread blocked on the CPU lock, so it sees the state change. */
void lkl_cpu_wake_all_waiters(void)
{
	__atomic_add_fetch(&cpu.seq, 1, __ATOMIC_SEQ_CST);
	lkl_ops->futex_wake(&cpu.seq, 0x7fffffff);
}

/*
 * True when tasks other than the current one want to run.  need_resched()
 * alone is no reason: the tick sets it when the current task's slice ends
 * even if nothing else is runnable, and a task that only makes quick calls
 * never schedules to clear it, so every call would wake the CPU thread for
 * nothing.  The CPU thread parks the current task at every tick anyway.
 */
static bool others_runnable(void)
{
	return nr_running() > 1;
}

/**
 * lkl_cpu_release - leave the kernel
 *
 * Pending interrupts run first.  If that (or the syscall just made) left
 * other tasks runnable, the CPU thread is told to run them: the caller goes
 * back to its own work at once instead of running someone else's.
 */
void lkl_cpu_release(struct lkl_thread *self)
{
	if (--cpu.depth)
		return;
	cpu.depth = 1;
	for (;;) {
		if (lkl_ops->io_reap())
			lkl_irq_raise_pending(LKL_DISK_IRQ);
		if (READ_ONCE(lkl_irq_pending))
			lkl_run_pending_irqs();
		if (!is_idle_task(current) && others_runnable())
			lkl_notify_cpu_thread();
		lkl_syslet_flush_notifications();
		/* After the reap: requests kept queued rely on those still
		 * in flight to bring a thread back (uring_flush()). */
		lkl_io_flush(true);
		lkl_cpu_unlock();
		if (!__atomic_load_n(&lkl_irq_pending, __ATOMIC_SEQ_CST))
			return;
		/* An interrupt was raised while we held the CPU: run it. */
		if (!lkl_cpu_try_lock(self))
			return;
	}
}

/* Hand the CPU to @to, which will run @next; the caller stops running. */
void lkl_cpu_handoff(struct lkl_thread *to, struct task_struct *next)
{
	lkl_stat_inc_owner(cpu_handoffs);
	to->target = next;
	__atomic_store_n(&cpu.owner, to, __ATOMIC_SEQ_CST);
	__atomic_store_n(&to->handed, 1, __ATOMIC_SEQ_CST);
	if (to->cpu_thread)
		lkl_notify_cpu_thread();
	else
		lkl_ops->futex_wake(&to->handed, 1);
}
