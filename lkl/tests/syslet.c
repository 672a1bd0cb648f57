// SPDX-License-Identifier: GPL-2.0-only
/*
 * syslet: chains of system calls run by async_exec, completions in rings in
 * this process's memory (semantics: docs/syslets.md).  One kernel from boot
 * to halt; chains that must really sleep read from a pipe that is written
 * later, or from a disk attached with injected latency.
 */
#include "syslet-test.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/time_types.h>

static char dir[] = "/tmp/lkl-syslet-test-XXXXXX";
static long pid;

static const char *host_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* A kernel file with @text (tmpfs); returns 0 or a negative errno. */
static long kernel_write_file(const char *path, const void *text, size_t len)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0600);
	long n;

	if (fd < 0)
		return fd;
	n = lkl_sys_write(fd, text, len);
	lkl_sys_close(fd);
	return n == (long)len ? 0 : n < 0 ? n : -LKL_EIO;
}

/*
 * A writer thread: once the caller says it is about to enter the kernel
 * (@go), waits until its task @wait_tid sleeps, then @delay_us more, then
 * writes @len bytes of @data to kernel fd @fd.
 */
struct delayed_write {
	long fd;
	const char *data;
	size_t len;
	unsigned int delay_us;
	long *wait_tid;
	int go;
	char state;		/* state of @wait_tid when the writer wrote */
	long ret;
};

static void *delayed_writer(void *arg)
{
	struct delayed_write *w = arg;

	while (!__atomic_load_n(&w->go, __ATOMIC_SEQ_CST))
		usleep(100);
	if (w->wait_tid)
		w->state = wait_task_sleeping(w->wait_tid);
	usleep(w->delay_us);
	w->ret = lkl_sys_write(w->fd, w->data, w->len);
	return NULL;
}

static int test_boot(void)
{
	int ret;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	ret = lkl_boot("mem=128M");
	CHECK(ret == 0, "boot returned %d (%s)", ret, lkl_strerror(ret));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp", 0755));
	CHECK_OK(lkl_sys_mount("none", "/tmp", "tmpfs", 0, NULL));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	pid = CHECK_OK(lkl_sys_getpid());
	return 0;
}

/* --- chains ---------------------------------------------------------------- */

/* Three atoms linked by next run in order, each result in its slot; the
 * return value is the last atom's address. */
static int test_chain_through_next(void)
{
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_atom a[3];
	int64_t ret[3] = { 111, 111, 111 };
	uint64_t mask077 = 077, mask022 = 022;
	long r;

	CHECK(ring, "out of memory");
	lkl_sys_umask(022);
	ATOM(&a[0], __LKL_NR_getpid, 0, &ret[0], &a[1], 1);
	ATOM(&a[1], __LKL_NR_umask, 0, &ret[1], &a[2], 2, &mask077);
	ATOM(&a[2], __LKL_NR_umask, 0, &ret[2], NULL, 3, &mask022);
	r = async_exec(&a[0], ring);
	CHECK(r == ATOM_ADDR(&a[2]), "returned %#lx, want the last atom %p", r, (void *)&a[2]);
	CHECK(ret[0] == pid, "getpid slot %lld", (long long)ret[0]);
	CHECK(ret[1] == 022, "first umask slot %llo", (long long)ret[1]);
	CHECK(ret[2] == 077, "second umask slot %llo (ran out of order?)", (long long)ret[2]);
	CHECK(lkl_sys_umask(022) == 022, "the chain left another umask");
	CHECK(ring_head(ring) == 0, "a synchronous chain posted %u completions", ring_head(ring));
	free(ring);
	return 0;
}

/* open -> read(fd from open's slot) -> close(the same slot). */
static int test_args_by_pointer(void)
{
	static const char path[] = "/tmp/syslet-args";
	static const char text[] = "arguments are read just before the atom runs\n";
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_atom a[3];
	int64_t ret[3] = { -1, 111, 111 };
	char buf[128] = { 0 };
	uint64_t dirfd = (uint64_t)(int64_t)LKL_AT_FDCWD, pathp = (uintptr_t)path;
	uint64_t flags = LKL_O_RDONLY, bufp = (uintptr_t)buf, len = sizeof(buf);
	long r;

	CHECK(ring, "out of memory");
	CHECK_OK(kernel_write_file(path, text, sizeof(text) - 1));
	ATOM(&a[0], __LKL_NR_openat, 0, &ret[0], &a[1], 0, &dirfd, &pathp, &flags);
	ATOM(&a[1], __LKL_NR_read, 0, &ret[1], &a[2], 0, (uint64_t *)&ret[0], &bufp, &len);
	ATOM(&a[2], __LKL_NR_close, 0, &ret[2], NULL, 0, (uint64_t *)&ret[0]);
	r = async_exec(&a[0], ring);
	CHECK(r == ATOM_ADDR(&a[2]), "returned %ld", r);
	CHECK(ret[0] >= 0, "openat slot %lld", (long long)ret[0]);
	CHECK(ret[1] == sizeof(text) - 1, "read slot %lld (the fd was not taken from the "
	      "open's slot?)", (long long)ret[1]);
	CHECK(!memcmp(buf, text, sizeof(text) - 1), "read '%.40s'", buf);
	CHECK(ret[2] == 0, "close slot %lld", (long long)ret[2]);
	CHECK(lkl_sys_close(ret[0]) == -LKL_EBADF, "fd %lld still open after the chain",
	      (long long)ret[0]);
	free(ring);
	return 0;
}

/* --- flags ----------------------------------------------------------------- */

/* ASYNC: 0 at once, the completion arrives in the ring with the private. */
static int test_flag_async(void)
{
	static struct lkl_syslet_atom a;
	static int64_t ret = 12345;
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	struct lkl_stats before = stats_now(), after;
	long r, n;

	CHECK(ring, "out of memory");
	ATOM(&a, __LKL_NR_getpid, LKL_SYSLET_ASYNC, &ret, NULL, 0xa5a5a5a5f00dULL);
	r = async_exec(&a, ring);
	CHECK(r == 0, "async_exec returned %ld, not 0", r);
	n = async_wait(ring, 1);
	CHECK(n == 1, "async_wait returned %ld", n);
	CHECK(ring_pop(ring, &c), "no completion");
	CHECK(c.result == pid && c.private == 0xa5a5a5a5f00dULL,
	      "completion {%lld, %#llx}", (long long)c.result, (unsigned long long)c.private);
	CHECK(ret == pid, "ret slot %lld", (long long)ret);
	CHECK(ring_head(ring) == 1, "%u completions for one chain", ring_head(ring));
	after = stats_now();
	CHECK(DELTA(after, before, syslet_completions) == 1, "syslet_completions moved by %lld",
	      DELTA(after, before, syslet_completions));
	return 0;
}

/*
 * SYNC: a pipe read that has to sleep keeps the caller waiting: async_exec
 * returns the atom, not 0, with the data read; nothing is posted.
 */
static int test_flag_sync(void)
{
	static const char msg[] = "sync";
	/* Static: if the flag were ignored, the chain would outlive the test. */
	static struct lkl_syslet_atom a;
	static int64_t ret = 111;
	static char buf[16];
	static uint64_t fd, bufp, len = sizeof(buf);
	static struct delayed_write w;
	static long tid;
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_stats before, after;
	pthread_t th;
	int fds[2];
	long r;

	CHECK(ring, "out of memory");
	tid = CHECK_OK(lkl_sys_gettid());
	CHECK_OK(kpipe(fds));
	fd = fds[0];
	bufp = (uintptr_t)buf;
	ATOM(&a, __LKL_NR_read, LKL_SYSLET_SYNC, &ret, NULL, 7, &fd, &bufp, &len);
	w = (struct delayed_write){ .fd = fds[1], .data = msg, .len = 4,
				    .delay_us = 50 * 1000, .wait_tid = &tid };
	pthread_create(&th, NULL, delayed_writer, &w);
	before = stats_now();
	__atomic_store_n(&w.go, 1, __ATOMIC_SEQ_CST);
	r = async_exec(&a, ring);
	after = stats_now();
	pthread_join(th, NULL);
	CHECK(w.ret == 4, "writer: %ld", w.ret);
	CHECK(w.state == 'S', "the caller never slept in the read (state %c)", w.state);
	CHECK(r == ATOM_ADDR(&a), "async_exec returned %ld, not the atom", r);
	CHECK(ret == 4 && !memcmp(buf, msg, 4), "read slot %lld, '%.16s'", (long long)ret, buf);
	CHECK(ring_head(ring) == 0, "posted %u completions", ring_head(ring));
	CHECK(DELTA(after, before, syslet_cachemisses) == 0, "counted as a cachemiss");
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	free(ring);
	return 0;
}

/*
 * NO_COMPLETE on the last atom of an asynchronous chain: its side effect
 * happens, nothing is posted.  A second chain's completion, waited for
 * afterwards, must be the only entry.
 */
static int test_flag_no_complete(void)
{
	static struct lkl_syslet_atom a[2], sentinel;
	static int64_t ret[2] = { 111, 111 }, sret;
	static char buf[16];
	static uint64_t fd_a, fd_b, bufp, len = sizeof(buf), msgp, msglen = 2;
	static const char msg[] = "nc";
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	char got[4] = { 0 };
	int pa[2], pb[2];
	long r;

	CHECK(ring, "out of memory");
	CHECK_OK(kpipe(pa));
	CHECK_OK(kpipe(pb));
	fd_a = pa[0];
	fd_b = pb[1];
	bufp = (uintptr_t)buf;
	msgp = (uintptr_t)msg;
	ATOM(&a[0], __LKL_NR_read, 0, &ret[0], &a[1], 0x10, &fd_a, &bufp, &len);
	ATOM(&a[1], __LKL_NR_write, LKL_SYSLET_NO_COMPLETE, &ret[1], NULL, 0x11, &fd_b, &msgp, &msglen);
	r = async_exec(&a[0], ring);
	CHECK(r == 0, "the blocking chain returned %ld, not 0", r);
	CHECK(lkl_sys_write(pa[1], "go", 2) == 2, "write");
	/* The last atom's side effect: "nc" in the second pipe. */
	CHECK(lkl_sys_read(pb[0], got, 2) == 2 && !memcmp(got, "nc", 2), "side effect '%s'", got);

	ATOM(&sentinel, __LKL_NR_getpid, LKL_SYSLET_ASYNC, &sret, NULL, 0x5e);
	CHECK(async_exec(&sentinel, ring) == 0, "sentinel chain");
	CHECK(async_wait(ring, 1) >= 1, "no completion for the sentinel");
	CHECK(ring_head(ring) == 1, "%u completions, want only the sentinel's", ring_head(ring));
	CHECK(ring_pop(ring, &c) && c.private == 0x5e, "the entry is {%lld, %#llx}, not the sentinel",
	      (long long)c.result, (unsigned long long)c.private);
	CHECK(ret[0] == 2 && ret[1] == 2, "slots %lld %lld", (long long)ret[0], (long long)ret[1]);
	for (int i = 0; i < 2; i++) {
		lkl_sys_close(pa[i]);
		lkl_sys_close(pb[i]);
	}
	return 0;
}

/*
 * The four stop conditions, each with results that stop and results that
 * do not: lseek(fd, off, SEEK_SET) returns off, or -EINVAL for off -1.
 */
static int test_flag_stop(void)
{
	static const struct {
		const char *name;
		unsigned int flag;
		int64_t off;
		int stops;
	} cases[] = {
		{ "STOP_ON_NONZERO", LKL_SYSLET_STOP_ON_NONZERO, 5, 1 },
		{ "STOP_ON_NONZERO", LKL_SYSLET_STOP_ON_NONZERO, -1, 1 },
		{ "STOP_ON_NONZERO", LKL_SYSLET_STOP_ON_NONZERO, 0, 0 },
		{ "STOP_ON_ZERO", LKL_SYSLET_STOP_ON_ZERO, 0, 1 },
		{ "STOP_ON_ZERO", LKL_SYSLET_STOP_ON_ZERO, 5, 0 },
		{ "STOP_ON_ZERO", LKL_SYSLET_STOP_ON_ZERO, -1, 0 },
		{ "STOP_ON_NEGATIVE", LKL_SYSLET_STOP_ON_NEGATIVE, -1, 1 },
		{ "STOP_ON_NEGATIVE", LKL_SYSLET_STOP_ON_NEGATIVE, 0, 0 },
		{ "STOP_ON_NEGATIVE", LKL_SYSLET_STOP_ON_NEGATIVE, 5, 0 },
		{ "STOP_ON_NON_POSITIVE", LKL_SYSLET_STOP_ON_NON_POSITIVE, 0, 1 },
		{ "STOP_ON_NON_POSITIVE", LKL_SYSLET_STOP_ON_NON_POSITIVE, -1, 1 },
		{ "STOP_ON_NON_POSITIVE", LKL_SYSLET_STOP_ON_NON_POSITIVE, 5, 0 },
		{ "no flag", 0, -1, 0 },
	};
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_atom a[2];
	uint64_t fd, off, whence = LKL_SEEK_SET;
	long r;

	CHECK(ring, "out of memory");
	CHECK_OK(kernel_write_file("/tmp/syslet-stop", "0123456789", 10));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/syslet-stop", LKL_O_RDONLY, 0));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ret[2] = { 111, 111 };
		int64_t want = cases[i].off < 0 ? -LKL_EINVAL : cases[i].off;

		off = cases[i].off;
		ATOM(&a[0], __LKL_NR_lseek, cases[i].flag, &ret[0], &a[1], 1, &fd, &off, &whence);
		ATOM(&a[1], __LKL_NR_getpid, 0, &ret[1], NULL, 2);
		r = async_exec(&a[0], ring);
		CHECK(ret[0] == want, "%s, result %lld: lseek slot %lld", cases[i].name,
		      (long long)want, (long long)ret[0]);
		if (cases[i].stops) {
			CHECK(r == ATOM_ADDR(&a[0]) && ret[1] == 111,
			      "%s, result %lld: did not stop (returned %#lx, second slot %lld)",
			      cases[i].name, (long long)want, r, (long long)ret[1]);
		} else {
			CHECK(r == ATOM_ADDR(&a[1]) && ret[1] == pid,
			      "%s, result %lld: stopped (returned %#lx, second slot %lld)",
			      cases[i].name, (long long)want, r, (long long)ret[1]);
		}
	}
	CHECK(ring_head(ring) == 0, "synchronous chains posted %u completions", ring_head(ring));
	lkl_sys_close(fd);
	free(ring);
	return 0;
}

/*
 * SKIP_TO_NEXT_ON_STOP: on a stop the atom laid out right after runs
 * instead of next; without a stop, next runs.
 */
static int test_flag_skip_to_next(void)
{
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_atom a[3];
	uint64_t fd, off, whence = LKL_SEEK_SET;
	long r;

	CHECK(ring, "out of memory");
	CHECK_OK(kernel_write_file("/tmp/syslet-skip", "0123456789", 10));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/syslet-skip", LKL_O_RDONLY, 0));
	for (int stop = 0; stop < 2; stop++) {
		int64_t ret[3] = { 111, 111, 111 };

		off = stop ? 0 : 5;
		ATOM(&a[0], __LKL_NR_lseek, LKL_SYSLET_STOP_ON_ZERO | LKL_SYSLET_SKIP_TO_NEXT_ON_STOP,
		     &ret[0], &a[2], 0, &fd, &off, &whence);
		ATOM(&a[1], __LKL_NR_getpid, 0, &ret[1], NULL, 1);
		ATOM(&a[2], __LKL_NR_getpid, 0, &ret[2], NULL, 2);
		r = async_exec(&a[0], ring);
		CHECK(ret[0] == (int64_t)off, "lseek slot %lld", (long long)ret[0]);
		if (stop)
			CHECK(r == ATOM_ADDR(&a[1]) && ret[1] == pid && ret[2] == 111,
			      "on a stop: returned %#lx, slots %lld %lld (want the atom after it)",
			      r, (long long)ret[1], (long long)ret[2]);
		else
			CHECK(r == ATOM_ADDR(&a[2]) && ret[2] == pid && ret[1] == 111,
			      "without a stop: returned %#lx, slots %lld %lld (want next)",
			      r, (long long)ret[1], (long long)ret[2]);
	}
	lkl_sys_close(fd);
	free(ring);
	return 0;
}

/* --- completions ----------------------------------------------------------- */

/* A chain that never sleeps posts nothing: the ring is left as it was. */
static int test_sync_posts_nothing(void)
{
	struct lkl_syslet_ring *ring = ring_new(8, 0);
	struct lkl_syslet_atom a;
	int64_t ret = 111;
	struct lkl_stats before, after;
	unsigned char copy[16 + 8 * 16];
	long r;

	CHECK(ring, "out of memory");
	/* A ring in use: free-running indices 5/5, entries with a pattern. */
	ring->kernel_head = ring->user_tail = 5;
	memset(ring + 1, 0x5a, 8 * sizeof(struct lkl_syslet_completion));
	memcpy(copy, ring, sizeof(copy));
	ATOM(&a, __LKL_NR_getpid, 0, &ret, NULL, 9);
	before = stats_now();
	r = async_exec(&a, ring);
	after = stats_now();
	CHECK(r == ATOM_ADDR(&a) && ret == pid, "returned %ld, slot %lld", r, (long long)ret);
	CHECK(!memcmp(copy, ring, sizeof(copy)), "the ring changed (head %u)", ring->kernel_head);
	CHECK(DELTA(after, before, syslet_chains_inline) == 1, "syslet_chains_inline moved by %lld",
	      DELTA(after, before, syslet_chains_inline));
	CHECK(DELTA(after, before, syslet_completions) == 0, "syslet_completions moved by %lld",
	      DELTA(after, before, syslet_completions));
	CHECK(DELTA(after, before, syslet_cachemisses) == 0, "counted as a cachemiss");
	free(ring);
	return 0;
}

/* A read with no data: 0 at once; after the write, {bytes read, private}. */
static int test_queued_completion(void)
{
	static struct lkl_syslet_atom a;
	static int64_t ret = 111;
	static char buf[64];
	static uint64_t fd, bufp, len = sizeof(buf);
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	struct lkl_stats before, after;
	int fds[2];
	long r, n;

	CHECK(ring, "out of memory");
	CHECK_OK(kpipe(fds));
	fd = fds[0];
	bufp = (uintptr_t)buf;
	ATOM(&a, __LKL_NR_read, 0, &ret, NULL, 0xc0ffee, &fd, &bufp, &len);
	before = stats_now();
	r = async_exec(&a, ring);
	CHECK(r == 0, "async_exec returned %ld, not 0", r);
	CHECK(ring_head(ring) == 0, "posted before the data was written");
	CHECK(lkl_sys_write(fds[1], "queued!", 7) == 7, "write");
	n = async_wait(ring, 1);
	CHECK(n >= 1, "async_wait returned %ld", n);
	CHECK(ring_pop(ring, &c), "no completion");
	CHECK(c.result == 7 && c.private == 0xc0ffee, "completion {%lld, %#llx}",
	      (long long)c.result, (unsigned long long)c.private);
	CHECK(ret == 7 && !memcmp(buf, "queued!", 7), "slot %lld, buffer '%.8s'", (long long)ret, buf);
	after = stats_now();
	CHECK(DELTA(after, before, syslet_cachemisses) == 1, "syslet_cachemisses moved by %lld",
	      DELTA(after, before, syslet_cachemisses));
	CHECK(DELTA(after, before, syslet_completions) == 1, "syslet_completions moved by %lld",
	      DELTA(after, before, syslet_completions));
	CHECK(ring_head(ring) == 1, "%u completions", ring_head(ring));
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	return 0;
}

/* --- malformed submissions ------------------------------------------------- */

/* async_exec(@atom, @ring) must return @want and leave getpid's slot alone. */
static int64_t mf_ret;

static int malformed(const char *what, void *atom, void *ring, long want)
{
	long r;

	mf_ret = 111;
	r = async_exec(atom, ring);
	CHECK(r == want, "%s: returned %ld (%s), want %ld", what, r, lkl_strerror(r), want);
	CHECK(mf_ret == 111, "%s: the atom ran (slot %lld)", what, (long long)mf_ret);
	return 0;
}

static int test_malformed(void)
{
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_ring *big = NULL;
	struct lkl_syslet_atom a, b, *odd;
	static uint64_t storage[64];
	unsigned char *none;
	int64_t r0;
	long r;

	CHECK(ring, "out of memory");
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(none != MAP_FAILED, "mmap");

	ATOM(&a, __LKL_NR_getpid, 0, &mf_ret, NULL, 0);
	if (malformed("NULL atom", NULL, ring, -LKL_EINVAL))
		return -1;
	odd = (void *)((char *)storage + 4);
	memcpy(odd, &a, sizeof(a));
	if (malformed("misaligned atom", odd, ring, -LKL_EINVAL))
		return -1;
	a.flags = 0x100;
	if (malformed("flag 0x100", &a, ring, -LKL_EINVAL))
		return -1;
	a.flags = 0x80000000;
	if (malformed("flag 0x80000000", &a, ring, -LKL_EINVAL))
		return -1;
	a.flags = LKL_SYSLET_ASYNC | LKL_SYSLET_SYNC;
	if (malformed("ASYNC|SYNC", &a, ring, -LKL_EINVAL))
		return -1;
	a.flags = 0;
	if (malformed("NULL ring", &a, NULL, -LKL_EINVAL) ||
	    malformed("misaligned ring", &a, (char *)ring + 4, -LKL_EINVAL))
		return -1;
	ring->entries = 0;
	if (malformed("0 entries", &a, ring, -LKL_EINVAL))
		return -1;
	ring->entries = 3;
	if (malformed("3 entries", &a, ring, -LKL_EINVAL))
		return -1;
	ring->entries = 1U << 21;
	if (malformed("2^21 entries", &a, ring, -LKL_EINVAL))
		return -1;
	ring->entries = 4;
	if (malformed("unreadable atom", none, ring, -LKL_EFAULT) ||
	    malformed("unreadable ring", &a, none, -LKL_EFAULT))
		return -1;

	/* The limits themselves are fine: 1 and 2^20 entries. */
	ring->entries = 1;
	r = async_exec(&a, ring);
	CHECK(r == ATOM_ADDR(&a) && mf_ret == pid, "1 entry: returned %ld", r);
	big = mmap(NULL, 16 + (16UL << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(big != MAP_FAILED, "mmap");
	big->entries = 1U << 20;
	mf_ret = 111;
	r = async_exec(&a, big);
	CHECK(r == ATOM_ADDR(&a) && mf_ret == pid, "2^20 entries: returned %ld", r);
	munmap(big, 16 + (16UL << 20));
	ring->entries = 4;

	/* A next that points at itself: -ELOOP after 1024 runs. */
	a.next = (uintptr_t)&a;
	mf_ret = 111;
	r = async_exec(&a, ring);
	CHECK(r == -LKL_ELOOP, "self loop returned %ld (%s)", r, lkl_strerror(r));
	CHECK(mf_ret == pid, "the looping atom never ran (slot %lld)", (long long)mf_ret);

	/* Malformed later in the chain: the first atom ran, the error is the
	 * chain's result. */
	ATOM(&b, __LKL_NR_getpid, 0, &r0, odd, 0);
	r0 = 111;
	r = async_exec(&b, ring);
	CHECK(r == -LKL_EINVAL && r0 == pid, "next misaligned: returned %ld, slot %lld",
	      r, (long long)r0);
	b.next = (uintptr_t)none;
	r0 = 111;
	r = async_exec(&b, ring);
	CHECK(r == -LKL_EFAULT && r0 == pid, "next unreadable: returned %ld, slot %lld",
	      r, (long long)r0);
	ATOM(&a, __LKL_NR_getpid, 0x100, &mf_ret, NULL, 0);
	b.next = (uintptr_t)&a;
	r0 = mf_ret = 111;
	r = async_exec(&b, ring);
	CHECK(r == -LKL_EINVAL && r0 == pid && mf_ret == 111,
	      "next with unknown flags: returned %ld, slots %lld %lld", r, (long long)r0,
	      (long long)mf_ret);
	CHECK(ring_head(ring) == 0, "malformed submissions posted %u completions", ring_head(ring));
	munmap(none, 4096);
	free(ring);
	return 0;
}

/* The same, found after the chain went asynchronous: posted, not returned. */
static int test_malformed_after_async(void)
{
	static struct lkl_syslet_atom a, bad;
	static int64_t ret = 111, bad_ret = 111;
	static char buf[8];
	static uint64_t fd, bufp, len = sizeof(buf);
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	int fds[2];
	long r;

	CHECK(ring, "out of memory");
	CHECK_OK(kpipe(fds));
	fd = fds[0];
	bufp = (uintptr_t)buf;
	ATOM(&a, __LKL_NR_read, 0, &ret, &bad, 0x77, &fd, &bufp, &len);
	ATOM(&bad, __LKL_NR_getpid, 0x100, &bad_ret, NULL, 0x78);
	r = async_exec(&a, ring);
	CHECK(r == 0, "returned %ld, not 0", r);
	CHECK(lkl_sys_write(fds[1], "x", 1) == 1, "write");
	CHECK(async_wait(ring, 1) == 1, "no completion");
	CHECK(ring_pop(ring, &c), "no completion");
	CHECK(c.result == -LKL_EINVAL, "completion result %lld, want -EINVAL", (long long)c.result);
	CHECK(ret == 1 && bad_ret == 111, "slots %lld %lld", (long long)ret, (long long)bad_ret);
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	return 0;
}

/*
 * Calls a chain may not make get -EPERM and the chain goes on; numbers
 * beyond the table (and the library's test hooks) -ENOSYS; O_DIRECT opens
 * -EINVAL.  reboot gets magic numbers it would refuse with -EINVAL if it ran.
 */
static int test_refused_atoms(void)
{
	static const struct {
		const char *name;
		unsigned int nr;
		long want;
	} calls[] = {
		{ "exit", __LKL_NR_exit, -LKL_EPERM },
		{ "execve", __LKL_NR_execve, -LKL_EPERM },
		{ "execveat", __LKL_NR_execveat, -LKL_EPERM },
		{ "clone", __LKL_NR_clone, -LKL_EPERM },
		{ "clone3", __LKL_NR_clone3, -LKL_EPERM },
		{ "set_tid_address", __LKL_NR_set_tid_address, -LKL_EPERM },
		{ "set_robust_list", __LKL_NR_set_robust_list, -LKL_EPERM },
		{ "rseq", __LKL_NR_rseq, -LKL_EPERM },
		{ "reboot", __LKL_NR_reboot, -LKL_EPERM },
		{ "kexec_load", __LKL_NR_kexec_load, -LKL_EPERM },
		{ "kexec_file_load", __LKL_NR_kexec_file_load, -LKL_EPERM },
		{ "async_exec", __LKL_NR_async_exec, -LKL_EPERM },
		{ "async_wait", __LKL_NR_async_wait, -LKL_EPERM },
		{ "9999", 9999, -LKL_ENOSYS },
		{ "LKL_SYSCALL_TEST_PANIC", LKL_SYSCALL_TEST_PANIC, -LKL_ENOSYS },
		{ "0xffffffff", 0xffffffff, -LKL_ENOSYS },
		{ "exit_group", __LKL_NR_exit_group, -LKL_EPERM },
	};
	enum { N = sizeof(calls) / sizeof(calls[0]) };
	static struct lkl_syslet_atom a[N + 2], inner;
	static int64_t ret[N + 2], inner_ret;
	static const char sh[] = "/bin/sh", dpath[] = "/tmp/syslet-direct";
	static uint64_t v[6], dflags = LKL_O_CREAT | LKL_O_RDWR | LKL_O_DIRECT, dmode = 0600;
	static uint64_t dirfd;
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	uint64_t *args[6];
	long r;

	CHECK(ring, "out of memory");
	ATOM(&inner, __LKL_NR_getpid, 0, &inner_ret, NULL, 0);
	inner_ret = 111;
	/* Pointer arguments that would be valid for the calls that take them. */
	v[0] = (uintptr_t)sh;
	v[1] = 0;
	v[2] = 0;
	for (int i = 0; i < 6; i++)
		args[i] = &v[i];
	for (int i = 0; i < N; i++) {
		ATOM(&a[i], calls[i].nr, 0, &ret[i], &a[i + 1], i, args[0], args[1], args[2]);
		ret[i] = 111;
	}
	/* async_exec/async_wait atoms get a real atom and ring. */
	for (int i = 0; i < N; i++)
		if (calls[i].nr == __LKL_NR_async_exec || calls[i].nr == __LKL_NR_async_wait) {
			static uint64_t atomp, ringp, one = 1;

			atomp = (uintptr_t)&inner;
			ringp = (uintptr_t)ring;
			a[i].arg_ptr[0] = calls[i].nr == __LKL_NR_async_exec ? (uintptr_t)&atomp
									   : (uintptr_t)&ringp;
			a[i].arg_ptr[1] = calls[i].nr == __LKL_NR_async_exec ? (uintptr_t)&ringp
									   : (uintptr_t)&one;
		}
	dirfd = (uint64_t)(int64_t)LKL_AT_FDCWD;
	{
		static uint64_t dpathp;

		dpathp = (uintptr_t)dpath;
		ATOM(&a[N], __LKL_NR_openat, 0, &ret[N], &a[N + 1], N, &dirfd, &dpathp, &dflags, &dmode);
	}
	ATOM(&a[N + 1], __LKL_NR_getpid, 0, &ret[N + 1], NULL, N + 1);
	ret[N] = ret[N + 1] = 111;
	r = async_exec(&a[0], ring);
	CHECK(r == ATOM_ADDR(&a[N + 1]), "returned %ld (%s), not the last atom", r, lkl_strerror(r));
	for (int i = 0; i < N; i++)
		CHECK(ret[i] == calls[i].want, "%s: %lld (%s), want %ld", calls[i].name,
		      (long long)ret[i], lkl_strerror(ret[i]), calls[i].want);
	CHECK(inner_ret == 111, "the nested async_exec ran its chain");
	CHECK(ret[N] == -LKL_EINVAL, "O_DIRECT open: %lld", (long long)ret[N]);
	CHECK(ret[N + 1] == pid, "the chain did not go on: %lld", (long long)ret[N + 1]);
	CHECK(lkl_sys_getpid() == pid, "the kernel still answers");
	CHECK(ring_head(ring) == 0, "posted %u", ring_head(ring));
	return 0;
}

/* --- the cachemiss path ------------------------------------------------------ */

/*
 * Submit @a, which must go asynchronous, with the counters read right before
 * and right after async_exec: one cachemiss, and no host thread created,
 * woken or handed the CPU, no new context (the pool is warm).
 */
static int cachemiss_counters(const char *what, struct lkl_syslet_atom *a,
			      struct lkl_syslet_ring *ring)
{
	struct lkl_stats before, after;
	long r;
	int ok;

	before = stats_now();
	r = async_exec(a, ring);
	after = stats_now();
	CHECK(r == 0, "%s: returned %ld, not 0", what, r);
	ok = DELTA(after, before, syslet_cachemisses) == 1 &&
	     DELTA(after, before, cpu_handoffs) == 0 &&
	     DELTA(after, before, host_threads_created) == 0 &&
	     DELTA(after, before, cpu_thread_notifies) == 0 &&
	     DELTA(after, before, syslet_contexts_created) == 0;
	CHECK(ok, "%s: want +1 0 0 0 0, got syslet_cachemisses +%lld, cpu_handoffs +%lld, "
	      "host_threads_created +%lld, cpu_thread_notifies +%lld, "
	      "syslet_contexts_created +%lld (cpu_thread_wakeups +%lld, idle_alarms +%lld)",
	      what, DELTA(after, before, syslet_cachemisses), DELTA(after, before, cpu_handoffs),
	      DELTA(after, before, host_threads_created),
	      DELTA(after, before, cpu_thread_notifies),
	      DELTA(after, before, syslet_contexts_created),
	      DELTA(after, before, cpu_thread_wakeups), DELTA(after, before, idle_alarms));
	return 0;
}

static struct lkl_syslet_atom cm_atom;
static int64_t cm_ret;
static char cm_buf[4096];
static uint64_t cm_fd, cm_bufp, cm_len, cm_off;

/* A read from an empty pipe, then the data: one completion. */
static int pipe_round(struct lkl_syslet_ring *ring, int counters)
{
	struct lkl_syslet_completion c;
	int fds[2];
	long r;

	CHECK_OK(kpipe(fds));
	cm_fd = fds[0];
	cm_bufp = (uintptr_t)cm_buf;
	cm_len = 16;
	cm_ret = 111;
	ATOM(&cm_atom, __LKL_NR_read, 0, &cm_ret, NULL, 0xcafe, &cm_fd, &cm_bufp, &cm_len);
	if (counters) {
		if (cachemiss_counters("pipe read", &cm_atom, ring))
			return -1;
	} else {
		r = async_exec(&cm_atom, ring);
		CHECK(r == 0, "warm-up returned %ld", r);
	}
	CHECK(lkl_sys_write(fds[1], "cachemiss", 9) == 9, "write");
	CHECK(async_wait(ring, 1) >= 1, "no completion");
	CHECK(ring_pop(ring, &c), "no completion");
	CHECK(c.result == 9 && c.private == 0xcafe && !memcmp(cm_buf, "cachemiss", 9),
	      "completion {%lld, %#llx}", (long long)c.result, (unsigned long long)c.private);
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	return 0;
}

static int test_cachemiss_pipe(void)
{
	struct lkl_syslet_ring *ring = ring_new(4, 0);

	CHECK(ring, "out of memory");
	if (pipe_round(ring, 0))	/* warm-up: the pool has its spare */
		return -1;
	return pipe_round(ring, 1);
}

/* Deterministic pseudo-random bytes. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void fill_random(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		buf[i] = rng >> 32;
	}
}

static unsigned char lat_data[256 * 1024];

/*
 * Drop the kernel's page cache, then let the work that leaves behind run
 * before the caller measures anything: dropping dentries and inodes queues
 * RCU callbacks, which run (in ksoftirqd, a task the CPU thread is told to
 * run) at the next context switch, otherwise the cachemiss's own.  A sleep
 * in the kernel is such a switch; quiet is a call after which nothing else
 * wanted to run (no notification of the CPU thread).
 */
static long drop_caches(void)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, "/proc/sys/vm/drop_caches", LKL_O_WRONLY, 0);
	struct __lkl_kernel_timespec ms = { .tv_sec = 0, .tv_nsec = 1000 * 1000 };
	struct lkl_stats before, after;
	long n;

	if (fd < 0)
		return fd;
	n = lkl_sys_write(fd, "3", 1);
	lkl_sys_close(fd);
	if (n < 0)
		return n;
	for (int i = 0; i < 1000; i++) {
		lkl_sys_nanosleep(&ms, NULL);
		before = stats_now();
		lkl_sys_getpid();
		after = stats_now();
		if (after.cpu_thread_notifies == before.cpu_thread_notifies)
			return 0;
	}
	return -LKL_EBUSY;
}

/* A read of a file on a disk with 200 us latency, its page cache dropped. */
static int test_cachemiss_disk(void)
{
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	struct lkl_stats before, after;
	char warm[512];
	FILE *f;
	int disk;
	long fd;

	CHECK(ring, "out of memory");
	CHECK(!test_shell("mkdir -p %s/src", dir), "mkdir");
	fill_random(lat_data, sizeof(lat_data));
	f = fopen(host_path("src/data"), "w");
	CHECK(f && fwrite(lat_data, 1, sizeof(lat_data), f) == sizeof(lat_data), "host file");
	fclose(f);
	CHECK(!test_shell("mke2fs -q -F -t ext4 -d %s/src %s/lat.img 16M", dir, dir), "mke2fs");
	disk = lkl_disk_attach_opts(host_path("lat.img"),
				    &(struct lkl_disk_options){ .latency_ns = 200000 });
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/lat", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/lat/data", LKL_O_RDONLY, 0));
	/* The disk path is warm (the backend's threads exist), then the cache
	 * is dropped so that the chain's read goes to the disk. */
	CHECK(lkl_sys_pread64(fd, warm, sizeof(warm), 0) == sizeof(warm), "warm-up read");
	CHECK(pipe_round(ring, 0) == 0, "pipe warm-up");
	CHECK_OK(drop_caches());

	cm_fd = fd;
	cm_bufp = (uintptr_t)cm_buf;
	cm_len = sizeof(cm_buf);
	cm_off = 128 * 1024;
	cm_ret = 111;
	ATOM(&cm_atom, __LKL_NR_pread64, 0, &cm_ret, NULL, 0xd15c, &cm_fd, &cm_bufp, &cm_len, &cm_off);
	before = stats_now();
	if (cachemiss_counters("disk read", &cm_atom, ring))
		return -1;
	CHECK(async_wait(ring, 1) >= 1, "no completion");
	after = stats_now();
	CHECK(ring_pop(ring, &c), "no completion");
	CHECK(c.result == sizeof(cm_buf) && c.private == 0xd15c, "completion {%lld, %#llx}",
	      (long long)c.result, (unsigned long long)c.private);
	CHECK(!memcmp(cm_buf, lat_data + cm_off, sizeof(cm_buf)), "wrong data read");
	CHECK(DELTA(after, before, disk_requests_queued) > 0,
	      "the read did not go to the disk (cache not dropped?)");
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/lat"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

/*
 * A disk read that completes almost as soon as the chain went asynchronous
 * (10 us of latency): the wake-up races with the caller's return from
 * async_exec.  2000 reads, the cache dropped before each; every
 * async_exec must return and every completion arrive.  (A hang is caught
 * by the watchdog.)
 */
static int test_cachemiss_race(void)
{
	static unsigned char want[1 << 20];
	struct lkl_syslet_ring *ring = ring_new(4, 0);
	struct lkl_syslet_completion c;
	int disk, asyncs = 0;
	long fd, drop, r;
	FILE *f;

	CHECK(ring, "out of memory");
	CHECK(!test_shell("mkdir -p %s/race", dir), "mkdir");
	fill_random(want, sizeof(want));
	f = fopen(host_path("race/data"), "w");
	CHECK(f && fwrite(want, 1, sizeof(want), f) == sizeof(want), "host file");
	fclose(f);
	CHECK(!test_shell("mke2fs -q -F -t ext4 -d %s/race %s/race.img 16M", dir, dir), "mke2fs");
	disk = lkl_disk_attach_opts(host_path("race.img"),
				    &(struct lkl_disk_options){ .latency_ns = 10000 });
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/race", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/race/data", LKL_O_RDONLY, 0));
	drop = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/proc/sys/vm/drop_caches", LKL_O_WRONLY, 0));
	cm_fd = fd;
	cm_bufp = (uintptr_t)cm_buf;
	cm_len = sizeof(cm_buf);
	for (int i = 0; i < 2000; i++) {
		CHECK(lkl_sys_pwrite64(drop, "3", 1, 0) == 1, "drop_caches");
		cm_off = (i * 7L * 4096) % sizeof(want);
		cm_ret = 111;
		memset(cm_buf, 0, sizeof(cm_buf));
		ATOM(&cm_atom, __LKL_NR_pread64, 0, &cm_ret, NULL, i, &cm_fd, &cm_bufp, &cm_len, &cm_off);
		r = async_exec(&cm_atom, ring);
		if (r == 0) {
			asyncs++;
			CHECK(async_wait(ring, 1) >= 1 && ring_pop(ring, &c), "read %d: no completion", i);
			CHECK(c.result == sizeof(cm_buf) && c.private == (uint64_t)i,
			      "read %d: completion {%lld, %#llx}", i, (long long)c.result,
			      (unsigned long long)c.private);
		} else {
			CHECK(r == ATOM_ADDR(&cm_atom), "read %d: returned %ld", i, r);
		}
		CHECK(cm_ret == sizeof(cm_buf) && !memcmp(cm_buf, want + cm_off, sizeof(cm_buf)),
		      "read %d: slot %lld or data wrong", i, (long long)cm_ret);
	}
	printf("# %d of 2000 reads went asynchronous\n", asyncs);
	CHECK(asyncs > 0, "no read slept: the race was not tested");
	lkl_sys_close(drop);
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/race"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

/*
 * 32 disk reads in flight from one thread that never waits in the kernel:
 * it resubmits as completions appear in the ring, which it only reads from
 * memory.  Requests queued when a submission leaves the kernel may wait for
 * those in flight to complete (batched submission); then the CPU thread
 * must submit them, as nobody else enters.  Every read must complete (a
 * hang is caught by the watchdog), with the right data.
 */
#define SPIN_QD		32
#define SPIN_READS	1024

static int test_spinning_consumer(void)
{
	static unsigned char want[1 << 20];
	static struct lkl_syslet_atom atoms[SPIN_QD];
	static int64_t rets[SPIN_QD];
	static uint64_t fds[SPIN_QD], bufps[SPIN_QD], lens[SPIN_QD], offs[SPIN_QD];
	static char bufs[SPIN_QD][4096];
	struct lkl_syslet_ring *ring = ring_new(2 * SPIN_QD, 0);
	struct lkl_syslet_completion c;
	int disk, inflight = 0, done = 0, next = 0, slot;
	int free_slots[SPIN_QD], nfree = SPIN_QD;
	long fd, r;
	FILE *f;

	CHECK(ring, "out of memory");
	CHECK(!test_shell("mkdir -p %s/spin", dir), "mkdir");
	fill_random(want, sizeof(want));
	f = fopen(host_path("spin/data"), "w");
	CHECK(f && fwrite(want, 1, sizeof(want), f) == sizeof(want), "host file");
	fclose(f);
	CHECK(!test_shell("mke2fs -q -F -t ext4 -d %s/spin %s/spin.img 16M", dir, dir), "mke2fs");
	disk = lkl_disk_attach_opts(host_path("spin.img"),
				    &(struct lkl_disk_options){ .latency_ns = 50000 });
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/spin", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/spin/data", LKL_O_RDONLY, 0));
	CHECK_OK(drop_caches());
	for (int i = 0; i < SPIN_QD; i++)
		free_slots[i] = i;
	while (done < SPIN_READS) {
		while (nfree && next < SPIN_READS) {
			slot = free_slots[--nfree];
			fds[slot] = fd;
			bufps[slot] = (uintptr_t)bufs[slot];
			lens[slot] = 4096;
			/* Every block once, scattered: each read misses. */
			offs[slot] = (next * 97L % 256) * 4096;
			rets[slot] = 111;
			ATOM(&atoms[slot], __LKL_NR_pread64, 0, &rets[slot], NULL, slot,
			     &fds[slot], &bufps[slot], &lens[slot], &offs[slot]);
			next++;
			r = async_exec(&atoms[slot], ring);
			if (r == 0) {
				inflight++;
				continue;
			}
			CHECK(r == ATOM_ADDR(&atoms[slot]), "read %d: returned %ld", next, r);
			CHECK(rets[slot] == 4096 && !memcmp(bufs[slot], want + offs[slot], 4096),
			      "inline read %d wrong", next);
			free_slots[nfree++] = slot;
			done++;
		}
		if (!ring_pop(ring, &c)) {
			sched_yield();
			continue;
		}
		slot = c.private;
		CHECK(slot < SPIN_QD && c.result == 4096, "completion {%lld, %d}",
		      (long long)c.result, slot);
		CHECK(!memcmp(bufs[slot], want + offs[slot], 4096), "data of slot %d wrong", slot);
		free_slots[nfree++] = slot;
		inflight--;
		done++;
	}
	CHECK(inflight == 0, "%d still in flight", inflight);
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/spin"));
	CHECK_OK(lkl_disk_detach(disk));
	free(ring);
	return 0;
}

/* --- many rings -------------------------------------------------------------- */

#define RINGS 64

/* 64 rings, one blocked chain each: every ring gets exactly its completion. */
static int test_64_rings(void)
{
	static struct lkl_syslet_ring *rings[RINGS];
	static struct lkl_syslet_atom atoms[RINGS];
	static int64_t rets[RINGS];
	static char bufs[RINGS][128];
	static uint64_t fds_v[RINGS], bufp[RINGS], len = 128;
	static char data[RINGS + 1];
	int fds[RINGS][2];
	long r;

	memset(data, 'r', sizeof(data));
	for (int i = 0; i < RINGS; i++) {
		rings[i] = ring_new(2, 0);
		CHECK(rings[i], "out of memory");
		CHECK_OK(kpipe(fds[i]));
		fds_v[i] = fds[i][0];
		bufp[i] = (uintptr_t)bufs[i];
		rets[i] = 111;
		ATOM(&atoms[i], __LKL_NR_read, 0, &rets[i], NULL, 1000 + i, &fds_v[i], &bufp[i], &len);
		r = async_exec(&atoms[i], rings[i]);
		CHECK(r == 0, "chain %d returned %ld", i, r);
	}
	for (int i = 0; i < RINGS; i++)
		CHECK(lkl_sys_write(fds[i][1], data, i + 1) == i + 1, "write %d", i);
	for (int i = 0; i < RINGS; i++) {
		struct lkl_syslet_completion c;
		long n = async_wait(rings[i], 1);

		CHECK(n >= 1, "ring %d: async_wait returned %ld", i, n);
		CHECK(ring_pop(rings[i], &c), "ring %d: empty", i);
		CHECK(c.result == i + 1 && c.private == 1000 + (uint64_t)i,
		      "ring %d holds {%lld, %llu}", i, (long long)c.result,
		      (unsigned long long)c.private);
	}
	for (int i = 0; i < RINGS; i++) {
		CHECK(ring_head(rings[i]) == 1, "ring %d has %u completions", i, ring_head(rings[i]));
		lkl_sys_close(fds[i][0]);
		lkl_sys_close(fds[i][1]);
	}
	return 0;
}

/* --- a million completions through a 16-entry ring --------------------------- */

#define MILLION 1000000
#define IN_FLIGHT 64

static struct {
	struct lkl_syslet_ring *ring;
	struct lkl_syslet_atom atoms[IN_FLIGHT];
	int64_t rets[IN_FLIGHT];
	unsigned char *slot_of;		/* seq -> atom slot */
	unsigned char *seen;		/* bitmap of privates */
	/* Free atom slots: pushed by the consumer, popped by the producer. */
	unsigned int free_slots[IN_FLIGHT];
	unsigned int free_push, free_pop;
	int producer_waiting;
	unsigned int submitted;
	int producer_done;
	unsigned long consumed, notifies, waits, sleeps;
	char error[256];
	int failed;
} m;

static void m_fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&m.failed, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(m.error, sizeof(m.error), fmt, ap);
	va_end(ap);
}

static void host_futex(unsigned int *word, int op, unsigned int val)
{
	syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void *m_producer(void *arg)
{
	for (unsigned int seq = 0; seq < MILLION && !m.failed; seq++) {
		unsigned int push, slot;
		long r;

		while ((push = __atomic_load_n(&m.free_push, __ATOMIC_ACQUIRE)) == m.free_pop) {
			__atomic_store_n(&m.producer_waiting, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&m.free_push, __ATOMIC_SEQ_CST) == m.free_pop && !m.failed)
				host_futex(&m.free_push, FUTEX_WAIT_PRIVATE, push);
			__atomic_store_n(&m.producer_waiting, 0, __ATOMIC_SEQ_CST);
			if (m.failed)
				goto out;
		}
		slot = m.free_slots[m.free_pop % IN_FLIGHT];
		m.free_pop++;
		m.slot_of[seq] = slot;
		m.rets[slot] = 0;
		ATOM(&m.atoms[slot], __LKL_NR_getpid, LKL_SYSLET_ASYNC, &m.rets[slot], NULL, seq);
		r = async_exec(&m.atoms[slot], m.ring);
		if (r != 0) {
			m_fail("submission %u returned %ld (%s)", seq, r, lkl_strerror(r));
			break;
		}
		__atomic_store_n(&m.submitted, seq + 1, __ATOMIC_RELEASE);
	}
out:
	__atomic_store_n(&m.producer_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *m_consumer(void *arg)
{
	unsigned long spin = 0;

	while (m.consumed < MILLION) {
		struct lkl_syslet_completion c;
		unsigned long seq;

		if (!ring_pop(m.ring, &c)) {
			long n;

			if (__atomic_load_n(&m.producer_done, __ATOMIC_ACQUIRE) &&
			    m.consumed == __atomic_load_n(&m.submitted, __ATOMIC_ACQUIRE))
				break;
			m.waits++;
			n = async_wait(m.ring, 1);
			if (n < 1) {
				m_fail("async_wait returned %ld (%s)", n, lkl_strerror(n));
				break;
			}
			continue;
		}
		seq = c.private;
		if (seq >= MILLION) {
			m_fail("private %#lx out of range", seq);
			break;
		}
		if (m.seen[seq / 8] & (1 << (seq % 8))) {
			m_fail("private %lu seen twice", seq);
			break;
		}
		m.seen[seq / 8] |= 1 << (seq % 8);
		if (c.result != pid) {
			m_fail("completion %lu: result %lld", seq, (long long)c.result);
			break;
		}
		m.free_slots[m.free_push % IN_FLIGHT] = m.slot_of[seq];
		__atomic_store_n(&m.free_push, m.free_push + 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&m.producer_waiting, __ATOMIC_SEQ_CST))
			host_futex(&m.free_push, FUTEX_WAKE_PRIVATE, 1);
		m.consumed++;
		/* Slow now and then: the ring fills and completions wait. */
		if (m.consumed % 4096 == 0) {
			usleep(1000);
			m.sleeps++;
		} else if (m.consumed % 512 == 0) {
			for (volatile unsigned long i = 0; i < 20000; i++)
				spin++;
		}
	}
	if (m.failed && __atomic_load_n(&m.producer_waiting, __ATOMIC_SEQ_CST))
		host_futex(&m.free_push, FUTEX_WAKE_PRIVATE, 1);
	return NULL;
}

/* Where the million test hung. */
static void million_hung(void)
{
	printf("# submitted %u, consumed %lu, free slots %u (pushed %u, popped %u), producer %s%s; "
	       "ring head %u tail %u flags %#x; %u atoms not run (slot still 0)\n",
	       m.submitted, m.consumed, m.free_push - m.free_pop, m.free_push, m.free_pop,
	       m.producer_done ? "done" : "running", m.producer_waiting ? " (waiting for a slot)" : "",
	       m.ring->kernel_head, m.ring->user_tail, m.ring->flags,
	       (unsigned int)({ unsigned int n = 0;
				for (int i = 0; i < IN_FLIGHT; i++)
					n += m.rets[i] == 0;
				n; }));
}

static int test_million(void)
{
	struct lkl_stats before, after;
	pthread_t prod, cons;
	unsigned long missing = 0;
	double t0, secs;

	m.ring = ring_new(16, 0);
	m.slot_of = malloc(MILLION);
	m.seen = calloc(1, MILLION / 8 + 1);
	CHECK(m.ring && m.slot_of && m.seen, "out of memory");
	for (unsigned int i = 0; i < IN_FLIGHT; i++)
		m.free_slots[i] = i;
	m.free_push = IN_FLIGHT;
	before = stats_now();
	t0 = now_s();
	pthread_create(&cons, NULL, m_consumer, NULL);
	pthread_create(&prod, NULL, m_producer, NULL);
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);
	secs = now_s() - t0;
	after = stats_now();
	printf("# %lu completions in %.2f s (%.0f/s); consumer: %lu async_wait calls, "
	       "%lu sleeps; ring full waits %lld, contexts created %lld\n",
	       m.consumed, secs, m.consumed / secs, m.waits, m.sleeps,
	       DELTA(after, before, syslet_ring_full_waits),
	       DELTA(after, before, syslet_contexts_created));
	CHECK(!m.failed, "%s", m.error);
	CHECK(m.consumed == MILLION, "consumed %lu", m.consumed);
	for (unsigned long i = 0; i < MILLION; i++)
		missing += !(m.seen[i / 8] & (1 << (i % 8)));
	CHECK(!missing, "%lu privates never completed", missing);
	CHECK(ring_pending(m.ring) == 0, "%u extra completions", ring_pending(m.ring));
	CHECK(DELTA(after, before, syslet_completions) == MILLION, "syslet_completions +%lld",
	      DELTA(after, before, syslet_completions));
	CHECK(DELTA(after, before, syslet_ring_full_waits) > 0,
	      "the ring was never full (the test did not test waiting)");
	return 0;
}

/* --- async_wait -------------------------------------------------------------- */

/* Writes to the pipes one at a time, 20 ms apart. */
struct staggered {
	int (*fds)[2];
	int count;
	long errors;
};

static void *staggered_writer(void *arg)
{
	struct staggered *s = arg;

	for (int i = 0; i < s->count; i++) {
		usleep(20 * 1000);
		s->errors += lkl_sys_write(s->fds[i][1], "w", 1) != 1;
	}
	return NULL;
}

static int test_async_wait(void)
{
	static struct lkl_syslet_atom atoms[4];
	static int64_t rets[4];
	static char bufs[4][8];
	static uint64_t fdv[4], bufp[4], len = 8;
	struct lkl_syslet_ring *ring = ring_new(8, 0);
	struct staggered s;
	unsigned int privs = 0;
	int fds[4][2];
	pthread_t th;
	long n, pending;

	CHECK(ring, "out of memory");
	for (int i = 0; i < 4; i++) {
		CHECK_OK(kpipe(fds[i]));
		fdv[i] = fds[i][0];
		bufp[i] = (uintptr_t)bufs[i];
		ATOM(&atoms[i], __LKL_NR_read, 0, &rets[i], NULL, i, &fdv[i], &bufp[i], &len);
		CHECK(async_exec(&atoms[i], ring) == 0, "chain %d did not go asynchronous", i);
	}
	s = (struct staggered){ .fds = fds, .count = 4 };
	pthread_create(&th, NULL, staggered_writer, &s);
	n = async_wait(ring, 4);
	pending = ring_pending(ring);
	pthread_join(th, NULL);
	CHECK(!s.errors, "writes failed");
	CHECK(n >= 4, "async_wait(4) returned %ld", n);
	CHECK(pending >= 4, "async_wait(4) returned with %ld completions there", pending);
	/* Already there: at once. */
	CHECK(async_wait(ring, 4) == 4 && async_wait(ring, 1) == 4, "second wait");
	CHECK(async_wait(ring, 0) == -LKL_EINVAL, "min_events 0");
	CHECK(async_wait(ring, 9) == -LKL_EINVAL, "min_events 9 > 8 entries");
	for (int i = 0; i < 4; i++) {
		struct lkl_syslet_completion c;

		CHECK(ring_pop(ring, &c) && c.result == 1 && c.private < 4,
		      "entry %d {%lld, %llu}", i, (long long)c.result, (unsigned long long)c.private);
		privs |= 1 << c.private;
	}
	CHECK(privs == 0xf, "privates %#x", privs);
	for (int i = 0; i < 4; i++) {
		lkl_sys_close(fds[i][0]);
		lkl_sys_close(fds[i][1]);
	}
	return 0;
}

/* --- the notify hook --------------------------------------------------------- */

static struct lkl_syslet_ring *hook_ring, *quiet_ring;
static int hook_ctx;
static int hook_calls, quiet_calls, other_calls;

static void ring_hook(void *ring, void *ctx)
{
	if (ctx != &hook_ctx)
		__atomic_add_fetch(&other_calls, 1, __ATOMIC_SEQ_CST);
	else if (ring == hook_ring)
		__atomic_add_fetch(&hook_calls, 1, __ATOMIC_SEQ_CST);
	else if (ring == quiet_ring)
		__atomic_add_fetch(&quiet_calls, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&other_calls, 1, __ATOMIC_SEQ_CST);
}

struct burst {
	int (*fds)[2];
	int count;
	long errors;
};

static void *burst_writer(void *arg)
{
	struct burst *b = arg;

	for (int i = 0; i < b->count; i++)
		b->errors += lkl_sys_write(b->fds[i][1], "b", 1) != 1;
	return NULL;
}

/* @count chains blocked on pipes into @ring, the pipes written in a burst. */
static int notify_round(struct lkl_syslet_ring *ring, int count)
{
	static struct lkl_syslet_atom atoms[32];
	static int64_t rets[32];
	static char bufs[32][8];
	static uint64_t fdv[32], bufp[32], len = 8;
	int fds[32][2];
	struct burst b;
	pthread_t th;
	long n;

	for (int i = 0; i < count; i++) {
		CHECK_OK(kpipe(fds[i]));
		fdv[i] = fds[i][0];
		bufp[i] = (uintptr_t)bufs[i];
		ATOM(&atoms[i], __LKL_NR_read, 0, &rets[i], NULL, i, &fdv[i], &bufp[i], &len);
		CHECK(async_exec(&atoms[i], ring) == 0, "chain %d did not go asynchronous", i);
	}
	b = (struct burst){ .fds = fds, .count = count };
	pthread_create(&th, NULL, burst_writer, &b);
	pthread_join(th, NULL);
	CHECK(!b.errors, "writes failed");
	n = async_wait(ring, count);
	CHECK(n == count, "async_wait returned %ld", n);
	for (int i = 0; i < count; i++) {
		struct lkl_syslet_completion c;

		CHECK(ring_pop(ring, &c) && c.result == 1, "entry %d: %lld", i, (long long)c.result);
		lkl_sys_close(fds[i][0]);
		lkl_sys_close(fds[i][1]);
	}
	return 0;
}

static int test_notify_hook(void)
{
	struct lkl_stats before, after;
	int calls;

	hook_ring = ring_new(32, LKL_SYSLET_RING_NOTIFY);
	quiet_ring = ring_new(32, 0);
	CHECK(hook_ring && quiet_ring, "out of memory");
	lkl_set_ring_notify_hook(ring_hook, &hook_ctx);

	before = stats_now();
	if (notify_round(hook_ring, 32))
		return -1;
	after = stats_now();
	calls = __atomic_load_n(&hook_calls, __ATOMIC_SEQ_CST);
	printf("# 32 completions in a burst: %d hook calls\n", calls);
	CHECK(calls >= 1, "the hook was never called");
	CHECK(calls < 32, "%d calls for 32 completions: not batched", calls);
	CHECK(DELTA(after, before, syslet_ring_notifications) == calls,
	      "syslet_ring_notifications +%lld, hook calls %d",
	      DELTA(after, before, syslet_ring_notifications), calls);

	before = stats_now();
	if (notify_round(quiet_ring, 8))
		return -1;
	after = stats_now();
	CHECK(quiet_calls == 0, "a ring without LKL_SYSLET_RING_NOTIFY got %d calls", quiet_calls);
	CHECK(DELTA(after, before, syslet_ring_notifications) == 0,
	      "syslet_ring_notifications +%lld without the flag",
	      DELTA(after, before, syslet_ring_notifications));
	CHECK(other_calls == 0, "%d calls with another ring or context", other_calls);
	CHECK(hook_calls == calls, "late hook calls for the first ring");
	lkl_set_ring_notify_hook(NULL, NULL);
	return 0;
}

/* --- confined submissions ----------------------------------------------------- */

/*
 * One area: the window is its middle 16 KiB; the 16 KiB on either side are
 * outside it and keep a pattern.
 */
#define CW 16384
static unsigned char carea[3 * CW] __attribute__((aligned(4096)));
#define cwin	(carea + CW)
#define cout_lo	carea
#define cout_hi	(carea + 2 * CW)

struct cwindow {
	struct lkl_syslet_atom atoms[16];	/* offset 0 */
	int64_t rets[16];
	uint64_t cells[32];
	char buf[256];
	/* The ring: header and 8 entries. */
	struct lkl_syslet_ring ring __attribute__((aligned(64)));
	struct lkl_syslet_completion entries[8];
};

static long confined_exec(void *atom, void *ring, const struct lkl_user_range *ranges,
			  unsigned int count)
{
	long args[6] = { (long)atom, (long)ring, 0, 0, 0, 0 };

	return lkl_syscall_confined(__LKL_NR_async_exec, args, ranges, count);
}

static int outside_unchanged(void)
{
	for (int i = 0; i < CW; i++)
		if (cout_lo[i] != 0xee || cout_hi[i] != 0xee)
			return 0;
	return 1;
}

#define cw	((struct cwindow *)cwin)
static struct lkl_user_range cwin_range;
static long cw_fd = -1;

/* A fresh window: zeros inside, the pattern outside, an empty ring. */
static int cwindow_reset(void)
{
	_Static_assert(sizeof(struct cwindow) <= CW, "window layout");
	cwin_range = (struct lkl_user_range){ (uintptr_t)cwin, CW };
	memset(carea, 0xee, sizeof(carea));
	memset(cwin, 0, CW);
	cw->ring.entries = 8;
	if (cw_fd < 0) {
		CHECK_OK(kernel_write_file("/tmp/syslet-confined", "confined data", 13));
		cw_fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/syslet-confined",
						LKL_O_RDONLY, 0));
	}
	return 0;
}

/* Submissions: atom and ring must lie in the window; at most 32 ranges. */
static int test_confined_submission(void)
{
	struct lkl_syslet_atom *a = cw->atoms;
	struct lkl_syslet_ring *out_ring = (void *)(cout_hi + 64);
	struct lkl_syslet_ring *edge = (void *)(cwin + CW - 16 - 4 * 16);
	struct lkl_syslet_atom *out_atom = (void *)(cout_lo + 64);
	struct lkl_user_range many[33];
	long r;

	if (cwindow_reset())
		return -1;
	/* A chain inside the window works. */
	ATOM(&a[0], __LKL_NR_getpid, 0, &cw->rets[0], NULL, 0);
	r = confined_exec(&a[0], &cw->ring, &cwin_range, 1);
	CHECK(r == ATOM_ADDR(&a[0]) && cw->rets[0] == pid, "inside: returned %ld", r);

	/* The atom outside. */
	ATOM(out_atom, __LKL_NR_getpid, 0, &cw->rets[1], NULL, 0);
	cw->rets[1] = 111;
	r = confined_exec(out_atom, &cw->ring, &cwin_range, 1);
	CHECK(r == -LKL_EFAULT && cw->rets[1] == 111, "atom outside: returned %ld, slot %lld",
	      r, (long long)cw->rets[1]);
	memset(cout_lo, 0xee, CW);

	/* The ring outside, or its entries running past the window's end. */
	memset(out_ring, 0, sizeof(*out_ring));
	out_ring->entries = 8;
	ATOM(&a[1], __LKL_NR_getpid, 0, &cw->rets[1], NULL, 0);
	r = confined_exec(&a[1], out_ring, &cwin_range, 1);
	CHECK(r == -LKL_EFAULT && cw->rets[1] == 111, "ring outside: returned %ld, slot %lld",
	      r, (long long)cw->rets[1]);
	memset(cout_hi, 0xee, CW);
	edge->entries = 8;	/* 8 entries need 128 bytes, 64 are left */
	r = confined_exec(&a[1], edge, &cwin_range, 1);
	CHECK(r == -LKL_EFAULT && cw->rets[1] == 111,
	      "ring entries past the window: returned %ld, slot %lld", r, (long long)cw->rets[1]);

	/* At most 32 ranges. */
	for (int i = 0; i < 33; i++)
		many[i] = cwin_range;
	r = confined_exec(&a[0], &cw->ring, many, 33);
	CHECK(r == -LKL_E2BIG, "33 ranges: returned %ld", r);
	r = confined_exec(&a[0], &cw->ring, many, 32);
	CHECK(r == ATOM_ADDR(&a[0]), "32 ranges: returned %ld", r);
	CHECK(outside_unchanged(), "memory outside the window changed");
	CHECK(cw->ring.kernel_head == 0, "posted %u", cw->ring.kernel_head);
	return 0;
}

/* A buffer or an argument outside: that atom gets -EFAULT, the chain goes on. */
static int test_confined_buffers(void)
{
	struct lkl_syslet_atom *a = cw->atoms;
	uint64_t *cell = cw->cells, *out_cell = (uint64_t *)(cout_lo + 8);
	long r;

	if (cwindow_reset())
		return -1;
	cell[0] = cw_fd;
	cell[1] = (uintptr_t)(cout_hi + 100);	/* buffer outside */
	cell[2] = 13;
	cell[3] = 0;
	cell[4] = (uintptr_t)cw->buf;		/* buffer inside */
	*out_cell = cw_fd;	/* a good value, where it may not be read */
	ATOM(&a[0], __LKL_NR_pread64, 0, &cw->rets[0], &a[1], 0, &cell[0], &cell[1], &cell[2], &cell[3]);
	ATOM(&a[1], __LKL_NR_pread64, 0, &cw->rets[1], &a[2], 1, out_cell, &cell[4], &cell[2], &cell[3]);
	ATOM(&a[2], __LKL_NR_pread64, 0, &cw->rets[2], NULL, 2, &cell[0], &cell[4], &cell[2], &cell[3]);
	cw->rets[0] = cw->rets[1] = cw->rets[2] = 111;
	r = confined_exec(&a[0], &cw->ring, &cwin_range, 1);
	CHECK(r == ATOM_ADDR(&a[2]), "returned %ld, not the last atom", r);
	CHECK(cw->rets[0] == -LKL_EFAULT, "buffer outside: slot %lld", (long long)cw->rets[0]);
	CHECK(cw->rets[1] == -LKL_EFAULT, "argument outside: slot %lld", (long long)cw->rets[1]);
	CHECK(cw->rets[2] == 13 && !memcmp(cw->buf, "confined data", 13), "inside: slot %lld",
	      (long long)cw->rets[2]);
	memset(out_cell, 0xee, 8);
	CHECK(outside_unchanged(), "memory outside the window changed");
	return 0;
}

/*
 * The result slot outside: the atom's result is -EFAULT (nothing stored),
 * which stops a STOP_ON_NEGATIVE chain there; without the flag the chain
 * goes on.
 */
static int test_confined_result_slot(void)
{
	struct lkl_syslet_atom *a = cw->atoms;
	int64_t *out_slot = (int64_t *)(cout_hi + 8);
	long r;

	if (cwindow_reset())
		return -1;
	ATOM(&a[0], __LKL_NR_getpid, LKL_SYSLET_STOP_ON_NEGATIVE, out_slot, &a[1], 0);
	ATOM(&a[1], __LKL_NR_getpid, 0, &cw->rets[1], NULL, 1);
	cw->rets[1] = 111;
	r = confined_exec(&a[0], &cw->ring, &cwin_range, 1);
	CHECK(outside_unchanged(), "the result was stored outside the window");
	CHECK(r == ATOM_ADDR(&a[0]) && cw->rets[1] == 111,
	      "STOP_ON_NEGATIVE: returned %ld (%s), next slot %lld; want the atom, next not run",
	      r, r < 0 ? lkl_strerror(r) : "an address", (long long)cw->rets[1]);
	a[0].flags = 0;
	r = confined_exec(&a[0], &cw->ring, &cwin_range, 1);
	CHECK(outside_unchanged(), "the result was stored outside the window");
	CHECK(r == ATOM_ADDR(&a[1]) && cw->rets[1] == pid,
	      "no flag: returned %ld (%s), next slot %lld; want the chain to go on",
	      r, r < 0 ? lkl_strerror(r) : "an address", (long long)cw->rets[1]);
	return 0;
}

/*
 * After going asynchronous the window still holds: a read from an empty
 * pipe into the window sleeps; written, it completes; a chain that went
 * asynchronous that way then reads into a buffer outside the window and
 * gets -EFAULT.  The caller's ranges array is overwritten as soon as
 * async_exec returned: the kernel must have its own copy.
 */
static int test_confined_async(void)
{
	struct lkl_syslet_atom *a = cw->atoms;
	uint64_t *cell = cw->cells;
	struct lkl_syslet_completion c;
	int fds[2];
	long r, n;

	if (cwindow_reset())
		return -1;
	CHECK_OK(kpipe(fds));
	cell[0] = fds[0];
	cell[1] = (uintptr_t)cw->buf;
	cell[2] = 5;
	cell[3] = cw_fd;
	cell[4] = (uintptr_t)(cout_hi + 200);	/* outside */
	cell[5] = 0;
	for (int outside = 0; outside < 2; outside++) {
		struct lkl_user_range mine = cwin_range;

		memset(cw->buf, 0, sizeof(cw->buf));
		/* read(pipe, buf in the window, 5), then maybe
		 * pread64(file, buf outside the window, 5, 0). */
		ATOM(&a[0], __LKL_NR_read, 0, &cw->rets[0], outside ? &a[1] : NULL, 0x700,
		     &cell[0], &cell[1], &cell[2]);
		ATOM(&a[1], __LKL_NR_pread64, 0, &cw->rets[1], NULL, 0x701,
		     &cell[3], &cell[4], &cell[2], &cell[5]);
		cw->rets[0] = cw->rets[1] = 111;
		r = confined_exec(&a[0], &cw->ring, &mine, 1);
		CHECK(r == 0, "blocking read: returned %ld", r);
		mine = (struct lkl_user_range){ (uintptr_t)carea, sizeof(carea) };
		CHECK(lkl_sys_write(fds[1], "async", 5) == 5, "write");
		n = async_wait(&cw->ring, 1);
		CHECK(n >= 1, "async_wait: %ld", n);
		CHECK(ring_pop(&cw->ring, &c), "no completion");
		CHECK(cw->rets[0] == 5 && !memcmp(cw->buf, "async", 5), "read: slot %lld",
		      (long long)cw->rets[0]);
		if (outside)
			CHECK(c.result == -LKL_EFAULT && c.private == 0x701 &&
			      cw->rets[1] == -LKL_EFAULT,
			      "buffer outside: completion {%lld, %#llx}, slot %lld",
			      (long long)c.result, (unsigned long long)c.private,
			      (long long)cw->rets[1]);
		else
			CHECK(c.result == 5 && c.private == 0x700, "completion {%lld, %#llx}",
			      (long long)c.result, (unsigned long long)c.private);
		CHECK(outside_unchanged(), "memory outside the window changed");
	}

	/*
	 * A pipe read straight into a buffer outside the window: -EFAULT,
	 * whether the window is checked before the read sleeps (the chain
	 * ends at once) or when the data arrives (posted); nothing written.
	 */
	cell[1] = (uintptr_t)(cout_hi + 300);
	ATOM(&a[2], __LKL_NR_read, 0, &cw->rets[2], NULL, 0x702, &cell[0], &cell[1], &cell[2]);
	cw->rets[2] = 111;
	r = confined_exec(&a[2], &cw->ring, &cwin_range, 1);
	if (r == 0) {
		CHECK(lkl_sys_write(fds[1], "async", 5) == 5, "write");
		CHECK(async_wait(&cw->ring, 1) >= 1 && ring_pop(&cw->ring, &c), "no completion");
		CHECK(c.result == -LKL_EFAULT && c.private == 0x702,
		      "read outside after sleeping: completion {%lld, %#llx}", (long long)c.result,
		      (unsigned long long)c.private);
		printf("# a read into a buffer outside the window slept first\n");
	} else {
		CHECK(r == ATOM_ADDR(&a[2]) && cw->rets[2] == -LKL_EFAULT,
		      "read outside: returned %ld, slot %lld", r, (long long)cw->rets[2]);
		printf("# a read into a buffer outside the window failed before sleeping\n");
	}
	CHECK(outside_unchanged(), "memory outside the window changed");
	CHECK(ring_pending(&cw->ring) == 0, "%u completions left", ring_pending(&cw->ring));
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	return 0;
}

/* Calls a confined chain may not make: -EPERM each, the chain goes on. */
static int test_confined_refused(void)
{
	static const unsigned int refused[] = {
		__LKL_NR_exit, __LKL_NR_clone, __LKL_NR_execve,
		__LKL_NR_set_tid_address, __LKL_NR_async_exec, __LKL_NR_async_wait,
	};
	enum { NR = sizeof(refused) / sizeof(refused[0]) };
	struct lkl_syslet_atom *a = cw->atoms;
	uint64_t *cell = cw->cells;
	long r;

	if (cwindow_reset())
		return -1;
	/* Arguments good enough for the nested async_exec: an atom and the ring. */
	ATOM(&a[0], __LKL_NR_getpid, 0, &cw->rets[0], NULL, 0);
	cell[8] = (uintptr_t)&a[0];
	cell[9] = (uintptr_t)&cw->ring;
	for (int i = 0; i < NR; i++) {
		ATOM(&a[8 + i], refused[i], 0, &cw->rets[8 + i], &a[8 + i + 1], i, &cell[8], &cell[9]);
		cw->rets[8 + i] = 111;
	}
	ATOM(&a[8 + NR], __LKL_NR_getpid, 0, &cw->rets[8 + NR], NULL, NR);
	cw->rets[0] = cw->rets[8 + NR] = 111;
	r = confined_exec(&a[8], &cw->ring, &cwin_range, 1);
	CHECK(r == ATOM_ADDR(&a[8 + NR]), "returned %ld", r);
	for (int i = 0; i < NR; i++)
		CHECK(cw->rets[8 + i] == -LKL_EPERM, "nr %u: %lld, want -EPERM", refused[i],
		      (long long)cw->rets[8 + i]);
	CHECK(cw->rets[8 + NR] == pid, "the chain did not go on");
	CHECK(cw->rets[0] == 111, "the nested chain ran");
	CHECK(outside_unchanged(), "memory outside the window changed");
	CHECK(cw->ring.kernel_head == 0, "posted %u", cw->ring.kernel_head);
	lkl_sys_close(cw_fd);
	cw_fd = -1;
	return 0;
}

static int test_halt(void)
{
	int ret = lkl_halt();

	CHECK(ret == 0, "halt returned %d (%s)", ret, lkl_strerror(ret));
	CHECK(async_exec(&cm_atom, NULL) == -LKL_ESHUTDOWN, "async_exec after halt");
	return 0;
}

int main(void)
{
	test_plan(27);
	run("boot", test_boot, 60);
	run("a chain runs its atoms in order through next", test_chain_through_next, 60);
	run("arguments by pointer: open -> read(fd from its slot) -> close", test_args_by_pointer, 60);
	run("SYSLET_ASYNC: 0 at once, the completion later", test_flag_async, 60);
	run("SYSLET_SYNC: a read that sleeps keeps the caller", test_flag_sync, 60);
	run("SYSLET_NO_COMPLETE: the side effect, no completion", test_flag_no_complete, 60);
	run("SYSLET_STOP_ON_*: stop and go on", test_flag_stop, 60);
	run("SYSLET_SKIP_TO_NEXT_ON_STOP: the atom laid out next", test_flag_skip_to_next, 60);
	run("a synchronous chain posts nothing", test_sync_posts_nothing, 60);
	run("a chain that sleeps completes into the ring", test_queued_completion, 60);
	run("malformed submissions", test_malformed, 60);
	run("malformed after going asynchronous: posted", test_malformed_after_async, 60);
	run("refused calls: EPERM, the chain goes on", test_refused_atoms, 60);
	run("cachemiss on a pipe: no host thread, handoff or notify", test_cachemiss_pipe, 60);
	run("cachemiss on a 200 us latency disk", test_cachemiss_disk, 120);
	run("64 rings, one completion each", test_64_rings, 60);
	run("async_wait waits for min_events", test_async_wait, 60);
	run("notify hook: batched, only with the flag", test_notify_hook, 60);
	run("confined: atom and ring in the window, at most 32 ranges",
	    test_confined_submission, 60);
	run("confined: a buffer or argument outside fails that atom", test_confined_buffers, 60);
	run("confined: a result slot outside fails that atom", test_confined_result_slot, 60);
	run("confined: the window holds after the chain went asynchronous",
	    test_confined_async, 60);
	run("confined: refused calls", test_confined_refused, 60);
	watchdog_report = million_hung;
	run("1,000,000 completions through a 16-entry ring", test_million, 300);
	watchdog_report = NULL;
	run("cachemiss racing its wake-up: 2000 reads at 10 us latency", test_cachemiss_race, 120);
	run("32 disk reads in flight, a consumer that never waits in the kernel",
	    test_spinning_consumer, 120);
	run("halt", test_halt, 60);
	test_shell("rm -rf %s", dir);
	return test_done();
}
