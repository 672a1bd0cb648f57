// SPDX-License-Identifier: GPL-2.0-only
/*
 * halt: no host I/O outlives the kernel's memory.  One kernel per process,
 * and every case ends in a halt: each case boots its own kernel in a child
 * process, and the parent checks the images afterwards.
 */
#include "test.h"

#include <dlfcn.h>
#include <errno.h>
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

static int run(const char *fmt, ...)
{
	char cmd[1024], full[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "( %s ) >/dev/null 2>&1 </dev/null", cmd);
	return system(full);
}

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
	return run("rm -f %s && mke2fs -q -F -t ext4 %s 32M", image(name), image(name));
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

	CHECK(!run("dumpe2fs -h %s | grep -q '^Filesystem features:'", image(name)),
	      "dumpe2fs -h %s", name);
	CHECK(run("dumpe2fs -h %s | grep -q '^Filesystem features:.*needs_recovery'", image(name)),
	      "%s was not unmounted: its journal needs recovery", name);
	CHECK(!run("e2fsck -fn %s", image(name)), "e2fsck -fn %s reports problems", name);
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

int munmap(void *addr, size_t len)
{
	if (__atomic_load_n(&halting, __ATOMIC_SEQ_CST) && __atomic_load_n(&held, __ATOMIC_SEQ_CST))
		__atomic_store_n(&freed_while_held, 1, __ATOMIC_SEQ_CST);
	return syscall(SYS_munmap, addr, len);
}

static int child_in_flight(void)
{
	long fd, ret;
	int disk;

	setenv("LKL_DISK_BACKEND", "threads", 1);
	CHECK(lkl_boot("mem=64M") == 0, "boot");
	disk = lkl_disk_attach(image("flight.img"), LKL_DISK_READ_ONLY);
	CHECK(disk == 0, "attach: %d", disk);
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/dev/lkl0", LKL_O_RDONLY, 0));
	__atomic_store_n(&force_backend, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hold_next, 1, __ATOMIC_SEQ_CST);
	/* Readahead submits reads and returns without waiting for them. */
	CHECK_OK(lkl_sys_readahead(fd, 8 << 20, 1 << 20));
	for (int i = 0; i < 5000 && !__atomic_load_n(&held, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	CHECK(held, "no read reached the pool");

	/*
	 * Power off straight away, as a C caller may: the fd stays open, so
	 * nothing in the kernel waits for the read, only the power off does.
	 */
	__atomic_store_n(&halting, 1, __ATOMIC_SEQ_CST);
	ret = lkl_sys_reboot(LKL_LINUX_REBOOT_MAGIC1, LKL_LINUX_REBOOT_MAGIC2,
			     LKL_LINUX_REBOOT_CMD_POWER_OFF, NULL);
	CHECK(ret == -LKL_ERR_NOT_RUNNING, "reboot returned %ld", ret);
	ret = lkl_halt();
	CHECK(ret == 0, "halt after the power off returned %ld (%s)", ret, lkl_strerror(ret));
	CHECK(!freed_while_held, "kernel memory was freed while a host read was in flight");
	CHECK(lkl_host_thread_count() == 0, "%d library threads left", lkl_host_thread_count());
	return 0;
}

static int test_in_flight(void)
{
	CHECK(!run("rm -f %s && truncate -s 32M %s", image("flight.img"), image("flight.img")),
	      "truncate");
	return in_child(child_in_flight);
}

int main(void)
{
	test_plan(1);
	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (report == MAP_FAILED || !mkdtemp(dir)) {
		printf("Bail out! no shared memory or temporary folder\n");
		return 1;
	}
	test_run("power off waits for host reads in flight before freeing memory",
		 test_in_flight);
	run("rm -rf %s", dir);
	return test_done();
}
