// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tasks: creation, the context switch, pid 1's service loop, stack dumps and
 * power-off.
 *
 * A task is either bound to one host thread or unbound (a kernel thread on a
 * host stack of its own); see thread.c.  __switch_to() on host thread H
 * saves the previous context and then jumps into the next one if that is
 * unbound or bound to H (a stack switch), or hands the CPU to the thread the
 * next task is bound to and lets H wait.
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/sched/debug.h>
#include <linux/list.h>
#include <linux/reboot.h>
#include <linux/string.h>
#include <asm/switch_to.h>
#include "lkl.h"

#define UNBOUND_STACK_SIZE	(64 * 1024)

struct task_struct *lkl_current_task = &init_task;

/* The task that ran before the one being resumed, for schedule_tail(). */
struct task_struct *lkl_switch_last;

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next)
{
	struct lkl_thread *self = lkl_cpu_owner();
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
		lkl_resume_here(self, next);

	lkl_thread_handoff(self, to, next);
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
		list_add_tail(&self->node, &lkl_all_threads);
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

static void free_unbound_stacks(void)
{
	struct task_struct *g, *t;

	for_each_process_thread(g, t)
		arch_release_task_struct(t);
}

void machine_power_off(void)
{
	struct lkl_thread *self = lkl_thread_self();

	/* No host I/O may still write into memory freed from here on. */
	if (lkl_ops->io_drain)
		lkl_ops->io_drain();
	free_unbound_stacks();
	WRITE_ONCE(lkl_state, LKL_STATE_HALTED);
	lkl_wake_all_threads();
	lkl_ctx_jump(&self->escape_ctx);
}

void machine_halt(void)
{
	machine_power_off();
}

void machine_restart(char *cmd)
{
	machine_power_off();
}
