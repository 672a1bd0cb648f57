// SPDX-License-Identifier: GPL-2.0-only
/*
 * syslet-panic: a kernel panic with chains in flight.  Every chain blocked
 * in the kernel gets {-ENOTRECOVERABLE, private} in its ring, the notify
 * hook runs, and a thread sleeping in async_wait returns -ENOTRECOVERABLE.
 */
#include "syslet-test.h"

#define CHAINS 4

static char panic_message[256];

static void on_panic(const char *message, void *ctx)
{
	snprintf(panic_message, sizeof(panic_message), "%s", message);
}

static struct lkl_syslet_ring *ring;
static int hook_calls, other_calls;

static void ring_hook(void *r, void *ctx)
{
	if (r == ring)
		__atomic_add_fetch(&hook_calls, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&other_calls, 1, __ATOMIC_SEQ_CST);
}

static struct lkl_syslet_atom atoms[CHAINS];
static int64_t rets[CHAINS];
static char bufs[CHAINS][8];
static uint64_t fdv[CHAINS], bufp[CHAINS], len = 8;

static long waiter_tid, waiter_ret = 1;

static void *waiter(void *arg)
{
	__atomic_store_n(&waiter_tid, lkl_sys_gettid(), __ATOMIC_SEQ_CST);
	/* More than will ever be posted before the panic. */
	waiter_ret = async_wait(ring, CHAINS + 1);
	return NULL;
}

static pthread_t waiter_thread;
static int waiter_started;

static int test_boot(void)
{
	int ret;

	lkl_set_panic_hook(on_panic, NULL);
	lkl_set_ring_notify_hook(ring_hook, NULL);
	ret = lkl_boot("mem=64M lkl_test_hooks=1");
	CHECK(ret == 0, "boot returned %d (%s)", ret, lkl_strerror(ret));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	ring = ring_new(8, LKL_SYSLET_RING_NOTIFY);
	CHECK(ring, "out of memory");
	return 0;
}

/* The library's test hooks are not system calls a chain can make. */
static int test_no_hooks_in_chains(void)
{
	static struct lkl_syslet_atom a[2];
	static int64_t ret[2];
	long r;

	ATOM(&a[0], LKL_SYSCALL_TEST_PANIC, 0, &ret[0], &a[1], 0);
	ATOM(&a[1], __LKL_NR_getpid, 0, &ret[1], NULL, 1);
	ret[0] = ret[1] = 111;
	r = async_exec(&a[0], ring);
	CHECK(r == ATOM_ADDR(&a[1]), "returned %ld", r);
	CHECK(ret[0] == -LKL_ENOSYS, "the panic hook as an atom: %lld", (long long)ret[0]);
	CHECK(ret[1] == lkl_sys_getpid(), "the kernel is not alive after it");
	CHECK(!panic_message[0], "panicked: %s", panic_message);
	return 0;
}

static int test_chains_blocked(void)
{
	char state;

	for (int i = 0; i < CHAINS; i++) {
		int fds[2];
		long r;

		CHECK_OK(kpipe(fds));
		fdv[i] = fds[0];
		bufp[i] = (uintptr_t)bufs[i];
		rets[i] = 111;
		ATOM(&atoms[i], __LKL_NR_read, 0, &rets[i], NULL, 0x100 + i, &fdv[i], &bufp[i], &len);
		r = async_exec(&atoms[i], ring);
		CHECK(r == 0, "chain %d returned %ld", i, r);
	}
	waiter_started = !pthread_create(&waiter_thread, NULL, waiter, NULL);
	CHECK(waiter_started, "pthread_create");
	state = wait_task_sleeping(&waiter_tid);
	CHECK(state == 'S', "the waiter never slept in async_wait (state %c)", state);
	CHECK(ring_head(ring) == 0, "%u completions before the panic", ring_head(ring));
	return 0;
}

static int test_panic(void)
{
	long args[6] = { 0 };
	long ret = lkl_syscall(LKL_SYSCALL_TEST_PANIC, args);
	unsigned int seen = 0;

	CHECK(ret == -LKL_ERR_KERNEL_DEAD, "panicking call returned %ld", ret);
	CHECK(strstr(panic_message, "test hook"), "panic hook got '%s'", panic_message);
	/* The log is expected to show the panic: start a fresh window. */
	test_log_len = 0;
	test_log[0] = 0;

	CHECK(ring_head(ring) == CHAINS, "%u completions for %d chains in flight",
	      ring_head(ring), CHAINS);
	for (int i = 0; i < CHAINS; i++) {
		struct lkl_syslet_completion *c = ring_entry(ring, i);
		uint64_t k = c->private - 0x100;

		CHECK(c->result == -LKL_ENOTRECOVERABLE, "entry %d: result %lld (%s)", i,
		      (long long)c->result, lkl_strerror(c->result));
		CHECK(k < CHAINS && !(seen & (1u << k)), "entry %d: private %#llx", i,
		      (unsigned long long)c->private);
		seen |= 1u << k;
	}
	CHECK(hook_calls >= 1, "the notify hook did not run");
	CHECK(other_calls == 0, "%d hook calls for other rings", other_calls);
	return 0;
}

static int test_waiter_returned(void)
{
	CHECK(waiter_started, "no waiter");
	pthread_join(waiter_thread, NULL);
	CHECK(waiter_ret == -LKL_ENOTRECOVERABLE, "async_wait returned %ld", waiter_ret);
	return 0;
}

static int test_after_panic(void)
{
	CHECK(async_exec(&atoms[0], ring) == -LKL_ENOTRECOVERABLE, "async_exec after the panic");
	CHECK(async_wait(ring, 1) == -LKL_ENOTRECOVERABLE, "async_wait after the panic");
	CHECK(ring_head(ring) == CHAINS, "%u completions", ring_head(ring));
	CHECK(lkl_halt() == -LKL_ERR_KERNEL_DEAD, "halt after panic");
	CHECK(lkl_host_thread_count() == 0, "%d library threads left", lkl_host_thread_count());
	return 0;
}

int main(void)
{
	test_plan(6);
	run("boot with test hooks", test_boot, 60);
	run("a chain cannot call the panic test hook", test_no_hooks_in_chains, 60);
	run("chains blocked on pipes, a thread in async_wait", test_chains_blocked, 60);
	run("panic: every chain in flight gets -ENOTRECOVERABLE", test_panic, 60);
	run("async_wait returns -ENOTRECOVERABLE", test_waiter_returned, 60);
	run("calls after the panic", test_after_panic, 60);
	return test_done();
}
