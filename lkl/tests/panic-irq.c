// SPDX-License-Identifier: GPL-2.0-only
/*
 * panic-irq: a panic inside an interrupt handler run by a host thread that
 * raised the interrupt from outside the kernel returns to that thread (its
 * escape point is the raise itself, not a stale syscall frame); afterwards
 * the kernel is dead and the process carries on.
 */
#include "test.h"
#include <lkl_host.h>

#define TEST_IRQ 5

#include <pthread.h>

static pthread_t main_thread;
static int panicked_here;

static void on_panic(const char *message, void *ctx)
{
	panicked_here = pthread_equal(pthread_self(), main_thread);
}

static int test_boot_with_hooks(void)
{
	int ret = lkl_boot("mem=32M lkl_test_hooks=1 lkl_test_irq=5");

	CHECK(ret == 0, "boot returned %d", ret);
	return 0;
}

static __attribute__((noinline)) long make_call(void)
{
	long args[6] = { 0 };

	return lkl_syscall(__LKL_NR_getpid, args);
}

/* Raise the interrupt from a frame that overwrites the stack where the last
 * call's frames were: a jump to that call's escape point would crash. */
static __attribute__((noinline)) void raise_from_deep_frame(void)
{
	volatile char fill[8192];

	for (size_t i = 0; i < sizeof(fill); i++)
		fill[i] = 0x41;
	lkl_kernel_trigger_irq(TEST_IRQ);
	fill[0] = 0;
}

static int test_panic_in_irq(void)
{
	long args[6] = { 0 };

	CHECK_OK(lkl_syscall(LKL_SYSCALL_TEST_PANIC_IN_IRQ, args));
	/* Once boot's work is done the CPU thread sleeps until the next tick;
	 * right after a call this thread's task is current, so the handler
	 * runs here (and the last escape point was that call's). */
	usleep(200 * 1000);
	CHECK_OK(make_call());
	raise_from_deep_frame();
	CHECK(panicked_here, "the handler ran on another thread: this tested nothing");
	for (int i = 0; i < 100 && !strstr(test_log, "Kernel panic"); i++)
		usleep(10 * 1000);
	CHECK(strstr(test_log, "panic requested in the test interrupt"),
	      "no panic in the log");
	CHECK(lkl_sys_getpid() == -LKL_ERR_KERNEL_DEAD, "getpid after the panic");
	test_log_len = 0;
	test_log[0] = 0;
	return 0;
}

static int test_halt_after_panic(void)
{
	CHECK(lkl_halt() == -LKL_ERR_KERNEL_DEAD, "halt after panic");
	CHECK(lkl_host_thread_count() == 0, "%d library threads left",
	      lkl_host_thread_count());
	return 0;
}

int main(void)
{
	main_thread = pthread_self();
	lkl_set_panic_hook(on_panic, NULL);
	test_plan(3);
	test_run("boot with test hooks", test_boot_with_hooks);
	test_run("a panic in an interrupt handler returns to the raiser", test_panic_in_irq);
	test_run("halt after the panic", test_halt_after_panic);
	return test_done();
}
