// SPDX-License-Identifier: GPL-2.0-only
/*
 * socket: local (AF_UNIX) sockets in the kernel: a socketpair carries bytes
 * both ways, a socket bound to a path on an ext4 image is a socket file
 * (S_IFSOCK) until unlinked, and a listener on one host thread accepts a
 * connection made from another.
 */
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <lkl/asm-generic/errno.h>
#include <lkl/asm/stat.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/un.h>

/*
 * <lkl/linux/stat.h> hides its S_IF* next to glibc, and libc's <sys/stat.h>
 * cannot sit next to struct lkl_stat (its st_atime macros): the values are
 * fixed ABI.
 */
#define FILE_TYPE_BITS 0170000
#define SOCKET_FILE 0140000

static char dir[] = "/tmp/lkl-socket-test-XXXXXX";

/* A socket address for @path in the kernel's namespace; returns its length. */
static int unix_address(struct lkl_sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strncpy(sa->sun_path, path, sizeof(sa->sun_path) - 1);
	return offsetof(struct lkl_sockaddr_un, sun_path) + strlen(path) + 1;
}

static int test_boot(void)
{
	int ret;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	ret = lkl_boot("mem=64M");
	CHECK(ret == 0, "boot: %d (%s)", ret, lkl_strerror(ret));
	return 0;
}

/* Bytes written at one end of a socketpair are read at the other, both ways,
 * and a shutdown reads as end of file. */
static int test_socketpair(void)
{
	char out[3000], in[3000];
	int sv[2] = { -1, -1 };
	long n;

	CHECK_OK(lkl_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(sv[0] >= 0 && sv[1] >= 0 && sv[0] != sv[1], "fds %d %d", sv[0], sv[1]);
	for (int dir = 0; dir < 2; dir++) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (char)(i * 7 + dir);
		n = lkl_sys_write(sv[dir], out, sizeof(out));
		CHECK(n == sizeof(out), "write: %ld", n);
		for (size_t got = 0; got < sizeof(in); got += n) {
			n = lkl_sys_read(sv[!dir], in + got, sizeof(in) - got);
			CHECK(n > 0, "read: %ld (%s)", n, lkl_strerror(n));
		}
		CHECK(!memcmp(out, in, sizeof(in)), "bytes differ (direction %d)", dir);
	}
	CHECK_OK(lkl_sys_shutdown(sv[0], SHUT_WR));
	n = lkl_sys_read(sv[1], in, sizeof(in));
	CHECK(n == 0, "read after shutdown: %ld", n);
	CHECK_OK(lkl_sys_close(sv[0]));
	CHECK_OK(lkl_sys_close(sv[1]));
	return 0;
}

/* bind() on a path of an ext4 image makes a socket file; unlink removes it. */
static int test_bind_path(void)
{
	struct lkl_sockaddr_un sa;
	struct lkl_stat st;
	int disk, len;
	long fd;

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/sock.img 16M", dir), "mke2fs");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock.img", dir);
	disk = lkl_disk_attach(sa.sun_path, 0);
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/sock", 0, NULL));

	fd = CHECK_OK(lkl_sys_socket(AF_UNIX, SOCK_STREAM, 0));
	len = unix_address(&sa, "/mnt/sock/listener");
	CHECK_OK(lkl_sys_bind(fd, (struct lkl_sockaddr *)&sa, len));
	CHECK_OK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/mnt/sock/listener", &st, 0));
	CHECK((st.st_mode & FILE_TYPE_BITS) == SOCKET_FILE, "mode %o is not a socket", st.st_mode);
	/* The name is taken: a second bind fails. */
	{
		long fd2 = CHECK_OK(lkl_sys_socket(AF_UNIX, SOCK_STREAM, 0));
		long ret = lkl_sys_bind(fd2, (struct lkl_sockaddr *)&sa, len);

		CHECK(ret == -LKL_EADDRINUSE, "second bind: %ld (%s)", ret, lkl_strerror(ret));
		lkl_sys_close(fd2);
	}
	CHECK_OK(lkl_sys_close(fd));
	/* The file outlives the socket until it is unlinked. */
	CHECK_OK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/mnt/sock/listener", &st, 0));
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/mnt/sock/listener", 0));
	CHECK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/mnt/sock/listener", &st, 0) == -LKL_ENOENT,
	      "the socket file is still there after unlink");
	CHECK_OK(lkl_umount("/mnt/sock"));
	CHECK_OK(lkl_disk_detach(disk));
	CHECK(!test_shell("e2fsck -fn %s/sock.img </dev/null", dir), "e2fsck -fn found problems");
	return 0;
}

struct server {
	long listener;
	long accepted, got;
	char buf[64];
};

/* On its own host thread: accept one connection, read a message, echo it. */
static void *server_main(void *arg)
{
	struct server *s = arg;
	long fd = lkl_sys_accept4(s->listener, NULL, NULL, 0);

	s->accepted = fd;
	if (fd < 0)
		return NULL;
	s->got = lkl_sys_read(fd, s->buf, sizeof(s->buf));
	if (s->got > 0)
		lkl_sys_write(fd, s->buf, s->got);
	lkl_sys_close(fd);
	return NULL;
}

/* A listener on a path, accept() blocked on one host thread, connect() and
 * a round trip from another. */
static int test_connect_accept(void)
{
	struct server s = { .accepted = -1 };
	struct lkl_sockaddr_un sa;
	char reply[64];
	pthread_t th;
	long fd, n;
	int len;

	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/run", 0755));
	s.listener = CHECK_OK(lkl_sys_socket(AF_UNIX, SOCK_STREAM, 0));
	len = unix_address(&sa, "/run/echo.sock");
	CHECK_OK(lkl_sys_bind(s.listener, (struct lkl_sockaddr *)&sa, len));
	CHECK_OK(lkl_sys_listen(s.listener, 4));
	CHECK(pthread_create(&th, NULL, server_main, &s) == 0, "pthread_create");

	fd = CHECK_OK(lkl_sys_socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_OK(lkl_sys_connect(fd, (struct lkl_sockaddr *)&sa, len));
	CHECK(lkl_sys_write(fd, "hello over AF_UNIX", 18) == 18, "write");
	n = lkl_sys_read(fd, reply, sizeof(reply));
	pthread_join(th, NULL);
	CHECK(s.accepted >= 0, "accept: %ld (%s)", s.accepted, lkl_strerror(s.accepted));
	CHECK(s.got == 18, "server read %ld", s.got);
	CHECK(n == 18 && !memcmp(reply, "hello over AF_UNIX", 18), "echo: %ld bytes", n);
	CHECK_OK(lkl_sys_close(fd));
	CHECK_OK(lkl_sys_close(s.listener));
	CHECK_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/run/echo.sock", 0));
	return 0;
}

static int test_halt(void)
{
	CHECK(lkl_halt() == 0, "halt");
	test_shell("rm -rf %s", dir);
	return 0;
}

int main(void)
{
	test_plan(5);
	test_run("boot", test_boot);
	test_run("socketpair(AF_UNIX, SOCK_STREAM) carries bytes both ways", test_socketpair);
	test_run("bind on ext4 makes a socket file (S_IFSOCK), unlink removes it", test_bind_path);
	test_run("connect and accept across two host threads", test_connect_accept);
	test_run("halt", test_halt);
	return test_done();
}
