// SPDX-License-Identifier: GPL-2.0-only
/*
 * panic: a kernel panic marks the kernel dead without ending the process;
 * every later call, from any thread, fails with -LKL_ERR_KERNEL_DEAD.
 */
#include "test.h"
#include <lkl/asm-generic/errno-base.h>

#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

static char panic_message[256];

static void on_panic(const char *message, void *ctx)
{
	snprintf(panic_message, sizeof(panic_message), "%s", message);
}

static long blocked_ret;

static void *blocked_reader(void *arg)
{
	char c;

	blocked_ret = lkl_sys_read((long)arg, &c, 1);
	return NULL;
}

static void *later_caller(void *arg)
{
	*(long *)arg = lkl_sys_getpid();
	return NULL;
}

static pthread_t blocked;

static long task_fail_ret[2];

static void *task_fail_main(void *arg)
{
	long args[6] = { 0 };

	task_fail_ret[0] = lkl_syscall(__LKL_NR_getpid, args);
	task_fail_ret[1] = lkl_syscall(__LKL_NR_getpid, args);
	return NULL;
}

/* A thread whose task cannot be created gets -ENOMEM, and may try again. */
static int test_task_creation_failure(void)
{
	long args[6] = { 0 };
	pthread_t th;

	CHECK_OK(lkl_syscall(LKL_SYSCALL_TEST_FAIL_TASK, args));
	pthread_create(&th, NULL, task_fail_main, NULL);
	pthread_join(th, NULL);
	CHECK(task_fail_ret[0] == -LKL_ENOMEM, "first call returned %ld", task_fail_ret[0]);
	CHECK(task_fail_ret[1] == 1, "second call returned %ld", task_fail_ret[1]);
	CHECK(lkl_sys_getpid() == 1, "the kernel still works");
	return 0;
}


/*
 * Threads that keep calling while the kernel panics: whether a call was
 * running, waiting for the CPU or starting, after the panic it returns
 * -LKL_ERR_KERNEL_DEAD (never -ESHUTDOWN, which means halted).
 */
#define HAMMERS 4
static pthread_t hammers[HAMMERS];
static long hammer_last[HAMMERS];
static int hammers_started;

static void *hammer_main(void *arg)
{
	long *last = arg, ret;

	__atomic_add_fetch(&hammers_started, 1, __ATOMIC_SEQ_CST);
	do
		ret = lkl_sys_getpid();
	while (ret >= 0);
	*last = ret;
	return NULL;
}

static int test_start_hammers(void)
{
	for (int i = 0; i < HAMMERS; i++)
		pthread_create(&hammers[i], NULL, hammer_main, &hammer_last[i]);
	while (__atomic_load_n(&hammers_started, __ATOMIC_SEQ_CST) < HAMMERS)
		usleep(1000);
	usleep(5000);
	return 0;
}

static int test_boot_with_hooks(void)
{
	int fds[2];
	int ret = lkl_boot("mem=32M lkl_test_hooks=1");

	CHECK(ret == 0, "boot returned %d", ret);
	CHECK_OK(lkl_sys_pipe2(fds, 0));
	pthread_create(&blocked, NULL, blocked_reader, (void *)(long)fds[0]);
	usleep(20 * 1000);
	return 0;
}

static int test_panic_returns(void)
{
	long args[6] = { 0 };
	long ret = lkl_syscall(LKL_SYSCALL_TEST_PANIC, args);

	CHECK(ret == -LKL_ERR_KERNEL_DEAD, "panicking call returned %ld", ret);
	CHECK(strstr(panic_message, "test hook"), "panic hook got '%s'", panic_message);
	CHECK(strstr(test_log, "Kernel panic - not syncing"), "no panic line in the log");
	/* The log is expected to show the panic: start a fresh window. */
	test_log_len = 0;
	test_log[0] = 0;
	return 0;
}

static int test_calls_after_panic(void)
{
	pthread_t th;
	long other = 0;

	pthread_join(blocked, NULL);
	CHECK(blocked_ret == -LKL_ERR_KERNEL_DEAD, "blocked read returned %ld", blocked_ret);
	for (int i = 0; i < HAMMERS; i++) {
		pthread_join(hammers[i], NULL);
		CHECK(hammer_last[i] == -LKL_ERR_KERNEL_DEAD, "calling thread %d got %ld",
		      i, hammer_last[i]);
	}
	CHECK(lkl_sys_getpid() == -LKL_ERR_KERNEL_DEAD, "getpid after panic");
	pthread_create(&th, NULL, later_caller, &other);
	pthread_join(th, NULL);
	CHECK(other == -LKL_ERR_KERNEL_DEAD, "new thread got %ld", other);
	CHECK(lkl_boot("") == -LKL_ERR_ALREADY_BOOTED, "boot after panic");
	return 0;
}

static int test_halt_after_panic(void)
{
	CHECK(lkl_halt() == -LKL_ERR_KERNEL_DEAD, "halt after panic");
	CHECK(lkl_host_thread_count() == 0, "%d library threads left",
	      lkl_host_thread_count());
	CHECK(host_threads() == 1, "%d host threads in the process", host_threads());
	return 0;
}

int main(void)
{
	lkl_set_panic_hook(on_panic, NULL);
	test_plan(6);
	test_run("boot with test hooks", test_boot_with_hooks);
	test_run("a failed task creation returns ENOMEM", test_task_creation_failure);
	test_run("threads calling while the kernel panics", test_start_hammers);
	test_run("panic returns to the caller", test_panic_returns);
	test_run("every later call fails", test_calls_after_panic);
	test_run("halt after panic reclaims threads", test_halt_after_panic);
	return test_done();
}
