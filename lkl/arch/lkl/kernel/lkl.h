/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal interfaces of the lkl architecture, shared by its kernel and
 * driver files.
 */
#ifndef _ARCH_LKL_KERNEL_LKL_H
#define _ARCH_LKL_KERNEL_LKL_H

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/types.h>
#include <linux/list.h>
#include <asm/context.h>
#include <lkl_host.h>

extern const struct lkl_host_ops *lkl_ops;

/* Count one event in the library's counters (struct lkl_stats), from any
 * thread: a locked add. */
#define lkl_stat_inc(field) \
	__atomic_add_fetch(&lkl_ops->stats->field, 1, __ATOMIC_RELAXED)

/* The same for counters with one writer at a time (the CPU owner, or the
 * CPU thread alone): a plain add, no locked instruction on the hot paths;
 * readers still see whole values. */
#define lkl_stat_inc_owner(field) \
	__atomic_store_n(&lkl_ops->stats->field, \
			 __atomic_load_n(&lkl_ops->stats->field, __ATOMIC_RELAXED) + 1, \
			 __ATOMIC_RELAXED)

/* Life of the kernel, as seen by every entry point. */
enum lkl_state {
	LKL_STATE_OFF = 0,	/* not booted yet */
	LKL_STATE_BOOTING,
	LKL_STATE_RUNNING,
	LKL_STATE_HALTED,	/* halted cleanly */
	LKL_STATE_DEAD,		/* panicked */
};
extern int lkl_state;

/* A distinct error for every call after a panic. */
#define LKL_EKERNELDEAD	ENOTRECOVERABLE

static inline bool lkl_kernel_alive(void)
{
	return READ_ONCE(lkl_state) == LKL_STATE_RUNNING ||
	       READ_ONCE(lkl_state) == LKL_STATE_BOOTING;
}

/* What a call that finds the kernel stopped returns. */
static inline int lkl_kernel_stopped_error(void)
{
	return READ_ONCE(lkl_state) == LKL_STATE_DEAD ? -LKL_EKERNELDEAD : -ESHUTDOWN;
}

/**
 * struct lkl_thread - what the kernel knows about one host thread
 * @task: the task bound to this thread (NULL until its first syscall)
 * @entry_ctx: where the thread waits for @task to become current; resuming
 *	it means the thread now runs @task
 * @entry_switched: @entry_ctx was resumed by a context switch, so the
 *	resumer must finish that switch (schedule_tail)
 * @escape_ctx: where a halt or panic sends the thread out of the kernel
 * @borrowed: the task whose identity the thread runs under while it makes
 *	its own task current (no context of that task is saved)
 * @target: the task that was handed to this thread with the CPU
 * @in_entry: the thread is making its task current
 *	(lkl_switch_to_own_task()) and may run idle itself
 * @task_error: creating @task failed with this errno (returned to the
 *	caller, who may try again)
 * @was_handed: the thread waited for another to hand it the CPU since it
 *	last entered (for the counters)
 * @handed: futex word, set when the CPU is handed to this thread
 * @wait_stack: guarded stack on which the thread waits when it has nothing to
 *	run (its own stack may hold a suspended kernel context)
 * @wait_ctx: context that starts the wait loop on @wait_stack
 * @handoff_to: thread to hand the CPU to once on @wait_stack, and
 *	@handoff_task the task it will run (see lkl_thread_wait())
 * @unlock_on_wait: release the CPU once on @wait_stack (the idle task's
 *	context saved on the stack being left may be resumed at once by the
 *	thread that takes the CPU)
 * @cpu_thread: this is the CPU thread, whose wait is the idle wait
 * @task_dead: the thread's task has exited; leave the wait loop for good
 * @inside: the thread is inside a kernel entry point (halt waits for every
 *	thread to leave before it frees their memory)
 * @node: in the list of all threads, freed at halt
 * @syslet_return: where async_exec resumes on this thread's stack when its
 *	chain went asynchronous (it then returns 0)
 * @syslet_from: the task that kept the chain when the spare now bound to
 *	this thread took over (its credentials are carried over)
 * @syslet_defer: a chain's task to wake once async_exec returned
 *	(SYSLET_ASYNC)
 */
struct lkl_thread {
	struct task_struct *task;
	struct lkl_ctx entry_ctx;
	bool entry_switched;
	struct lkl_ctx escape_ctx;
	struct task_struct *borrowed;
	struct task_struct *target;
	bool was_handed;
	bool in_entry;
	int task_error;
	unsigned int handed;
	void *wait_stack;
	struct lkl_ctx wait_ctx;
	struct lkl_thread *handoff_to;
	struct task_struct *handoff_task;
	bool unlock_on_wait;
	bool cpu_thread;
	bool task_dead;
	int inside;
	struct list_head node;
	struct lkl_ctx syslet_return;
	struct task_struct *syslet_from;
	struct task_struct *syslet_defer;
};

/* thread.c */
extern struct lkl_thread *lkl_cpu_thread;
extern struct list_head lkl_all_threads;
struct lkl_thread *lkl_thread_self(void);
struct lkl_thread *lkl_thread_alloc(bool cpu_thread);
int lkl_switch_to_own_task(struct lkl_thread *self);
void __noreturn lkl_resume_here(struct lkl_thread *self, struct task_struct *next);
void __noreturn lkl_thread_wait(struct lkl_thread *self);
void __noreturn lkl_thread_handoff(struct lkl_thread *self, struct lkl_thread *to,
				   struct task_struct *next);
void lkl_thread_finish_handoff(struct lkl_thread *self);
void __noreturn lkl_thread_leave_idle(struct lkl_thread *self);
void lkl_wake_all_threads(void);
void lkl_free_threads(void);

/* cpu.c */
struct lkl_thread *lkl_cpu_owner(void);
int lkl_cpu_take(struct lkl_thread *self);
bool lkl_cpu_try_take(struct lkl_thread *self);
bool lkl_cpu_owned_by(struct lkl_thread *self);
bool lkl_cpu_try_lock(struct lkl_thread *self);
void lkl_cpu_release(struct lkl_thread *self);
void lkl_cpu_unlock(void);
void lkl_cpu_wake_all_waiters(void);
void lkl_cpu_handoff(struct lkl_thread *to, struct task_struct *next);
bool lkl_cpu_has_waiters(void);

/* process.c */
extern struct task_struct *lkl_switch_last;
struct task_request {
	struct list_head node;
	struct lkl_thread *thread;
};
int lkl_request_task(struct lkl_thread *self, struct task_request *req);
extern bool lkl_test_fail_next_task;
void lkl_pid1_loop(void);

/* idle.c */
void __noreturn lkl_cpu_thread_loop(struct lkl_thread *self);
extern unsigned int lkl_idle_seq;
void lkl_notify_cpu_thread(void);
void lkl_idle_deadline_moved(unsigned long long deadline);
extern bool lkl_idle_exit_by_entry;
extern bool lkl_cpu_wanted;
extern bool lkl_io_waiting;
void lkl_io_waiter_kick(void);
void lkl_io_wait(struct task_struct *tsk);
/*
 * Disk requests handed to the host backend but not submitted yet: they are
 * batched until the CPU owner stops running kernel code (releases the CPU,
 * waits, waits for I/O).  CPU owner only.
 */
extern bool lkl_io_unsubmitted;
static inline void lkl_io_flush(bool lazy)
{
	if (unlikely(lkl_io_unsubmitted))
		lkl_io_unsubmitted = lkl_ops->io_flush(lazy);
}

/* irq.c */
void lkl_irq_raise_pending(int irq);
extern bool lkl_test_irq_panics;

/* time.c */
extern unsigned long long lkl_timer_deadline;
void lkl_timer_check(void);

/* drivers/block/disk.c */
long lkl_disk_add(void *host, unsigned long long capacity, bool read_only);
long lkl_disk_remove(unsigned int minor);
long lkl_disk_busy(unsigned int minor);
int lkl_disk_first_busy(void);

/* shutdown.c */
long lkl_shutdown(void);

/* syslet.c */
int lkl_syslet_spare_start(void *arg);
void *lkl_syslet_spare_setup(struct task_struct *p);
extern unsigned int lkl_syslet_notify_count;
void lkl_syslet_notify_flush(void);
/* On every exit from the kernel: one load when no ring waits for its hook. */
static inline void lkl_syslet_flush_notifications(void)
{
	if (unlikely(lkl_syslet_notify_count))
		lkl_syslet_notify_flush();
}
void lkl_syslet_halt(void);
void lkl_syslet_halt_failed(void);
void lkl_syslet_panic(void);

/* setup.c */
void __noreturn lkl_die(void);
void lkl_boot_done(int err);

#endif
