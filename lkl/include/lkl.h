/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lkl.h - Linux 6.12 as a library: the public C API.
 *
 * Every function returns a negative errno on failure and never sets errno.
 * Error numbers are the kernel's (LKL_E* in <lkl/asm-generic/errno*.h>),
 * which on Linux hosts equal the host's.
 */
#ifndef _LKL_H
#define _LKL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors of the library itself (kernel errno values). */
#define LKL_ERR_NOT_RUNNING	108	/* ESHUTDOWN: not booted, or halted */
#define LKL_ERR_ALREADY_BOOTED	114	/* EALREADY: one kernel per process */
#define LKL_ERR_KERNEL_DEAD	131	/* ENOTRECOVERABLE: the kernel panicked */

/*
 * Syscall number of the test hook that panics the kernel; honoured only when
 * the command line contains "lkl_test_hooks=1".
 */
#define LKL_SYSCALL_TEST_PANIC	0x10000
/* Test hooks too: the next host thread's task creation fails with -ENOMEM;
 * the interrupt named by "lkl_test_irq=N" panics the next time it runs. */
#define LKL_SYSCALL_TEST_FAIL_TASK	0x10001
#define LKL_SYSCALL_TEST_PANIC_IN_IRQ	0x10002

/**
 * typedef lkl_console_hook - receives kernel console output
 * @text: bytes written by the kernel (not NUL terminated)
 * @len: their number
 * @ctx: the pointer given to lkl_set_console_hook()
 *
 * Called on whatever thread runs kernel code; must not call into the kernel.
 */
typedef void (*lkl_console_hook)(const char *text, size_t len, void *ctx);

/**
 * typedef lkl_panic_hook - told that the kernel panicked
 * @message: the panic message
 * @ctx: the pointer given to lkl_set_panic_hook()
 *
 * After it returns the kernel is dead: every call fails with
 * -LKL_ERR_KERNEL_DEAD and the process carries on.
 */
typedef void (*lkl_panic_hook)(const char *message, void *ctx);

/**
 * lkl_set_console_hook - route kernel console output to @hook
 *
 * Without a hook (or with NULL) the output goes to standard error when the
 * environment variable LKL_CONSOLE is set, and nowhere otherwise.
 */
void lkl_set_console_hook(lkl_console_hook hook, void *ctx);

/** lkl_set_panic_hook - be told of a kernel panic. */
void lkl_set_panic_hook(lkl_panic_hook hook, void *ctx);

/**
 * typedef lkl_ring_notify_hook - told that completions landed in a ring
 * @ring: the syslet ring (struct lkl_syslet_ring, <lkl/syslet.h>) whose
 *	header has LKL_SYSLET_RING_NOTIFY set
 * @ctx: the pointer given to lkl_set_ring_notify_hook()
 *
 * Called once per batch of completions (not once per entry), on whatever
 * thread runs kernel code; must not call into the kernel.  Typically wakes
 * the consumer (uv_async_send, a futex, an eventfd).
 */
typedef void (*lkl_ring_notify_hook)(void *ring, void *ctx);

/** lkl_set_ring_notify_hook - set the ring notify hook (NULL: none). */
void lkl_set_ring_notify_hook(lkl_ring_notify_hook hook, void *ctx);

/**
 * lkl_boot - boot the kernel inside this process
 * @cmdline: kernel command line (NULL for none); "mem=64M" sets the kernel's
 *	memory (default 64 MiB, at least 16 MiB); the library puts
 *	"sysctl.vm.dirty_ratio=40 sysctl.vm.dirty_background_ratio=20" before
 *	it (values given here win)
 *
 * Returns 0 once syscalls can be made, -LKL_ERR_ALREADY_BOOTED if a kernel
 * was already booted in this process (even if halted since), or another
 * negative errno.
 */
int lkl_boot(const char *cmdline);

/**
 * lkl_syscall - run a system call in the kernel
 * @nr: syscall number (__LKL_NR_* from <lkl/asm/unistd.h>)
 * @args: its six arguments (unused ones are ignored)
 *
 * Callable from any thread; the first call from a thread gives it a kernel
 * task, a thread of the same process as every other caller (shared files,
 * working directory and memory).  Returns the syscall result (negative errno
 * on failure), -LKL_ENOSYS for unknown numbers, -LKL_ERR_NOT_RUNNING before
 * boot or after halt, -LKL_ERR_KERNEL_DEAD after a panic.
 */
long lkl_syscall(long nr, const long args[6]);

#include <lkl_user_range.h>

/**
 * lkl_syscall_confined - lkl_syscall() that may touch only the given memory
 * @nr: syscall number
 * @args: its six arguments
 * @ranges: the caller buffers the syscall may read or write
 * @count: their number (0: no pointer argument may be used)
 *
 * Every user-memory access the kernel makes for this call (copy_to_user,
 * copy_from_user, strings, getdents records ...) must lie inside one of
 * @ranges, otherwise the syscall fails with -LKL_EFAULT: an integer passed
 * where the kernel expects a pointer, or a length larger than its buffer,
 * cannot make the kernel read or write other memory of the process.  Used by
 * language bindings that take pointers from untrusted callers.
 */
long lkl_syscall_confined(long nr, const long args[6],
			  const struct lkl_user_range *ranges, unsigned int count);

#include <lkl_stats.h>

/**
 * lkl_stats - read the library's counters (see struct lkl_stats)
 * @out: where to copy them
 * @size: sizeof(*out) as the caller knows it; fields beyond @size are left
 *	out, fields the caller's struct has and the library lacks are zeroed
 *
 * Callable from any thread, before boot and after halt; the counters start
 * at zero when the process starts and are never reset.  Each counter is
 * read atomically, the set as a whole is not a snapshot.  Returns 0.
 */
int lkl_stats(struct lkl_stats *out, size_t size);

/**
 * lkl_halt - shut the kernel down, leaving every disk clean
 *
 * First, with the kernel's own credentials whatever the callers did
 * (setuid, dropped capabilities ...): closes every open file of every task,
 * moves every task's root and working directory back to the real root,
 * unmounts every mount of a disk and whatever is mounted on top of one,
 * deepest first, and syncs.  If a disk is still in use after that (e.g. a
 * syscall blocked in another thread holds a file on it), returns -EBUSY (or
 * the failed unmount's error): the kernel keeps running, with its files
 * closed and the rest unmounted, and its log names what is busy.
 * Otherwise runs the kernel's power-off path, waits for the host's disk I/O
 * still in flight, joins every host thread the library created and frees
 * the kernel's memory; syscalls blocked in other threads return
 * -LKL_ERR_NOT_RUNNING.  Returns 0, or a negative errno
 * (-LKL_ERR_NOT_RUNNING if the kernel was not running).
 */
int lkl_halt(void);

/* Flags of lkl_disk_attach(). */
#define LKL_DISK_READ_ONLY	1
#define LKL_DISK_DIRECT		2	/* O_DIRECT: bypass the host's page cache */

/**
 * lkl_disk_attach - attach a host image file as a kernel block device
 * @path: a regular file (or host block device), opened by the library
 * @flags: 0, or LKL_DISK_READ_ONLY and/or LKL_DISK_DIRECT
 *
 * Needs a booted kernel.  The capacity is the file's size (rounded down to
 * 512 bytes); the device appears as /dev/lklN inside the kernel.  The file is
 * locked (flock: exclusive, shared when read-only) until detach or halt, so a
 * second read-write attach of the same image, from this process or another,
 * fails with -EBUSY.  Returns the disk id N (>= 0) or a negative errno.
 *
 * LKL_DISK_DIRECT opens the image with O_DIRECT: every request goes to the
 * host's device, bypassing the host's page cache (the kernel inside keeps its
 * own).  Requests whose offset, length or buffers are not aligned to what
 * the host file needs (statx STATX_DIOALIGN, or 4096 where the host does not
 * say) go through an aligned bounce buffer; the capacity is rounded down to
 * that alignment.  When the host file system refuses O_DIRECT, the attach
 * fails with -EOPNOTSUPP: it never falls back to buffered I/O.
 */
int lkl_disk_attach(const char *path, int flags);

/**
 * struct lkl_disk_options - how lkl_disk_attach_opts() attaches an image
 * @flags: LKL_DISK_READ_ONLY and/or LKL_DISK_DIRECT, as lkl_disk_attach()
 * @latency_ns: added to every request (0: none; at most 10 s).  A request
 *	is submitted to the host only when this time has passed, without
 *	holding the CPU meanwhile (an io_uring timeout linked before the I/O,
 *	or a wait in the pool worker): a syscall that reads the disk really
 *	sleeps in the kernel for at least this long.  For tests of
 *	asynchronous calls, and to model slower devices.
 */
struct lkl_disk_options {
	int flags;
	unsigned long long latency_ns;
};

/**
 * lkl_disk_attach_opts - lkl_disk_attach() with options
 * @path: the image, as for lkl_disk_attach()
 * @opts: the options; NULL is the same as all zero
 *
 * Returns the disk id (>= 0) or a negative errno: -EINVAL for unknown flags
 * or a latency above 10 s.
 */
int lkl_disk_attach_opts(const char *path, const struct lkl_disk_options *opts);

/**
 * lkl_disk_attach_fd - like lkl_disk_attach() for an open file descriptor,
 * which stays the caller's (it must stay open until detach or halt).  Takes
 * no lock: that is the caller's to take.  LKL_DISK_DIRECT requires a
 * descriptor opened with O_DIRECT (-EINVAL otherwise); a descriptor opened
 * with O_DIRECT is treated as direct in any case.
 */
int lkl_disk_attach_fd(int fd, int flags);

/**
 * lkl_disk_attach_fd_opts - lkl_disk_attach_fd() with the options of
 * lkl_disk_attach_opts()
 */
int lkl_disk_attach_fd_opts(int fd, const struct lkl_disk_options *opts);

/**
 * lkl_disk_detach - remove disk @disk; -EBUSY while it is mounted.
 */
int lkl_disk_detach(int disk);

/**
 * lkl_mount - mount disk @disk with file system @fstype at @mount_point
 * @flags: LKL_MS_* mount flags (LKL_MS_RDONLY is implied for read-only disks)
 * @options: file-system options (e.g. "errors=remount-ro"), or NULL
 *
 * The mount point is created (with parents) if missing.  ext2/3/4 are
 * mounted with "errors=remount-ro" in front of @options unless @options
 * name an errors= behaviour: an image's own "panic on error" setting would
 * otherwise end the kernel at the first corruption found.  Options longer
 * than 4095 bytes (what the kernel reads): -EINVAL.
 */
int lkl_mount(int disk, const char *fstype, const char *mount_point,
	      unsigned long flags, const char *options);

/** lkl_umount - unmount @mount_point; writes everything back first. */
int lkl_umount(const char *mount_point);

/** lkl_disk_backend - "uring", "threads", or "none" before the first attach. */
const char *lkl_disk_backend(void);

/** lkl_kernel_release - the kernel version, e.g. "6.12.117". */
const char *lkl_kernel_release(void);

/** lkl_strerror - a message for a (negative or positive) kernel errno. */
const char *lkl_strerror(long err);

/**
 * lkl_host_thread_count - host threads the library has started and not yet
 * joined (the CPU thread and helpers); for tests.
 */
int lkl_host_thread_count(void);

#ifdef __cplusplus
}
#endif

#endif /* _LKL_H */
