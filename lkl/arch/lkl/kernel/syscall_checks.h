/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The checks every system call passes on its way in and out, for the entry
 * path (syscalls.c) and each syslet atom (syslet.c): inline, as they run on
 * every call.
 */
#ifndef _LKL_SYSCALL_CHECKS_H
#define _LKL_SYSCALL_CHECKS_H

#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/task_work.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/uaccess.h>
#include <asm/unistd.h>

/*
 * Calls a confined caller (a binding of untrusted code) may not make: they
 * end or replace the calling task or the kernel, or hand the kernel a user
 * pointer it uses after the call, outside any window (clear_child_tid and
 * the robust futex list are written at thread exit, when the buffer may be
 * long gone).
 */
static __always_inline bool lkl_syscall_refused_when_confined(long nr)
{
	switch (nr) {
	case __NR_exit:
	case __NR_exit_group:
	case __NR_execve:
	case __NR_execveat:
	case __NR_clone:
	case __NR_clone3:
	case __NR_reboot:
	case __NR_kexec_load:
	case __NR_kexec_file_load:
	case __NR_set_tid_address:
	case __NR_set_robust_list:
	case __NR_rseq:
		return true;
	default:
		return false;
	}
}

/*
 * Direct I/O needs the caller's buffer as pages the block layer can map, and
 * caller memory here has no struct page: ext4 would fail a read halfway with
 * EFAULT.  O_DIRECT is refused where it is asked for, with EINVAL (what Linux
 * answers for file systems without direct I/O).
 */
static __always_inline bool lkl_syscall_asks_direct_io(long nr, const long *args)
{
	u64 flags;

	switch (nr) {
	case __NR_openat:
		return args[2] & O_DIRECT;
	case __NR_openat2:
		/* struct open_how starts with the u64 flags. */
		if ((unsigned long)args[3] < sizeof(flags) ||
		    copy_from_user(&flags, (const void __user *)args[2], sizeof(flags)))
			return false;	/* the call itself reports the error */
		return flags & O_DIRECT;
	case __NR_fcntl:
		return args[1] == F_SETFL && (args[2] & O_DIRECT);
	default:
		return false;
	}
}

/* What the caller of a thread's user mode would see after the call. */
static __always_inline long lkl_finish_syscall(long ret)
{
	if (unlikely(current->task_works))
		task_work_run();
	/* No user signal delivery: signals are dropped, restarts are EINTR. */
	if (unlikely(signal_pending(current)))
		flush_signals(current);
	if (unlikely(ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK))
		ret = -EINTR;
	return ret;
}

#endif /* _LKL_SYSCALL_CHECKS_H */
