// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host operations for POSIX hosts (Linux): memory, threads, futexes, clocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/*
 * Guards below every stack the library allocates or starts a thread on.
 * The kernel is built without stack-clash probes, so a frame could step
 * over a guard smaller than itself; the build refuses frames larger than
 * LKL_MAX_FRAME (arch/lkl/Makefile, 8 KiB), far below this.
 */
#define GUARD_SIZE (64UL * 1024)

/* Allocations from this size on ask for transparent huge pages. */
#define HUGE_ALLOC_MIN (4UL << 20)

static int live_threads;
struct lkl_stats lkl_host_stats;

static void *page_alloc(unsigned long size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/*
	 * The kernel's memory (hundreds of MiB) is touched page by page as
	 * the page cache grows: with 4 KiB host pages that is one host page
	 * fault per kernel page, which made a sequential write fault-bound.
	 * Transparent huge pages, where the host allows them for madvised
	 * ranges, take one fault per 2 MiB.  Small allocations (stacks) stay
	 * as they are.
	 */
	if (size >= HUGE_ALLOC_MIN)
		madvise(p, size, MADV_HUGEPAGE);
	return p;
}

static void page_free(void *ptr, unsigned long size)
{
	munmap(ptr, size);
}

/* The guard below the stack is never accessible: an overflow faults. */
static void *stack_alloc(unsigned long size)
{
	char *p = page_alloc(size + GUARD_SIZE);

	if (!p)
		return NULL;
	if (mprotect(p, GUARD_SIZE, PROT_NONE)) {
		munmap(p, size + GUARD_SIZE);
		return NULL;
	}
	return p + GUARD_SIZE;
}

static void stack_free(void *base, unsigned long size)
{
	munmap((char *)base - GUARD_SIZE, size + GUARD_SIZE);
}

static void *mem_alloc(unsigned long size)
{
	return malloc(size);
}

static void mem_free(void *ptr)
{
	free(ptr);
}

struct thread_start {
	void (*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start start = *(struct thread_start *)p;

	free(p);
	start.fn(start.arg);
	return NULL;
}

void *lkl_posix_thread_create(void (*fn)(void *), void *arg)
{
	struct thread_start *start = malloc(sizeof(*start));
	pthread_t *thread = malloc(sizeof(*thread));

	if (!start || !thread)
		goto fail;
	start->fn = fn;
	start->arg = arg;
	pthread_attr_t attr;
	int err;

	if (pthread_attr_init(&attr))
		goto fail;
	pthread_attr_setguardsize(&attr, GUARD_SIZE);
	err = pthread_create(thread, &attr, thread_trampoline, start);
	pthread_attr_destroy(&attr);
	if (err)
		goto fail;
	__atomic_add_fetch(&live_threads, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&lkl_host_stats.host_threads_created, 1, __ATOMIC_RELAXED);
	return thread;
fail:
	free(start);
	free(thread);
	return NULL;
}

void lkl_posix_thread_join(void *handle)
{
	pthread_t *thread = handle;

	pthread_join(*thread, NULL);
	free(thread);
	__atomic_sub_fetch(&live_threads, 1, __ATOMIC_SEQ_CST);
}

int lkl_posix_thread_count(void)
{
	return __atomic_load_n(&live_threads, __ATOMIC_SEQ_CST);
}

/*
 * The kernel's per-thread pointer: a TLS variable for speed, mirrored in a
 * pthread key whose destructor tells the kernel that the thread exits.
 */
static __thread void *thread_data;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_key_destructor(void *data)
{
	thread_data = data;
	lkl_kernel_thread_exit(data);
}

static void thread_key_init(void)
{
	pthread_key_create(&thread_key, thread_key_destructor);
}

static void *thread_data_get(void)
{
	return thread_data;
}

static void thread_data_set(void *data)
{
	thread_data = data;
	pthread_setspecific(thread_key, data);
}

static void futex_wait(unsigned int *addr, unsigned int val,
		       unsigned long long deadline_ns)
{
	struct timespec ts, *tsp = NULL;

	if (deadline_ns) {
		ts.tv_sec = deadline_ns / 1000000000ULL;
		ts.tv_nsec = deadline_ns % 1000000000ULL;
		tsp = &ts;
	}
	syscall(SYS_futex, addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val,
		tsp, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(unsigned int *addr, int count)
{
	syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count,
		NULL, NULL, 0);
}

static unsigned long long time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The idle wait is a poll on an eventfd written by idle_notify(), a timerfd
 * armed by idle_alarm(), and the eventfd the disk ring signals when requests
 * complete (lkl_host_io_eventfd, -1 without io_uring: poll skips it).
 */
static int notify_fd = -1;
static int alarm_fd = -1;
int lkl_host_io_eventfd = -1;

static int idle_wait(unsigned int *event_seq, unsigned int seen,
		     unsigned long long deadline_ns)
{
	struct pollfd fds[3] = {
		{ .fd = notify_fd, .events = POLLIN },
		{ .fd = alarm_fd, .events = POLLIN },
		{ .fd = lkl_host_io_eventfd, .events = POLLIN },
	};
	struct timespec ts, *tsp = NULL;
	uint64_t count;

	if (__atomic_load_n(event_seq, __ATOMIC_SEQ_CST) != seen)
		return 0;
	if (deadline_ns) {
		unsigned long long now = time_ns();
		unsigned long long left = deadline_ns > now ? deadline_ns - now : 0;

		ts.tv_sec = left / 1000000000ULL;
		ts.tv_nsec = left % 1000000000ULL;
		tsp = &ts;
	}
	ppoll(fds, 3, tsp, NULL);
	/* Consumed here; the caller re-checks everything after the wait
	 * (including the ring's completion queue itself). */
	for (int i = 0; i < 3; i++)
		if (fds[i].revents & POLLIN && read(fds[i].fd, &count, sizeof(count)) < 0)
			break;
	return 1;
}

static void idle_notify(unsigned int *event_seq)
{
	uint64_t one = 1;

	if (write(notify_fd, &one, sizeof(one)) < 0)
		return;
}

/* A host timer, not a wake-up: the sleeping CPU thread returns at @deadline. */
static void idle_alarm(unsigned long long deadline_ns)
{
	struct itimerspec when = {
		.it_value.tv_sec = deadline_ns / 1000000000ULL,
		.it_value.tv_nsec = deadline_ns % 1000000000ULL,
	};

	timerfd_settime(alarm_fd, TFD_TIMER_ABSTIME, &when, NULL);
}

/* The host's random generator, to seed the kernel's at boot. */
static long random_bytes(void *buf, unsigned long len)
{
	ssize_t n;

	do
		n = getrandom(buf, len, GRND_NONBLOCK);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : n;
}

void lkl_posix_fill_ops(struct lkl_host_ops *ops)
{
	pthread_once(&thread_key_once, thread_key_init);
	if (notify_fd < 0)
		notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (alarm_fd < 0)
		alarm_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ops->mem_alloc = mem_alloc;
	ops->mem_free = mem_free;
	ops->page_alloc = page_alloc;
	ops->page_free = page_free;
	ops->stack_alloc = stack_alloc;
	ops->stack_free = stack_free;
	ops->thread_create = lkl_posix_thread_create;
	ops->thread_join = lkl_posix_thread_join;
	ops->thread_data_get = thread_data_get;
	ops->thread_data_set = thread_data_set;
	ops->futex_wait = futex_wait;
	ops->futex_wake = futex_wake;
	ops->time_ns = time_ns;
	ops->realtime_ns = realtime_ns;
	ops->idle_wait = idle_wait;
	ops->idle_notify = idle_notify;
	ops->idle_alarm = idle_alarm;
	ops->stats = &lkl_host_stats;
	ops->memcpy = memcpy;
	ops->memset = memset;
	ops->memmove = memmove;
	ops->random_bytes = random_bytes;
}
