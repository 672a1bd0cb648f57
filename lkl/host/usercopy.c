// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copies to and from callers' memory that survive a bad address.
 *
 * A real kernel's copy_from_user() stops at an unmapped page and reports
 * what it did not copy (exception tables).  Here "user" memory is the
 * process's own, so the copy runs with a per-thread recovery point and a
 * SIGSEGV/SIGBUS handler that jumps back to it.  Faults anywhere else are
 * passed to the handler that was installed before ours (V8's, Node's) or
 * get the default action, exactly as without this library.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>

#include "host.h"

#define PAGE 4096UL

/*
 * Where a fault in the current copy returns to; NULL outside copies.  The
 * compiler knows memcpy() reads no globals and would drop or move a plain
 * store around it: the pointer is volatile and barriers keep the copy
 * between setting and clearing it.
 */
static __thread sigjmp_buf *volatile copy_recovery;

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline void recovery_set(sigjmp_buf *recovery)
{
	copy_recovery = recovery;
	barrier();
}

static inline void recovery_clear(void)
{
	barrier();
	copy_recovery = NULL;
}
static struct sigaction previous[2];	/* SIGSEGV, SIGBUS */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void pass_on(int sig, siginfo_t *info, void *ucontext)
{
	struct sigaction *old = &previous[sig == SIGBUS];

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, info, ucontext);
	} else if (old->sa_handler == SIG_DFL) {
		/* Not ours: the faulting instruction runs again and the
		 * default action (a core dump) happens as it would have. */
		signal(sig, SIG_DFL);
	} else if (old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	}
}

static void fault_handler(int sig, siginfo_t *info, void *ucontext)
{
	sigjmp_buf *recovery = copy_recovery;

	if (!recovery) {
		pass_on(sig, info, ucontext);
		return;
	}
	copy_recovery = NULL;
	/* SA_NODEFER left the signal unblocked: nothing to restore. */
	siglongjmp(*recovery, 1);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &previous[0]);
	sigaction(SIGBUS, &sa, &previous[1]);
}

/* Bytes from @p to the end of its page. */
static unsigned long to_page_end(uintptr_t p)
{
	return PAGE - (p & (PAGE - 1));
}

/*
 * Page by page, so that a fault tells exactly which bytes were copied:
 * everything before the page that faulted.
 */
static unsigned long copy_by_pages(char *dst, const char *src, unsigned long n)
{
	sigjmp_buf recovery;
	volatile unsigned long done = 0;
	unsigned long chunk;

	if (sigsetjmp(recovery, 0))
		return n - done;
	recovery_set(&recovery);
	while (done < n) {
		chunk = n - done;
		if (chunk > to_page_end((uintptr_t)dst + done))
			chunk = to_page_end((uintptr_t)dst + done);
		if (src && chunk > to_page_end((uintptr_t)src + done))
			chunk = to_page_end((uintptr_t)src + done);
		if (src)
			memcpy(dst + done, src + done, chunk);
		else
			memset(dst + done, 0, chunk);
		done += chunk;
	}
	recovery_clear();
	return 0;
}

static unsigned long user_copy(void *dst, const void *src, unsigned long n)
{
	sigjmp_buf recovery;

	/* Fast path: one copy.  A fault redoes it page by page (a copy may be
	 * repeated) to find out how far it gets. */
	if (sigsetjmp(recovery, 0))
		return copy_by_pages(dst, src, n);
	recovery_set(&recovery);
	if (src)
		memcpy(dst, src, n);
	else
		memset(dst, 0, n);
	recovery_clear();
	return 0;
}

static long user_strnlen(const char *str, unsigned long max)
{
	sigjmp_buf recovery;
	volatile unsigned long done = 0;
	unsigned long chunk;
	const char *nul;

	if (sigsetjmp(recovery, 0))
		return -1;
	recovery_set(&recovery);
	/* Page by page: never touch a page past the NUL. */
	while (done < max) {
		chunk = to_page_end((uintptr_t)str + done);
		if (chunk > max - done)
			chunk = max - done;
		nul = memchr(str + done, 0, chunk);
		if (nul) {
			done = nul - str;
			break;
		}
		done += chunk;
	}
	recovery_clear();
	return done;
}

void lkl_usercopy_fill_ops(struct lkl_host_ops *ops)
{
	pthread_once(&install_once, install);
	ops->user_copy = user_copy;
	ops->user_strnlen = user_strnlen;
}
