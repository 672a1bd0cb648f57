/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lkl_host.h - the contract between the kernel and the host library.
 *
 * This is the only header seen by both sides: kernel code (arch/lkl) never
 * includes libc headers and host code (lkl/host) never includes kernel
 * headers.  It therefore uses only C basic types.
 */
#ifndef _LKL_HOST_H
#define _LKL_HOST_H

#include <lkl_stats.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Block requests from the kernel's disk driver to the host's backend. */
#define LKL_DISK_MAX_SEGS	128

enum lkl_disk_op {
	LKL_DISK_READ,
	LKL_DISK_WRITE,
	LKL_DISK_FLUSH,		/* make written data durable (fdatasync) */
	LKL_DISK_DISCARD,	/* the range may read back as anything: punch hole */
	LKL_DISK_WRITE_ZEROES,	/* the range reads back as zeroes */
};

struct lkl_disk_iovec {
	void *base;
	unsigned long len;
};

/**
 * struct lkl_disk_request - one block request
 * @op: an enum lkl_disk_op
 * @fua: for a write, the data must be durable when it completes
 * @offset: byte offset in the image
 * @length: bytes covered (sum of @segs for reads and writes)
 * @nr_segs: number of @segs used
 * @segs: kernel memory to read into or write from
 * @result: set by the host: 0, or a negative errno
 * @next: link used by the kernel's completion list
 * @disk: the host handle of the disk
 * @cookie: the kernel's own request
 */
struct lkl_disk_request {
	int op;
	int fua;
	unsigned long long offset;
	unsigned long long length;
	int nr_segs;
	struct lkl_disk_iovec segs[LKL_DISK_MAX_SEGS];
	long result;
	struct lkl_disk_request *next;
	void *disk;
	void *cookie;
};

/**
 * struct lkl_host_ops - services the host provides to the kernel
 *
 * Every function may be called from any host thread that currently runs
 * kernel code.  None of them may call back into the kernel.
 */
struct lkl_host_ops {
	/**
	 * @print: write @len bytes of kernel console output.
	 */
	void (*print)(const char *str, int len);
	/**
	 * @panic: the kernel panicked with @msg.  Must return: the kernel
	 * marks itself dead and parks its contexts, the process carries on.
	 */
	void (*panic)(const char *msg);

	/** @mem_alloc: allocate @size bytes of host memory, or return NULL. */
	void *(*mem_alloc)(unsigned long size);
	/** @mem_free: free memory from @mem_alloc. */
	void (*mem_free)(void *ptr);
	/**
	 * @page_alloc: allocate @size bytes (a multiple of the page size),
	 * page aligned, zero filled; NULL on failure.
	 */
	void *(*page_alloc)(unsigned long size);
	/** @page_free: free memory from @page_alloc. */
	void (*page_free)(void *ptr, unsigned long size);
	/**
	 * @stack_alloc: allocate a stack of @size usable bytes with an
	 * inaccessible guard page below it, so that an overflow faults
	 * instead of corrupting memory.  Returns the lowest usable address.
	 */
	void *(*stack_alloc)(unsigned long size);
	/** @stack_free: free a stack from @stack_alloc. */
	void (*stack_free)(void *base, unsigned long size);

	/**
	 * @thread_create: start a joinable host thread running @fn(@arg).
	 * Returns an opaque handle, or NULL.
	 */
	void *(*thread_create)(void (*fn)(void *), void *arg);
	/** @thread_join: wait for a thread from @thread_create to end. */
	void (*thread_join)(void *handle);
	/**
	 * @thread_data_get: the kernel's per-host-thread pointer for the
	 * calling thread (NULL until set).
	 */
	void *(*thread_data_get)(void);
	/**
	 * @thread_data_set: set that pointer.  When a thread whose pointer
	 * is not NULL exits, the host calls lkl_kernel_thread_exit(ptr).
	 */
	void (*thread_data_set)(void *data);

	/**
	 * @futex_wait: sleep while *@addr == @val, at most until the
	 * monotonic time @deadline_ns (0: no deadline).  Spurious returns are
	 * allowed; callers re-check their condition.
	 */
	void (*futex_wait)(unsigned int *addr, unsigned int val,
			   unsigned long long deadline_ns);
	/** @futex_wake: wake up to @count waiters on @addr. */
	void (*futex_wake)(unsigned int *addr, int count);

	/** @time_ns: monotonic clock in nanoseconds. */
	unsigned long long (*time_ns)(void);
	/** @realtime_ns: wall clock (since the Unix epoch) in nanoseconds. */
	unsigned long long (*realtime_ns)(void);

	/**
	 * @idle_wait: the CPU thread's only wait.  Sleep while *@event_seq
	 * == @seen, at most until @deadline_ns (0: none) or the time given to
	 * @idle_alarm; also return when disk completions are ready to be
	 * reaped (@io_reap).  Returns 1 if it waited in the host, 0 if
	 * *@event_seq had already changed.
	 */
	int (*idle_wait)(unsigned int *event_seq, unsigned int seen,
			 unsigned long long deadline_ns);
	/** @idle_notify: wake the CPU thread from @idle_wait. */
	void (*idle_notify)(unsigned int *event_seq);

	/**
	 * @memcpy: the host's optimised copy; the kernel's own string
	 * functions copy a byte at a time.  @memset and @memmove likewise.
	 */
	void *(*memcpy)(void *dest, const void *src, unsigned long n);
	/** @memset: see @memcpy. */
	void *(*memset)(void *s, int c, unsigned long n);
	/** @memmove: see @memcpy. */
	void *(*memmove)(void *dest, const void *src, unsigned long n);

	/**
	 * @user_copy: copy @n bytes from @src to @dst, where either may be a
	 * caller's ("user") address that is not mapped; @src NULL writes
	 * zeroes.  Returns the number of bytes NOT copied (0 on success): a
	 * fault ends the copy instead of the process, the way exception tables
	 * do on a real architecture.  The bytes before the faulting page are
	 * copied.
	 */
	unsigned long (*user_copy)(void *dst, const void *src, unsigned long n);
	/**
	 * @user_strnlen: length of the string at @str, at most @max, or -1 if
	 * @str runs into unmapped memory before a NUL or @max bytes.
	 */
	long (*user_strnlen)(const char *str, unsigned long max);

	/**
	 * @disk_submit: queue @req on the backend of @disk (the handle given
	 * to the kernel when the disk was added).  @last: no more requests
	 * follow for now, submit the batch.  Returns 1 if the request was
	 * completed at once (result set; the kernel ends it without an
	 * interrupt), 0 if it was queued: then completion is reported with
	 * lkl_kernel_disk_complete() and lkl_kernel_trigger_irq(LKL_DISK_IRQ),
	 * from any thread.
	 */
	int (*disk_submit)(void *disk, struct lkl_disk_request *req, int last);
	/** @disk_commit: submit what @disk_submit queued without @last. */
	void (*disk_commit)(void *disk);
	/**
	 * @io_reap: hand the kernel the disk requests that completed (with
	 * lkl_kernel_disk_complete()) and return their number.  Called by
	 * the thread releasing the CPU and by the CPU thread after its idle
	 * wait, so completions are reaped without a thread of their own.
	 * Cheap when nothing completed (a read of the completion queue).
	 */
	int (*io_reap)(void);

	/**
	 * @stats: counters the kernel and the host library add to (relaxed
	 * atomic increments from any thread), read by lkl_stats().
	 */
	struct lkl_stats *stats;
	/**
	 * @idle_alarm: make @idle_wait return at the monotonic time
	 * @deadline_ns even if it already sleeps with a later deadline,
	 * without waking it now (a host timer, not a thread wake-up).
	 * 0 disarms.  Called by the CPU owner only.
	 */
	void (*idle_alarm)(unsigned long long deadline_ns);
	/**
	 * @io_drain: wait until every request given to @disk_submit has
	 * finished on the host (and was handed to lkl_kernel_disk_complete()),
	 * so that no host I/O touches kernel memory any more.  Called once, at
	 * power off, by the CPU owner, before the kernel frees any memory.
	 */
	void (*io_drain)(void);
	/**
	 * @random_bytes: fill @buf with up to @len bytes from the host's
	 * random number generator; returns how many it wrote (0 if none).
	 * Seeds the kernel's generator at boot.
	 */
	long (*random_bytes)(void *buf, unsigned long len);
	/**
	 * @ring_notify: completions were posted to the syslet ring at @ring
	 * (in the caller's memory), whose header asks for the notify hook.
	 * Called once per batch of completions, by the CPU owner, before it
	 * releases the CPU or sleeps; must not call into the kernel.
	 */
	void (*ring_notify)(void *ring);
	/**
	 * @io_flush: hand the host the requests @disk_submit queued (they
	 * are batched until the CPU owner releases the CPU, waits, or calls
	 * this).  @lazy (the owner leaves the kernel): the backend may keep
	 * them a while longer if requests already in flight are sure to
	 * bring a thread back into the kernel when they complete.  Returns 1
	 * if requests stay queued.  Called by the CPU owner only.
	 */
	int (*io_flush)(int lazy);
	/**
	 * @io_wait: the CPU owner's task is about to sleep and nothing else
	 * can run: submit what is queued, then wait in the host until a disk
	 * request completes, @io_wait_kick is called, or @deadline_ns (0:
	 * none) passes.  Hands the completed requests to the kernel (as
	 * @io_reap) and returns their number, or -1 at once when the
	 * backend cannot wait this way or has nothing in flight.
	 */
	int (*io_wait)(unsigned long long deadline_ns);
	/** @io_wait_kick: make @io_wait return soon (any thread). */
	void (*io_wait_kick)(void);
};

/* Interrupt line of disk completions. */
#define LKL_DISK_IRQ		2

/* Internal syscall numbers of the library (outside the kernel's table). */
#define LKL_SYSCALL_DISK_ADD	0x10010	/* (handle, capacity bytes, read_only) -> dev_t */
#define LKL_SYSCALL_DISK_REMOVE	0x10011	/* (minor) */
#define LKL_SYSCALL_DISK_BUSY	0x10012	/* (minor) -> 1 if open (mounted), 0 if not */
/* Close all files, unmount every disk, power off; see lkl_kernel_halt(). */
#define LKL_SYSCALL_HALT	0x10013

#include <lkl_user_range.h>

/*
 * The memory a syscall may touch through its user pointers.  NULL (the C
 * API's plain lkl_syscall()) leaves the caller's whole address space open.
 */
struct lkl_user_window {
	const struct lkl_user_range *ranges;
	unsigned int count;
};

/* Entry points of the kernel object (the only global symbols of lkl.o). */
int lkl_kernel_start(const struct lkl_host_ops *ops, const char *cmdline);
long lkl_kernel_syscall(long nr, const long *args,
			const struct lkl_user_window *window);
int lkl_kernel_halt(void);
void lkl_kernel_thread_exit(void *thread_data);
void lkl_kernel_trigger_irq(int irq);
void lkl_kernel_disk_complete(struct lkl_disk_request *req);
/* Where a fault at @ip in the kernel's inline user accesses resumes, or 0
 * (for the host's fault handler; safe in a signal handler). */
unsigned long lkl_kernel_user_fixup(unsigned long ip);
extern const char lkl_kernel_version[];

#ifdef __cplusplus
}
#endif

#endif /* _LKL_HOST_H */
