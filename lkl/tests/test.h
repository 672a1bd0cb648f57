/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small TAP harness for the C tests.  Each test is a function returning
 * 0 for pass; CHECK() fails the running test with a message.  The kernel log
 * is captured: a failing test prints it in a YAML block, and a test whose log
 * shows BUG:, WARNING: or Oops fails even if its checks passed.
 */
#ifndef _LKL_TEST_H
#define _LKL_TEST_H

#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <lkl.h>
#include <lkl/syscalls.h>
#include <lkl/asm-generic/fcntl.h>
#include <lkl/linux/fcntl.h>

#define LOG_SIZE (256 * 1024)

static char test_log[LOG_SIZE];
static size_t test_log_len, test_log_mark;
static int test_number, test_failures;
static char test_reason[512];

static void test_console(const char *text, size_t len, void *ctx)
{
	if (test_log_len + len > LOG_SIZE - 1)
		len = LOG_SIZE - 1 - test_log_len;
	memcpy(test_log + test_log_len, text, len);
	test_log_len += len;
	test_log[test_log_len] = 0;
}

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			snprintf(test_reason, sizeof(test_reason),	\
				 "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			snprintf(test_reason + strlen(test_reason),	\
				 sizeof(test_reason) - strlen(test_reason), \
				 __VA_ARGS__);				\
			return -1;					\
		}							\
	} while (0)

/* A syscall that must succeed (>= 0). */
#define CHECK_OK(expr)							\
	({ long __r = (expr);						\
	   CHECK(__r >= 0, "returned %ld (%s)", __r, lkl_strerror(__r)); \
	   __r; })

static void test_plan(int n)
{
	lkl_set_console_hook(test_console, NULL);
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static int log_has_bug(const char *from)
{
	return strstr(from, "BUG:") || strstr(from, "WARNING:") ||
	       strstr(from, "Oops");
}

static void test_run(const char *name, int (*fn)(void))
{
	int ret;

	test_reason[0] = 0;
	test_log_mark = test_log_len;
	ret = fn();
	if (!ret && log_has_bug(test_log + test_log_mark)) {
		ret = -1;
		snprintf(test_reason, sizeof(test_reason),
			 "kernel log shows BUG/WARNING/Oops");
	}
	test_number++;
	if (ret) {
		test_failures++;
		printf("not ok %d - %s\n  ---\n  reason: \"%s\"\n  kernel_log: |\n",
		       test_number, name, test_reason);
		for (char *line = test_log; *line;) {
			char *end = strchr(line, '\n');
			int len = end ? (int)(end - line) : (int)strlen(line);

			printf("    %.*s\n", len, line);
			line += len + (end ? 1 : 0);
		}
		printf("  ...\n");
	} else {
		printf("ok %d - %s\n", test_number, name);
	}
	fflush(stdout);
}

/*
 * Host threads of this process, from the host's /proc.  A joined thread can
 * stay listed for a moment while the host kernel finishes its exit, so wait
 * (up to a second) for the count to settle at its minimum.
 */
static int host_threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int host_threads(void)
{
	int n = host_threads_now();

	for (int i = 0; i < 100 && n > 1; i++) {
		usleep(10 * 1000);
		n = host_threads_now();
	}
	return n;
}

/* Runs a shell command (printf-style), its output kept out of the TAP stream. */
static int test_shell(const char *fmt, ...)
{
	char cmd[1024], full[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "( %s ) >/dev/null 2>&1 </dev/null", cmd);
	return system(full);
}

/* The state letter of kernel task @tid ('S' sleeping, 'R' running...). */
static char task_state(long tid)
{
	char path[64], buf[256], *p;
	long fd, n;

	snprintf(path, sizeof(path), "/proc/1/task/%ld/stat", tid);
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY, 0);
	if (fd < 0)
		return '?';
	n = lkl_sys_read(fd, buf, sizeof(buf) - 1);
	lkl_sys_close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int test_done(void)
{
	return test_failures ? 1 : 0;
}

#endif
