// SPDX-License-Identifier: GPL-2.0-only
/*
 * System call entry from any host thread: the checks made before a call
 * reaches the table (syscall_table.c), the library's own calls and test
 * hooks, and what the caller sees after it.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/task_work.h>
#include <linux/moduleparam.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/uaccess.h>
#include <asm/syscalls.h>
#include <asm/unistd.h>
#include "lkl.h"
#include "syscall_checks.h"

/*
 * Syscall numbers outside the kernel's table for tests of failure handling
 * (the values are in lkl.h): panic now, make the next task creation fail,
 * panic in the next "lkl_test_irq" interrupt.  Honoured only with
 * "lkl_test_hooks=1" on the command line.
 */
#define LKL_SYSCALL_TEST_PANIC		0x10000
#define LKL_SYSCALL_TEST_FAIL_TASK	0x10001
#define LKL_SYSCALL_TEST_PANIC_IN_IRQ	0x10002

static bool test_hooks;
core_param(lkl_test_hooks, test_hooks, bool, 0444);

/**
 * lkl_kernel_syscall - run system call @nr with the six arguments @args
 * @window: the caller memory its user pointers may reach, or NULL for all
 *
 * Callable from any host thread.  The first call from a thread creates its
 * task.  Returns the syscall's result (negative errno on failure), -ENOSYS
 * for unknown numbers, -ESHUTDOWN when the kernel is not running and
 * -ENOTRECOVERABLE after a panic.
 */
long lkl_kernel_syscall(long nr, const long *args,
			const struct lkl_user_window *window)
{
	struct lkl_thread *self;
	struct task_request req;
	long ret;
	int err;

	switch (READ_ONCE(lkl_state)) {
	case LKL_STATE_RUNNING:
		break;
	case LKL_STATE_DEAD:
		return -LKL_EKERNELDEAD;
	default:
		return -ESHUTDOWN;
	}

	self = lkl_thread_self();
	if (unlikely(!self)) {
		self = lkl_thread_alloc(false);
		if (!self)
			return -ENOMEM;
	}
	WRITE_ONCE(self->inside, 1);
	if (lkl_ctx_save(&self->escape_ctx)) {
		/* Sent out by a halt or panic; halt may free @self now. */
		__atomic_store_n(&self->inside, 0, __ATOMIC_RELEASE);
		return READ_ONCE(lkl_state) == LKL_STATE_DEAD ?
			-LKL_EKERNELDEAD : -ESHUTDOWN;
	}

	err = lkl_cpu_take(self);
	if (unlikely(err))
		goto out;
	if (likely(current == self->task)) {
		lkl_stat_inc_owner(syscalls_fast);
	} else {
		if (!self->task)
			lkl_request_task(self, &req);
		self->was_handed = false;
		err = lkl_switch_to_own_task(self);
		if (unlikely(err)) {
			/* No task for this thread (the kernel still runs). */
			if (err != -ESHUTDOWN && err != -LKL_EKERNELDEAD)
				lkl_cpu_release(self);
			goto out;
		}
		if (self->was_handed)
			lkl_stat_inc_owner(syscalls_handed);
		else
			lkl_stat_inc_owner(syscalls_borrowed);
	}

	current_thread_info()->user_window = window;
	if (unlikely(window) && lkl_syscall_refused_when_confined(nr))
		ret = -EPERM;
	else if (unlikely(nr == __NR_clone || nr == __NR_clone3))
		/* No user-space threads or processes: a host thread that
		 * calls in gets its task by itself. */
		ret = -ENOSYS;
	else if (unlikely(lkl_syscall_asks_direct_io(nr, args)))
		ret = -EINVAL;
	else if (likely((unsigned long)nr < __NR_syscalls))
		ret = lkl_syscall_table[nr](args[0], args[1], args[2],
					    args[3], args[4], args[5]);
	else if (window)
		/* The library's own calls take host pointers: not for bindings. */
		ret = -ENOSYS;
	else if (nr == LKL_SYSCALL_DISK_ADD)
		ret = lkl_disk_add((void *)args[0], args[1], args[2]);
	else if (nr == LKL_SYSCALL_DISK_REMOVE)
		ret = lkl_disk_remove(args[0]);
	else if (nr == LKL_SYSCALL_DISK_BUSY)
		ret = lkl_disk_busy(args[0]);
	else if (nr == LKL_SYSCALL_HALT)
		ret = lkl_shutdown();
	else if (nr == LKL_SYSCALL_TEST_PANIC && test_hooks)
		panic("lkl: panic requested through the test hook");
	else if (nr == LKL_SYSCALL_TEST_FAIL_TASK && test_hooks)
		ret = (lkl_test_fail_next_task = true) ? 0 : 0;
	else if (nr == LKL_SYSCALL_TEST_PANIC_IN_IRQ && test_hooks)
		ret = (lkl_test_irq_panics = true) ? 0 : 0;
	else
		ret = -ENOSYS;

	ret = lkl_finish_syscall(ret);
	current_thread_info()->user_window = NULL;
	if (unlikely(READ_ONCE(lkl_cpu_wanted))) {
		/* The CPU thread could not get the CPU to run other tasks
		 * (see lkl_cpu_thread_loop()): run them here. */
		WRITE_ONCE(lkl_cpu_wanted, false);
		if (nr_running() > 1)
			yield();
	}
	lkl_cpu_release(self);
	__atomic_store_n(&self->inside, 0, __ATOMIC_RELEASE);
	return ret;
out:
	__atomic_store_n(&self->inside, 0, __ATOMIC_RELEASE);
	return err;
}
