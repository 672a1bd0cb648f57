// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public C API (lkl.h) over the kernel's entry points.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lkl.h>
#include "host.h"

static lkl_console_hook console_hook;
static void *console_ctx;
static lkl_panic_hook panic_hook;
static void *panic_ctx;
static lkl_ring_notify_hook ring_notify_hook;
static void *ring_notify_ctx;
static int console_to_stderr;
static struct lkl_host_ops ops;

void lkl_set_console_hook(lkl_console_hook hook, void *ctx)
{
	console_ctx = ctx;
	__atomic_store_n(&console_hook, hook, __ATOMIC_RELEASE);
}

void lkl_set_panic_hook(lkl_panic_hook hook, void *ctx)
{
	panic_ctx = ctx;
	__atomic_store_n(&panic_hook, hook, __ATOMIC_RELEASE);
}

void lkl_set_ring_notify_hook(lkl_ring_notify_hook hook, void *ctx)
{
	ring_notify_ctx = ctx;
	__atomic_store_n(&ring_notify_hook, hook, __ATOMIC_RELEASE);
}

static void host_ring_notify(void *ring)
{
	lkl_ring_notify_hook hook = __atomic_load_n(&ring_notify_hook, __ATOMIC_ACQUIRE);

	if (hook)
		hook(ring, ring_notify_ctx);
}

static void host_print(const char *str, int len)
{
	lkl_console_hook hook = __atomic_load_n(&console_hook, __ATOMIC_ACQUIRE);

	if (hook)
		hook(str, len, console_ctx);
	else if (console_to_stderr && write(2, str, len) < 0)
		return;
}

static void host_panic(const char *msg)
{
	lkl_panic_hook hook = __atomic_load_n(&panic_hook, __ATOMIC_ACQUIRE);

	if (hook)
		hook(msg, panic_ctx);
}

int lkl_boot(const char *cmdline)
{
	console_to_stderr = getenv("LKL_CONSOLE") != NULL;
	lkl_posix_fill_ops(&ops);
	lkl_usercopy_fill_ops(&ops);
	lkl_disk_fill_ops(&ops);
	ops.print = host_print;
	ops.panic = host_panic;
	ops.ring_notify = host_ring_notify;
	return lkl_kernel_start(&ops, cmdline ? cmdline : "");
}

long lkl_syscall(long nr, const long args[6])
{
	return lkl_kernel_syscall(nr, args, NULL);
}

long lkl_syscall_confined(long nr, const long args[6],
			  const struct lkl_user_range *ranges, unsigned int count)
{
	struct lkl_user_window window = { .ranges = ranges, .count = count };

	return lkl_kernel_syscall(nr, args, &window);
}

int lkl_halt(void)
{
	/*
	 * Nothing written to a disk may be lost: the kernel closes every file
	 * and unmounts every disk before it powers off, or fails and runs on.
	 */
	int ret = lkl_kernel_halt();

	if (ret == 0 || ret == -LKL_ERR_KERNEL_DEAD)
		lkl_disk_shutdown();
	else if (ret != -LKL_ERR_NOT_RUNNING)
		lkl_disk_forget_unmounted();
	return ret;
}

const char *lkl_kernel_release(void)
{
	return lkl_kernel_version;
}

const char *lkl_strerror(long err)
{
	const char *s;

	if (err < 0)
		err = -err;
	/* Kernel errno values are the host's on Linux. */
	s = strerrordesc_np((int)err);
	return s ? s : "Unknown error";
}

int lkl_stats(struct lkl_stats *out, size_t size)
{
	const unsigned long long *from = (const unsigned long long *)&lkl_host_stats;
	unsigned long long *to = (unsigned long long *)out;
	size_t i, n = sizeof(lkl_host_stats) / sizeof(*from);

	memset(out, 0, size);
	for (i = 0; i < n && (i + 1) * sizeof(*to) <= size; i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	return 0;
}

int lkl_host_thread_count(void)
{
	return lkl_posix_thread_count();
}
