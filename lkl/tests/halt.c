// SPDX-License-Identifier: GPL-2.0-only
/*
 * halt: whatever the callers did before, halt leaves every image clean
 * (e2fsck -fn), or fails and leaves the kernel running.  One kernel per
 * process, and every case ends in a halt: each case boots its own kernel in
 * a child process, and the parent checks the images afterwards.
 */
#include "test.h"

#include <dlfcn.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <lkl/asm-generic/errno.h>
#include <lkl/linux/capability.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/futex.h>
#include <lkl/linux/mount.h>
#include <lkl/linux/reboot.h>
#include <lkl/linux/sched.h>
#include <lkl/linux/stat.h>

static char dir[] = "/tmp/lkl-halt-test-XXXXXX";

static const char *image(const char *name)
{
	static char path[2][512];
	static int i;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static int make_image(const char *name)
{
	return test_shell("rm -f %s && mke2fs -q -F -t ext4 %s 32M", image(name), image(name));
}

/*
 * @name was unmounted cleanly (its journal needs no recovery, which would
 * make a later read-only mount fail), e2fsck -fn finds it clean and debugfs
 * reads @want from @file.
 */
static int image_ok(const char *name, const char *file, const char *want)
{
	char cmd[1024], got[256] = "";
	FILE *p;
	size_t n;

	CHECK(!test_shell("dumpe2fs -h %s | grep -q '^Filesystem features:'", image(name)),
	      "dumpe2fs -h %s", name);
	CHECK(test_shell("dumpe2fs -h %s | grep -q '^Filesystem features:.*needs_recovery'", image(name)),
	      "%s was not unmounted: its journal needs recovery", name);
	CHECK(!test_shell("e2fsck -fn %s", image(name)), "e2fsck -fn %s reports problems", name);
	snprintf(cmd, sizeof(cmd), "debugfs -R 'cat %s' %s 2>/dev/null", file, image(name));
	p = popen(cmd, "r");
	CHECK(p, "popen debugfs");
	n = fread(got, 1, sizeof(got) - 1, p);
	pclose(p);
	got[n] = 0;
	CHECK(!strcmp(got, want), "%s:%s holds '%s', not '%s'", name, file, got, want);
	return 0;
}

/* --- running a case in a child process ------------------------------- */

/* What a child reports: why it failed, and its kernel log. */
struct report {
	char reason[512];
	char log[LOG_SIZE];
};
static struct report *report;

static int in_child(int (*fn)(void))
{
	pid_t pid;
	int status;

	memset(report, 0, sizeof(*report));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int ret = fn();

		strcpy(report->reason, test_reason);
		memcpy(report->log, test_log, sizeof(report->log));
		_exit(ret ? 1 : 0);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	/* Show the child's kernel log if this case fails. */
	memcpy(test_log, report->log, sizeof(test_log));
	test_log_len = strlen(test_log);
	test_log_mark = 0;
	CHECK(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
	CHECK(WEXITSTATUS(status) == 0, "in the child: %.400s", report->reason);
	return 0;
}

/* Boot, attach image @name and mount it at @at. */
static int boot_and_mount(const char *name, const char *at)
{
	int disk;

	CHECK(lkl_boot("mem=64M") == 0, "boot");
	disk = lkl_disk_attach(image(name), 0);
	CHECK(disk >= 0, "attach %s: %d", name, disk);
	CHECK_OK(lkl_mount(disk, "ext4", at, 0, NULL));
	return 0;
}

/* Create @path in the kernel with @text; the fd is returned, still open. */
static long write_file(const char *path, const char *text)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_WRONLY | LKL_O_TRUNC, 0644);

	if (fd < 0)
		return fd;
	if (lkl_sys_write(fd, text, strlen(text)) != (long)strlen(text))
		return -LKL_EIO;
	return fd;
}

/* Halt must succeed and the kernel be gone afterwards. */
static int halt_ok(void)
{
	long ret = lkl_halt();

	CHECK(ret == 0, "halt returned %ld (%s)", ret, lkl_strerror(ret));
	CHECK(lkl_sys_getpid() == -LKL_ERR_NOT_RUNNING, "a call after halt must fail");
	CHECK(lkl_halt() == -LKL_ERR_NOT_RUNNING, "a second halt must say not running");
	return 0;
}

/* --- halting after dropping privileges ------------------------------------ */

static int drop_privileges(int how)
{
	/* Header {version, pid 0}, then two {effective, permitted, inheritable}. */
	unsigned int hdr[2] = { _LKL_LINUX_CAPABILITY_VERSION_3, 0 }, data[6] = { 0 };

	switch (how) {
	case 0:
		CHECK_OK(lkl_sys_setuid(1000));
		break;
	case 1:
		CHECK_OK(lkl_sys_setreuid(1000, 1000));
		break;
	case 2:
		CHECK_OK(lkl_sys_setresuid(1000, 1000, 1000));
		break;
	case 3:
		lkl_sys_setfsuid(1000);
		CHECK(lkl_sys_setfsuid(-1) == 1000, "setfsuid did not take");
		break;
	case 4:
		CHECK_OK(lkl_sys_capset((long)hdr, (long)data));
		break;
	}
	/* The caller really lost its privileges. */
	CHECK(lkl_sys_umount2("/mnt/p", 0) == -LKL_EPERM || how == 3,
	      "umount should be refused now");
	return 0;
}

static int privileges_case;

static int child_unprivileged(void)
{
	long fd;

	if (boot_and_mount("priv.img", "/mnt/p"))
		return -1;
	fd = CHECK_OK(write_file("/mnt/p/file", "kept"));
	CHECK_OK(lkl_sys_close(fd));
	if (drop_privileges(privileges_case))
		return -1;
	return halt_ok();
}

static int unprivileged(int how)
{
	CHECK(!make_image("priv.img"), "mke2fs");
	privileges_case = how;
	if (in_child(child_unprivileged))
		return -1;
	return image_ok("priv.img", "/file", "kept");
}

static int test_setuid(void) { return unprivileged(0); }
static int test_setreuid(void) { return unprivileged(1); }
static int test_setresuid(void) { return unprivileged(2); }
static int test_setfsuid(void) { return unprivileged(3); }
static int test_capset(void) { return unprivileged(4); }

/* --- halting with the mount still in use ------------------------------- */

static int child_open_fd(void)
{
	if (boot_and_mount("busy.img", "/mnt/b"))
		return -1;
	CHECK_OK(write_file("/mnt/b/file", "open"));	/* never closed */
	return halt_ok();
}

static int child_cwd(void)
{
	long fd;

	if (boot_and_mount("busy.img", "/mnt/b"))
		return -1;
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/mnt/b/dir", 0755));
	fd = CHECK_OK(write_file("/mnt/b/file", "cwd"));
	CHECK_OK(lkl_sys_close(fd));
	CHECK_OK(lkl_sys_chdir("/mnt/b/dir"));
	return halt_ok();
}

static int child_chroot(void)
{
	long fd;

	if (boot_and_mount("busy.img", "/mnt/b"))
		return -1;
	CHECK_OK(lkl_sys_chroot("/mnt/b"));
	CHECK_OK(lkl_sys_chdir("/"));
	fd = CHECK_OK(write_file("/file", "chroot"));	/* in the image */
	CHECK_OK(lkl_sys_close(fd));
	return halt_ok();
}

static int busy_case(int (*child)(void), const char *want)
{
	CHECK(!make_image("busy.img"), "mke2fs");
	if (in_child(child))
		return -1;
	return image_ok("busy.img", "/file", want);
}

static int test_open_fd(void) { return busy_case(child_open_fd, "open"); }
static int test_cwd(void) { return busy_case(child_cwd, "cwd"); }
static int test_chroot(void) { return busy_case(child_chroot, "chroot"); }

/*
 * A second disk mounted inside the first, then a tmpfs mounted over the
 * first (covering it), with an fd open on each disk.
 */
static int child_covered(void)
{
	int inner;

	if (boot_and_mount("outer.img", "/mnt/o"))
		return -1;
	CHECK_OK(write_file("/mnt/o/file", "outer"));
	inner = lkl_disk_attach(image("inner.img"), 0);
	CHECK(inner >= 0, "attach inner: %d", inner);
	CHECK_OK(lkl_mount(inner, "ext4", "/mnt/o/inner", 0, NULL));
	CHECK_OK(write_file("/mnt/o/inner/file", "inner"));
	CHECK_OK(lkl_sys_mount("none", "/mnt/o", "tmpfs", 0, NULL));
	CHECK_OK(write_file("/mnt/o/on-tmpfs", "tmpfs"));
	return halt_ok();
}

static int test_covered(void)
{
	CHECK(!make_image("outer.img") && !make_image("inner.img"), "mke2fs");
	if (in_child(child_covered))
		return -1;
	return image_ok("outer.img", "/file", "outer") ||
	       image_ok("inner.img", "/file", "inner");
}

/* A thread whose task has a file table of its own holds a file open. */
static unsigned int own_table_state;

static void *own_table_thread(void *arg)
{
	lkl_sys_unshare(LKL_CLONE_FILES);
	if (write_file("/mnt/t/file", "own table") >= 0)
		__atomic_store_n(&own_table_state, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&own_table_state, 2, __ATOMIC_SEQ_CST);
	/* Stay alive (outside the kernel) until the process ends. */
	for (;;)
		pause();
	return NULL;
}

static int child_own_table(void)
{
	pthread_t t;

	if (boot_and_mount("table.img", "/mnt/t"))
		return -1;
	pthread_create(&t, NULL, own_table_thread, NULL);
	while (!__atomic_load_n(&own_table_state, __ATOMIC_SEQ_CST))
		usleep(1000);
	CHECK(own_table_state == 1, "the thread could not write its file");
	return halt_ok();
}

static int test_own_table(void)
{
	CHECK(!make_image("table.img"), "mke2fs");
	if (in_child(child_own_table))
		return -1;
	return image_ok("table.img", "/file", "own table");
}

/* --- a halt that cannot unmount fails and leaves the kernel running ------ */

static long fifo_read_ret = 1000, fifo_reader_tid;

static void *fifo_reader(void *arg)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/f/fifo", LKL_O_RDWR, 0);
	char c;

	__atomic_store_n(&fifo_reader_tid, lkl_sys_gettid(), __ATOMIC_SEQ_CST);
	/* Blocks: the fd itself is a writer, so there is no end of file. */
	fifo_read_ret = fd < 0 ? fd : lkl_sys_read(fd, &c, 1);
	return NULL;
}

static int child_blocked(void)
{
	pthread_t t;
	long fd, ret, args[6] = { 0 };
	char state = '?';

	if (boot_and_mount("fifo.img", "/mnt/f"))
		return -1;
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	fd = CHECK_OK(write_file("/mnt/f/file", "blocked"));
	CHECK_OK(lkl_sys_close(fd));
	CHECK_OK(lkl_sys_mknodat(LKL_AT_FDCWD, "/mnt/f/fifo", 0010000 /* S_IFIFO */ | 0600, 0));
	pthread_create(&t, NULL, fifo_reader, NULL);
	/* Halt only once the reader sleeps in the kernel. */
	for (int i = 0; i < 5000 && state != 'S'; i++) {
		usleep(1000);
		if (__atomic_load_n(&fifo_reader_tid, __ATOMIC_SEQ_CST))
			state = task_state(fifo_reader_tid);
	}
	CHECK(state == 'S', "the reader never slept (state %c)", state);

	ret = lkl_halt();
	CHECK(ret == -LKL_EBUSY, "halt returned %ld (%s), not EBUSY", ret, lkl_strerror(ret));
	CHECK(strstr(test_log, "cannot unmount /mnt/f"), "the log does not say what is busy");
	CHECK(lkl_syscall(__LKL_NR_getpid, args) == 1, "the kernel must keep running");

	/* Release the reader; then the halt works. */
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/f/fifo", LKL_O_WRONLY | LKL_O_NONBLOCK, 0));
	CHECK(lkl_sys_write(fd, "x", 1) == 1, "write to the fifo");
	CHECK_OK(lkl_sys_close(fd));
	pthread_join(t, NULL);
	CHECK(fifo_read_ret == 1, "the reader got %ld", fifo_read_ret);
	return halt_ok();
}

static int test_blocked(void)
{
	CHECK(!make_image("fifo.img"), "mke2fs");
	if (in_child(child_blocked))
		return -1;
	return image_ok("fifo.img", "/file", "blocked");
}

/* --- host I/O in flight at power off --------------------------------------- */

/*
 * The test replaces the host library's preadv2, preadv and munmap (the
 * program's definitions win over libc's).  Once armed, reads are never
 * done inline, and the first read of a pool worker is held until kernel
 * memory is unmapped (which must not happen while it is held) or a second
 * has passed.
 */
static int force_backend, hold_next, held, halting, freed_while_held;

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	if (__atomic_load_n(&force_backend, __ATOMIC_SEQ_CST)) {
		errno = EAGAIN;
		return -1;
	}
	return syscall(SYS_preadv2, fd, iov, cnt, off, 0, flags);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t r;

	if (!__atomic_exchange_n(&hold_next, 0, __ATOMIC_SEQ_CST))
		return syscall(SYS_preadv, fd, iov, cnt, off, 0);
	__atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 1000 && !__atomic_load_n(&freed_while_held, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	r = syscall(SYS_preadv, fd, iov, cnt, off, 0);
	__atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
	return r;
}

/*
 * With io_uring the host does the I/O itself and cannot be held: the test
 * holds the submission instead (liburing is a shared library, so this
 * definition wins too).  While armed, requests stay queued in the ring
 * unsubmitted; the power off must submit them and wait for them.
 */
static int hold_submit, unsubmitted;

int io_uring_submit(struct io_uring *ring)
{
	static int (*real)(struct io_uring *);
	int r;

	if (__atomic_load_n(&hold_submit, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&unsubmitted, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	if (!real)
		real = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, "io_uring_submit");
	r = real(ring);
	if (r >= 0 && __atomic_load_n(&unsubmitted, __ATOMIC_SEQ_CST)) {
		/* The held requests are with the host kernel now. */
		__atomic_store_n(&unsubmitted, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
	}
	return r;
}

int munmap(void *addr, size_t len)
{
	if (__atomic_load_n(&halting, __ATOMIC_SEQ_CST) &&
	    (__atomic_load_n(&held, __ATOMIC_SEQ_CST) ||
	     __atomic_load_n(&unsubmitted, __ATOMIC_SEQ_CST)))
		__atomic_store_n(&freed_while_held, 1, __ATOMIC_SEQ_CST);
	return syscall(SYS_munmap, addr, len);
}

static const char *flight_backend;

static int child_in_flight(void)
{
	long fd, ret;
	int disk, uring = !strcmp(flight_backend, "uring");

	setenv("LKL_DISK_BACKEND", flight_backend, 1);
	CHECK(lkl_boot("mem=64M") == 0, "boot");
	disk = lkl_disk_attach(image("flight.img"), LKL_DISK_READ_ONLY);
	CHECK(disk == 0, "attach: %d", disk);
	CHECK(!strcmp(lkl_disk_backend(), flight_backend), "backend %s", lkl_disk_backend());
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/dev/lkl0", LKL_O_RDONLY, 0));
	__atomic_store_n(&force_backend, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(uring ? &hold_submit : &hold_next, 1, __ATOMIC_SEQ_CST);
	/* Readahead submits reads and returns without waiting for them. */
	CHECK_OK(lkl_sys_readahead(fd, 8 << 20, 1 << 20));
	for (int i = 0; i < 5000 && !__atomic_load_n(&held, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	CHECK(held, "no read reached the backend");

	/*
	 * Power off straight away, as a C caller may: the fd stays open, so
	 * nothing in the kernel waits for the read, only the power off does.
	 */
	__atomic_store_n(&halting, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hold_submit, 0, __ATOMIC_SEQ_CST);
	ret = lkl_sys_reboot(LKL_LINUX_REBOOT_MAGIC1, LKL_LINUX_REBOOT_MAGIC2,
			     LKL_LINUX_REBOOT_CMD_POWER_OFF, NULL);
	CHECK(ret == -LKL_ERR_NOT_RUNNING, "reboot returned %ld", ret);
	ret = lkl_halt();
	CHECK(ret == 0, "halt after the power off returned %ld (%s)", ret, lkl_strerror(ret));
	CHECK(!freed_while_held, "kernel memory was freed while a host read was in flight");
	CHECK(lkl_host_thread_count() == 0, "%d library threads left", lkl_host_thread_count());
	return 0;
}

static int in_flight(const char *backend)
{
	CHECK(!test_shell("rm -f %s && truncate -s 32M %s", image("flight.img"), image("flight.img")),
	      "truncate");
	flight_backend = backend;
	return in_child(child_in_flight);
}

static int test_in_flight_threads(void) { return in_flight("threads"); }
static int test_in_flight_uring(void) { return in_flight("uring"); }

int main(void)
{
	test_plan(13);
	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (report == MAP_FAILED || !mkdtemp(dir)) {
		printf("Bail out! no shared memory or temporary folder\n");
		return 1;
	}
	test_run("halt after setuid(1000) on the halting thread", test_setuid);
	test_run("halt after setreuid(1000, 1000)", test_setreuid);
	test_run("halt after setresuid(1000, 1000, 1000)", test_setresuid);
	test_run("halt after setfsuid(1000)", test_setfsuid);
	test_run("halt after capset() dropped every capability", test_capset);
	test_run("halt with a file on the mount still open", test_open_fd);
	test_run("halt with the working directory inside the mount", test_cwd);
	test_run("halt after chroot into the mount", test_chroot);
	test_run("halt with a disk mounted inside and a tmpfs covering the mount", test_covered);
	test_run("halt with a file open in a task's own file table", test_own_table);
	test_run("halt fails (EBUSY) while a blocked read holds a file, then works",
		 test_blocked);
	test_run("power off waits for host reads in flight before freeing memory (threads)",
		 test_in_flight_threads);
	test_run("power off submits and waits for queued io_uring reads before freeing memory",
		 test_in_flight_uring);
	test_shell("rm -rf %s", dir);
	return test_done();
}
