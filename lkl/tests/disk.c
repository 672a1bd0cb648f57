// SPDX-License-Identifier: GPL-2.0-only
/*
 * disk: host image files as kernel block devices, with the kernel's ext4.
 * Images are made at test time with mke2fs; the backend comes from
 * LKL_DISK_BACKEND (the check target runs this binary once per backend).
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lkl/asm-generic/errno.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/mount.h>

static char dir[] = "/tmp/lkl-disk-test-XXXXXX";
static char path_buf[512];

static const char *tmp_path(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

/* Deterministic pseudo-random bytes. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_random(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = next_random() >> 32;
}

/* Read all of a kernel file into @buf (at most @cap bytes); returns length. */
static long kernel_read_file(const char *path, unsigned char *buf, size_t cap)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY, 0), n, total = 0;

	if (fd < 0)
		return fd;
	while ((size_t)total < cap && (n = lkl_sys_read(fd, (char *)buf + total,
						       cap - total > (1 << 20) ? 1 << 20 : cap - total)) > 0)
		total += n;
	lkl_sys_close(fd);
	return n < 0 ? n : total;
}

static int test_boot(void)
{
	int ret;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	ret = lkl_boot("mem=128M");
	CHECK(ret == 0, "boot: %d", ret);
	printf("# backend requested: %s\n", getenv("LKL_DISK_BACKEND") ?: "(default)");
	return 0;
}

#define POP_FILES 12

/* A host folder copied in by mke2fs -d reads back identical in the kernel. */
static int test_populated_image(void)
{
	static unsigned char want[300000], got[300000];
	char name[64];
	int disk;

	CHECK(!test_shell("mkdir -p %s/src/sub/deeper", dir), "mkdir");
	for (int i = 0; i < POP_FILES; i++) {
		size_t len = (i * 24571) % sizeof(want);
		FILE *f;

		snprintf(name, sizeof(name), "src/%s/f%d", i % 3 == 0 ? "." : i % 3 == 1 ? "sub" : "sub/deeper", i);
		fill_random(want, len);
		f = fopen(tmp_path(name), "w");
		CHECK(f && fwrite(want, 1, len, f) == len, "writing %s", name);
		fclose(f);
	}
	CHECK(!test_shell("mke2fs -q -F -t ext4 -d %s/src %s/pop.img 16M", dir, dir), "mke2fs -d");

	disk = lkl_disk_attach(tmp_path("pop.img"), LKL_DISK_READ_ONLY);
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	printf("# backend in use: %s\n", lkl_disk_backend());
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/pop", 0, NULL));
	for (int i = 0; i < POP_FILES; i++) {
		char kpath[128];
		FILE *f;
		size_t len;
		long n;

		snprintf(name, sizeof(name), "src/%s/f%d", i % 3 == 0 ? "." : i % 3 == 1 ? "sub" : "sub/deeper", i);
		f = fopen(tmp_path(name), "r");
		len = fread(want, 1, sizeof(want), f);
		fclose(f);
		snprintf(kpath, sizeof(kpath), "/mnt/pop/%s", name + 4);
		n = kernel_read_file(kpath, got, sizeof(got));
		CHECK(n == (long)len, "%s: %ld bytes, want %zu", kpath, n, len);
		CHECK(!memcmp(want, got, len), "%s differs", kpath);
	}
	CHECK_OK(lkl_umount("/mnt/pop"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

#define BIG (64 << 20)
static unsigned char *shadow, *readback;
static int main_disk;

/* 64 MiB in random-size chunks at random offsets survive fsync, unmount and
 * a fresh mount. */
static int test_random_writes(void)
{
	long fd;
	size_t written = 0;

	shadow = calloc(1, BIG);
	readback = malloc(BIG);
	CHECK(shadow && readback, "out of memory");
	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/main.img 256M", dir), "mke2fs");
	main_disk = lkl_disk_attach(tmp_path("main.img"), 0);
	CHECK(main_disk >= 0, "attach: %d", main_disk);
	CHECK_OK(lkl_mount(main_disk, "ext4", "/mnt/main", 0, NULL));

	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/main/data", LKL_O_CREAT | LKL_O_RDWR, 0644));
	CHECK_OK(lkl_sys_ftruncate(fd, BIG));
	while (written < (size_t)BIG) {
		size_t len = 1 + next_random() % (512 * 1024);
		size_t off = next_random() % BIG;

		if (off + len > BIG)
			len = BIG - off;
		fill_random(shadow + off, len);
		CHECK(lkl_sys_pwrite64(fd, (char *)shadow + off, len, off) == (long)len,
		      "pwrite %zu at %zu", len, off);
		written += len;
	}
	CHECK_OK(lkl_sys_fsync(fd));
	CHECK_OK(lkl_sys_close(fd));
	CHECK_OK(lkl_umount("/mnt/main"));

	CHECK_OK(lkl_mount(main_disk, "ext4", "/mnt/main", 0, NULL));
	CHECK(kernel_read_file("/mnt/main/data", readback, BIG) == BIG, "short read back");
	CHECK(!memcmp(shadow, readback, BIG), "data differs after remount");
	CHECK_OK(lkl_umount("/mnt/main"));
	return 0;
}

/* After unmount, the host's e2fsck finds the file system clean and debugfs
 * reads the same bytes. */
static int test_host_tools_agree(void)
{
	FILE *f;
	size_t n;

	CHECK(!test_shell("e2fsck -fn %s/main.img >%s/fsck.log 2>&1 </dev/null", dir, dir),
	      "e2fsck -fn reported problems (see %s/fsck.log)", dir);
	CHECK(!test_shell("debugfs -R 'cat /data' %s/main.img 2>/dev/null >%s/data.out", dir, dir),
	      "debugfs failed");
	f = fopen(tmp_path("data.out"), "r");
	CHECK(f, "no debugfs output");
	n = fread(readback, 1, BIG, f);
	fclose(f);
	CHECK(n == BIG && !memcmp(shadow, readback, BIG), "debugfs read %zu differing bytes", n);
	return 0;
}

struct writer {
	int id;
	int ok;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[8192], back[8192];
	char path[64];
	long fd;

	snprintf(path, sizeof(path), "/mnt/main/t%d", w->id);
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0600);
	if (fd < 0)
		return NULL;
	memset(buf, 'a' + w->id, sizeof(buf));
	for (int i = 0; i < 256; i++)
		if (lkl_sys_write(fd, (char *)buf, sizeof(buf)) != sizeof(buf))
			return NULL;
	if (lkl_sys_fsync(fd) < 0)
		return NULL;
	for (int i = 0; i < 256; i++)
		if (lkl_sys_pread64(fd, (char *)back, sizeof(back), i * sizeof(back)) != sizeof(back) ||
		    memcmp(buf, back, sizeof(back)))
			return NULL;
	lkl_sys_close(fd);
	w->ok = 1;
	return NULL;
}

/* Eight host threads write different files at once. */
static int test_parallel_writers(void)
{
	struct writer w[8];
	pthread_t th[8];

	CHECK_OK(lkl_mount(main_disk, "ext4", "/mnt/main", 0, NULL));
	for (int i = 0; i < 8; i++) {
		w[i] = (struct writer){ .id = i };
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++)
		CHECK(w[i].ok, "writer %d failed", i);
	CHECK_OK(lkl_umount("/mnt/main"));
	CHECK(!test_shell("e2fsck -fn %s/main.img >%s/fsck2.log 2>&1", dir, dir), "e2fsck after writers");
	CHECK_OK(lkl_disk_detach(main_disk));
	return 0;
}

/*
 * Short-lived host threads, each writing a file (a third with fdatasync)
 * and exiting at once.  A thread leaving the kernel submits the queued
 * requests of others too (writeback, the journal), and io_uring cancels
 * the work of a thread that exits: those requests must be done again, not
 * failed.  Before they were, an fdatasync failed with EIO in most runs,
 * and a canceled journal commit made ext4 read-only (the rare failure of
 * the test above).
 */
static unsigned char short_lived_buf[65536];
static int short_lived_failures;

static void *short_lived_writer(void *arg)
{
	long i = (long)arg, fd;
	char path[64];

	snprintf(path, sizeof(path), "/mnt/short/f%ld", i % 64);
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_WRONLY | LKL_O_TRUNC, 0644);
	if (fd < 0 || lkl_sys_write(fd, (char *)short_lived_buf, sizeof(short_lived_buf)) !=
		      sizeof(short_lived_buf))
		__atomic_add_fetch(&short_lived_failures, 1, __ATOMIC_RELAXED);
	if (fd >= 0 && i % 3 == 0 && lkl_sys_fdatasync(fd) < 0)
		__atomic_add_fetch(&short_lived_failures, 1, __ATOMIC_RELAXED);
	if (fd >= 0)
		lkl_sys_close(fd);
	return NULL;
}

static int test_short_lived_threads(void)
{
	struct lkl_stats before, after;
	int disk;

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/short.img 256M", dir), "mke2fs");
	disk = CHECK_OK(lkl_disk_attach(tmp_path("short.img"), 0));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/short", 0, NULL));
	memset(short_lived_buf, 5, sizeof(short_lived_buf));
	lkl_stats(&before, sizeof(before));
	for (long round = 0; round < 1000 && !short_lived_failures; round++) {
		pthread_t th[4];

		for (int k = 0; k < 4; k++)
			pthread_create(&th[k], NULL, short_lived_writer, (void *)(round * 4 + k));
		for (int k = 0; k < 4; k++)
			pthread_join(th[k], NULL);
	}
	lkl_stats(&after, sizeof(after));
	printf("# requests canceled by the host and done again: %llu\n",
	       after.disk_requests_redone - before.disk_requests_redone);
	CHECK(!short_lived_failures, "%d writes or fdatasyncs failed", short_lived_failures);
	CHECK_OK(lkl_umount("/mnt/short"));
	CHECK_OK(lkl_disk_detach(disk));
	CHECK(!test_shell("e2fsck -fn %s/short.img >%s/fsck-short.log 2>&1", dir, dir), "e2fsck");
	return 0;
}

/*
 * Writing far more than the dirty limits throttles the writer: it sleeps on
 * timer-wheel timeouts while writeback runs.  160 MiB with 128 MiB of kernel
 * memory must complete and read back.
 */
static int test_dirty_throttling(void)
{
	static unsigned char buf[1 << 20], back[1 << 20];
	int disk;
	long fd;

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/seq.img 256M", dir), "mke2fs");
	disk = lkl_disk_attach(tmp_path("seq.img"), 0);
	CHECK(disk >= 0, "attach: %d", disk);
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/seq", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/seq/f", LKL_O_CREAT | LKL_O_RDWR, 0644));
	for (int i = 0; i < 160; i++) {
		memset(buf, i, sizeof(buf));
		CHECK(lkl_sys_write(fd, (char *)buf, sizeof(buf)) == sizeof(buf), "write %d", i);
	}
	CHECK_OK(lkl_sys_fsync(fd));
	for (int i = 0; i < 160; i += 7) {
		memset(buf, i, sizeof(buf));
		CHECK(lkl_sys_pread64(fd, (char *)back, sizeof(back), (long)i << 20) == sizeof(back),
		      "read %d", i);
		CHECK(!memcmp(buf, back, sizeof(back)), "MiB %d differs", i);
	}
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/seq"));
	CHECK_OK(lkl_disk_detach(disk));
	unlink(tmp_path("seq.img"));
	return 0;
}

/* A sparse 8 GiB image: data beyond 4 GiB reads back (64-bit offsets). */
static int test_sparse_8g(void)
{
	static unsigned char buf[65536], back[65536];
	const long long where = 6LL << 30;
	char node[32];
	int disk, hostfd;
	long fd;

	CHECK(!test_shell("truncate -s 8G %s/big.img && mke2fs -q -F -t ext4 %s/big.img", dir, dir),
	      "making the 8 GiB image");
	disk = lkl_disk_attach(tmp_path("big.img"), 0);
	CHECK(disk >= 0, "attach: %d", disk);

	/* Through the raw device: host offset 6 GiB. */
	snprintf(node, sizeof(node), "/dev/lkl%d", disk);
	fill_random(buf, sizeof(buf));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, node, LKL_O_RDWR, 0));
	CHECK(lkl_sys_pwrite64(fd, (char *)buf, sizeof(buf), where) == sizeof(buf), "device write");
	CHECK_OK(lkl_sys_fsync(fd));
	lkl_sys_close(fd);
	hostfd = open(tmp_path("big.img"), O_RDONLY);
	CHECK(pread(hostfd, back, sizeof(back), where) == sizeof(back), "host pread");
	close(hostfd);
	CHECK(!memcmp(buf, back, sizeof(buf)), "bytes at 6 GiB differ on the host");

	/* Through ext4: a file whose data lies past 4 GiB of the file. */
	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/big.img", dir), "re-mke2fs");
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/big", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/big/sparse", LKL_O_CREAT | LKL_O_RDWR, 0644));
	CHECK(lkl_sys_pwrite64(fd, (char *)buf, sizeof(buf), 5LL << 30) == sizeof(buf), "file write");
	CHECK_OK(lkl_sys_fsync(fd));
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/big"));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/big", 0, NULL));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/big/sparse", LKL_O_RDONLY, 0));
	CHECK(lkl_sys_pread64(fd, (char *)back, sizeof(back), 5LL << 30) == sizeof(back), "file read");
	lkl_sys_close(fd);
	CHECK(!memcmp(buf, back, sizeof(buf)), "file data past 4 GiB differs");
	CHECK_OK(lkl_umount("/mnt/big"));
	CHECK_OK(lkl_disk_detach(disk));
	unlink(tmp_path("big.img"));
	return 0;
}

/* Several disks at once: a file copied from one to the other. */
static int test_two_disks(void)
{
	static unsigned char buf[200000], back[200000];
	int a, b;
	long fd;

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/a.img 32M && mke2fs -q -F -t ext4 %s/b.img 32M", dir, dir),
	      "mke2fs");
	a = lkl_disk_attach(tmp_path("a.img"), 0);
	b = lkl_disk_attach(tmp_path("b.img"), 0);
	CHECK(a >= 0 && b >= 0 && a != b, "attach: %d %d", a, b);
	CHECK_OK(lkl_mount(a, "ext4", "/mnt/a", 0, NULL));
	CHECK_OK(lkl_mount(b, "ext4", "/mnt/b", 0, NULL));
	fill_random(buf, sizeof(buf));
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/a/f", LKL_O_CREAT | LKL_O_WRONLY, 0644));
	CHECK(lkl_sys_write(fd, (char *)buf, sizeof(buf)) == sizeof(buf), "write to a");
	lkl_sys_close(fd);
	CHECK(kernel_read_file("/mnt/a/f", back, sizeof(back)) == sizeof(back), "read a");
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/b/f", LKL_O_CREAT | LKL_O_WRONLY, 0644));
	CHECK(lkl_sys_write(fd, (char *)back, sizeof(back)) == sizeof(back), "write to b");
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount("/mnt/a"));
	CHECK_OK(lkl_umount("/mnt/b"));
	CHECK_OK(lkl_disk_detach(a));
	CHECK_OK(lkl_disk_detach(b));
	CHECK(!test_shell("e2fsck -fn %s/a.img >/dev/null 2>&1 && e2fsck -fn %s/b.img >/dev/null 2>&1", dir, dir),
	      "e2fsck");
	CHECK(!test_shell("debugfs -R 'cat /f' %s/b.img 2>/dev/null >%s/b.out", dir, dir), "debugfs");
	{
		FILE *f = fopen(tmp_path("b.out"), "r");
		size_t n = f ? fread(back, 1, sizeof(back), f) : 0;

		if (f)
			fclose(f);
		CHECK(n == sizeof(buf) && !memcmp(buf, back, n), "copy on b differs");
	}
	return 0;
}

/* A read-only disk refuses writes. */
static int test_read_only(void)
{
	int disk, second, writer;
	long fd;

	disk = lkl_disk_attach(tmp_path("main.img"), LKL_DISK_READ_ONLY);
	CHECK(disk >= 0, "attach: %d", disk);
	/* Readers share the image; a writer may not join them. */
	second = lkl_disk_attach(tmp_path("main.img"), LKL_DISK_READ_ONLY);
	CHECK(second >= 0, "second read-only attach: %d", second);
	writer = lkl_disk_attach(tmp_path("main.img"), 0);
	CHECK(writer == -LKL_EBUSY, "read-write attach of a shared image: %d", writer);
	CHECK_OK(lkl_disk_detach(second));
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/ro", 0, NULL));
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/ro/new", LKL_O_CREAT | LKL_O_RDWR, 0644);
	CHECK(fd == -LKL_EROFS, "creating a file returned %ld", fd);
	CHECK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/mnt/ro/data", 0) == -LKL_EROFS, "unlink");
	CHECK(lkl_sys_mount("none", "/mnt/ro", "ext4", LKL_MS_REMOUNT, NULL) == -LKL_EACCES ||
	      lkl_sys_mount("none", "/mnt/ro", "ext4", LKL_MS_REMOUNT, NULL) == -LKL_EROFS,
	      "remount read-write must fail");
	CHECK_OK(lkl_umount("/mnt/ro"));
	CHECK_OK(lkl_disk_detach(disk));
	/* Detach releases the lock. */
	writer = lkl_disk_attach(tmp_path("main.img"), 0);
	CHECK(writer >= 0, "read-write attach after detach: %d", writer);
	CHECK(lkl_disk_attach(tmp_path("main.img"), LKL_DISK_READ_ONLY) == -LKL_EBUSY,
	      "read-only attach of an image attached read-write");
	CHECK_OK(lkl_disk_detach(writer));
	return 0;
}

/* Garbage and truncated images fail to mount, and the process carries on;
 * what is not an image at all fails to attach. */
static int test_bad_images(void)
{
	static unsigned char junk[1 << 20];
	FILE *f;
	int disk;
	long ret;

	fill_random(junk, sizeof(junk));
	f = fopen(tmp_path("junk.img"), "w");
	for (int i = 0; i < 16; i++)
		fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	disk = lkl_disk_attach(tmp_path("junk.img"), 0);
	CHECK(disk >= 0, "attach: %d", disk);
	ret = lkl_mount(disk, "ext4", "/mnt/junk", 0, NULL);
	CHECK(ret < 0, "mounting garbage returned %ld", ret);
	CHECK_OK(lkl_disk_detach(disk));

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s/trunc.img 64M && truncate -s 2M %s/trunc.img", dir, dir),
	      "making the truncated image");
	disk = lkl_disk_attach(tmp_path("trunc.img"), 0);
	CHECK(disk >= 0, "attach: %d", disk);
	ret = lkl_mount(disk, "ext4", "/mnt/trunc", 0, NULL);
	CHECK(ret < 0, "mounting a truncated image returned %ld", ret);
	CHECK_OK(lkl_disk_detach(disk));

	CHECK(lkl_disk_attach(tmp_path("missing.img"), 0) == -LKL_ENOENT, "missing file");
	/* Not images: refused at once (a FIFO's open would wait for a writer). */
	CHECK(!mkfifo(tmp_path("fifo"), 0600), "mkfifo: %s", strerror(errno));
	CHECK(lkl_disk_attach(tmp_path("fifo"), LKL_DISK_READ_ONLY) == -LKL_EINVAL, "a FIFO");
	CHECK(lkl_disk_attach("/dev/null", LKL_DISK_READ_ONLY) == -LKL_EINVAL, "a character device");
	CHECK(lkl_disk_attach(dir, LKL_DISK_READ_ONLY) == -LKL_EINVAL, "a directory");
	CHECK(lkl_disk_detach(42) == -LKL_ENXIO, "detach of an unknown disk");
	CHECK(lkl_mount(42, "ext4", "/mnt/x", 0, NULL) == -LKL_ENXIO, "mount of an unknown disk");
	CHECK(lkl_sys_getpid() == 1, "kernel still answers");
	/* Those failures are expected to log errors, not bugs. */
	return 0;
}

/*
 * An image whose superblock asks for a panic on the first corruption found,
 * with its one directory block overwritten: reading the directory fails, the
 * kernel lives on and the file system stops writing (the library mounts
 * ext4 with errors=remount-ro unless told otherwise); an errors= choice of
 * the caller's is kept.
 */
static long list_dir(const char *path)
{
	char dents[4096];
	long fd, n;

	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY | LKL_O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	while ((n = lkl_sys_getdents64(fd, (void *)dents, sizeof(dents))) > 0)
		;
	lkl_sys_close(fd);
	return n;
}

static long create_file(const char *path)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_WRONLY, 0644);

	if (fd >= 0)
		lkl_sys_close(fd);
	return fd < 0 ? fd : 0;
}

static int test_corrupt_image_asking_for_panic(void)
{
	static char options[5000];
	int disk;
	long ret;

	CHECK(!test_shell("mkdir -p %s/csrc/d && for i in $(seq 1 40); do echo $i > %s/csrc/d/f$i; done && "
			  "mke2fs -q -F -t ext4 -b 1024 -d %s/csrc %s/corrupt.img 16M && "
			  "tune2fs -e panic %s/corrupt.img && "
			  "blk=$(debugfs -R 'bmap /d 0' %s/corrupt.img) && [ \"$blk\" -gt 0 ] && "
			  "head -c 1000 /dev/zero | tr '\\0' '\\377' | "
			  "dd of=%s/corrupt.img bs=1 seek=$((blk * 1024 + 24)) conv=notrunc",
			  dir, dir, dir, dir, dir, dir, dir),
	      "making the corrupt image");
	CHECK(!test_shell("dumpe2fs -h %s/corrupt.img | grep -q 'Errors behavior: *Panic'", dir),
	      "the image asks for a panic on errors");

	disk = lkl_disk_attach(tmp_path("corrupt.img"), 0);
	CHECK(disk >= 0, "attach: %d", disk);
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/corrupt", 0, NULL));
	ret = list_dir("/mnt/corrupt/d");
	CHECK(ret == -LKL_EBADMSG || ret == -LKL_EUCLEAN,
	      "listing the corrupt directory returned %ld (%s), not EBADMSG or EUCLEAN",
	      ret, lkl_strerror(ret));
	CHECK(lkl_sys_getpid() == 1, "the kernel lives after the corruption was found");
	/*
	 * ext4 aborts the journal and stops writing ("Remounting filesystem
	 * read-only"; since 6.6 it shuts the file system down rather than set
	 * the read-only flag): EIO, or EROFS.
	 */
	ret = create_file("/mnt/corrupt/new");
	CHECK(ret == -LKL_EROFS || ret == -LKL_EIO, "a write after the error returned %ld", ret);
	CHECK_OK(lkl_umount("/mnt/corrupt"));

	/* The caller's own errors= is kept: with continue, writes go on. */
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/corrupt", 0, "errors=continue"));
	ret = list_dir("/mnt/corrupt/d");
	CHECK(ret == -LKL_EBADMSG || ret == -LKL_EUCLEAN, "listing again returned %ld", ret);
	CHECK_OK(create_file("/mnt/corrupt/new"));
	CHECK_OK(lkl_umount("/mnt/corrupt"));

	/* Options the kernel could not read whole are refused. */
	memset(options, 'a', sizeof(options) - 1);
	CHECK(lkl_mount(disk, "ext4", "/mnt/corrupt", 0, options) == -LKL_EINVAL,
	      "over-long options accepted");
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

/* What the kernel wrote through a direct disk reads back, after a remount
 * and for the host's tools; with a forced 4096-byte alignment and 1 KiB ext4
 * blocks, every metadata block goes through the bounce buffers. */
static int direct_round_trip(const char *image, const char *mnt, int blocksize)
{
	static unsigned char want[3 << 20], got[3 << 20];
	char file[64];
	int disk;
	long fd;

	CHECK(!test_shell("mke2fs -q -F -t ext4 -b %d %s 32M", blocksize, image), "mke2fs");
	disk = lkl_disk_attach(image, LKL_DISK_DIRECT);
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", mnt, 0, NULL));
	fill_random(want, sizeof(want));
	for (int i = 0; i < 8; i++) {
		/* Sizes that are no multiple of a block: partial tails. */
		size_t len = sizeof(want) / (i + 1) - i * 333;

		snprintf(file, sizeof(file), "%s/f%d", mnt, i);
		fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, file, LKL_O_CREAT | LKL_O_WRONLY, 0644));
		CHECK(lkl_sys_write(fd, (char *)want + i, len) == (long)len, "write %s", file);
		CHECK_OK(lkl_sys_fsync(fd));
		lkl_sys_close(fd);
	}
	CHECK_OK(lkl_umount(mnt));
	CHECK_OK(lkl_mount(disk, "ext4", mnt, 0, NULL));
	for (int i = 0; i < 8; i++) {
		size_t len = sizeof(want) / (i + 1) - i * 333;
		long n;

		snprintf(file, sizeof(file), "%s/f%d", mnt, i);
		n = kernel_read_file(file, got, sizeof(got));
		CHECK(n == (long)len, "%s: %ld bytes, want %zu", file, n, len);
		CHECK(!memcmp(want + i, got, len), "%s differs", file);
	}
	CHECK_OK(lkl_umount(mnt));
	CHECK_OK(lkl_disk_detach(disk));
	CHECK(!test_shell("e2fsck -fn %s", image), "e2fsck -fn finds errors in %.200s", image);
	return 0;
}

static int test_direct(void)
{
	int ret;

	if (direct_round_trip(tmp_path("direct.img"), "/mnt/direct", 4096))
		return -1;
	setenv("LKL_DISK_DIRECT_ALIGN", "4096", 1);
	ret = direct_round_trip(tmp_path("direct1k.img"), "/mnt/direct1k", 1024);
	unsetenv("LKL_DISK_DIRECT_ALIGN");
	return ret;
}

/* A file system without O_DIRECT (procfs here; tmpfs before Linux 6.6)
 * fails a direct attach: no silent fallback to buffered I/O. */
static int test_direct_refused(void)
{
	int disk = lkl_disk_attach("/proc/self/status", LKL_DISK_READ_ONLY | LKL_DISK_DIRECT);

	CHECK(disk == -LKL_EOPNOTSUPP, "attach returned %d (%s)", disk, lkl_strerror(disk));
	disk = lkl_disk_attach_fd(0, LKL_DISK_READ_ONLY | LKL_DISK_DIRECT);
	CHECK(disk == -LKL_EINVAL, "attach_fd of a descriptor without O_DIRECT: %d", disk);
	return 0;
}

static double mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Make an image with /f (64 KiB of known bytes), attached with @latency_ns
 * and mounted at @mnt with a cold page cache. */
static int latency_disk(const char *name, const char *mnt, unsigned long long latency_ns,
			unsigned char *data)
{
	struct lkl_disk_options opts = { .latency_ns = latency_ns };
	char file[64];
	int disk;
	long fd;

	CHECK(!test_shell("mke2fs -q -F -t ext4 %s 8M", tmp_path(name)), "mke2fs");
	disk = lkl_disk_attach_opts(tmp_path(name), &opts);
	CHECK(disk >= 0, "attach: %d (%s)", disk, lkl_strerror(disk));
	CHECK_OK(lkl_mount(disk, "ext4", mnt, 0, NULL));
	snprintf(file, sizeof(file), "%s/f", mnt);
	fill_random(data, 65536);
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, file, LKL_O_CREAT | LKL_O_WRONLY, 0644));
	CHECK(lkl_sys_write(fd, (char *)data, 65536) == 65536, "write");
	lkl_sys_close(fd);
	CHECK_OK(lkl_umount(mnt));	/* drops the file's pages */
	CHECK_OK(lkl_mount(disk, "ext4", mnt, 0, NULL));
	return disk;
}

static int test_latency(void)
{
	static unsigned char data[65536], got[4096];
	struct lkl_disk_options bad = { .latency_ns = 10000000001ULL };
	double t0, us;
	int disk;
	long fd;

	CHECK(lkl_disk_attach_opts(tmp_path("main.img"), &bad) == -LKL_EINVAL,
	      "a latency above 10 s is refused");
	disk = latency_disk("slow.img", "/mnt/slow", 200000, data);
	if (disk < 0)
		return -1;
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/mnt/slow/f", LKL_O_RDONLY, 0));
	t0 = mono_us();
	CHECK(lkl_sys_pread64(fd, (char *)got, 4096, 40960) == 4096, "pread");
	us = mono_us() - t0;
	lkl_sys_close(fd);
	CHECK(us >= 200, "an uncached read took %.1f us with 200 us injected", us);
	CHECK(!memcmp(got, data + 40960, 4096), "data differs");
	CHECK_OK(lkl_umount("/mnt/slow"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

/*
 * A synchronous read that waits for the host: with io_uring, the reading
 * thread waits for the completion itself and runs the disk interrupt, so
 * the CPU does not go to the CPU thread and back (two handoffs a read
 * before).  A stray handoff (a kernel thread that ran meanwhile) is allowed.
 */
static int test_read_waits_on_own_thread(void)
{
	static unsigned char data[65536], got[4096];
	struct lkl_stats before, after;
	unsigned long long requests, handoffs;
	char file[64];
	int disk;
	long fd;

	disk = latency_disk("own.img", "/mnt/own", 100000, data);
	if (disk < 0)
		return -1;
	/* Sixteen one-block files: each first read is a request of its own. */
	for (int i = 0; i < 16; i++) {
		snprintf(file, sizeof(file), "/mnt/own/b%d", i);
		fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, file, LKL_O_CREAT | LKL_O_WRONLY, 0644));
		CHECK(lkl_sys_write(fd, (char *)data + i * 4096, 4096) == 4096, "write %s", file);
		lkl_sys_close(fd);
	}
	CHECK_OK(lkl_umount("/mnt/own"));	/* drops the pages */
	CHECK_OK(lkl_mount(disk, "ext4", "/mnt/own", 0, NULL));
	lkl_stats(&before, sizeof(before));
	for (int i = 0; i < 16; i++) {
		snprintf(file, sizeof(file), "/mnt/own/b%d", i);
		fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, file, LKL_O_RDONLY, 0));
		CHECK(lkl_sys_read(fd, (char *)got, 4096) == 4096, "read %s", file);
		CHECK(!memcmp(got, data + i * 4096, 4096), "%s differs", file);
		lkl_sys_close(fd);
	}
	lkl_stats(&after, sizeof(after));
	requests = after.disk_requests_queued - before.disk_requests_queued;
	handoffs = after.cpu_handoffs - before.cpu_handoffs;
	CHECK(requests >= 16, "%llu requests for 16 uncached files", requests);
	if (!strcmp(lkl_disk_backend(), "uring"))
		CHECK(handoffs <= requests / 4, "%llu CPU handoffs for %llu requests",
		      handoffs, requests);
	CHECK_OK(lkl_umount("/mnt/own"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

struct slow_reader {
	double start, end;
	long ret;
	unsigned char got[4096];
};

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;
	long fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/slow2/f", LKL_O_RDONLY, 0);

	r->start = mono_us();
	r->ret = fd < 0 ? fd : lkl_sys_pread64(fd, (char *)r->got, 4096, 8192);
	r->end = mono_us();
	lkl_sys_close(fd);
	return NULL;
}

/* While one thread's read sleeps out its injected latency, the CPU is free:
 * another thread's syscalls run and return meanwhile. */
static int test_latency_does_not_block(void)
{
	static unsigned char data[65536];
	static struct slow_reader r;
	pthread_t thread;
	double mid;
	int disk;

	disk = latency_disk("slow2.img", "/mnt/slow2", 50000000, data);	/* 50 ms */
	if (disk < 0)
		return -1;
	CHECK(!pthread_create(&thread, NULL, slow_reader_main, &r), "pthread_create");
	usleep(10000);
	CHECK(lkl_sys_getpid() > 0, "getpid");
	mid = mono_us();
	pthread_join(thread, NULL);
	CHECK(r.ret == 4096, "pread: %ld", r.ret);
	CHECK(!memcmp(r.got, data + 8192, 4096), "data differs");
	CHECK(r.end - r.start >= 50000, "the read took %.0f us with 50 ms injected",
	      r.end - r.start);
	CHECK(mid < r.end, "getpid returned only after the slow read (%.0f us later)",
	      mid - r.end);
	CHECK_OK(lkl_umount("/mnt/slow2"));
	CHECK_OK(lkl_disk_detach(disk));
	return 0;
}

/*
 * Reads all of the device @fd (@size bytes) in 4 KiB reads and checks it:
 * zeroes but @data at @at.  Small reads: only those go through the mapping.
 */
static int check_device(long fd, unsigned long long size, const unsigned char *data,
			unsigned long long at, size_t len)
{
	static unsigned char back[4096];
	static const unsigned char zero[4096];

	for (unsigned long long off = 0; off < size; off += sizeof(back)) {
		CHECK(lkl_sys_pread64(fd, (char *)back, sizeof(back), off) == sizeof(back),
		      "device read at %llu", off);
		if (off >= at && off < at + len)
			CHECK(!memcmp(back, data + (off - at), sizeof(back)), "data at %llu differs", off);
		else
			CHECK(!memcmp(back, zero, sizeof(back)), "a hole at %llu reads non-zero", off);
	}
	return 0;
}

static long long host_blocks(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_blocks;
}

/*
 * An image on tmpfs is read through the library's mapping of it once its
 * pages are known to hold data: holes stay holes (a mapping would allocate
 * them), discarded pages are not brought back, and an image truncated
 * behind the library's back costs a read, not the process.
 */
static int test_tmpfs_mapped_reads(void)
{
	static unsigned char data[1 << 20], page[4096];
	static const unsigned char zero[4096];
	/*
	 * 64 MiB and a page: the data ends in the last page, past the last
	 * whole 64 KiB unit the mapping covers, so the discard below reaches
	 * past the map as well.
	 */
	const unsigned long long size = (64 << 20) + 4096, at = size - sizeof(data);
	unsigned long long range[2] = { at, sizeof(data) };
	char shm[] = "/dev/shm/lkl-disk-test-XXXXXX", img[64], node[32];
	struct lkl_stats before, after;
	long long written, punched, now;
	int disk, pass;
	long fd, r;

	CHECK(mkdtemp(shm), "mkdtemp in /dev/shm: %s", strerror(errno));
	snprintf(img, sizeof(img), "%s/sparse.img", shm);
	CHECK(!test_shell("truncate -s %llu %s", size, img), "making the sparse image");
	disk = lkl_disk_attach(img, 0);
	CHECK(disk >= 0, "attach: %d", disk);
	snprintf(node, sizeof(node), "/dev/lkl%d", disk);
	/* One 4 KiB request per read: readahead off before the open (it is copied then). */
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, node, LKL_O_RDWR, 0));
	CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKRASET, 0));
	lkl_sys_close(fd);
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, node, LKL_O_RDWR, 0));
	fill_random(data, sizeof(data));
	CHECK(lkl_sys_pwrite64(fd, (char *)data, sizeof(data), at) == sizeof(data), "device write");
	CHECK_OK(lkl_sys_fsync(fd));
	written = host_blocks(img);
	CHECK(written >= (long long)sizeof(data) / 512, "the image holds %lld blocks", written);

	/*
	 * The first pass learns where the data is and reads every page once;
	 * the second copies the data from the map.
	 */
	for (pass = 0; pass < 2; pass++) {
		CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKFLSBUF, 0));
		lkl_stats(&before, sizeof(before));
		if (check_device(fd, size, data, at, sizeof(data)))
			return 1;
		lkl_stats(&after, sizeof(after));
	}
	CHECK(after.disk_reads_mapped > before.disk_reads_mapped,
	      "the second pass read nothing through the mapping");
	now = host_blocks(img);
	CHECK(now == written, "reading the holes allocated them: %lld blocks, %lld before", now, written);

	/* A discard punches the data out; reading it again must not allocate it. */
	CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKDISCARD, (long)range));
	punched = host_blocks(img);
	CHECK(punched < written, "the discard left the image at %lld blocks", punched);
	CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKFLSBUF, 0));
	memset(data, 0, sizeof(data));
	if (check_device(fd, size, data, at, sizeof(data)))
		return 1;
	CHECK(host_blocks(img) == punched, "reading discarded pages allocated %lld blocks again",
	      host_blocks(img) - punched);

	/* Mapped pages, then the file truncated under them: SIGBUS in the copy. */
	fill_random(data, sizeof(data));
	CHECK(lkl_sys_pwrite64(fd, (char *)data, sizeof(data), at) == sizeof(data), "device write");
	CHECK_OK(lkl_sys_fsync(fd));
	for (pass = 0; pass < 2; pass++) {
		CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKFLSBUF, 0));
		lkl_stats(&before, sizeof(before));
		for (size_t off = 0; off < sizeof(data); off += sizeof(page))
			CHECK(lkl_sys_pread64(fd, (char *)page, sizeof(page), at + off) == sizeof(page),
			      "read");
		lkl_stats(&after, sizeof(after));
	}
	CHECK(after.disk_reads_mapped > before.disk_reads_mapped, "the data was not read from the map");
	CHECK(truncate(img, 4 << 20) == 0, "truncate: %s", strerror(errno));
	CHECK_OK(lkl_sys_ioctl(fd, LKL_BLKFLSBUF, 0));
	r = lkl_sys_pread64(fd, (char *)page, sizeof(page), at);
	CHECK(r == sizeof(page) || r == -LKL_EIO, "read past the truncated end: %ld", r);
	if (r == sizeof(page))
		CHECK(!memcmp(page, zero, sizeof(page)), "past the end of the image reads non-zero");
	lkl_sys_close(fd);
	CHECK_OK(lkl_disk_detach(disk));
	test_shell("rm -rf %s", shm);
	return 0;
}

/* Halt lets go of every image: another kernel may attach it at once. */
static int test_halt(void)
{
	char shm[] = "/dev/shm/lkl-disk-test-XXXXXX", img[64];
	int ret, disk, fd;

	/* Left attached on purpose; on tmpfs it is also mapped (map_read()). */
	CHECK(mkdtemp(shm), "mkdtemp in /dev/shm: %s", strerror(errno));
	snprintf(img, sizeof(img), "%s/left.img", shm);
	CHECK(!test_shell("truncate -s 16M %s", img), "making the image");
	disk = lkl_disk_attach(img, 0);
	CHECK(disk >= 0, "attach: %d", disk);

	ret = lkl_halt();
	CHECK(ret == 0, "halt: %d", ret);
	CHECK(lkl_host_thread_count() == 0, "%d library threads left", lkl_host_thread_count());
	fd = open(img, O_RDWR);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(!flock(fd, LOCK_EX | LOCK_NB), "the image is still locked after halt: %s",
	      strerror(errno));
	close(fd);
	test_shell("rm -rf %s %s", dir, shm);
	return 0;
}

int main(void)
{
	test_plan(19);
	test_run("boot", test_boot);
	test_run("image populated with mke2fs -d reads back identical", test_populated_image);
	test_run("64 MiB of random writes survive a remount", test_random_writes);
	test_run("e2fsck -fn clean, debugfs reads the same bytes", test_host_tools_agree);
	test_run("8 threads write files at once", test_parallel_writers);
	test_run("short-lived threads leave I/O in flight: nothing fails", test_short_lived_threads);
	test_run("160 MiB sequential write under dirty throttling", test_dirty_throttling);
	test_run("sparse 8 GiB image, data past 4 GiB", test_sparse_8g);
	test_run("two disks at once", test_two_disks);
	test_run("read-only disk refuses writes; images are locked while attached", test_read_only);
	test_run("garbage and truncated images fail to mount; FIFOs and devices do not attach", test_bad_images);
	test_run("an image asking for a panic on corruption: the kernel lives, writes stop",
		 test_corrupt_image_asking_for_panic);
	test_run("direct (O_DIRECT) disks keep what was written, bounced or not", test_direct);
	test_run("direct attach fails where the host refuses O_DIRECT", test_direct_refused);
	test_run("injected latency: an uncached read takes at least 200 us", test_latency);
	test_run("injected latency does not hold the CPU", test_latency_does_not_block);
	test_run("a read waits for the host on its own thread (io_uring: no handoffs)",
		 test_read_waits_on_own_thread);
	test_run("tmpfs image: mapped reads keep holes, forget discards, survive truncation",
		 test_tmpfs_mapped_reads);
	test_run("halt, and images are unlocked after it", test_halt);
	return test_done();
}
