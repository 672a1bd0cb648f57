/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_ATOMIC_H
#define _ASM_LKL_ATOMIC_H

/*
 * 32-bit atomics come from asm-generic; the 64-bit ones a 64-bit port needs
 * use the compiler's atomic builtins (only the CPU owner runs kernel code, so
 * relaxed ordering is enough; the CPU handoff orders memory between threads).
 */
#include <asm-generic/atomic.h>

#define ATOMIC64_INIT(i)	{ (i) }

static __always_inline s64 arch_atomic64_read(const atomic64_t *v)
{
	return READ_ONCE(v->counter);
}

static __always_inline void arch_atomic64_set(atomic64_t *v, s64 i)
{
	WRITE_ONCE(v->counter, i);
}

#define LKL_ATOMIC64_OP(op)						\
static __always_inline void arch_atomic64_##op(s64 i, atomic64_t *v)	\
{									\
	__atomic_fetch_##op(&v->counter, i, __ATOMIC_RELAXED);		\
}									\
static __always_inline s64 arch_atomic64_fetch_##op(s64 i, atomic64_t *v) \
{									\
	return __atomic_fetch_##op(&v->counter, i, __ATOMIC_RELAXED);	\
}

LKL_ATOMIC64_OP(add)
LKL_ATOMIC64_OP(sub)
LKL_ATOMIC64_OP(and)
LKL_ATOMIC64_OP(or)
LKL_ATOMIC64_OP(xor)

static __always_inline s64 arch_atomic64_add_return(s64 i, atomic64_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_RELAXED);
}

static __always_inline s64 arch_atomic64_sub_return(s64 i, atomic64_t *v)
{
	return __atomic_sub_fetch(&v->counter, i, __ATOMIC_RELAXED);
}

#define arch_atomic64_add		arch_atomic64_add
#define arch_atomic64_sub		arch_atomic64_sub
#define arch_atomic64_and		arch_atomic64_and
#define arch_atomic64_or		arch_atomic64_or
#define arch_atomic64_xor		arch_atomic64_xor
#define arch_atomic64_fetch_add		arch_atomic64_fetch_add
#define arch_atomic64_fetch_sub		arch_atomic64_fetch_sub
#define arch_atomic64_fetch_and		arch_atomic64_fetch_and
#define arch_atomic64_fetch_or		arch_atomic64_fetch_or
#define arch_atomic64_fetch_xor		arch_atomic64_fetch_xor
#define arch_atomic64_add_return	arch_atomic64_add_return
#define arch_atomic64_sub_return	arch_atomic64_sub_return

#endif
