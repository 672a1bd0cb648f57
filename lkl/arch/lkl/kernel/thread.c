// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host threads: what the kernel keeps for each, where a thread waits while it
 * has nothing to run, how it takes over a task it was handed the CPU for, and
 * how it makes its own task current at each entry.
 *
 * A task is either bound to one host thread (the task of an external caller,
 * or the idle task on the CPU thread), or unbound (kernel threads), in which
 * case it runs on its own host stack and any thread holding the CPU (cpu.c)
 * can run it.  Task switches themselves are in process.c.
 *
 * A bound task whose thread is outside the kernel has no saved context: it is
 * "in user mode".  Its thread makes it current again at its next entry, from
 * the borrow point @entry_ctx (see lkl_switch_to_own_task()).
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/list.h>
#include <linux/string.h>
#include "lkl.h"

/* The CPU thread runs interrupts and the scheduler on its wait stack. */
#define WAIT_STACK_SIZE		(64 * 1024)

struct lkl_thread *lkl_cpu_thread;

/* All host threads known to the kernel; changed only by the CPU owner. */
LIST_HEAD(lkl_all_threads);

struct lkl_thread *lkl_thread_self(void)
{
	return lkl_ops->thread_data_get();
}

struct lkl_thread *lkl_thread_alloc(bool cpu_thread)
{
	struct lkl_thread *t = lkl_ops->mem_alloc(sizeof(*t));

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->wait_stack = lkl_ops->stack_alloc(WAIT_STACK_SIZE);
	if (!t->wait_stack) {
		lkl_ops->mem_free(t);
		return NULL;
	}
	t->cpu_thread = cpu_thread;
	INIT_LIST_HEAD(&t->node);
	lkl_ops->thread_data_set(t);
	return t;
}

static void thread_free(struct lkl_thread *t)
{
	lkl_ops->stack_free(t->wait_stack, WAIT_STACK_SIZE);
	lkl_ops->mem_free(t);
}

extern void lkl_ctx_trampoline(void);

void lkl_ctx_prepare(struct lkl_ctx *ctx, void *stack_top,
		     void (*fn)(void *), void *arg)
{
	/* Field by field: the syslet path prepares one per call. */
	ctx->regs[0] = (unsigned long)fn;		/* rbx */
	ctx->regs[1] = 0;				/* rbp: ends the frame chain */
	ctx->regs[2] = (unsigned long)arg;		/* r12 */
	ctx->regs[3] = 0;
	ctx->regs[4] = 0;
	ctx->regs[5] = 0;
	/* The trampoline's call leaves the ABI's entry alignment. */
	ctx->regs[6] = (unsigned long)stack_top & ~15UL;	/* rsp */
	ctx->regs[7] = (unsigned long)lkl_ctx_trampoline;	/* rip */
}

static void __noreturn resume_entry(struct lkl_thread *self, bool switched)
{
	self->entry_switched = switched;
	lkl_ctx_jump(&self->entry_ctx);
}

/**
 * lkl_thread_leave_idle - idle, run by an entering thread, has nothing to do
 *
 * Called on @self's thread inside its entry (lkl_switch_to_own_task()), once
 * idle's context is parked where the CPU thread keeps it: go back to the
 * entry, holding the CPU, with idle current.
 */
void __noreturn lkl_thread_leave_idle(struct lkl_thread *self)
{
	resume_entry(self, false);
}

/* Run @next on the calling thread: it is unbound or bound to @self. */
void __noreturn lkl_resume_here(struct lkl_thread *self,
				struct task_struct *next)
{
	if (next->thread.ctx_valid) {
		next->thread.ctx_valid = 0;
		lkl_ctx_jump(&next->thread.ctx);
	}
	/* A bound task in user mode: its thread waits at its borrow point. */
	resume_entry(self, true);
}

/*
 * Called on the wait stack: wait until the CPU is handed to this thread, then
 * run the task it was handed for.
 */
static void __noreturn wait_loop(void *arg)
{
	struct lkl_thread *self = arg;

	lkl_thread_finish_handoff(self);
	if (self->cpu_thread)
		lkl_cpu_thread_loop(self);

	for (;;) {
		if (self->task_dead || !lkl_kernel_alive())
			lkl_ctx_jump(&self->escape_ctx);
		if (__atomic_load_n(&self->handed, __ATOMIC_SEQ_CST)) {
			self->handed = 0;
			self->was_handed = true;
			lkl_resume_here(self, self->target);
		}
		lkl_ops->futex_wait(&self->handed, 0, 0);
	}
}

/* Hand over or release the CPU as lkl_thread_handoff() or arch_cpu_idle()
 * asked, now that this thread is on its wait stack. */
void lkl_thread_finish_handoff(struct lkl_thread *self)
{
	struct lkl_thread *to = self->handoff_to;

	if (self->unlock_on_wait) {
		self->unlock_on_wait = false;
		lkl_cpu_unlock();
	}
	if (to) {
		self->handoff_to = NULL;
		lkl_cpu_handoff(to, self->handoff_task);
	}
}

/**
 * lkl_thread_handoff - give the CPU to @to, which will run @next, and wait
 *
 * The CPU is handed over only after this thread has left its current stack:
 * that stack may belong to an unbound task that @to will resume at once.
 */
void __noreturn lkl_thread_handoff(struct lkl_thread *self,
				   struct lkl_thread *to,
				   struct task_struct *next)
{
	self->handoff_to = to;
	self->handoff_task = next;
	lkl_thread_wait(self);
}

/**
 * lkl_thread_wait - leave the current stack and wait to be handed the CPU
 */
void __noreturn lkl_thread_wait(struct lkl_thread *self)
{
	/* Whoever runs next may wait for these requests: submit them. */
	lkl_io_flush(false);
	lkl_ctx_prepare(&self->wait_ctx,
			(char *)self->wait_stack + WAIT_STACK_SIZE,
			wait_loop, self);
	lkl_ctx_jump(&self->wait_ctx);
}

/*
 * Make the calling thread's bound task current.  The CPU is held and the
 * current task has no saved context (idle parked in its wait, or another
 * thread's task in user mode), so its identity can be borrowed to schedule.
 */
int lkl_switch_to_own_task(struct lkl_thread *self)
{
	struct task_struct *cur;
	int err = 0;

	self->in_entry = true;
	while (current != self->task) {
		if (lkl_ctx_save(&self->entry_ctx)) {
			/* Resumed: this thread holds the CPU again. */
			lkl_idle_exit_by_entry = false;
			if (!lkl_kernel_alive()) {
				err = lkl_kernel_stopped_error();
				break;
			}
			if (self->entry_switched)
				schedule_tail(lkl_switch_last);
			if (unlikely(self->task_error)) {
				/* No task could be made for this thread. */
				err = self->task_error;
				self->task_error = 0;
				break;
			}
			continue;
		}
		if (self->task)
			wake_up_process(self->task);

		cur = current;
		if (is_idle_task(cur)) {
			/*
			 * The idle task waits in arch_cpu_idle() with its
			 * context saved on the CPU thread's stack, which that
			 * thread has left for its wait stack.  Resume it here:
			 * the idle loop sees the wake-up above, leaves idle
			 * properly (tick, RCU) and switches to our task, all
			 * on this thread: no other thread is woken.
			 */
			lkl_cpu_thread->entry_switched = false;
			lkl_idle_exit_by_entry = true;
			lkl_ctx_jump(&lkl_cpu_thread->entry_ctx);
		}

		/* @cur is another thread's task in user mode: park it. */
		set_current_state(TASK_IDLE);
		self->borrowed = cur;
		schedule();
		self->borrowed = NULL;
	}
	self->in_entry = false;
	return err;
}

/* Wake every thread waiting to be handed the CPU (halt and panic). */
void lkl_wake_all_threads(void)
{
	struct lkl_thread *t;

	list_for_each_entry(t, &lkl_all_threads, node) {
		__atomic_store_n(&t->handed, 1, __ATOMIC_SEQ_CST);
		lkl_ops->futex_wake(&t->handed, 1);
	}
	lkl_cpu_wake_all_waiters();
	lkl_notify_cpu_thread();
}

void lkl_free_threads(void)
{
	struct lkl_thread *t, *n;

	/* Threads sent out of the kernel may still be on their wait stacks. */
	list_for_each_entry(t, &lkl_all_threads, node)
		while (__atomic_load_n(&t->inside, __ATOMIC_ACQUIRE) &&
		       t != lkl_thread_self())
			lkl_ops->futex_wait(&lkl_idle_seq, READ_ONCE(lkl_idle_seq),
					    lkl_ops->time_ns() + 1000000);

	list_for_each_entry_safe(t, n, &lkl_all_threads, node) {
		list_del(&t->node);
		thread_free(t);
	}
	thread_free(lkl_cpu_thread);
	lkl_cpu_thread = NULL;
}

/**
 * lkl_kernel_thread_exit - a host thread that made syscalls is exiting
 * @data: its struct lkl_thread
 *
 * Its task exits like a thread of the process; the thread leaves when the
 * scheduler switches away from the dead task.
 */
void lkl_kernel_thread_exit(void *data)
{
	struct lkl_thread *self = data;

	/* After a halt or panic @self may be freed already: check first. */
	if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING || !self || self->cpu_thread)
		return;
	lkl_ops->thread_data_set(self);
	if (lkl_cpu_take(self))
		return;
	if (!self->task) {
		lkl_cpu_release(self);
		return;
	}
	if (lkl_switch_to_own_task(self))
		return;
	list_del(&self->node);
	if (!lkl_ctx_save(&self->escape_ctx))
		do_exit(0);
	/* Out of the kernel; another thread holds the CPU now. */
	lkl_ops->thread_data_set(NULL);
	thread_free(self);
}
