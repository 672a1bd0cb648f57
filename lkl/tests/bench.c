// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench: the library's costs next to the host's, measured in the same run.
 * Prints a table, then one JSON object per line:
 *   {"scenario": ..., "system": "lkl"|"host", "metric": ..., "value": ..., "unit": ...}
 * Each figure is the median of several trials.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <lkl.h>
#include <lkl_host.h>
#include <lkl/syscalls.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>

#define TRIALS 7

struct result {
	const char *scenario, *system, *metric, *unit;
	double value;
};

static struct result results[64];
static int nresults;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void record(const char *scenario, const char *system, const char *metric,
		   double value, const char *unit)
{
	results[nresults++] = (struct result){ scenario, system, metric, unit, value };
}

/* Median over TRIALS of the per-operation time of fn(iters). */
static double per_op_ns(void (*fn)(long), long iters)
{
	double t[TRIALS];

	fn(iters / 10);		/* warm up */
	for (int i = 0; i < TRIALS; i++) {
		double t0 = now_ns();

		fn(iters);
		t[i] = (now_ns() - t0) / iters;
	}
	return median(t, TRIALS);
}

static void lkl_null(long n)
{
	for (long i = 0; i < n; i++)
		lkl_sys_getpid();
}

static void host_null(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
}

static long lkl_fd;
static int host_fd;
static char buf[4096];

static void lkl_pread4k(long n)
{
	for (long i = 0; i < n; i++)
		if (lkl_sys_pread64(lkl_fd, buf, 4096, (i & 255) * 4096) != 4096)
			abort();
}

static void host_pread4k(long n)
{
	for (long i = 0; i < n; i++)
		if (pread(host_fd, buf, 4096, (i & 255) * 4096) != 4096)
			abort();
}

/*
 * The first call after 15 ms of quiet, when the CPU thread has parked the
 * caller's task and gone idle (the common case of a program that makes calls
 * at irregular intervals), against the host's getpid after the same pause.
 */
#define QUIET_CALLS	200

static void first_call_after_quiet(void)
{
	double lkl_t[QUIET_CALLS], host_t[QUIET_CALLS], t0;
	struct lkl_stats before, after;

	lkl_stats(&before, sizeof(before));
	for (int i = 0; i < QUIET_CALLS; i++) {
		usleep(15000);
		t0 = now_ns();
		lkl_sys_getpid();
		lkl_t[i] = now_ns() - t0;
		usleep(15000);
		t0 = now_ns();
		syscall(SYS_getpid);
		host_t[i] = now_ns() - t0;
	}
	lkl_stats(&after, sizeof(after));
	record("first_call_after_quiet", "lkl", "latency", median(lkl_t, QUIET_CALLS), "ns");
	record("first_call_after_quiet", "host", "latency", median(host_t, QUIET_CALLS), "ns");
	/* Per call; the aim is 0 (no other thread involved). */
	record("first_call_after_quiet_handoffs", "lkl", "count",
	       (double)(after.cpu_handoffs - before.cpu_handoffs) / QUIET_CALLS, "/call");
	record("first_call_after_quiet_lock_waits", "lkl", "count",
	       (double)(after.cpu_lock_waits - before.cpu_lock_waits) / QUIET_CALLS, "/call");
	record("first_call_after_quiet_notifies", "lkl", "count",
	       (double)(after.cpu_thread_notifies - before.cpu_thread_notifies) / QUIET_CALLS, "/call");
	record("first_call_after_quiet_alarms", "lkl", "count",
	       (double)(after.idle_alarms - before.idle_alarms) / QUIET_CALLS, "/call");
	record("first_call_after_quiet_borrowed", "lkl", "count",
	       (double)(after.syscalls_borrowed - before.syscalls_borrowed) / QUIET_CALLS, "/call");
}

static void *raise_timer_irq(void *unused)
{
	/* From a thread outside the kernel: the CPU thread wakes to run it. */
	lkl_kernel_trigger_irq(LKL_DISK_IRQ);
	return NULL;
}

/*
 * The same after the CPU thread parked the caller's task and went idle (it
 * does when it next wakes; here an interrupt wakes it), so that the call
 * leaves idle: the worst case of a call after quiet.
 */
static void first_call_after_idle(void)
{
	double lkl_t[QUIET_CALLS], t0;
	struct lkl_stats before, after;
	pthread_t raiser;

	lkl_stats(&before, sizeof(before));
	for (int i = 0; i < QUIET_CALLS; i++) {
		pthread_create(&raiser, NULL, raise_timer_irq, NULL);
		pthread_join(raiser, NULL);
		usleep(15000);
		t0 = now_ns();
		lkl_sys_getpid();
		lkl_t[i] = now_ns() - t0;
	}
	lkl_stats(&after, sizeof(after));
	record("first_call_after_idle", "lkl", "latency", median(lkl_t, QUIET_CALLS), "ns");
	record("first_call_after_idle_borrowed", "lkl", "count",
	       (double)(after.syscalls_borrowed - before.syscalls_borrowed) / QUIET_CALLS, "/call");
	record("first_call_after_idle_handoffs", "lkl", "count",
	       (double)(after.cpu_handoffs - before.cpu_handoffs) / QUIET_CALLS, "/call");
}

/* --- disks: an ext4 image on tmpfs and on the VM's disk ------------------ */

#define FILE_SIZE	(256UL << 20)
#define CHUNK		(1UL << 20)
#define RAND_READS	4000

static char *chunk;

static void kernel_drop_caches(void)
{
	long fd;

	lkl_sys_sync();
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/proc/sys/vm/drop_caches", LKL_O_WRONLY, 0);
	if (fd >= 0) {
		lkl_sys_write(fd, "3", 1);
		lkl_sys_close(fd);
	}
}

static void host_drop_caches(int fd)
{
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static char *scenario_name(const char *what, const char *where)
{
	char *name = malloc(64);

	snprintf(name, 64, "%s_%s", what, where);
	return name;
}

static void disk_bench(const char *dir, const char *label)
{
	char img[256], host_file[256], cmd[600];
	double t0, secs;
	long fd, n;
	int disk, hfd, imgfd;

	snprintf(img, sizeof(img), "%s/lkl-bench-%d.img", dir, getpid());
	snprintf(host_file, sizeof(host_file), "%s/lkl-bench-%d.host", dir, getpid());
	snprintf(cmd, sizeof(cmd), "truncate -s 512M %s && mke2fs -q -F -t ext4 %s >/dev/null 2>&1", img, img);
	if (system(cmd)) {
		fprintf(stderr, "bench: cannot make %s\n", img);
		return;
	}
	disk = lkl_disk_attach(img, 0);
	if (disk < 0 || lkl_mount(disk, "ext4", "/mnt/bench", 0, NULL)) {
		fprintf(stderr, "bench: cannot attach/mount %s\n", img);
		return;
	}

	/* Sequential write: 256 MiB in 1 MiB writes, then fsync. */
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/bench/f", LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0644);
	t0 = now_ns();
	for (unsigned long off = 0; off < FILE_SIZE; off += CHUNK)
		if (lkl_sys_write(fd, chunk, CHUNK) != (long)CHUNK)
			abort();
	lkl_sys_fsync(fd);
	secs = (now_ns() - t0) / 1e9;
	lkl_sys_close(fd);
	record(scenario_name("seq_write_256m", label), "lkl", "throughput", FILE_SIZE / 1e6 / secs, "MB/s");

	hfd = open(host_file, O_CREAT | O_RDWR | O_TRUNC, 0644);
	t0 = now_ns();
	for (unsigned long off = 0; off < FILE_SIZE; off += CHUNK)
		if (write(hfd, chunk, CHUNK) != (long)CHUNK)
			abort();
	fsync(hfd);
	secs = (now_ns() - t0) / 1e9;
	record(scenario_name("seq_write_256m", label), "host", "throughput", FILE_SIZE / 1e6 / secs, "MB/s");

	/* Sequential read, caches dropped. */
	kernel_drop_caches();
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/bench/f", LKL_O_RDONLY, 0);
	t0 = now_ns();
	while ((n = lkl_sys_read(fd, chunk, CHUNK)) > 0)
		;
	secs = (now_ns() - t0) / 1e9;
	record(scenario_name("seq_read_256m", label), "lkl", "throughput", FILE_SIZE / 1e6 / secs, "MB/s");

	host_drop_caches(hfd);
	lseek(hfd, 0, SEEK_SET);
	t0 = now_ns();
	while (read(hfd, chunk, CHUNK) > 0)
		;
	secs = (now_ns() - t0) / 1e9;
	record(scenario_name("seq_read_256m", label), "host", "throughput", FILE_SIZE / 1e6 / secs, "MB/s");
	close(hfd);
	unlink(host_file);

	/* 4 KiB random reads at QD1, page caches dropped: the kernel's, and
	 * the host's for the image file (for both runs). */
	kernel_drop_caches();
	imgfd = open(img, O_RDONLY);
	host_drop_caches(imgfd);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++) {
		unsigned long off = (lrand48() % (FILE_SIZE / 4096)) * 4096;

		if (lkl_sys_pread64(fd, chunk, 4096, off) != 4096)
			abort();
	}
	record(scenario_name("randread_4k_qd1_uncached", label), "lkl", "latency",
	       (now_ns() - t0) / RAND_READS / 1e3, "us");
	lkl_sys_close(fd);

	host_drop_caches(imgfd);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++) {
		unsigned long off = (lrand48() % (FILE_SIZE / 4096)) * 4096;

		if (pread(imgfd, chunk, 4096, off) != 4096)
			abort();
	}
	record(scenario_name("randread_4k_qd1_uncached", label), "host", "latency",
	       (now_ns() - t0) / RAND_READS / 1e3, "us");
	close(imgfd);

	lkl_umount("/mnt/bench");
	lkl_disk_detach(disk);
	unlink(img);
}

/*
 * direct-randread-qd1: 4 KiB random reads at QD1 of a file in an ext4 image
 * on the VM's disk, attached with LKL_DISK_DIRECT; the kernel's page cache is
 * dropped, readahead is off (POSIX_FADV_RANDOM) and every block is read once,
 * so each read goes to the host's device.  The host baseline: pread with
 * O_DIRECT of as many distinct blocks of the same image file.
 */
static void shuffle(unsigned long *v, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		v[i] = i;
	for (unsigned long i = n - 1; i > 0; i--) {
		unsigned long j = lrand48() % (i + 1), t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

static void direct_bench(const char *dir)
{
	static unsigned long blocks[FILE_SIZE / 4096];
	char img[256], cmd[600];
	double t0;
	char *abuf;
	long fd;
	int disk, imgfd;

	snprintf(img, sizeof(img), "%s/lkl-bench-direct-%d.img", dir, getpid());
	snprintf(cmd, sizeof(cmd), "truncate -s 512M %s && mke2fs -q -F -t ext4 %s >/dev/null 2>&1", img, img);
	if (system(cmd) || posix_memalign((void **)&abuf, 4096, 4096)) {
		fprintf(stderr, "bench: cannot make %s\n", img);
		return;
	}
	disk = lkl_disk_attach(img, LKL_DISK_DIRECT);
	if (disk < 0 || lkl_mount(disk, "ext4", "/mnt/direct", 0, NULL)) {
		fprintf(stderr, "bench: cannot attach/mount %s directly: %s\n", img,
			lkl_strerror(disk < 0 ? disk : -5));
		unlink(img);
		return;
	}
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/direct/f", LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0644);
	for (unsigned long off = 0; off < FILE_SIZE; off += CHUNK)
		if (lkl_sys_write(fd, chunk, CHUNK) != (long)CHUNK)
			abort();
	lkl_sys_fsync(fd);
	lkl_sys_close(fd);
	kernel_drop_caches();

	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/direct/f", LKL_O_RDONLY, 0);
	lkl_sys_fadvise64(fd, 0, 0, POSIX_FADV_RANDOM);
	lkl_sys_pread64(fd, abuf, 4096, 0);	/* the extent tree, once */
	shuffle(blocks, FILE_SIZE / 4096);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++)
		if (lkl_sys_pread64(fd, abuf, 4096, (blocks[i] + 1) % (FILE_SIZE / 4096) * 4096) != 4096)
			abort();
	record("direct-randread-qd1", "lkl", "latency", (now_ns() - t0) / RAND_READS / 1e3, "us");
	lkl_sys_close(fd);

	imgfd = open(img, O_RDONLY | O_DIRECT);
	shuffle(blocks, FILE_SIZE / 4096);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++)
		if (pread(imgfd, abuf, 4096, blocks[i] * 4096) != 4096)
			abort();
	record("direct-randread-qd1", "host", "latency", (now_ns() - t0) / RAND_READS / 1e3, "us");
	close(imgfd);

	lkl_umount("/mnt/direct");
	lkl_disk_detach(disk);
	unlink(img);
	free(abuf);
}

int main(void)
{
	static char data[1 << 20];
	char host_path[] = "/dev/shm/lkl-bench-XXXXXX";
	double t0, boot_ms, first_ms;

	t0 = now_ns();
	if (lkl_boot("mem=512M")) {
		fprintf(stderr, "bench: boot failed\n");
		return 1;
	}
	boot_ms = (now_ns() - t0) / 1e6;
	lkl_sys_getpid();
	first_ms = (now_ns() - t0) / 1e6;
	record("boot_to_first_syscall_512m", "lkl", "time", first_ms, "ms");

	record("null_syscall", "lkl", "latency", per_op_ns(lkl_null, 1000000), "ns");
	record("null_syscall", "host", "latency", per_op_ns(host_null, 1000000), "ns");
	first_call_after_quiet();
	first_call_after_idle();

	/* A 1 MiB file in the kernel's tmpfs and one on the host's /dev/shm. */
	memset(data, 'x', sizeof(data));
	lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp", 0755);
	lkl_sys_mount("none", "/tmp", "tmpfs", 0, NULL);
	lkl_fd = lkl_sys_openat(LKL_AT_FDCWD, "/tmp/f", LKL_O_CREAT | LKL_O_RDWR, 0600);
	host_fd = mkstemp(host_path);
	if (lkl_fd < 0 || host_fd < 0 ||
	    lkl_sys_write(lkl_fd, data, sizeof(data)) != sizeof(data) ||
	    write(host_fd, data, sizeof(data)) != sizeof(data)) {
		fprintf(stderr, "bench: cannot create the test files\n");
		return 1;
	}
	unlink(host_path);
	record("pread_4k_cached", "lkl", "latency", per_op_ns(lkl_pread4k, 200000), "ns");
	record("pread_4k_cached", "host", "latency", per_op_ns(host_pread4k, 200000), "ns");

	chunk = malloc(CHUNK);
	memset(chunk, 0x5a, CHUNK);
	lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555);
	lkl_sys_mount("proc", "/proc", "proc", 0, NULL);
	if (!getenv("LKL_BENCH_DIRECT_ONLY")) {
		disk_bench("/dev/shm", "tmpfs");
		disk_bench(getenv("LKL_BENCH_DISK_DIR") ?: "/var/tmp", "disk");
	}
	direct_bench(getenv("LKL_BENCH_DISK_DIR") ?: "/var/tmp");
	lkl_halt();

	printf("%-34s %14s %14s %8s\n", "scenario", "lkl", "host", "lkl/host");
	for (int i = 0; i < nresults; i++) {
		struct result *r = &results[i], *h = NULL;

		if (strcmp(r->system, "lkl"))
			continue;
		for (int j = 0; j < nresults; j++)
			if (!strcmp(results[j].scenario, r->scenario) &&
			    !strcmp(results[j].system, "host"))
				h = &results[j];
		if (h)
			printf("%-34s %9.1f %-4s %9.1f %-4s %8.2f\n", r->scenario, r->value,
			       r->unit, h->value, h->unit, r->value / h->value);
		else
			printf("%-34s %9.1f %-4s %14s %8s\n", r->scenario, r->value, r->unit,
			       "-", "-");
	}
	printf("(boot itself: %.1f ms)\n", boot_ms);
	for (int i = 0; i < nresults; i++)
		printf("{\"scenario\": \"%s\", \"system\": \"%s\", \"metric\": \"%s\", "
		       "\"value\": %.3f, \"unit\": \"%s\"}\n", results[i].scenario,
		       results[i].system, results[i].metric, results[i].value, results[i].unit);
	return 0;
}
