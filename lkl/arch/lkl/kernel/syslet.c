// SPDX-License-Identifier: GPL-2.0-only
/*
 * Syslets: chains of system calls that run synchronously while they can and
 * continue asynchronously when one of them is about to sleep, with their
 * completions posted to rings in the caller's memory (the 2007 design of
 * Ingo Molnar and Zach Brown; docs/syslets.md).
 *
 * The chain runs as the caller's own task, on a stack taken from a pool:
 * the cached case is two stack switches and the calls themselves.  Each
 * pool stack has a spare task asleep at its top.  When an atom is about to
 * sleep, the scheduler hook (arch_task_will_sleep(), patch 0002) swaps
 * identities: the sleeping task keeps the chain and the stack and becomes
 * unbound, so whichever host thread holds the CPU at its wake-up continues
 * it; the spare becomes the caller's task and is woken, the scheduler picks
 * it, and the caller's thread returns 0 from async_exec.  No host thread is
 * created, woken or handed the CPU on that path.  When an asynchronous chain
 * ends it posts its completion and its task becomes the spare of its stack.
 *
 * Everything here runs with the CPU held, so the pool and the list of
 * chains in flight need no other lock.
 */
#include <linux/syscalls.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/sched/debug.h>
#include <linux/sched/stat.h>
#include <linux/cred.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <linux/uaccess.h>
#include <linux/unistd.h>
#include <linux/blkdev.h>
#include <asm/syscalls.h>
#include <asm/syslet.h>
#include <asm/switch_to.h>
#include "lkl.h"
#include "syscall_checks.h"

/*
 * The top of each pool stack: the spare's own frames (it sleeps in
 * spare_loop(), or starts there) stay within this many bytes below the
 * control block; the chain runs below them.
 */
#define SPARE_FRAMES	(8 * 1024)
/* Spares kept when the pool shrinks; it shrinks once a second when idle. */
#define POOL_KEEP	4

/**
 * struct syslet_stack - a pool stack and the chain that runs on it; lives
 * at the top of the stack itself, so it moves with the stack
 * @pool_node: in the pool while a spare sleeps at the top
 * @flight_node: in the list of asynchronous chains
 * @spare: the task asleep at the top (NULL while the stack belongs to an
 *	asynchronous chain)
 * @head: the thread waiting in async_exec, NULL once the chain is async
 * @ring: the completion ring (user address)
 * @atom: the atom running or last run (user address), @flags and @private
 *	its flags and private value, @result its result
 * @async: the chain went asynchronous
 * @defer_wake: the chain sleeps until its caller has returned (SYSLET_ASYNC)
 * @cancelled: halt or panic posted the chain's completion already
 * @exit: the spare is to leave (the pool shrinks)
 * @leaving: the spare that took over the caller, until it has left the top
 *	of this stack; @leaving_waiter waits for that (finish_async())
 * @window: the caller's memory window, copied when the chain went async
 */
struct syslet_stack {
	struct list_head pool_node;
	struct list_head flight_node;
	struct task_struct *spare;
	struct lkl_thread *head;
	unsigned long ring;
	unsigned long atom;
	u32 flags;
	u64 private;
	long result;
	bool async;
	bool defer_wake;
	bool cancelled;
	bool exit;
	bool confined;
	struct task_struct *leaving;
	struct task_struct *leaving_waiter;
	struct lkl_user_window window;
	struct lkl_user_range ranges[SYSLET_MAX_RANGES];
};

static LIST_HEAD(pool);
static unsigned int pool_size;
/* The smallest pool size seen since the last shrink check. */
static unsigned int pool_low;
static struct timer_list pool_timer;
static LIST_HEAD(in_flight);
static unsigned int nr_in_flight;
static DECLARE_WAIT_QUEUE_HEAD(ring_wq);	/* ring space, async_wait */
static DECLARE_WAIT_QUEUE_HEAD(drain_wq);	/* halt waits for chains */
static bool stopping;

/* Rings whose consumer wants the host hook, told once per batch. */
#define NOTIFY_BATCH	16
static unsigned long notify_rings[NOTIFY_BATCH];
unsigned int lkl_syslet_notify_count;

/* The spare being created (copy_thread() sets it up; CPU owner only). */
static struct syslet_stack *creating;

static struct syslet_stack *stack_block(void *stack, unsigned long size)
{
	unsigned long top = (unsigned long)stack + size - sizeof(struct syslet_stack);

	return (struct syslet_stack *)(top & ~63UL);
}

/* Where the chain's frames start: below the spare's. */
static void *chain_stack_top(struct syslet_stack *st)
{
	return (char *)st - SPARE_FRAMES;
}

/* Where a spare waits; it never returns (it leaves by a context jump). */
static void __noreturn spare_loop(struct syslet_stack *st);

static void __noreturn spare_entry(void *arg)
{
	spare_loop(arg);
}

/**
 * lkl_syslet_spare_start - first function of a spare task (copy_thread())
 */
int lkl_syslet_spare_start(void *arg)
{
	spare_loop(arg);
}

/**
 * lkl_syslet_spare_setup - copy_thread() of a spare: its frames start
 * below the control block at the top of its stack
 */
void *lkl_syslet_spare_setup(struct task_struct *p)
{
	struct syslet_stack *st = stack_block(p->thread.stack, p->thread.stack_size);

	memset(st, 0, sizeof(*st));
	st->spare = p;
	creating = st;
	return st;
}

static struct syslet_stack *pool_grow(void)
{
	struct kernel_clone_args args = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM,
		.fn = lkl_syslet_spare_start,
	};
	struct syslet_stack *st;
	pid_t pid;

	creating = NULL;
	pid = kernel_clone(&args);
	st = creating;
	creating = NULL;
	if (pid < 0 || !st)
		return NULL;
	lkl_stat_inc_owner(syslet_contexts_created);
	return st;
}

static struct syslet_stack *pool_get(void)
{
	struct syslet_stack *st;

	if (unlikely(list_empty(&pool)))
		return pool_grow();
	st = list_first_entry(&pool, struct syslet_stack, pool_node);
	list_del(&st->pool_node);
	if (--pool_size < pool_low)
		pool_low = pool_size;
	return st;
}

static void pool_put(struct syslet_stack *st)
{
	list_add(&st->pool_node, &pool);
	pool_size++;
	if (pool_size > POOL_KEEP && !timer_pending(&pool_timer))
		mod_timer(&pool_timer, jiffies + HZ);
}

/* Once a second while the pool is above POOL_KEEP: free the spares that
 * were not needed during the whole second (the least recently used). */
static void pool_shrink(struct timer_list *unused)
{
	unsigned int idle = min(pool_low, pool_size - min(pool_size, POOL_KEEP));
	struct syslet_stack *st;

	while (idle--) {
		st = list_last_entry(&pool, struct syslet_stack, pool_node);
		list_del(&st->pool_node);
		pool_size--;
		st->exit = true;
		wake_up_process(st->spare);
	}
	pool_low = pool_size;
	if (pool_size > POOL_KEEP)
		mod_timer(&pool_timer, jiffies + HZ);
}

/*
 * A spare sleeps here, at the top of its stack, until the pool shrinks or
 * a chain that was about to sleep hands it its caller's thread.
 */
static void __noreturn spare_loop(struct syslet_stack *st)
{
	struct task_struct *self = current;
	struct lkl_thread *head;
	struct task_struct *from;

	for (;;) {
		set_current_state(TASK_IDLE);
		if (self->thread.bound || st->exit)
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	if (st->exit) {
		lkl_stat_inc_owner(syslet_contexts_freed);
		do_exit(0);
	}

	/*
	 * Adopted: continue as the caller's task, with its credentials (a
	 * spare was cloned with those of whoever grew the pool).  Sharing the
	 * cred structs is what a CLONE_THREAD child does.
	 */
	head = self->thread.bound;
	from = head->syslet_from;
	if (unlikely(self->real_cred != from->real_cred || self->cred != from->cred)) {
		const struct cred *old_real = self->real_cred, *old = self->cred;

		rcu_assign_pointer(self->real_cred, get_cred(from->real_cred));
		rcu_assign_pointer(self->cred, get_cred(from->cred));
		put_cred(old_real);
		put_cred(old);
	}
	/*
	 * Back into async_exec on the caller's stack: it returns 0.  The
	 * chain's task may reuse the top of this stack from now on.
	 */
	st->leaving = NULL;
	if (st->leaving_waiter) {
		wake_up_process(st->leaving_waiter);
		st->leaving_waiter = NULL;
	}
	lkl_ctx_jump(&head->syslet_return);
}

/*
 * Make the running chain asynchronous: the current task keeps the chain
 * and the stack, and the spare at the top of the stack becomes the
 * caller's task.  Called by the chain's task with the CPU held, before it
 * sleeps.
 */
static void go_async(struct syslet_stack *st)
{
	struct task_struct *self = current, *spare = st->spare;
	struct lkl_thread *head = st->head;
	const struct lkl_user_window *window = current_thread_info()->user_window;

	/* The caller's window lives in the caller's frame, which returns now. */
	if (window) {
		memcpy(st->ranges, window->ranges, window->count * sizeof(*st->ranges));
		st->window.ranges = st->ranges;
		st->window.count = window->count;
		current_thread_info()->user_window = &st->window;
	}
	st->async = true;
	st->head = NULL;
	st->spare = NULL;
	st->leaving = spare;
	list_add(&st->flight_node, &in_flight);
	nr_in_flight++;

	self->thread.bound = NULL;
	self->thread.stack = spare->thread.stack;
	self->thread.stack_size = spare->thread.stack_size;
	spare->thread.stack = NULL;
	spare->thread.stack_size = 0;

	head->syslet_from = self;
	head->task = spare;
	spare->thread.bound = head;
	wake_up_process(spare);
}

/*
 * The scheduler hook: @tsk is about to sleep (patch 0002), before its
 * plugged I/O is flushed.  A chain's task issues that I/O here, on the
 * caller's thread (the core would defer it to a kblockd worker, which
 * needs a thread woken to run); a request the host completes at once
 * (an image in the host's page cache) can end the wait right there, and
 * the chain then goes on synchronously.  Any other task that is about to
 * sleep may wait for host I/O on its own thread (lkl_io_wait()).
 */
void arch_task_will_sleep(struct task_struct *tsk)
{
	struct syslet_stack *st = tsk->thread.syslet;

	if (likely(!st) || !st->head || (st->flags & SYSLET_SYNC)) {
		lkl_io_wait(tsk);
		return;
	}
	if (tsk->plug)
		blk_flush_plug(tsk->plug, false);
	if (task_is_running(tsk))
		return;
	lkl_stat_inc_owner(syslet_cachemisses);
	go_async(st);
}

/* Calls an atom may not make: they end or replace the task that runs the
 * chain, or nest chains. */
static bool atom_refused(long nr)
{
	return lkl_syscall_refused_when_confined(nr) ||
	       nr == __NR_async_exec || nr == __NR_async_wait;
}

static long run_atom(const struct syslet_atom *atom)
{
	long args[6];
	long nr = atom->nr;
	int i;

	if (atom_refused(nr))
		return -EPERM;
	if ((unsigned long)nr >= __NR_syscalls)
		return -ENOSYS;
	for (i = 0; i < 6; i++) {
		args[i] = 0;
		if (atom->arg_ptr[i] &&
		    get_user(args[i], (long __user *)(unsigned long)atom->arg_ptr[i]))
			return -EFAULT;
	}
	if (lkl_syscall_asks_direct_io(nr, args))
		return -EINVAL;
	return lkl_finish_syscall(lkl_syscall_table[nr](args[0], args[1], args[2],
							args[3], args[4], args[5]));
}

static bool stops(u32 flags, long ret)
{
	return ((flags & SYSLET_STOP_ON_NONZERO) && ret != 0) ||
	       ((flags & SYSLET_STOP_ON_ZERO) && ret == 0) ||
	       ((flags & SYSLET_STOP_ON_NEGATIVE) && ret < 0) ||
	       ((flags & SYSLET_STOP_ON_NON_POSITIVE) && ret <= 0);
}

static bool flags_valid(u32 flags)
{
	return !(flags & ~SYSLET_FLAGS_ALL) &&
	       (flags & (SYSLET_ASYNC | SYSLET_SYNC)) != (SYSLET_ASYNC | SYSLET_SYNC);
}

/* SYSLET_ASYNC: go asynchronous now, and continue once the caller left. */
static void go_async_now(struct syslet_stack *st)
{
	struct lkl_thread *head = st->head;

	head->syslet_defer = current;
	set_current_state(TASK_IDLE);
	go_async(st);
	schedule();
}

/*
 * Run the chain from st->atom.  Returns 0 when it ended normally (its
 * last atom, result and private are in @st), or a negative errno for a
 * malformed atom, which ends it.
 */
static long run_chain(struct syslet_stack *st)
{
	unsigned long uatom = st->atom;
	struct syslet_atom atom;
	unsigned int n;

	for (n = 0; ; n++) {
		if (n == SYSLET_MAX_ATOMS)
			return -ELOOP;
		if (uatom & 7)
			return -EINVAL;
		if (copy_from_user(&atom, (void __user *)uatom, sizeof(atom)))
			return -EFAULT;
		if (!flags_valid(atom.flags))
			return -EINVAL;
		st->atom = uatom;
		st->flags = atom.flags;
		st->private = atom.private;
		if ((atom.flags & SYSLET_ASYNC) && st->head)
			go_async_now(st);

		st->result = run_atom(&atom);
		/* A result slot the atom may not write fails the atom. */
		if (atom.ret_ptr &&
		    put_user(st->result, (long __user *)(unsigned long)atom.ret_ptr))
			st->result = -EFAULT;
		if (unlikely(st->cancelled))
			return -ECANCELED;

		if (stops(atom.flags, st->result)) {
			if (!(atom.flags & SYSLET_SKIP_TO_NEXT_ON_STOP))
				return 0;
			uatom += sizeof(atom);
		} else {
			if (!atom.next)
				return 0;
			uatom = atom.next;
		}
	}
}

static bool ring_entries_valid(u32 entries)
{
	return entries && entries <= SYSLET_RING_MAX_ENTRIES && is_power_of_2(entries);
}

/* Read a ring header, checking it describes a ring the caller may use. */
static long ring_header(unsigned long ring, struct syslet_ring *hdr)
{
	if (!ring || (ring & 7))
		return -EINVAL;
	if (copy_from_user(hdr, (void __user *)ring, sizeof(*hdr)))
		return -EFAULT;
	smp_rmb();	/* entries are read after the head and tail */
	if (!ring_entries_valid(hdr->entries))
		return -EINVAL;
	if (!access_ok((void __user *)ring, sizeof(*hdr) +
		       (unsigned long)hdr->entries * sizeof(struct syslet_completion)))
		return -EFAULT;
	return 0;
}

/**
 * lkl_syslet_notify_flush - call the host's ring notify hook once for every
 * ring that received completions since the last call
 *
 * Called by the CPU owner before it releases the CPU or sleeps, through
 * lkl_syslet_flush_notifications() (lkl.h), which checks the count inline.
 */
void lkl_syslet_notify_flush(void)
{
	unsigned int i;

	for (i = 0; i < lkl_syslet_notify_count; i++) {
		lkl_stat_inc_owner(syslet_ring_notifications);
		if (lkl_ops->ring_notify)
			lkl_ops->ring_notify((void *)notify_rings[i]);
	}
	lkl_syslet_notify_count = 0;
}

static void notify_later(unsigned long ring)
{
	unsigned int i;

	for (i = 0; i < lkl_syslet_notify_count; i++)
		if (notify_rings[i] == ring)
			return;
	if (lkl_syslet_notify_count == NOTIFY_BATCH)
		lkl_syslet_notify_flush();
	notify_rings[lkl_syslet_notify_count++] = ring;
}

/* The ring has space for one more completion (or the kernel stops). */
static bool ring_has_space(unsigned long ring, long *err)
{
	struct syslet_ring hdr;

	*err = ring_header(ring, &hdr);
	return *err || hdr.kernel_head - hdr.user_tail < hdr.entries ||
	       READ_ONCE(stopping);
}

/*
 * Post {@result, @private} to @ring, waiting for space if it is full
 * (unless @no_wait: halt and panic).  The entry is written before the head
 * that publishes it (x86-64 keeps stores in order; smp_wmb() keeps the
 * compiler from reordering them).
 */
static long ring_post(unsigned long ring, long result, u64 private, bool no_wait)
{
	struct syslet_completion entry = { .result = result, .private = private };
	struct syslet_completion __user *slot;
	struct syslet_ring __user *uring = (void __user *)ring;
	struct syslet_ring hdr;
	bool counted = false;
	DEFINE_WAIT(wait);
	long err;

	for (;;) {
		err = ring_header(ring, &hdr);
		if (err)
			return err;
		if (hdr.kernel_head - hdr.user_tail < hdr.entries)
			break;
		if (no_wait || READ_ONCE(stopping))
			return -ENOSPC;
		/*
		 * Full: ask the consumer to call async_ring_notify(), then
		 * look again, as it may have consumed before it saw the flag.
		 * The flag is set again before every sleep: a notify clears
		 * it, and other completions may have filled the ring before
		 * this one ran.
		 */
		prepare_to_wait(&ring_wq, &wait, TASK_IDLE);
		if (put_user(hdr.flags | SYSLET_RING_WAITING, &uring->flags)) {
			finish_wait(&ring_wq, &wait);
			return -EFAULT;
		}
		smp_mb();
		if (!ring_has_space(ring, &err)) {
			if (!counted)
				lkl_stat_inc_owner(syslet_ring_full_waits);
			counted = true;
			schedule();
		}
		finish_wait(&ring_wq, &wait);
	}
	slot = (void __user *)(ring + sizeof(hdr));
	slot += hdr.kernel_head & (hdr.entries - 1);
	if (copy_to_user(slot, &entry, sizeof(entry)))
		return -EFAULT;
	smp_wmb();
	if (put_user(hdr.kernel_head + 1, &uring->kernel_head))
		return -EFAULT;
	lkl_stat_inc_owner(syslet_completions);
	if (hdr.flags & SYSLET_RING_NOTIFY)
		notify_later(ring);
	if (wq_has_sleeper(&ring_wq))
		wake_up_all(&ring_wq);
	return 0;
}

/* Post a chain's completion from another context (halt, panic), within
 * the chain's own window. */
static void post_for(struct syslet_stack *st, long result)
{
	struct thread_info *ti = current_thread_info();
	const struct lkl_user_window *saved = ti->user_window;
	long err;

	st->cancelled = true;
	ti->user_window = st->confined ? &st->window : NULL;
	err = ring_post(st->ring, result, st->private, true);
	ti->user_window = saved;
	if (err)
		pr_err("syslet: ring %lx: completion {%ld, %llu} lost (error %ld)\n",
		       st->ring, result, st->private, err);
}

/*
 * An asynchronous chain ended with @err (0: normally): post its completion
 * and become the spare of the stack.
 */
static void __noreturn finish_async(struct syslet_stack *st, long err)
{
	struct task_struct *self = current;
	struct lkl_ctx fresh;
	long posted;

	if (!st->cancelled && (err || !(st->flags & SYSLET_NO_COMPLETE))) {
		posted = ring_post(st->ring, err ? err : st->result, st->private, false);
		if (posted)
			pr_err("syslet: ring %lx: completion {%ld, %llu} lost (error %ld)\n",
			       st->ring, err ? err : st->result, st->private, posted);
	}
	list_del(&st->flight_node);
	if (!--nr_in_flight)
		wake_up(&drain_wq);

	/*
	 * A wake-up that raced with going asynchronous can run the chain to
	 * its end before the spare that took over the caller has run: its
	 * frames still sit at the top of this stack, where the chain's task
	 * is about to start over.  Wait for it to leave.
	 */
	while (READ_ONCE(st->leaving)) {
		st->leaving_waiter = self;
		set_current_state(TASK_IDLE);
		if (READ_ONCE(st->leaving))
			schedule();
		__set_current_state(TASK_RUNNING);
	}

	current_thread_info()->user_window = NULL;
	self->thread.syslet = NULL;
	st->spare = self;
	st->async = false;
	st->cancelled = false;
	st->confined = false;
	pool_put(st);
	/* Start over at the top of the stack, as a fresh spare. */
	lkl_ctx_prepare(&fresh, st, spare_entry, st);
	lkl_ctx_jump(&fresh);
}

/*
 * The chain, on its pool stack, as the caller's task.  Returns to
 * async_exec when it ended without going asynchronous (the last atom, or
 * an error); otherwise posts its completion and never returns.
 */
/* Task switches a caller makes at most to run completed chains. */
#define RUN_COMPLETED_MAX	64

/*
 * Before async_exec or async_wait returns: chains whose I/O completed (their
 * disk interrupt ran during the call, or is due) run here, on the caller's
 * thread, up to their completions.  Otherwise the caller leaving the kernel
 * would wake the CPU thread to run them: on a paravirtualised host that
 * wake-up costs more than all they have left to do, and the caller, who
 * submitted chains, is the one that wants their completions.
 */
static void run_completed_chains(void)
{
	int budget = RUN_COMPLETED_MAX;

	if (!nr_in_flight)
		return;
	if (lkl_ops->io_reap())
		lkl_irq_raise_pending(LKL_DISK_IRQ);
	if (READ_ONCE(lkl_irq_pending))
		lkl_run_pending_irqs();
	while (nr_running() > 1 && budget--)
		yield();
}

static long chain_main(void *arg)
{
	struct syslet_stack *st = arg;
	long err = run_chain(st);

	if (st->async)
		finish_async(st, err);

	/* Ended without sleeping (or in SYSLET_SYNC sleeps), on the
	 * caller's own thread and task. */
	st->head = NULL;
	current->thread.syslet = NULL;
	pool_put(st);
	lkl_stat_inc_owner(syslet_chains_inline);
	return err ? err : (long)st->atom;
}

SYSCALL_DEFINE2(async_exec, struct syslet_atom __user *, atom,
		struct syslet_ring __user *, ring)
{
	const struct lkl_user_window *window = current_thread_info()->user_window;
	/* The host thread a host thread's own task is bound to: its caller
	 * (no call into the host to ask, as lkl_thread_self() does). */
	struct lkl_thread *self = current->thread.bound;
	struct syslet_ring hdr;
	struct syslet_stack *st;
	long err;

	if (!atom || ((unsigned long)atom & 7))
		return -EINVAL;
	err = ring_header((unsigned long)ring, &hdr);
	if (err)
		return err;
	/* An unreadable atom fails the chain's first read of it: -EFAULT. */
	if (window && window->count > SYSLET_MAX_RANGES)
		return -E2BIG;
	/* Only a host thread's own task runs chains, never a chain's. */
	if (current->thread.syslet || !self || current != self->task)
		return -EPERM;
	if (READ_ONCE(stopping))
		return -ESHUTDOWN;
	st = pool_get();
	if (!st)
		return -ENOMEM;

	st->head = self;
	st->ring = (unsigned long)ring;
	st->atom = (unsigned long)atom;
	st->confined = window != NULL;
	st->flags = 0;
	current->thread.syslet = st;
	self->syslet_defer = NULL;
	if (!lkl_ctx_save(&self->syslet_return)) {
		err = lkl_call_on_stack(chain_main, st, chain_stack_top(st));
		run_completed_chains();
		return err;
	}
	/*
	 * Resumed here by the spare that took over the caller when the chain
	 * went asynchronous (spare_loop()): this thread now runs that task.
	 * A chain that asked to go asynchronous at once (SYSLET_ASYNC) is not
	 * run here before the caller got its 0.
	 */
	if (self->syslet_defer) {
		wake_up_process(self->syslet_defer);
		self->syslet_defer = NULL;
		return 0;
	}
	run_completed_chains();
	return 0;
}

static long ring_unconsumed(unsigned long ring, long *count)
{
	struct syslet_ring hdr;
	long err = ring_header(ring, &hdr);

	*count = err ? err : (long)(u32)(hdr.kernel_head - hdr.user_tail);
	return err;
}

SYSCALL_DEFINE2(async_wait, struct syslet_ring __user *, ring,
		unsigned long, min_events)
{
	struct syslet_ring hdr;
	long err, count;

	err = ring_header((unsigned long)ring, &hdr);
	if (err)
		return err;
	if (!min_events || min_events > hdr.entries)
		return -EINVAL;
	err = wait_event_interruptible(ring_wq,
			ring_unconsumed((unsigned long)ring, &count) ||
			count >= (long)min_events || READ_ONCE(stopping));
	if (err)
		return -EINTR;
	if (count >= (long)min_events) {
		long more;

		/* Completions due now are posted before the caller looks. */
		run_completed_chains();
		if (!ring_unconsumed((unsigned long)ring, &more) && more > count)
			count = more;
	}
	if (count < 0)
		return count;
	if (count < (long)min_events)
		return -ESHUTDOWN;
	return count;
}

SYSCALL_DEFINE1(async_ring_notify, struct syslet_ring __user *, ring)
{
	struct syslet_ring hdr;
	long err;

	err = ring_header((unsigned long)ring, &hdr);
	if (err)
		return err;
	if ((hdr.flags & SYSLET_RING_WAITING) &&
	    put_user(hdr.flags & ~SYSLET_RING_WAITING, &ring->flags))
		return -EFAULT;
	/* Completions waiting for space look again (and set the flag again
	 * if the ring is still full). */
	wake_up_all(&ring_wq);
	return 0;
}

/**
 * lkl_syslet_halt - halt: no new chains, let the ones in flight finish
 *
 * Waits up to half a second; a chain still unfinished then (blocked on a
 * pipe, say) gets -ECANCELED posted to its ring.  Runs in the halting task.
 */
void lkl_syslet_halt(void)
{
	struct syslet_stack *st;

	WRITE_ONCE(stopping, true);
	wake_up_all(&ring_wq);
	wait_event_timeout(drain_wq, !nr_in_flight, msecs_to_jiffies(500));
	list_for_each_entry(st, &in_flight, flight_node)
		if (!st->cancelled)
			post_for(st, -ECANCELED);
	lkl_syslet_flush_notifications();
}

/** lkl_syslet_halt_failed - the kernel keeps running: accept chains again */
void lkl_syslet_halt_failed(void)
{
	WRITE_ONCE(stopping, false);
}

/**
 * lkl_syslet_panic - the kernel died: every chain in flight gets
 * -ENOTRECOVERABLE posted, and its ring's hook is called
 */
void lkl_syslet_panic(void)
{
	struct syslet_stack *st;

	WRITE_ONCE(stopping, true);
	list_for_each_entry(st, &in_flight, flight_node)
		if (!st->cancelled)
			post_for(st, -LKL_EKERNELDEAD);
	lkl_syslet_flush_notifications();
}

static int __init syslet_init(void)
{
	BUILD_BUG_ON(sizeof(struct syslet_atom) != 80);
	BUILD_BUG_ON(offsetof(struct syslet_atom, private) != 72);
	BUILD_BUG_ON(sizeof(struct syslet_ring) != 16);
	BUILD_BUG_ON(sizeof(struct syslet_completion) != 16);
	BUILD_BUG_ON(sizeof(struct syslet_stack) > 1024);
	timer_setup(&pool_timer, pool_shrink, 0);
	return 0;
}
early_initcall(syslet_init);
