/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * Syslets: chains of system calls run asynchronously by the kernel, with
 * completions posted to rings in the caller's memory (installed as
 * <lkl/syslet.h>, every name prefixed with lkl_/LKL_).
 *
 *   long async_exec(struct syslet_atom *atom, struct syslet_ring *ring);
 *	Runs the chain that starts at @atom.  Returns the address of the last
 *	atom executed when the whole chain completed without sleeping (nothing
 *	is posted); 0 when the chain went asynchronous (its completion will
 *	appear in @ring); a negative errno when the submission is malformed.
 *   long async_wait(struct syslet_ring *ring, unsigned long min_events);
 *	Sleeps until @ring holds at least @min_events unconsumed completions;
 *	returns their number.
 *   long async_ring_notify(struct syslet_ring *ring);
 *	Tells completions waiting for space in @ring that the consumer freed
 *	some (needed when the kernel set SYSLET_RING_WAITING).
 *
 * See docs/syslets.md for the full semantics.
 */
#ifndef _UAPI_ASM_LKL_SYSLET_H
#define _UAPI_ASM_LKL_SYSLET_H

#include <linux/types.h>

/* Atom flags (the values of the 2007 v3 series). */
#define SYSLET_ASYNC			0x01	/* go asynchronous before this atom */
#define SYSLET_SYNC			0x02	/* never go asynchronous in this atom */
#define SYSLET_NO_COMPLETE		0x04	/* ending the chain posts nothing */
#define SYSLET_STOP_ON_NONZERO		0x08
#define SYSLET_STOP_ON_ZERO		0x10
#define SYSLET_STOP_ON_NEGATIVE		0x20
#define SYSLET_STOP_ON_NON_POSITIVE	0x40
#define SYSLET_SKIP_TO_NEXT_ON_STOP	0x80	/* on a stop, run the atom laid out next */
#define SYSLET_FLAGS_ALL		0xff

/* The longest chain: the atom after this many ends it with -ELOOP. */
#define SYSLET_MAX_ATOMS		1024
/* Ring sizes: a power of two in [1, SYSLET_RING_MAX_ENTRIES]. */
#define SYSLET_RING_MAX_ENTRIES		(1U << 20)
/* A confined submission may carry at most this many memory ranges. */
#define SYSLET_MAX_RANGES		32

/**
 * struct syslet_atom - one system call of a chain, 80 in size
 * @flags: SYSLET_* flags
 * @nr: system call number
 * @ret_ptr: where the kernel stores the s64 result (0: nowhere)
 * @next: the next atom (0: the chain ends here)
 * @arg_ptr: pointers to the u64 arguments (0: the argument is 0); read just
 *	before the call, so an argument may point at an earlier atom's result
 * @private: copied into the completion; never read otherwise (named
 *	private_data in C++, where private is a keyword)
 */
struct syslet_atom {
	__u32 flags;
	__u32 nr;
	__u64 ret_ptr;
	__u64 next;
	__u64 arg_ptr[6];
#ifdef __cplusplus
	__u64 private_data;
#else
	__u64 private;
#endif
};

/* Ring header flags. */
#define SYSLET_RING_NOTIFY	0x1	/* consumer: call the host's notify hook */
#define SYSLET_RING_WAITING	0x2	/* kernel: a completion waits for space;
					 * call async_ring_notify() after consuming */

/**
 * struct syslet_ring - a completion ring header, followed by @entries
 * struct syslet_completion; 8-byte aligned, in the caller's memory
 * @kernel_head: completions posted (free running; written by the kernel,
 *	with release ordering after the entry)
 * @user_tail: completions consumed (written by the consumer)
 * @entries: number of entries, a power of two
 * @flags: SYSLET_RING_* flags
 */
struct syslet_ring {
	__u32 kernel_head;
	__u32 user_tail;
	__u32 entries;
	__u32 flags;
};

/**
 * struct syslet_completion - one posted completion
 * @result: the result of the chain's last atom (a negative errno on failure)
 * @private: that atom's @private (private_data in C++)
 */
struct syslet_completion {
	__s64 result;
#ifdef __cplusplus
	__u64 private_data;
#else
	__u64 private;
#endif
};

#if (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L) || \
	(defined(__cplusplus) && __cplusplus >= 201103L)
#ifdef __cplusplus
#define __SYSLET_ASSERT static_assert
#else
#define __SYSLET_ASSERT _Static_assert
#endif
__SYSLET_ASSERT(sizeof(struct syslet_atom) == 80, "atom size");
__SYSLET_ASSERT(__builtin_offsetof(struct syslet_atom, ret_ptr) == 8, "ret_ptr at 8");
__SYSLET_ASSERT(__builtin_offsetof(struct syslet_atom, next) == 16, "next at 16");
__SYSLET_ASSERT(__builtin_offsetof(struct syslet_atom, arg_ptr) == 24, "arg_ptr at 24");
#ifdef __cplusplus
__SYSLET_ASSERT(__builtin_offsetof(struct syslet_atom, private_data) == 72, "private at 72");
#else
__SYSLET_ASSERT(__builtin_offsetof(struct syslet_atom, private) == 72, "private at 72");
#endif
__SYSLET_ASSERT(sizeof(struct syslet_ring) == 16, "ring header size");
__SYSLET_ASSERT(sizeof(struct syslet_completion) == 16, "completion size");
#undef __SYSLET_ASSERT
#endif

#endif /* _UAPI_ASM_LKL_SYSLET_H */
