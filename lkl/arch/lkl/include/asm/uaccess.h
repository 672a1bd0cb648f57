/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_UACCESS_H
#define _ASM_LKL_UACCESS_H

/*
 * No MMU: "user" memory is the host process's memory.  Two guards apply:
 *  - a syscall made through lkl_syscall_confined() carries a window of
 *    caller buffers (thread_info.user_window); every user access must fall
 *    inside it, so a bad pointer from a language binding gets -EFAULT
 *    instead of reaching arbitrary host memory.  Without a window every
 *    address is accepted;
 *  - every copy goes through the host's fault-catching copy (user_copy in
 *    the host operations): an unmapped address ends the copy and reports the
 *    bytes not copied, as exception tables do on a real architecture, so no
 *    user pointer can crash the process, confined or not.
 */
#include <linux/compiler.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/errno.h>
#include <linux/types.h>
#include <asm/current.h>
#include <asm/thread_info.h>

#include <lkl_host.h>

extern const struct lkl_host_ops *lkl_ops;

/*
 * Bytes of @window readable from @addr on, at most @max.  Inline, as the
 * copies below: a syslet atom makes half a dozen small user accesses
 * (its argument slots, its result) and each paid two calls for this.
 */
static __always_inline unsigned long
lkl_window_bytes_from(const struct lkl_user_window *window, unsigned long addr,
		      unsigned long max)
{
	unsigned int i;

	for (i = 0; i < window->count; i++) {
		const struct lkl_user_range *range = &window->ranges[i];

		if (addr >= range->start && addr - range->start < range->len)
			return min(max, range->len - (addr - range->start));
	}
	return 0;
}

#define __access_ok __access_ok
static inline int __access_ok(const void __user *ptr, unsigned long size)
{
	const struct lkl_user_window *window =
		((struct thread_info *)get_current())->user_window;

	if (likely(!window) || !size)
		return 1;
	return lkl_window_bytes_from(window, (unsigned long)ptr, size) == size;
}

/*
 * Small user accesses are inline loads and stores.  One that faults
 * resumes at its fixup: the host's fault handler looks the faulting
 * instruction up through lkl_kernel_user_fixup(), which searches the
 * entries below (offsets relative to themselves: the kernel ends up in
 * position-independent code).  An access costs a load or a store instead
 * of an indirect call into the host's copy, which matters where a syscall
 * makes many (a syslet atom: its 80 bytes, its argument slots, its result).
 */
struct lkl_user_fixup {
	int insn, fixup;
};

#define LKL_USER_FIXUP(insn, fixup)					\
	".pushsection __lkl_user_fixups, \"a\"\n"			\
	".balign 4\n"							\
	".long " insn " - ., " fixup " - .\n"				\
	".popsection\n"

/*
 * *@out = the @size bytes (1, 2, 4 or 8) at user @ptr; goto @fault if it
 * faults.  The "memory" clobbers keep user accesses in program order with
 * the kernel's other accesses to the same memory.
 */
#define lkl_user_load(size, ptr, out, fault)				\
do {									\
	unsigned long __v;						\
	switch (size) {							\
	case 1:								\
		asm goto("1: movzbl (%[p]), %k[v]\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : [v] "=r" (__v) : [p] "r" (ptr) : "memory" : fault);	\
		*(u8 *)(out) = __v;					\
		break;							\
	case 2:								\
		asm goto("1: movzwl (%[p]), %k[v]\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : [v] "=r" (__v) : [p] "r" (ptr) : "memory" : fault);	\
		put_unaligned((u16)__v, (u16 *)(out));			\
		break;							\
	case 4:								\
		asm goto("1: movl (%[p]), %k[v]\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : [v] "=r" (__v) : [p] "r" (ptr) : "memory" : fault);	\
		put_unaligned((u32)__v, (u32 *)(out));			\
		break;							\
	default:							\
		asm goto("1: movq (%[p]), %[v]\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : [v] "=r" (__v) : [p] "r" (ptr) : "memory" : fault);	\
		put_unaligned((u64)__v, (u64 *)(out));			\
		break;							\
	}								\
} while (0)

/* The @size bytes (1, 2, 4 or 8) at @in to user @ptr; goto @fault if it faults. */
#define lkl_user_store(size, ptr, in, fault)				\
do {									\
	switch (size) {							\
	case 1:								\
		asm goto("1: movb %b[v], (%[p])\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : : [v] "q" (*(const u8 *)(in)), [p] "r" (ptr)	\
			 : "memory" : fault);				\
		break;							\
	case 2:								\
		asm goto("1: movw %w[v], (%[p])\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : : [v] "r" (get_unaligned((const u16 *)(in))),	\
			   [p] "r" (ptr) : "memory" : fault);		\
		break;							\
	case 4:								\
		asm goto("1: movl %k[v], (%[p])\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : : [v] "r" (get_unaligned((const u32 *)(in))),	\
			   [p] "r" (ptr) : "memory" : fault);		\
		break;							\
	default:							\
		asm goto("1: movq %[v], (%[p])\n"			\
			 LKL_USER_FIXUP("1b", "%l[" #fault "]")		\
			 : : [v] "r" (get_unaligned((const u64 *)(in))),	\
			   [p] "r" (ptr) : "memory" : fault);		\
		break;							\
	}								\
} while (0)

static __always_inline int lkl_get_user_fn(size_t size, const void __user *ptr, void *x)
{
	lkl_user_load(size, ptr, x, fault);
	return 0;
fault:
	return -EFAULT;
}
#define __get_user_fn(sz, u, k)	lkl_get_user_fn(sz, u, k)

static __always_inline int lkl_put_user_fn(size_t size, void __user *ptr, void *x)
{
	lkl_user_store(size, ptr, x, fault);
	return 0;
fault:
	return -EFAULT;
}
#define __put_user_fn(sz, u, k)	lkl_put_user_fn(sz, u, k)

/* Word by word: returns the bytes not copied, as the host's copy does. */
static __always_inline unsigned long
lkl_copy_words_from_user(void *to, const void __user *from, unsigned long n)
{
	unsigned long done;

	for (done = 0; done < n; done += 8)
		lkl_user_load(8, from + done, to + done, fault);
	return 0;
fault:
	return n - done;
}

static __always_inline unsigned long
lkl_copy_words_to_user(void __user *to, const void *from, unsigned long n)
{
	unsigned long done;

	for (done = 0; done < n; done += 8)
		lkl_user_store(8, to + done, from + done, fault);
	return 0;
fault:
	return n - done;
}

/* Copies of a small constant size (a structure) inline, others by the host. */
#define LKL_INLINE_COPY(n) (__builtin_constant_p(n) && (n) <= 128 && !((n) & 7))

/*
 * The host's user_copy() takes a NULL source to mean "zero the
 * destination" (__clear_user); a NULL user pointer must fault instead.
 */
static __always_inline unsigned long
raw_copy_from_user(void *to, const void __user *from, unsigned long n)
{
	if (LKL_INLINE_COPY(n))
		return lkl_copy_words_from_user(to, from, n);
	if (unlikely(!from))
		return n;
	return lkl_ops->user_copy(to, (const void __force *)from, n);
}

static __always_inline unsigned long
raw_copy_to_user(void __user *to, const void *from, unsigned long n)
{
	if (LKL_INLINE_COPY(n))
		return lkl_copy_words_to_user(to, from, n);
	return lkl_ops->user_copy((void __force *)to, from, n);
}
#define INLINE_COPY_FROM_USER
#define INLINE_COPY_TO_USER

unsigned long __clear_user(void __user *to, unsigned long n);
#define __clear_user __clear_user

/* Kernel memory: plain accesses (a fault there is a kernel bug). */
#define __get_kernel_nofault(dst, src, type, err_label)			\
do {									\
	*((type *)(dst)) = get_unaligned((type *)(src));		\
	if (0)								\
		goto err_label;						\
} while (0)

#define __put_kernel_nofault(dst, src, type, err_label)			\
do {									\
	put_unaligned(*((type *)(src)), (type *)(dst));			\
	if (0)								\
		goto err_label;						\
} while (0)

#include <asm-generic/uaccess.h>

#endif /* _ASM_LKL_UACCESS_H */
