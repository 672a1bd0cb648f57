/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Saving and resuming kernel contexts on an x86-64 host: only the registers
 * the SysV ABI makes callee-saved, plus the stack and resume address.
 * Layout of struct lkl_ctx: rbx rbp r12 r13 r14 r15 rsp rip.
 */
#include <linux/linkage.h>

	.text

/* int lkl_ctx_save(struct lkl_ctx *ctx): 0 now, 1 when resumed. */
SYM_FUNC_START(lkl_ctx_save)
	movq	%rbx, 0(%rdi)
	movq	%rbp, 8(%rdi)
	movq	%r12, 16(%rdi)
	movq	%r13, 24(%rdi)
	movq	%r14, 32(%rdi)
	movq	%r15, 40(%rdi)
	leaq	8(%rsp), %rdx		/* caller's stack pointer after return */
	movq	%rdx, 48(%rdi)
	movq	(%rsp), %rdx		/* return address */
	movq	%rdx, 56(%rdi)
	xorl	%eax, %eax
	ret
SYM_FUNC_END(lkl_ctx_save)

/* void lkl_ctx_jump(const struct lkl_ctx *ctx): resume, making save return 1. */
SYM_FUNC_START(lkl_ctx_jump)
	movq	0(%rdi), %rbx
	movq	8(%rdi), %rbp
	movq	16(%rdi), %r12
	movq	24(%rdi), %r13
	movq	32(%rdi), %r14
	movq	40(%rdi), %r15
	movq	48(%rdi), %rsp
	movl	$1, %eax
	jmpq	*56(%rdi)
SYM_FUNC_END(lkl_ctx_jump)

/* First code of a prepared context: fn in rbx, its argument in r12. */
SYM_FUNC_START(lkl_ctx_trampoline)
	movq	%r12, %rdi
	callq	*%rbx
	ud2
SYM_FUNC_END(lkl_ctx_trampoline)

/*
 * long lkl_call_on_stack(long (*fn)(void *), void *arg, void *stack_top):
 * call fn(arg) on another stack and return its result.  A call and a
 * return, not two context jumps, so the CPU's return predictions stay
 * right (a syslet chain that completes inline).  rbp, callee-saved, keeps
 * the caller's stack pointer and links the frames for stack dumps.
 */
SYM_FUNC_START(lkl_call_on_stack)
	pushq	%rbp
	movq	%rsp, %rbp
	andq	$-16, %rdx
	movq	%rdx, %rsp
	movq	%rdi, %rax
	movq	%rsi, %rdi
	callq	*%rax
	movq	%rbp, %rsp
	popq	%rbp
	ret
SYM_FUNC_END(lkl_call_on_stack)

	.section .note.GNU-stack,"",@progbits
