// SPDX-License-Identifier: GPL-2.0-only
/*
 * syslet-halt: chains in flight when the kernel halts.  A chain that can
 * finish (a read from a disk with injected latency) is waited for and posts
 * its real result; one that cannot (a read from a pipe nobody writes) is
 * cancelled: {-ECANCELED, private} in its ring, and the ring's notify hook
 * runs.
 */
#include "syslet-test.h"

#include <errno.h>

#include <lkl/linux/fcntl.h>

static char dir[] = "/tmp/lkl-syslet-halt-XXXXXX";

static const char *host_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static struct lkl_syslet_ring *pipe_ring, *disk_ring;
static int pipe_ring_calls, disk_ring_calls, other_calls;
static int hook_ctx;

static void ring_hook(void *ring, void *ctx)
{
	if (ctx == &hook_ctx && ring == pipe_ring)
		__atomic_add_fetch(&pipe_ring_calls, 1, __ATOMIC_SEQ_CST);
	else if (ctx == &hook_ctx && ring == disk_ring)
		__atomic_add_fetch(&disk_ring_calls, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&other_calls, 1, __ATOMIC_SEQ_CST);
}

static unsigned char data[64 * 1024];

/* The chains and everything they point at outlive the kernel. */
static struct lkl_syslet_atom pipe_atom, disk_atom;
static int64_t pipe_ret = 111, disk_ret = 111;
static char pipe_buf[16], disk_buf[4096];
static uint64_t pipe_fd, pipe_bufp, pipe_len = sizeof(pipe_buf);
static uint64_t disk_fd, disk_bufp, disk_len = sizeof(disk_buf), disk_off = 32768;

static int test_boot(void)
{
	FILE *f;
	int ret, disk;
	long fd;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (i * 7919) >> 3;
	CHECK(!test_shell("mkdir -p %s/src", dir), "mkdir");
	f = fopen(host_path("src/data"), "w");
	CHECK(f && fwrite(data, 1, sizeof(data), f) == sizeof(data), "host file");
	fclose(f);
	CHECK(!test_shell("mke2fs -q -F -t ext4 -d %s/src %s/lat.img 16M", dir, dir), "mke2fs");

	lkl_set_ring_notify_hook(ring_hook, &hook_ctx);
	ret = lkl_boot("mem=64M");
	CHECK(ret == 0, "boot returned %d (%s)", ret, lkl_strerror(ret));
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	/* 100 ms per request: in flight when halt starts, done well within
	 * the 500 ms halt waits for chains. */
	disk = lkl_disk_attach_opts(host_path("lat.img"),
				    &(struct lkl_disk_options){ .latency_ns = 100000000 });
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/lat", 0, NULL));
	disk_fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/lat/data", LKL_O_RDONLY, 0));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/proc/sys/vm/drop_caches", LKL_O_WRONLY, 0));
	CHECK(lkl_sys_write(fd, "3", 1) == 1, "drop_caches");
	lkl_sys_close(fd);
	pipe_ring = ring_new(4, LKL_SYSLET_RING_NOTIFY);
	disk_ring = ring_new(4, LKL_SYSLET_RING_NOTIFY);
	CHECK(pipe_ring && disk_ring, "out of memory");
	return 0;
}

static int test_chains_in_flight(void)
{
	int fds[2];
	long r;

	CHECK_OK(kpipe(fds));
	pipe_fd = fds[0];
	pipe_bufp = (uintptr_t)pipe_buf;
	ATOM(&pipe_atom, __LKL_NR_read, 0, &pipe_ret, NULL, 0x1111, &pipe_fd, &pipe_bufp, &pipe_len);
	r = async_exec(&pipe_atom, pipe_ring);
	CHECK(r == 0, "pipe chain: returned %ld", r);

	disk_bufp = (uintptr_t)disk_buf;
	ATOM(&disk_atom, __LKL_NR_pread64, 0, &disk_ret, NULL, 0x2222,
	     &disk_fd, &disk_bufp, &disk_len, &disk_off);
	r = async_exec(&disk_atom, disk_ring);
	CHECK(r == 0, "disk chain: returned %ld (it did not sleep?)", r);
	CHECK(ring_head(pipe_ring) == 0 && ring_head(disk_ring) == 0, "completed before halt");
	return 0;
}

static int test_halt(void)
{
	int ret = lkl_halt();

	CHECK(ret == 0, "halt returned %d (%s)", ret, lkl_strerror(ret));
	CHECK(lkl_host_thread_count() == 0, "%d library threads left", lkl_host_thread_count());
	return 0;
}

static int test_pipe_chain_cancelled(void)
{
	struct lkl_syslet_completion *c = ring_entry(pipe_ring, 0);

	CHECK(ring_head(pipe_ring) == 1, "%u completions", ring_head(pipe_ring));
	CHECK(c->result == -LKL_ECANCELED && c->private == 0x1111, "completion {%lld (%s), %#llx}",
	      (long long)c->result, lkl_strerror(c->result), (unsigned long long)c->private);
	CHECK(pipe_ring_calls >= 1, "the notify hook did not run for the cancelled chain");
	return 0;
}

static int test_disk_chain_finished(void)
{
	struct lkl_syslet_completion *c = ring_entry(disk_ring, 0);

	CHECK(ring_head(disk_ring) == 1, "%u completions", ring_head(disk_ring));
	CHECK(c->result == sizeof(disk_buf) && c->private == 0x2222,
	      "completion {%lld (%s), %#llx}, want the real result", (long long)c->result,
	      lkl_strerror(c->result), (unsigned long long)c->private);
	CHECK(!memcmp(disk_buf, data + disk_off, sizeof(disk_buf)), "wrong data read");
	CHECK(disk_ring_calls >= 1, "the notify hook did not run for the disk ring");
	CHECK(other_calls == 0, "%d hook calls for other rings", other_calls);
	return 0;
}

static int test_after_halt(void)
{
	long r = async_exec(&pipe_atom, pipe_ring);

	CHECK(r == -LKL_ESHUTDOWN, "async_exec after halt returned %ld", r);
	CHECK(async_wait(pipe_ring, 1) == -LKL_ESHUTDOWN, "async_wait after halt");
	CHECK(ring_head(pipe_ring) == 1, "a completion after halt");
	return 0;
}

int main(void)
{
	test_plan(6);
	run("boot, a latency disk, rings with the notify flag", test_boot, 60);
	run("a pipe chain and a disk chain in flight", test_chains_in_flight, 60);
	run("halt with chains in flight returns 0", test_halt, 60);
	run("the pipe chain was cancelled: {-ECANCELED, private}, hook ran",
	    test_pipe_chain_cancelled, 60);
	run("the disk chain finished with its real result", test_disk_chain_finished, 60);
	run("calls after halt fail", test_after_halt, 60);
	test_shell("rm -rf %s", dir);
	return test_done();
}
