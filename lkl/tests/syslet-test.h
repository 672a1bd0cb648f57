/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the syslet tests: rings and atoms in this process's
 * memory, the consumer side of the ring protocol, and a watchdog that turns
 * a hang into a TAP "Bail out!" instead of a stuck prove.
 */
#ifndef _LKL_SYSLET_TEST_H
#define _LKL_SYSLET_TEST_H

#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include <lkl/syslet.h>
#include <lkl/asm-generic/errno.h>

/* A ring header followed by its entries, in zeroed, page-aligned memory. */
static struct lkl_syslet_ring *ring_new(unsigned int entries, unsigned int flags)
{
	size_t size = sizeof(struct lkl_syslet_ring) +
		      (size_t)entries * sizeof(struct lkl_syslet_completion);
	struct lkl_syslet_ring *ring = aligned_alloc(4096, (size + 4095) & ~4095UL);

	if (!ring)
		return NULL;
	memset(ring, 0, size);
	ring->entries = entries;
	ring->flags = flags;
	return ring;
}

static struct lkl_syslet_completion *ring_entry(struct lkl_syslet_ring *ring,
						 unsigned int index)
{
	return (struct lkl_syslet_completion *)(ring + 1) + (index & (ring->entries - 1));
}

/* Completions posted and not yet consumed. */
static unsigned int ring_pending(struct lkl_syslet_ring *ring)
{
	return __atomic_load_n(&ring->kernel_head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&ring->user_tail, __ATOMIC_RELAXED);
}

static unsigned int ring_head(struct lkl_syslet_ring *ring)
{
	return __atomic_load_n(&ring->kernel_head, __ATOMIC_ACQUIRE);
}

/*
 * Consume one completion into @out; returns 1, or 0 when the ring is empty.
 * The consumer's side of the protocol: head with acquire, the entry, the
 * tail with release, then (after a full barrier, so that the tail store is
 * visible before the flags are read) async_ring_notify() if a completion
 * waits for space.
 */
static int ring_pop(struct lkl_syslet_ring *ring, struct lkl_syslet_completion *out)
{
	unsigned int head = __atomic_load_n(&ring->kernel_head, __ATOMIC_ACQUIRE);
	unsigned int tail = __atomic_load_n(&ring->user_tail, __ATOMIC_RELAXED);

	if (head == tail)
		return 0;
	*out = *ring_entry(ring, tail);
	__atomic_store_n(&ring->user_tail, tail + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ring->flags, __ATOMIC_RELAXED) & LKL_SYSLET_RING_WAITING)
		lkl_sys_async_ring_notify(ring);
	return 1;
}

/*
 * Fill atom @a.  The arguments are pointers to 64-bit values (NULL: the
 * argument is 0), as many as given after @priv.
 */
static void atom_fill(struct lkl_syslet_atom *a, unsigned int nr, unsigned int flags,
		      int64_t *ret, struct lkl_syslet_atom *next, uint64_t priv,
		      uint64_t *const *args, int nargs)
{
	memset(a, 0, sizeof(*a));
	a->flags = flags;
	a->nr = nr;
	a->ret_ptr = (uintptr_t)ret;
	a->next = (uintptr_t)next;
	a->private = priv;
	for (int i = 0; i < nargs && i < 6; i++)
		a->arg_ptr[i] = (uintptr_t)args[i];
}

#define ATOM(a, nr, flags, ret, next, priv, ...)				\
	atom_fill(a, nr, flags, ret, next, priv,				\
		  (uint64_t *const []){ NULL, ##__VA_ARGS__ } + 1,		\
		  (int)(sizeof((uint64_t *const []){ NULL, ##__VA_ARGS__ }) /	\
			sizeof(uint64_t *)) - 1)

/* The value async_exec returns for a chain that ended at @a synchronously. */
#define ATOM_ADDR(a) ((long)(uintptr_t)(a))

static long async_exec(void *atom, void *ring)
{
	return lkl_sys_async_exec(atom, ring);
}

static long async_wait(void *ring, long min_events)
{
	return lkl_sys_async_wait(ring, min_events);
}

static struct lkl_stats stats_now(void)
{
	struct lkl_stats st;

	lkl_stats(&st, sizeof(st));
	return st;
}

#define DELTA(after, before, field) ((long long)((after).field - (before).field))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait until kernel task @tid sleeps (needs /proc mounted in the kernel);
 * returns its last state letter.  Polls for up to 5 s: a chain or a thread
 * that never sleeps is a failure, a slow machine is not.
 */
static char wait_task_sleeping(long *tid)
{
	char state = '?';

	for (int i = 0; i < 5000 && state != 'S'; i++) {
		long t = __atomic_load_n(tid, __ATOMIC_SEQ_CST);

		if (t)
			state = task_state(t);
		if (state != 'S')
			usleep(1000);
	}
	return state;
}

/*
 * The watchdog: a test that does not finish in @seconds (a deadlock, a lost
 * completion) ends the run with "Bail out!" so that prove reports it.  Not a
 * timing check: the limits are minutes for work that takes seconds.
 */
static char watchdog_msg[256];
/* Says more about where a test hung (optional; runs in the signal handler
 * of a process that is about to exit). */
static void (*watchdog_report)(void);

static void watchdog_fire(int sig)
{
	ssize_t r = write(1, watchdog_msg, strlen(watchdog_msg));

	(void)r;
	if (watchdog_report)
		watchdog_report();
	fflush(stdout);
	_exit(2);
}

static void run(const char *name, int (*fn)(void), unsigned int seconds)
{
	snprintf(watchdog_msg, sizeof(watchdog_msg),
		 "not ok %d - %s\nBail out! '%s' did not finish in %u s (hung)\n",
		 test_number + 1, name, name, seconds);
	fflush(stdout);
	signal(SIGALRM, watchdog_fire);
	alarm(seconds);
	test_run(name, fn);
	alarm(0);
}

/* A kernel pipe; returns 0 or a negative errno. */
static long kpipe(int fds[2])
{
	return lkl_sys_pipe2(fds, 0);
}

#endif
