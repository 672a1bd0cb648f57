// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copies to and from callers' memory that survive a bad address.
 *
 * A real kernel's copy_from_user() stops at an unmapped page and reports
 * what it did not copy (exception tables).  Here "user" memory is the
 * process's own; the copies are a few instructions whose faults the
 * SIGSEGV/SIGBUS handler recognises by address and resumes at a fixup, as
 * an exception table does, so the fast path costs nothing but the copy.
 * The string length (a scan) still uses a per-thread recovery point.
 * Faults anywhere else are passed to the handler that was installed before
 * ours (V8's, Node's) or get the default action, exactly as without this
 * library.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <ucontext.h>

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
/*
 * The copies.  rep movsb and rep stosb stop at a fault with rcx holding
 * what is left, which the fixup returns; the 8-byte move (get_user and
 * put_user, syslet argument slots) returns 8 when either access faults.
 * The labels name the faulting instructions for the handler.
 */
unsigned long lkl_uc_copy(void *dst, const void *src, unsigned long n);
unsigned long lkl_uc_zero(void *dst, unsigned long n);
unsigned long lkl_uc_move8(void *dst, const void *src);
unsigned long lkl_uc_copyq(void *dst, const void *src, unsigned long n);
#define UC_LABEL(name) extern const char name[] __attribute__((visibility("hidden")))
UC_LABEL(lkl_uc_copy_insn);
UC_LABEL(lkl_uc_copy_fixup);
UC_LABEL(lkl_uc_zero_insn);
UC_LABEL(lkl_uc_zero_fixup);
UC_LABEL(lkl_uc_move8_load);
UC_LABEL(lkl_uc_move8_store);
UC_LABEL(lkl_uc_move8_fixup);
UC_LABEL(lkl_uc_copyq_load);
UC_LABEL(lkl_uc_copyq_store);
UC_LABEL(lkl_uc_copyq_fixup);

#define UC_GLOBAL(name) ".globl " #name "\n.hidden " #name "\n"
__asm__(
	".text\n"
	UC_GLOBAL(lkl_uc_copy) UC_GLOBAL(lkl_uc_copy_insn) UC_GLOBAL(lkl_uc_copy_fixup)
	UC_GLOBAL(lkl_uc_zero) UC_GLOBAL(lkl_uc_zero_insn) UC_GLOBAL(lkl_uc_zero_fixup)
	UC_GLOBAL(lkl_uc_move8) UC_GLOBAL(lkl_uc_move8_load)
	UC_GLOBAL(lkl_uc_move8_store) UC_GLOBAL(lkl_uc_move8_fixup)
	UC_GLOBAL(lkl_uc_copyq) UC_GLOBAL(lkl_uc_copyq_load)
	UC_GLOBAL(lkl_uc_copyq_store) UC_GLOBAL(lkl_uc_copyq_fixup)
	".p2align 4\n"
	"lkl_uc_copy:\n"		/* (dst, src, n) -> bytes not copied */
	"	mov %rdx, %rcx\n"
	"lkl_uc_copy_insn:\n"
	"	rep movsb\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"lkl_uc_copy_fixup:\n"
	"	mov %rcx, %rax\n"
	"	ret\n"
	".p2align 4\n"
	"lkl_uc_zero:\n"		/* (dst, n) -> bytes not cleared */
	"	mov %rsi, %rcx\n"
	"	xor %eax, %eax\n"
	"lkl_uc_zero_insn:\n"
	"	rep stosb\n"
	"	ret\n"
	"lkl_uc_zero_fixup:\n"
	"	mov %rcx, %rax\n"
	"	ret\n"
	".p2align 4\n"
	"lkl_uc_move8:\n"		/* (dst, src) -> 0, or 8 on a fault */
	"lkl_uc_move8_load:\n"
	"	mov (%rsi), %rax\n"
	"lkl_uc_move8_store:\n"
	"	mov %rax, (%rdi)\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"lkl_uc_move8_fixup:\n"
	"	mov $8, %eax\n"
	"	ret\n"
	".p2align 4\n"
	"lkl_uc_copyq:\n"		/* (dst, src, n: 8..128, a multiple of 8) */
	"	mov %rdx, %rcx\n"
	"	shr $3, %rcx\n"
	"1:\n"
	"lkl_uc_copyq_load:\n"
	"	mov (%rsi), %rax\n"
	"lkl_uc_copyq_store:\n"
	"	mov %rax, (%rdi)\n"
	"	add $8, %rsi\n"
	"	add $8, %rdi\n"
	"	dec %rcx\n"
	"	jnz 1b\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"lkl_uc_copyq_fixup:\n"	/* the words from the faulting one on */
	"	lea (,%rcx,8), %rax\n"
	"	ret\n"
);

static const struct {
	const char *insn, *fixup;
} copy_fixups[] = {
	{ lkl_uc_copy_insn, lkl_uc_copy_fixup },
	{ lkl_uc_zero_insn, lkl_uc_zero_fixup },
	{ lkl_uc_move8_load, lkl_uc_move8_fixup },
	{ lkl_uc_move8_store, lkl_uc_move8_fixup },
	{ lkl_uc_copyq_load, lkl_uc_copyq_fixup },
	{ lkl_uc_copyq_store, lkl_uc_copyq_fixup },
};

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
	ucontext_t *uc = ucontext;
	greg_t ip = uc->uc_mcontext.gregs[REG_RIP];
	unsigned long fixup;
	unsigned int i;

	for (i = 0; i < sizeof(copy_fixups) / sizeof(copy_fixups[0]); i++) {
		if (ip == (greg_t)copy_fixups[i].insn) {
			/* A user copy: resume at its fixup (SA_NODEFER left
			 * the signal unblocked). */
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)copy_fixups[i].fixup;
			return;
		}
	}
	/* One of the kernel's inline user accesses (asm/uaccess.h). */
	fixup = lkl_kernel_user_fixup(ip);
	if (fixup) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fixup;
		return;
	}

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

static unsigned long user_copy(void *dst, const void *src, unsigned long n)
{
	if (!src)
		return lkl_uc_zero(dst, n);
	/*
	 * Small copies within a page (argument slots, syslet atoms, ring
	 * headers) by words: rep movsb starts slowly.  Within a page a
	 * faulting word means the whole page faults, so what is reported
	 * still matches the contract (bytes before the faulting page).
	 */
	if (n <= 128 && !(n & 7) && to_page_end((uintptr_t)src) >= n &&
	    to_page_end((uintptr_t)dst) >= n) {
		if (n == 8)
			return lkl_uc_move8(dst, src);
		if (n)
			return lkl_uc_copyq(dst, src, n);
		return 0;
	}
	return lkl_uc_copy(dst, src, n);
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
