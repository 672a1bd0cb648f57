/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lkl_stats.h - counters of the library's own mechanics, shared by the
 * public API (lkl.h) and the kernel/host contract (lkl_host.h).  No
 * includes: the kernel side includes it too.
 *
 * Fields are only ever appended, so a caller built against an older header
 * keeps working (lkl_stats() copies as many bytes as the caller asks for).
 */
#ifndef _LKL_STATS_H
#define _LKL_STATS_H

/**
 * struct lkl_stats - how often each path of the library was taken
 * @syscalls_fast: syscalls whose caller's task was already current: no
 *	context switch at all
 * @syscalls_borrowed: syscalls that had to make the caller's task current
 *	and did so on the calling thread (a stack switch, no other thread)
 * @syscalls_handed: syscalls whose caller had to wait for another thread to
 *	hand it the CPU
 * @cpu_handoffs: times the CPU was handed from one host thread to another
 * @cpu_lock_waits: times a thread slept because another held the CPU
 * @cpu_thread_wakeups: returns of the CPU thread from its idle wait
 * @disk_requests_inline: block requests done at submission, without
 *	waiting (host page cache, tmpfs)
 * @disk_requests_queued: block requests queued to the host backend and
 *	completed later (an interrupt)
 * @host_threads_created: host threads the library started
 * @cpu_thread_notifies: notifications written to the sleeping CPU thread
 *	(each wakes it at once)
 * @idle_alarms: host alarms set so that the sleeping CPU thread wakes at an
 *	earlier timer deadline (no wake-up now)
 * @syslet_contexts_created: spare tasks (each with its stack) created for
 *	syslets; the pool grows only when it is empty
 * @syslet_contexts_freed: spare tasks freed because the pool sat idle
 * @syslet_chains_inline: syslet chains that completed without sleeping
 *	(async_exec returned the last atom; nothing posted)
 * @syslet_cachemisses: chains that went asynchronous because an atom was
 *	about to sleep (the caller continued on a spare task)
 * @syslet_completions: completions posted to rings
 * @syslet_ring_full_waits: times a completion waited for space in a ring
 * @syslet_ring_notifications: calls of the host's ring notify hook (one per
 *	batch of completions into a ring that asks for it)
 * @disk_reads_mapped: block reads of an image in host memory (tmpfs) copied
 *	from the library's mapping of it, with no host system call
 * @disk_requests_redone: block requests the host canceled or interrupted
 *	(io_uring does, for a thread that exits), done again synchronously
 */
struct lkl_stats {
	unsigned long long syscalls_fast;
	unsigned long long syscalls_borrowed;
	unsigned long long syscalls_handed;
	unsigned long long cpu_handoffs;
	unsigned long long cpu_lock_waits;
	unsigned long long cpu_thread_wakeups;
	unsigned long long disk_requests_inline;
	unsigned long long disk_requests_queued;
	unsigned long long host_threads_created;
	unsigned long long cpu_thread_notifies;
	unsigned long long idle_alarms;
	unsigned long long syslet_contexts_created;
	unsigned long long syslet_contexts_freed;
	unsigned long long syslet_chains_inline;
	unsigned long long syslet_cachemisses;
	unsigned long long syslet_completions;
	unsigned long long syslet_ring_full_waits;
	unsigned long long syslet_ring_notifications;
	unsigned long long disk_reads_mapped;
	unsigned long long disk_requests_redone;
};

#endif /* _LKL_STATS_H */
