/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_CONTEXT_H
#define _ASM_LKL_CONTEXT_H

#ifndef __ASSEMBLY__
/**
 * struct lkl_ctx - callee-saved registers of a suspended kernel context
 *
 * Saving and restoring these is the whole cost of a context switch between
 * tasks run by the same host thread: no system call, no other thread.
 */
struct lkl_ctx {
	unsigned long regs[8];
};

/**
 * lkl_ctx_save - save the calling context
 * Returns 0 when called, 1 when resumed by lkl_ctx_jump().
 */
int lkl_ctx_save(struct lkl_ctx *ctx) __attribute__((returns_twice));

/** lkl_ctx_jump - resume a context saved by lkl_ctx_save(). */
void lkl_ctx_jump(const struct lkl_ctx *ctx) __attribute__((noreturn));

/**
 * lkl_call_on_stack - call @fn(@arg) on the stack below @stack_top
 * Returns what @fn returns.  @fn may also never return (it then leaves
 * with lkl_ctx_jump()).
 */
long lkl_call_on_stack(long (*fn)(void *), void *arg, void *stack_top);

/**
 * lkl_ctx_prepare - make @ctx start @fn(@arg) on the stack below @stack_top
 * when jumped to.  @fn must not return.
 */
void lkl_ctx_prepare(struct lkl_ctx *ctx, void *stack_top,
		     void (*fn)(void *), void *arg);
#endif

#endif /* _ASM_LKL_CONTEXT_H */
