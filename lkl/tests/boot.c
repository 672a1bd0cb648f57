// SPDX-License-Identifier: GPL-2.0-only
/*
 * boot: one kernel from boot to halt, with the syscall tests in between.
 * The order matters: later tests use what earlier ones mounted.
 */
#include "test.h"
#include <lkl_host.h>

#include <dirent.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <lkl/asm-generic/errno.h>
#include <lkl/asm-generic/fcntl.h>
#include <lkl/asm/stat.h>
#include <lkl/linux/eventfd.h>
#include <lkl/linux/eventpoll.h>
#include <lkl/linux/futex.h>
#include <lkl/linux/stat.h>
#include <lkl/linux/time_types.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/random.h>

/* Not part of the kernel's uapi headers. */
struct lkl_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int test_before_boot(void)
{
	long args[6] = { 0 };

	CHECK(lkl_syscall(__LKL_NR_getpid, args) == -LKL_ERR_NOT_RUNNING,
	      "a call before boot must fail with -ESHUTDOWN");
	CHECK(lkl_halt() == -LKL_ERR_NOT_RUNNING, "halt before boot must fail");
	return 0;
}

static double boot_ms;

static int test_boot(void)
{
	double t0 = now_ms();
	int ret = lkl_boot("mem=64M lkl_test_irq=5");

	boot_ms = now_ms() - t0;
	CHECK(ret == 0, "boot returned %d (%s)", ret, lkl_strerror(ret));
	CHECK(strstr(test_log, "Linux version 6.12"), "no kernel banner in the log");
	printf("# boot took %.1f ms, kernel %s\n", boot_ms, lkl_kernel_release());
	return 0;
}

/*
 * The kernel's random generator is seeded from the host at boot: the first
 * getrandom() already has bytes (unseeded, GRND_NONBLOCK gives EAGAIN).
 */
static int test_getrandom(void)
{
	unsigned char buf[16] = { 0 }, zero[16] = { 0 };
	long n = lkl_sys_getrandom((char *)buf, sizeof(buf), LKL_GRND_NONBLOCK);

	CHECK(n == 16, "first getrandom(16, GRND_NONBLOCK) returned %ld (%s)",
	      n, lkl_strerror(n));
	CHECK(memcmp(buf, zero, sizeof(buf)), "16 zero bytes");
	return 0;
}

static int test_second_boot(void)
{
	int ret = lkl_boot("mem=64M");

	CHECK(ret == -LKL_ERR_ALREADY_BOOTED, "second boot returned %d", ret);
	return 0;
}

static int test_getpid(void)
{
	long pid = CHECK_OK(lkl_sys_getpid());

	CHECK(pid == 1, "the host threads' process is pid 1, got %ld", pid);
	CHECK(lkl_sys_getpid() == pid, "pid changed between calls");
	return 0;
}

static int test_umask(void)
{
	long old = lkl_sys_umask(027);

	CHECK(old == 022, "initial umask %lo", old);
	CHECK(lkl_sys_umask(old) == 027, "umask not kept");
	return 0;
}

static int test_unknown_syscalls(void)
{
	long args[6] = { 0 };

	CHECK(lkl_syscall(5000, args) == -LKL_ENOSYS, "nr 5000");
	CHECK(lkl_syscall(-1, args) == -LKL_ENOSYS, "nr -1");
	CHECK(lkl_syscall(LKL_SYSCALL_TEST_PANIC, args) == -LKL_ENOSYS,
	      "the panic hook must be off without lkl_test_hooks=1");
	return 0;
}

static int test_mounts(void)
{
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp", 0755));
	CHECK_OK(lkl_sys_mount("none", "/tmp", "tmpfs", 0, NULL));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	CHECK(lkl_sys_mount("none", "/nonexistent", "tmpfs", 0, NULL) == -LKL_ENOENT,
	      "mount on a missing directory");
	CHECK(lkl_sys_mount("none", "/tmp", "nosuchfs", 0, NULL) == -LKL_ENODEV,
	      "unknown file system type");
	return 0;
}

static int test_files(void)
{
	static const char text[] = "hello from the kernel\n";
	char buf[64], dents[1024];
	struct lkl_stat st;
	long fd, n, pos;
	int found_a = 0, found_b = 0, found_sub = 0;

	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp/d", 0700));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/d/a",
				     LKL_O_CREAT | LKL_O_RDWR | LKL_O_EXCL, 0640));
	CHECK(lkl_sys_write(fd, text, sizeof(text) - 1) == sizeof(text) - 1, "write");
	memset(buf, 0, sizeof(buf));
	CHECK(lkl_sys_pread64(fd, buf, 5, 6) == 5, "pread");
	CHECK(!memcmp(buf, "from ", 5), "pread read '%s'", buf);
	pos = lkl_sys_lseek(fd, 0, LKL_SEEK_SET);
	CHECK(pos == 0, "lseek returned %ld", pos);
	memset(buf, 0, sizeof(buf));
	n = lkl_sys_read(fd, buf, sizeof(buf));
	CHECK(n == sizeof(text) - 1 && !strcmp(buf, text), "read back %ld bytes", n);
	CHECK_OK(lkl_sys_fstat(fd, &st));
	CHECK(st.st_size == sizeof(text) - 1, "size %lu", (unsigned long)st.st_size);
	CHECK((st.st_mode & 0170000) == 0100000 && (st.st_mode & 0777) == 0640,
	      "mode %o", st.st_mode);
	CHECK_OK(lkl_sys_ftruncate(fd, 5));
	CHECK_OK(lkl_sys_fstat(fd, &st));
	CHECK(st.st_size == 5, "size after ftruncate %lu", (unsigned long)st.st_size);
	CHECK(lkl_sys_pread64(fd, buf, sizeof(buf), 0) == 5 && !memcmp(buf, "hello", 5),
	      "contents after ftruncate");
	CHECK_OK(lkl_sys_close(fd));
	CHECK(lkl_sys_close(fd) == -LKL_EBADF, "double close");

	CHECK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/d/a", LKL_O_CREAT | LKL_O_EXCL | LKL_O_RDWR, 0600)
	      == -LKL_EEXIST, "O_EXCL on an existing file");
	CHECK_OK(lkl_sys_renameat(LKL_AT_FDCWD, "/tmp/d/a", LKL_AT_FDCWD, "/tmp/d/b"));
	CHECK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/d/a", LKL_O_RDONLY, 0) == -LKL_ENOENT,
	      "old name still exists");
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp/d/sub", 0700));

	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/d", LKL_O_RDONLY | LKL_O_DIRECTORY, 0));
	n = CHECK_OK(lkl_sys_getdents64(fd, dents, sizeof(dents)));
	for (long off = 0; off < n;) {
		struct lkl_dirent64 *d = (void *)(dents + off);

		found_a += !strcmp(d->d_name, "a");
		if (!strcmp(d->d_name, "b"))
			found_b = d->d_type == 8 /* DT_REG */;
		if (!strcmp(d->d_name, "sub"))
			found_sub = d->d_type == 4 /* DT_DIR */;
		off += d->d_reclen;
	}
	CHECK_OK(lkl_sys_close(fd));
	CHECK(!found_a && found_b && found_sub, "directory listing: a=%d b=%d sub=%d",
	      found_a, found_b, found_sub);

	CHECK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/d", LKL_AT_REMOVEDIR) == -LKL_ENOTEMPTY, "rmdir of a non-empty directory");
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/d/b", 0));
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/d/sub", LKL_AT_REMOVEDIR));
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/d", LKL_AT_REMOVEDIR));
	CHECK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/tmp/d", &st, 0) == -LKL_ENOENT,
	      "directory still exists");
	return 0;
}

/* A confined syscall: user memory is only the ranges it is given. */
static long confined(long nr, long a0, long a1, long a2, long a3,
		     const struct lkl_user_range *ranges, unsigned int count)
{
	long args[6] = { a0, a1, a2, a3, 0, 0 };

	return lkl_syscall_confined(nr, args, ranges, count);
}

static int test_confined_syscalls(void)
{
	static char area[3 * 4096];
	char *buf = area + 4096;	/* the window: 64 bytes in the middle */
	struct lkl_user_range window = { (unsigned long)buf, 64 };
	static const char path[] = "/tmp/confined";
	struct lkl_user_range path_window[2] = {
		{ (unsigned long)path, sizeof(path) }, { (unsigned long)buf, 64 } };
	struct lkl_user_range short_path = { (unsigned long)path, 5 };
	long fd, n;
	size_t i;

	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_RDWR, 0600));
	memset(area, 'x', sizeof(area));
	CHECK(lkl_sys_write(fd, area, 4096) == 4096, "write");
	memset(area, 0xee, sizeof(area));

	/* A length beyond the window: EFAULT, nothing written around it. */
	n = confined(__LKL_NR_pread64, fd, (long)buf, 4096, 0, &window, 1);
	CHECK(n == -LKL_EFAULT, "pread past the window returned %ld", n);
	/* Inside the window: works. */
	n = confined(__LKL_NR_pread64, fd, (long)buf, 64, 0, &window, 1);
	CHECK(n == 64 && buf[0] == 'x' && buf[63] == 'x', "pread in the window: %ld", n);
	/* A pointer outside every range: EFAULT. */
	n = confined(__LKL_NR_pread64, fd, (long)(area + 8192), 16, 0, &window, 1);
	CHECK(n == -LKL_EFAULT, "pread outside the window returned %ld", n);
	for (i = 0; i < sizeof(area); i++)
		if (area + i < buf || area + i >= buf + 64)
			CHECK((unsigned char)area[i] == 0xee, "byte %zu outside the window changed", i);

	/* Paths: read only inside their range, and must end inside it. */
	n = confined(__LKL_NR_newfstatat, LKL_AT_FDCWD, (long)path, (long)buf, 0,
		     path_window, 2);
	CHECK(n == -LKL_EFAULT, "stat into a 64-byte buffer returned %ld", n);
	n = confined(__LKL_NR_faccessat, LKL_AT_FDCWD, (long)path, 0, 0, path_window, 1);
	CHECK(n == 0, "access with the path in the window returned %ld", n);
	n = confined(__LKL_NR_faccessat, LKL_AT_FDCWD, (long)path, 0, 0, &short_path, 1);
	CHECK(n == -LKL_EFAULT, "a path running past its range returned %ld", n);
	/* No ranges: no pointer at all; library-internal numbers refused. */
	n = confined(__LKL_NR_faccessat, LKL_AT_FDCWD, (long)path, 0, 0, NULL, 0);
	CHECK(n == -LKL_EFAULT, "a path with no window returned %ld", n);
	n = confined(LKL_SYSCALL_TEST_PANIC, 0, 0, 0, 0, NULL, 0);
	CHECK(n == -LKL_ENOSYS, "internal number in a confined call returned %ld", n);
	/* Calls that would outlive the window or end the task: refused. */
	n = confined(__LKL_NR_set_tid_address, (long)buf, 0, 0, 0, &window, 1);
	CHECK(n == -LKL_EPERM, "confined set_tid_address returned %ld", n);
	n = confined(__LKL_NR_set_robust_list, (long)buf, 24, 0, 0, &window, 1);
	CHECK(n == -LKL_EPERM, "confined set_robust_list returned %ld", n);
	n = confined(__LKL_NR_exit, 0, 0, 0, 0, NULL, 0);
	CHECK(n == -LKL_EPERM, "confined exit returned %ld", n);
	/* Plain calls are not confined by an earlier confined one. */
	CHECK(lkl_sys_pread64(fd, area, 4096, 0) == 4096, "plain pread after confined calls");
	CHECK_OK(lkl_sys_close(fd));
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, path, 0));
	return 0;
}

static int test_proc_self_status(void)
{
	char buf[4096];
	long fd, n;

	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/proc/self/status", LKL_O_RDONLY, 0));
	n = CHECK_OK(lkl_sys_read(fd, buf, sizeof(buf) - 1));
	buf[n] = 0;
	lkl_sys_close(fd);
	CHECK(strstr(buf, "Name:") && strstr(buf, "Pid:"), "status: %.80s", buf);
	CHECK(strstr(buf, "Tgid:\t1\n"), "host threads belong to pid 1");
	return 0;
}

/* Entries of kernel directory @path: those whose name starts with a digit
 * (@digits_only), or all but "." and ".."; a negative errno on failure. */
static long count_entries(const char *path, int digits_only)
{
	char dents[8192];
	long fd, n, count = 0;

	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY | LKL_O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	while ((n = lkl_sys_getdents64(fd, dents, sizeof(dents))) > 0)
		for (long off = 0; off < n;) {
			struct lkl_dirent64 *d = (void *)(dents + off);

			count += digits_only ? d->d_name[0] >= '0' && d->d_name[0] <= '9'
					     : d->d_name[0] != '.';
			off += d->d_reclen;
		}
	lkl_sys_close(fd);
	return n < 0 ? n : count;
}

/* Kernel threads are contexts, not host threads. */
static int test_host_thread_budget(void)
{
	long tasks = CHECK_OK(count_entries("/proc", 1));

	printf("# %ld kernel tasks, %d host threads started by the library\n",
	       tasks, lkl_host_thread_count());
	CHECK(tasks >= 5, "expected several kernel threads, found %ld", tasks);
	CHECK(lkl_host_thread_count() <= 3, "library started %d host threads",
	      lkl_host_thread_count());
	return 0;
}

struct pipe_reader {
	long fd;
	char buf[32];
	long n;
	double done_ms;
};

static void *pipe_reader_main(void *arg)
{
	struct pipe_reader *r = arg;

	r->n = lkl_sys_read(r->fd, r->buf, sizeof(r->buf));
	r->done_ms = now_ms();
	return NULL;
}

static int test_pipe_between_threads(void)
{
	struct pipe_reader r = { 0 };
	int fds[2];
	pthread_t th;
	double wrote_ms;

	CHECK_OK(lkl_sys_pipe2(fds, 0));
	r.fd = fds[0];
	pthread_create(&th, NULL, pipe_reader_main, &r);
	usleep(50 * 1000);
	CHECK(r.done_ms == 0, "reader returned before anything was written");
	wrote_ms = now_ms();
	CHECK(lkl_sys_write(fds[1], "ping", 4) == 4, "write to the pipe");
	pthread_join(th, NULL);
	CHECK(r.n == 4 && !memcmp(r.buf, "ping", 4), "reader got %ld bytes", r.n);
	CHECK(r.done_ms >= wrote_ms, "reader returned before the write");
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	return 0;
}

static int test_nanosleep(void)
{
	struct __lkl_kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	double t0 = now_ms(), elapsed;

	CHECK_OK(lkl_sys_nanosleep(&ts, NULL));
	elapsed = now_ms() - t0;
	CHECK(elapsed >= 20.0, "slept only %.3f ms", elapsed);
	printf("# nanosleep(20 ms) took %.3f ms\n", elapsed);
	return 0;
}

#define WORKERS 16
#define ROUNDS 2000

struct worker {
	int id;
	int errors;
	char reason[128];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char path[32], buf[16];
	long fd;

	snprintf(path, sizeof(path), "/tmp/worker%d", w->id);
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_RDWR, 0600);
	if (fd < 0) {
		w->errors++;
		snprintf(w->reason, sizeof(w->reason), "open: %ld", fd);
		return NULL;
	}
	for (int i = 0; i < ROUNDS / 2; i++) {
		int len = snprintf(buf, sizeof(buf), "%d:%d", w->id, i);
		char back[16] = { 0 };

		if (lkl_sys_pwrite64(fd, buf, len, i * 16) != len ||
		    lkl_sys_pread64(fd, back, len, i * 16) != len ||
		    memcmp(buf, back, len)) {
			w->errors++;
			snprintf(w->reason, sizeof(w->reason), "round %d", i);
		}
	}
	lkl_sys_close(fd);
	lkl_sys_unlinkat(LKL_AT_FDCWD, path, 0);
	return NULL;
}

static int test_many_threads(void)
{
	struct worker w[WORKERS];
	pthread_t th[WORKERS];

	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .id = i };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < WORKERS; i++)
		CHECK(!w[i].errors, "worker %d: %d errors (%s)", i, w[i].errors, w[i].reason);
	return 0;
}

static uint32_t futex_word;
static long futex_waiter_tid;

static void *futex_waiter(void *arg)
{
	long *ret = arg;

	__atomic_store_n(&futex_waiter_tid, lkl_sys_gettid(), __ATOMIC_SEQ_CST);
	*ret = lkl_sys_futex(&futex_word, LKL_FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static int test_futex(void)
{
	pthread_t th;
	long waiter_ret = 1, woken;
	char state = '?';

	pthread_create(&th, NULL, futex_waiter, &waiter_ret);
	/* Wake only once the waiter sleeps in the kernel. */
	for (int i = 0; i < 1000 && state != 'S'; i++) {
		usleep(1000);
		if (__atomic_load_n(&futex_waiter_tid, __ATOMIC_SEQ_CST))
			state = task_state(futex_waiter_tid);
	}
	CHECK(state == 'S', "waiter never slept (state %c)", state);
	__atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
	woken = lkl_sys_futex(&futex_word, LKL_FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_join(th, NULL);
	CHECK(woken == 1, "FUTEX_WAKE woke %ld", woken);
	CHECK(waiter_ret == 0, "FUTEX_WAIT returned %ld", waiter_ret);
	CHECK(lkl_sys_futex(&futex_word, LKL_FUTEX_WAIT, 0, NULL, NULL, 0) == -LKL_EAGAIN,
	      "FUTEX_WAIT on a changed value must not sleep");
	return 0;
}

struct epoll_waiter {
	long epfd;
	long n;
	struct lkl_epoll_event ev;
};

static void *epoll_waiter_main(void *arg)
{
	struct epoll_waiter *w = arg;

	w->n = lkl_sys_epoll_pwait(w->epfd, &w->ev, 1, 5000, NULL, 0);
	return NULL;
}

static int test_eventfd_epoll(void)
{
	struct epoll_waiter w = { 0 };
	struct lkl_epoll_event ev = { .events = LKL_EPOLLIN, .data = 42 };
	uint64_t value = 5, got = 0;
	long efd, epfd;
	pthread_t th;

	efd = CHECK_OK(lkl_sys_eventfd2(0, 0));
	epfd = CHECK_OK(lkl_sys_epoll_create1(0));
	CHECK_OK(lkl_sys_epoll_ctl(epfd, LKL_EPOLL_CTL_ADD, efd, &ev));
	CHECK(lkl_sys_epoll_pwait(epfd, &w.ev, 1, 0, NULL, 0) == 0, "nothing ready yet");

	w.epfd = epfd;
	pthread_create(&th, NULL, epoll_waiter_main, &w);
	usleep(20 * 1000);
	CHECK(lkl_sys_write(efd, (char *)&value, 8) == 8, "eventfd write");
	pthread_join(th, NULL);
	CHECK(w.n == 1 && w.ev.data == 42 && (w.ev.events & LKL_EPOLLIN),
	      "epoll_pwait returned %ld, data %llu", w.n, (unsigned long long)w.ev.data);
	CHECK(lkl_sys_read(efd, (char *)&got, 8) == 8 && got == 5, "eventfd read %llu",
	      (unsigned long long)got);
	lkl_sys_close(epfd);
	lkl_sys_close(efd);
	return 0;
}

/* Every host thread that exited took its task with it: pid 1 has two
 * threads left, its own and the main thread's. */
static int test_exited_threads_reaped(void)
{
	long threads = CHECK_OK(count_entries("/proc/1/task", 0));

	CHECK(threads == 2, "pid 1 has %ld threads", threads);
	return 0;
}

/* Every unbound kernel stack has an inaccessible guard page right below it. */
static int test_guard_pages(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long start, end, prev_start = 0, prev_end = 0;
	char perms[8], prev_perms[8] = "";
	char line[512];
	int stacks = 0, guarded = 0;

	CHECK(maps, "cannot open /proc/self/maps");
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3)
			continue;
		if (end - start == 64 * 1024 && !strcmp(perms, "rw-p")) {
			stacks++;
			guarded += prev_end == start && prev_end - prev_start >= 64 * 1024 &&
				   !strcmp(prev_perms, "---p");
		}
		prev_start = start;
		prev_end = end;
		strcpy(prev_perms, perms);
	}
	fclose(maps);
	printf("# %d of %d 64 KiB stacks have a 64 KiB guard\n", guarded, stacks);
	CHECK(stacks >= 5, "expected kernel thread stacks, found %d", stacks);
	CHECK(guarded == stacks, "%d stacks without a 64 KiB guard", stacks - guarded);
	return 0;
}

/* Interrupt count of @irq in /proc/interrupts, or -1. */
static long irq_count(int irq)
{
	char buf[4096], *line;
	long fd, n, count = -1;

	fd = lkl_sys_openat(LKL_AT_FDCWD, "/proc/interrupts", LKL_O_RDONLY, 0);
	if (fd < 0)
		return -1;
	n = lkl_sys_read(fd, buf, sizeof(buf) - 1);
	lkl_sys_close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		int nr;

		if (sscanf(line, " %d: %ld", &nr, &count) == 2 && nr == irq)
			return count;
	}
	return -1;
}

#define TEST_IRQ 5
#define LKL_TIMER_IRQ_FOR_TEST 1

static void *irq_raiser(void *arg)
{
	lkl_kernel_trigger_irq(TEST_IRQ);
	return NULL;
}

/* Wait (up to a second) for the count of the test interrupt to reach @want. */
static long wait_irq_count(long want)
{
	long count = irq_count(TEST_IRQ);

	for (int i = 0; i < 1000 && count < want; i++) {
		usleep(1000);
		count = irq_count(TEST_IRQ);
	}
	return count;
}

/*
 * Interrupts raised from threads that never entered the kernel, and from one
 * that has a task, are delivered once each (a raise while the same interrupt
 * is still pending would be merged, as on hardware, so raise one at a time).
 */
static int test_irq_from_any_thread(void)
{
	long base = irq_count(TEST_IRQ), count;
	pthread_t th;

	CHECK(base >= 0, "interrupt %d not in /proc/interrupts", TEST_IRQ);
	for (int i = 1; i <= 20; i++) {
		pthread_create(&th, NULL, irq_raiser, NULL);
		pthread_join(th, NULL);
		count = wait_irq_count(base + i);
		CHECK(count == base + i, "raise %d from a new thread: count %ld", i, count - base);
	}
	irq_raiser(NULL);
	count = wait_irq_count(base + 21);
	CHECK(count == base + 21, "raise from a kernel thread's caller: count %ld", count - base);
	CHECK(irq_count(LKL_TIMER_IRQ_FOR_TEST) > 0, "no timer interrupts");
	return 0;
}

/*
 * The first call after the CPU thread parked the caller's task and went idle
 * (it does when it wakes, here for an interrupt raised by a thread outside
 * the kernel): the caller leaves idle on its own thread, with no handoff and
 * no wait for another thread (lkl_stats counts both).
 */
static int test_first_call_after_quiet(void)
{
	struct lkl_stats before, after;
	int borrowed = 0;
	pthread_t raiser;

	for (int i = 0; i < 20; i++) {
		pthread_create(&raiser, NULL, irq_raiser, NULL);
		pthread_join(raiser, NULL);
		usleep(15 * 1000);
		lkl_stats(&before, sizeof(before));
		CHECK_OK(lkl_sys_getpid());
		lkl_stats(&after, sizeof(after));
		CHECK(after.cpu_handoffs == before.cpu_handoffs,
		      "call %d: %llu CPU handoffs", i, after.cpu_handoffs - before.cpu_handoffs);
		CHECK(after.syscalls_handed == before.syscalls_handed,
		      "call %d waited to be handed the CPU", i);
		CHECK(after.syscalls_fast + after.syscalls_borrowed ==
		      before.syscalls_fast + before.syscalls_borrowed + 1,
		      "call %d not counted once", i);
		borrowed += after.syscalls_borrowed != before.syscalls_borrowed;
	}
	/* The CPU thread did park the task (else this tested nothing). */
	CHECK(borrowed == 20, "only %d of 20 calls found their task parked", borrowed);
	return 0;
}

static int test_stats(void)
{
	struct lkl_stats st;
	unsigned long long tail[2] = { 7, 7 };
	struct { struct lkl_stats st; unsigned long long extra; } big;

	CHECK(lkl_stats(&st, sizeof(st)) == 0, "lkl_stats failed");
	CHECK(st.host_threads_created >= 1, "the CPU thread was not counted");
	CHECK(st.syscalls_fast + st.syscalls_borrowed + st.syscalls_handed > 0,
	      "no syscall counted");
	/* A caller with a smaller struct gets only what it asked for... */
	CHECK(lkl_stats((struct lkl_stats *)tail, sizeof(tail[0])) == 0, "short copy");
	CHECK(tail[1] == 7, "wrote past the caller's size");
	/* ...and one with a larger struct gets zeros beyond ours. */
	memset(&big, 0xff, sizeof(big));
	lkl_stats((struct lkl_stats *)&big, sizeof(big));
	CHECK(big.extra == 0, "unknown fields not zeroed");
	return 0;
}

/* clone from the C API (no window) used to crash the host: refused. */
static int test_clone_refused(void)
{
	long args[6] = { 17 /* SIGCHLD */, 0, 0, 0, 0, 0 };
	long ret = lkl_syscall(__LKL_NR_clone, args);

	CHECK(ret == -LKL_ENOSYS, "clone returned %ld", ret);
	ret = lkl_syscall(__LKL_NR_clone3, args);
	CHECK(ret == -LKL_ENOSYS, "clone3 returned %ld", ret);
	CHECK_OK(lkl_sys_getpid());
	return 0;
}

/*
 * Unconfined calls with pointers into unmapped memory: the copy stops there
 * and the call fails (or is short) as on a real kernel; nothing crashes.
 */
static int test_bad_user_pointers(void)
{
	char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *hole = pages + 4096, *opts;
	static const char data[16] = "0123456789abcdef";
	struct lkl_stat st;
	long fd, ret;

	CHECK(pages != MAP_FAILED, "mmap failed");
	CHECK(mprotect(hole, 4096, PROT_NONE) == 0, "mprotect failed");

	/* Mount options ending 1 byte before the hole: the kernel copies a
	 * whole page from them, which ran into the hole and killed us. */
	opts = hole - sizeof("mode=0710");
	memcpy(opts, "mode=0710", sizeof("mode=0710"));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/opts", 0755));
	CHECK_OK(lkl_sys_mount("none", "/opts", "tmpfs", 0, opts));
	CHECK_OK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/opts", &st, 0));
	CHECK((st.st_mode & 07777) == 0710, "mode %o, not 0710", st.st_mode & 07777);
	CHECK_OK(lkl_sys_umount2("/opts", 0));

	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/faults", LKL_O_CREAT | LKL_O_RDWR, 0600));
	CHECK(lkl_sys_write(fd, hole, 16) == -LKL_EFAULT, "write from the hole");
	/* NULL is a fault too, not "zeroes" (the host copy's clear request). */
	ret = lkl_sys_write(fd, NULL, 16);
	CHECK(ret == -LKL_EFAULT, "write from NULL returned %ld", ret);
	CHECK_OK(lkl_sys_pwrite64(fd, data, 16, 0));
	CHECK(lkl_sys_pread64(fd, hole, 16, 0) == -LKL_EFAULT, "read into the hole");
	/* A buffer that runs into the hole: a short read, like Linux. */
	ret = lkl_sys_pread64(fd, hole - 8, 16, 0);
	CHECK(ret == 8, "read across the hole returned %ld", ret);
	CHECK(!memcmp(hole - 8, data, 8), "short read copied the wrong bytes");
	CHECK_OK(lkl_sys_close(fd));

	/* Paths: in the hole, or running into it without a NUL. */
	CHECK(lkl_sys_openat(LKL_AT_FDCWD, hole, LKL_O_RDONLY, 0) == -LKL_EFAULT,
	      "path in the hole");
	memset(hole - 8, 'a', 8);
	CHECK(lkl_sys_openat(LKL_AT_FDCWD, hole - 8, LKL_O_RDONLY, 0) == -LKL_EFAULT,
	      "path running into the hole");
	munmap(pages, 8192);
	return 0;
}

/* O_DIRECT cannot work on caller memory: refused at open and fcntl. */
static int test_direct_io_refused(void)
{
	long fd;

	CHECK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/direct", LKL_O_CREAT | LKL_O_RDWR | LKL_O_DIRECT,
			     0600) == -LKL_EINVAL, "open with O_DIRECT");
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/direct", LKL_O_CREAT | LKL_O_RDWR, 0600));
	CHECK(lkl_sys_fcntl(fd, LKL_F_SETFL, LKL_O_DIRECT) == -LKL_EINVAL, "fcntl F_SETFL O_DIRECT");
	CHECK_OK(lkl_sys_fcntl(fd, LKL_F_SETFL, LKL_O_APPEND));
	CHECK_OK(lkl_sys_close(fd));
	return 0;
}

static long blocked_read_ret;
static unsigned int blocked_word;

/* Blocks on a futex nobody wakes (not on a file: halt closes every file). */
static void *blocked_reader(void *arg)
{
	blocked_read_ret = lkl_sys_futex(&blocked_word, LKL_FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static pthread_t blocked_thread;

/* A thread blocked in the kernel when the kernel halts must get an error. */
static int test_start_blocked_reader(void)
{
	pthread_create(&blocked_thread, NULL, blocked_reader, NULL);
	usleep(20 * 1000);
	return 0;
}

static int test_halt(void)
{
	long args[6] = { 0 };
	int ret = lkl_halt();

	CHECK(ret == 0, "halt returned %d (%s)", ret, lkl_strerror(ret));
	pthread_join(blocked_thread, NULL);
	CHECK(blocked_read_ret == -LKL_ERR_NOT_RUNNING,
	      "blocked read returned %ld", blocked_read_ret);
	CHECK(lkl_host_thread_count() == 0, "%d library threads left",
	      lkl_host_thread_count());
	CHECK(host_threads() == 1, "%d host threads in the process", host_threads());
	CHECK(lkl_syscall(__LKL_NR_getpid, args) == -LKL_ERR_NOT_RUNNING,
	      "a call after halt must fail");
	CHECK(lkl_halt() == -LKL_ERR_NOT_RUNNING, "second halt");
	CHECK(lkl_boot("") == -LKL_ERR_ALREADY_BOOTED, "boot after halt");
	return 0;
}

int main(void)
{
	test_plan(27);
	test_run("calls before boot fail", test_before_boot);
	test_run("boot", test_boot);
	test_run("the first getrandom does not wait for entropy", test_getrandom);
	test_run("second boot fails", test_second_boot);
	test_run("getpid", test_getpid);
	test_run("umask", test_umask);
	test_run("unknown syscalls return ENOSYS", test_unknown_syscalls);
	test_run("mount tmpfs and proc", test_mounts);
	test_run("file operations", test_files);
	test_run("bad user pointers fail the call, not the process", test_bad_user_pointers);
	test_run("O_DIRECT is refused", test_direct_io_refused);
	test_run("confined syscalls touch only their ranges", test_confined_syscalls);
	test_run("/proc/self/status", test_proc_self_status);
	test_run("at most 3 library host threads", test_host_thread_budget);
	test_run("pipe between two host threads", test_pipe_between_threads);
	test_run("nanosleep 20 ms", test_nanosleep);
	test_run("16 threads x 2000 syscalls", test_many_threads);
	test_run("futex wait and wake", test_futex);
	test_run("eventfd and epoll", test_eventfd_epoll);
	test_run("exited host threads leave no task", test_exited_threads_reaped);
	test_run("kernel stacks have 64 KiB guards", test_guard_pages);
	test_run("interrupts from any host thread", test_irq_from_any_thread);
	test_run("first call after a quiet moment: no handoff", test_first_call_after_quiet);
	test_run("lkl_stats", test_stats);
	test_run("clone from the C API is refused", test_clone_refused);
	test_run("thread blocked at halt", test_start_blocked_reader);
	test_run("halt", test_halt);
	return test_done();
}
