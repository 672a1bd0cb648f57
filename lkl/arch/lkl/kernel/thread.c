// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tasks, host threads and the one virtual CPU.
 *
 * Kernel code runs only on the host thread that holds the CPU.  A task is
 * either bound to one host thread (the task of an external caller, or the idle
 * task on the CPU thread), or unbound (kernel threads), in which case it runs
 * on its own host stack and any thread holding the CPU can run it.
 *
 * __switch_to() on host thread H saves the previous context and then jumps into
 * the next one if that is unbound or bound to H (a stack switch), or hands the
 * CPU to the thread the next task is bound to and lets H wait.
 *
 * A bound task whose thread is outside the kernel has no saved context: it is
 * "in user mode".  Its thread makes it current again at its next entry, from
 * the borrow point @entry_ctx (see lkl_switch_to_own_task()).
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/sched/debug.h>
#include <linux/sched/idle.h>
#include <linux/task_work.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/string.h>
#include <linux/cpu.h>
#include <asm/switch_to.h>
#include "lkl.h"

#define UNBOUND_STACK_SIZE	(64 * 1024)
/* The CPU thread runs interrupts and the scheduler on its wait stack. */
#define WAIT_STACK_SIZE		(64 * 1024)

struct task_struct *lkl_current_task = &init_task;
struct lkl_thread *lkl_cpu_thread;

/* The task that ran before the one being resumed, for schedule_tail(). */
struct task_struct *lkl_switch_last;

/* The one CPU: a lock with an owner and a recursion count. */
static struct {
	struct lkl_thread *owner;
	unsigned int depth;
	unsigned int seq;	/* futex word for threads waiting to take it */
	int waiters;
} cpu;

/* All host threads known to the kernel; changed only by the CPU owner. */
static LIST_HEAD(all_threads);

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
	memset(ctx, 0, sizeof(*ctx));
	ctx->regs[0] = (unsigned long)fn;		/* rbx */
	ctx->regs[2] = (unsigned long)arg;		/* r12 */
	/* The trampoline's call leaves the ABI's entry alignment. */
	ctx->regs[6] = (unsigned long)stack_top & ~15UL;	/* rsp */
	ctx->regs[7] = (unsigned long)lkl_ctx_trampoline;	/* rip */
}

static inline bool kernel_alive(void)
{
	return READ_ONCE(lkl_state) == LKL_STATE_RUNNING ||
	       READ_ONCE(lkl_state) == LKL_STATE_BOOTING;
}

/* What a call that finds the kernel stopped returns. */
static inline int kernel_stopped_error(void)
{
	return READ_ONCE(lkl_state) == LKL_STATE_DEAD ? -LKL_EKERNELDEAD : -ESHUTDOWN;
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
		if (!kernel_alive())
			return kernel_stopped_error();
		seq = __atomic_load_n(&cpu.seq, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&cpu.waiters, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&cpu.owner, __ATOMIC_SEQ_CST)) {
			lkl_stat_inc(cpu_lock_waits);
			lkl_ops->futex_wait(&cpu.seq, seq, 0);
		}
		__atomic_sub_fetch(&cpu.waiters, 1, __ATOMIC_SEQ_CST);
	}
	cpu.depth = 1;
	if (!kernel_alive()) {
		lkl_cpu_release(self);
		return kernel_stopped_error();
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
static void cpu_wake_all_waiters(void)
{
	__atomic_add_fetch(&cpu.seq, 1, __ATOMIC_SEQ_CST);
	lkl_ops->futex_wake(&cpu.seq, 0x7fffffff);
}

/* True when tasks other than the current one want to run. */
static bool others_runnable(void)
{
	return need_resched() || nr_running() > 1;
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
		lkl_cpu_unlock();
		if (!__atomic_load_n(&lkl_irq_pending, __ATOMIC_SEQ_CST))
			return;
		/* An interrupt was raised while we held the CPU: run it. */
		if (!lkl_cpu_try_lock(self))
			return;
	}
}

/* Hand the CPU to @to, which will run @next; the caller stops running. */
static void cpu_handoff(struct lkl_thread *to, struct task_struct *next)
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
static void __noreturn resume_here(struct lkl_thread *self,
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
		if (self->task_dead || !kernel_alive())
			lkl_ctx_jump(&self->escape_ctx);
		if (__atomic_load_n(&self->handed, __ATOMIC_SEQ_CST)) {
			self->handed = 0;
			self->was_handed = true;
			resume_here(self, self->target);
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
		cpu_handoff(to, self->handoff_task);
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
	lkl_ctx_prepare(&self->wait_ctx,
			(char *)self->wait_stack + WAIT_STACK_SIZE,
			wait_loop, self);
	lkl_ctx_jump(&self->wait_ctx);
}

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next)
{
	struct lkl_thread *self = cpu.owner;
	struct lkl_thread *to = next->thread.bound;

	lkl_current_task = next;
	lkl_switch_last = prev;
	/* The final switch of an exiting host thread's task: the thread may
	 * leave once it is off this stack (see lkl_kernel_thread_exit()). */
	if (unlikely(READ_ONCE(prev->__state) == TASK_DEAD) && prev == self->task)
		self->task_dead = true;

	if (prev == self->borrowed) {
		/* Nothing of the borrowed identity lives on this stack. */
		self->borrowed = NULL;
	} else {
		prev->thread.ctx_valid = 1;
		if (lkl_ctx_save(&prev->thread.ctx))
			return lkl_switch_last;
	}

	/* A thread in its entry runs idle itself rather than hand the CPU
	 * over: idle either schedules this thread's task or sends the
	 * thread back to its caller (arch_cpu_idle()). */
	if (!to || to == self || (self->in_entry && is_idle_task(next)))
		resume_here(self, next);

	lkl_thread_handoff(self, to, next);
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
			if (!kernel_alive()) {
				err = kernel_stopped_error();
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

/*
 * Requests from host threads that need a task, served by pid 1 so that every
 * bound task is a thread of the same process (shared files, fs and memory).
 */
static LIST_HEAD(task_requests);
static struct task_struct *pid1;
static struct lkl_thread *creating_for;

/* Called by the CPU owner for a thread without a task. */
int lkl_request_task(struct lkl_thread *self, struct task_request *req)
{
	req->thread = self;
	list_add_tail(&req->node, &task_requests);
	/* Listed already if an earlier request failed. */
	if (list_empty(&self->node))
		list_add_tail(&self->node, &all_threads);
	wake_up_process(pid1);
	return 0;
}

/* Test hook: the next task request fails as if memory ran out. */
bool lkl_test_fail_next_task;

void lkl_pid1_loop(void)
{
	struct kernel_clone_args args = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM,
		.exit_signal = 0,
	};
	struct task_request *req;
	long err;
	extern void lkl_boot_done(int err);

	pid1 = current;
	lkl_boot_done(0);
	for (;;) {
		set_current_state(TASK_IDLE);
		if (list_empty(&task_requests)) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		req = list_first_entry(&task_requests, struct task_request, node);
		list_del(&req->node);
		creating_for = req->thread;
		if (unlikely(lkl_test_fail_next_task)) {
			lkl_test_fail_next_task = false;
			err = -ENOMEM;
		} else {
			err = kernel_clone(&args);
		}
		creating_for = NULL;
		/*
		 * The thread that asked gets the error: with nothing else to
		 * run, idle runs on that thread (it is in its entry) and sends
		 * it back to its caller (arch_cpu_idle()).
		 */
		if (err < 0)
			req->thread->task_error = err;
	}
}

static void __noreturn unbound_task_start(void *unused)
{
	struct task_struct *self = current;
	int ret;

	schedule_tail(lkl_switch_last);
	ret = self->thread.fn(self->thread.fn_arg);
	/*
	 * Only a user-mode thread returns: kernel_init once /init was
	 * "executed".  It becomes pid 1, the process of all host threads.
	 */
	if (ret)
		panic("lkl: init returned %d", ret);
	lkl_pid1_loop();
	BUG();
}

int copy_thread(struct task_struct *p, const struct kernel_clone_args *args)
{
	struct thread_struct *t = &p->thread;
	void *top;

	memset(t, 0, sizeof(*t));
	if (!args->fn) {
		/* User-space threads do not exist here (clone is refused at
		 * syscall entry); this is only the last line of defence. */
		if (WARN_ON_ONCE(!creating_for))
			return -ENOSYS;
		/* A task for a host thread, cloned by pid 1. */
		t->bound = creating_for;
		creating_for->task = p;
		return 0;
	}

	t->stack_size = UNBOUND_STACK_SIZE;
	t->stack = lkl_ops->stack_alloc(t->stack_size);
	if (!t->stack)
		return -ENOMEM;
	t->fn = args->fn;
	t->fn_arg = args->fn_arg;
	top = (char *)t->stack + t->stack_size;
	if (args->fn == lkl_syslet_spare_start) {
		/* A syslet spare: its stack's control block sits on top. */
		t->fn_arg = lkl_syslet_spare_setup(p);
		top = t->fn_arg;
	}
	lkl_ctx_prepare(&t->ctx, top, unbound_task_start, NULL);
	t->ctx_valid = 1;
	return 0;
}

void arch_release_task_struct(struct task_struct *tsk)
{
	if (tsk->thread.stack)
		lkl_ops->stack_free(tsk->thread.stack, tsk->thread.stack_size);
	tsk->thread.stack = NULL;
}

void flush_thread(void)
{
}

void show_regs(struct pt_regs *regs)
{
}

/*
 * Kernel code keeps frame pointers: walk the saved frame chain of @task (or
 * of the caller) and print the return addresses.  Without kallsyms these are
 * raw addresses; `addr2line -e <program>` turns them into names.
 */
void show_stack(struct task_struct *task, unsigned long *esp,
		const char *loglvl)
{
	unsigned long *fp;
	int depth = 0;

	if (!task || task == current)
		fp = __builtin_frame_address(0);
	else if (task->thread.ctx_valid)
		fp = (unsigned long *)task->thread.ctx.regs[1];
	else
		return;
	printk("%sCall trace (return addresses; show_stack is at %px):\n", loglvl, show_stack);
	while (fp && depth++ < 32 && !((unsigned long)fp & 7)) {
		unsigned long ret = fp[1];

		if (ret < 4096)
			break;
		printk("%s  [<%px>]\n", loglvl, (void *)ret);
		if ((unsigned long *)fp[0] <= fp)
			break;
		fp = (unsigned long *)fp[0];
	}
}

/* Wake every thread waiting to be handed the CPU (halt and panic). */
void lkl_wake_all_threads(void)
{
	struct lkl_thread *t;

	list_for_each_entry(t, &all_threads, node) {
		__atomic_store_n(&t->handed, 1, __ATOMIC_SEQ_CST);
		lkl_ops->futex_wake(&t->handed, 1);
	}
	cpu_wake_all_waiters();
	lkl_notify_cpu_thread();
}

void lkl_free_threads(void)
{
	struct lkl_thread *t, *n;

	/* Threads sent out of the kernel may still be on their wait stacks. */
	list_for_each_entry(t, &all_threads, node)
		while (__atomic_load_n(&t->inside, __ATOMIC_ACQUIRE) &&
		       t != lkl_thread_self())
			lkl_ops->futex_wait(&lkl_idle_seq, READ_ONCE(lkl_idle_seq),
					    lkl_ops->time_ns() + 1000000);

	list_for_each_entry_safe(t, n, &all_threads, node) {
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
