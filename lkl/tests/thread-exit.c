// SPDX-License-Identifier: GPL-2.0-only
/*
 * thread-exit: a host thread that made syscalls and outlives the kernel
 * exits cleanly: halt freed its record, and its exit must not read it.  Run
 * under valgrind (tests.mk), which reports the read of freed memory that
 * nothing else would notice.
 */
#include "test.h"

#include <pthread.h>
#include <semaphore.h>

static sem_t called, halted;
static long thread_ret;

static void *caller_main(void *arg)
{
	thread_ret = lkl_sys_getpid();
	sem_post(&called);
	sem_wait(&halted);
	return NULL;	/* the library's thread destructor runs now */
}

static int test_exit_after_halt(void)
{
	pthread_t th;

	sem_init(&called, 0, 0);
	sem_init(&halted, 0, 0);
	CHECK(lkl_boot("mem=32M") == 0, "boot failed");
	pthread_create(&th, NULL, caller_main, NULL);
	sem_wait(&called);
	CHECK(thread_ret == 1, "the thread's getpid returned %ld", thread_ret);
	CHECK(lkl_halt() == 0, "halt failed");
	sem_post(&halted);
	pthread_join(th, NULL);
	return 0;
}

int main(void)
{
	test_plan(1);
	test_run("a thread exiting after halt reads no freed memory", test_exit_after_halt);
	return test_done();
}
