// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench: the library's costs next to the host's, measured in the same run.
 * Prints a table, then one JSON object per line:
 *   {"scenario": ..., "system": "lkl"|"host", "metric": ..., "value": ..., "unit": ...}
 * Each figure is the median of several trials.  The syslet scenarios add
 * systems "lkl-syslet" (and "-qd32"/"-qd1"), "lkl-sync" and "host-io_uring";
 * a second table gives each syslet figure next to its baseline.
 * LKL_BENCH_SYSLET_ONLY=1 runs only those; LKL_BENCH_SYSLET_DISK=tmpfs or
 * =odirect_disk (with ONLY) runs only that disk's random-read scenarios (the
 * latency disk is part of tmpfs; =latency runs it alone), =none only the
 * others, for profiling.  The random reads run with the kernel's readahead
 * off (see readahead_off()); LKL_BENCH_READAHEAD=1 keeps it on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <lkl.h>
#include <lkl_host.h>
#include <lkl/syscalls.h>
#include <lkl/linux/fcntl.h>
#include <lkl/asm-generic/errno-base.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/stat.h>
#include <lkl/syslet.h>

#define TRIALS 7

struct result {
	const char *scenario, *system, *metric, *unit;
	double value;
};

static struct result results[192];
static int nresults;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* CPU time of the whole process (all its threads, user and system), in ns. */
static double process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
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

/*
 * Where the blocks of the kernel's open file @fd (FILE_SIZE long) sit in its
 * image, in 4 KiB blocks: the host's baselines read those.  Not blocks of the
 * image at large: the image is sparse (truncate, then mke2fs), and the host
 * reads a hole without touching its medium, which flattered the baselines
 * (2x for the O_DIRECT read).
 */
static unsigned long file_blocks[FILE_SIZE / 4096];

static void map_file_blocks(long fd)
{
	for (unsigned long i = 0; i < FILE_SIZE / 4096; i++) {
		int block = i;

		if (lkl_sys_ioctl(fd, LKL_FIBMAP, (long)&block) || block <= 0)
			abort();
		file_blocks[i] = block;
	}
}

/*
 * Readahead off for the disk holding @path (its read_ahead_kb in sysfs):
 * each read is then one 4 KiB request, as each of the host's reads is.
 * With it on, a pass that reads every block once finds about a third of
 * them already read by an earlier request of several blocks.  (fadvise is
 * not there to do it per file: the kernel has no ADVISE_SYSCALLS without
 * an MMU.)  Returns 0, or says why not and returns -1.
 */
static int readahead_off(const char *path)
{
	struct lkl_statx stx;
	char knob[96];
	long fd, r;

	if (getenv("LKL_BENCH_READAHEAD"))
		return 0;	/* kept on, to see what it changes */
	r = lkl_sys_statx(LKL_AT_FDCWD, path, 0, LKL_STATX_TYPE, &stx);
	if (r < 0) {
		fprintf(stderr, "bench: statx %s: %s\n", path, lkl_strerror(r));
		return -1;
	}
	snprintf(knob, sizeof(knob), "/sys/dev/block/%u:%u/queue/read_ahead_kb",
		 stx.stx_dev_major, stx.stx_dev_minor);
	fd = lkl_sys_openat(LKL_AT_FDCWD, knob, LKL_O_WRONLY, 0);
	r = fd < 0 ? fd : lkl_sys_write(fd, "0", 1);
	if (fd >= 0)
		lkl_sys_close(fd);
	if (r < 0) {
		fprintf(stderr, "bench: cannot write %s: %s\n", knob, lkl_strerror(r));
		return -1;
	}
	return 0;
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
	map_file_blocks(fd);
	lkl_sys_close(fd);

	host_drop_caches(imgfd);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++) {
		unsigned long off = file_blocks[lrand48() % (FILE_SIZE / 4096)] * 4096;

		if (pread(imgfd, chunk, 4096, off) != 4096 || chunk[0] != 0x5a)
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
 * dropped, readahead is off (readahead_off()) and every block is read once,
 * so each read goes to the host's device.  The host baseline: pread with
 * O_DIRECT of as many distinct blocks of the file, where the image holds them.
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
	struct lkl_stats before, after;
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

	if (readahead_off("/mnt/direct/f"))
		abort();
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/direct/f", LKL_O_RDONLY, 0);
	lkl_sys_pread64(fd, abuf, 4096, 0);	/* the extent tree, once */
	shuffle(blocks, FILE_SIZE / 4096);
	lkl_stats(&before, sizeof(before));
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++)
		if (lkl_sys_pread64(fd, abuf, 4096, (blocks[i] + 1) % (FILE_SIZE / 4096) * 4096) != 4096)
			abort();
	record("direct-randread-qd1", "lkl", "latency", (now_ns() - t0) / RAND_READS / 1e3, "us");
	lkl_stats(&after, sizeof(after));
	/* Where the time goes: CPU handoffs and CPU-thread wake-ups per read. */
	record("direct-randread-qd1", "lkl", "handoffs_per_read",
	       (double)(after.cpu_handoffs - before.cpu_handoffs) / RAND_READS, "count");
	record("direct-randread-qd1", "lkl", "cpu_wakeups_per_read",
	       (double)(after.cpu_thread_wakeups - before.cpu_thread_wakeups) / RAND_READS, "count");
	record("direct-randread-qd1", "lkl", "disk_requests_per_read",
	       (double)(after.disk_requests_queued - before.disk_requests_queued) / RAND_READS, "count");

	/* The host reads the same blocks, in a random order of its own. */
	map_file_blocks(fd);
	lkl_sys_close(fd);

	imgfd = open(img, O_RDONLY | O_DIRECT);
	shuffle(blocks, FILE_SIZE / 4096);
	t0 = now_ns();
	for (int i = 0; i < RAND_READS; i++)
		if (pread(imgfd, abuf, 4096, file_blocks[blocks[i]] * 4096) != 4096 ||
		    abuf[0] != 0x5a)	/* the file's bytes, or the map is wrong */
			abort();
	record("direct-randread-qd1", "host", "latency", (now_ns() - t0) / RAND_READS / 1e3, "us");
	close(imgfd);

	lkl_umount("/mnt/direct");
	lkl_disk_detach(disk);
	unlink(img);
	free(abuf);
}

/* --- syslets: asynchronous chains with completions in a ring ------------- */

/*
 * Set when a syslet scenario got a wrong result (not a slow one): it records
 * nothing and main() exits with 1, so that a broken implementation never
 * passes for a fast one.
 */
static int syslet_failures;

static void __attribute__((format(printf, 2, 3))) syslet_fail(const char *scenario, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: %s: FAILED: ", scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	syslet_failures++;
}

/*
 * A chain whose completion never comes would leave the bench asleep in
 * async_wait (or async_exec) for ever, its figures unprinted.  While a
 * syslet loop runs it counts completions here; a host thread that sees no
 * progress for STALL_SECS says where it stopped, prints what was measured
 * and ends the process.
 */
#define STALL_SECS	30

static struct {
	const char *scenario;	/* NULL: nothing watched */
	struct lkl_syslet_ring *ring;
	long progress;
	int inflight;
	char image[256];	/* removed on a stall: 512 MiB each */
} watch;

static void print_results(void);

static void watch_start(const char *scenario, struct lkl_syslet_ring *ring)
{
	watch.ring = ring;
	watch.inflight = 0;
	__atomic_store_n(&watch.scenario, scenario, __ATOMIC_RELEASE);
}

static void watch_stop(void)
{
	__atomic_store_n(&watch.scenario, NULL, __ATOMIC_RELEASE);
}

static void watch_tick(int inflight)
{
	watch.inflight = inflight;
	__atomic_add_fetch(&watch.progress, 1, __ATOMIC_RELAXED);
}

static void *watchdog(void *unused)
{
	long last = -1;
	int still = 0;

	for (;;) {
		const char *sc;
		long now;
		struct lkl_stats st;

		sleep(1);
		sc = __atomic_load_n(&watch.scenario, __ATOMIC_ACQUIRE);
		now = __atomic_load_n(&watch.progress, __ATOMIC_RELAXED);
		if (!sc || now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still < STALL_SECS)
			continue;
		lkl_stats(&st, sizeof(st));
		fprintf(stderr, "bench: %s: STALLED: no completion for %d s, %d chains in flight, "
			"ring head %u tail %u; lkl_stats: cachemisses %llu completions %llu "
			"chains_inline %llu contexts created %llu freed %llu\n", sc, STALL_SECS,
			watch.inflight, watch.ring->kernel_head, watch.ring->user_tail,
			st.syslet_cachemisses, st.syslet_completions, st.syslet_chains_inline,
			st.syslet_contexts_created, st.syslet_contexts_freed);
		if (watch.image[0])
			unlink(watch.image);
		print_results();
		fflush(stdout);
		_exit(1);
	}
	return NULL;
}

static struct lkl_syslet_completion *ring_entries(struct lkl_syslet_ring *ring)
{
	return (struct lkl_syslet_completion *)(ring + 1);
}

static struct lkl_syslet_ring *ring_alloc(unsigned int entries)
{
	size_t size = sizeof(struct lkl_syslet_ring) + entries * sizeof(struct lkl_syslet_completion);
	struct lkl_syslet_ring *ring;

	if (posix_memalign((void **)&ring, 64, size))
		abort();
	memset(ring, 0, size);
	ring->entries = entries;
	return ring;
}

/*
 * Takes up to @max completions (the protocol of the spec: acquire
 * kernel_head, read the entries, release user_tail), returns their number.
 * A completion waiting for space is told after the tail moved; the rings
 * here are larger than what is in flight, so that should never happen.
 */
static int ring_pop(struct lkl_syslet_ring *ring, struct lkl_syslet_completion *out, int max)
{
	unsigned int head = __atomic_load_n(&ring->kernel_head, __ATOMIC_ACQUIRE);
	unsigned int tail = ring->user_tail;
	int n = 0;

	while (tail != head && n < max)
		out[n++] = ring_entries(ring)[tail++ & (ring->entries - 1)];
	__atomic_store_n(&ring->user_tail, tail, __ATOMIC_RELEASE);
	if (__atomic_load_n(&ring->flags, __ATOMIC_ACQUIRE) & LKL_SYSLET_RING_WAITING)
		lkl_sys_async_ring_notify(ring);
	return n;
}

/*
 * One chain of one atom, pread64(fd, buf, len, off): the argument slots
 * live with the atom, so that chains in flight together never share one
 * (the kernel reads them only when the atom runs, which may be long after
 * async_exec returned).
 */
struct chain {
	uint64_t fd, buf, len, off;
	int64_t ret;
	struct lkl_syslet_atom atom;
};

static void chain_init(struct chain *c, long fd, void *buf, unsigned long private)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->buf = (uintptr_t)buf;
	c->len = 4096;
	c->atom.nr = __LKL_NR_pread64;
	c->atom.ret_ptr = (uintptr_t)&c->ret;
	c->atom.arg_ptr[0] = (uintptr_t)&c->fd;
	c->atom.arg_ptr[1] = (uintptr_t)&c->buf;
	c->atom.arg_ptr[2] = (uintptr_t)&c->len;
	c->atom.arg_ptr[3] = (uintptr_t)&c->off;
	c->atom.private = private;
}

/*
 * syslet_pread_4k_cached: a pread64 atom that never sleeps (the 1 MiB file
 * in the kernel's tmpfs, as pread_4k_cached) against the same lkl_sys_pread64
 * made directly: the price of an atom over a plain call.  async_exec must
 * return the atom's address (the chain completed inline, nothing posted);
 * anything else is a wrong result, not a slow one.
 */
static struct chain cached_chain;
static struct lkl_syslet_ring *cached_ring;
static int cached_failed;

static void syslet_pread4k(long n)
{
	struct lkl_syslet_atom *atom = &cached_chain.atom;

	for (long i = 0; i < n && !cached_failed; i++) {
		long r;

		cached_chain.off = (i & 255) * 4096;
		r = lkl_sys_async_exec(atom, cached_ring);
		if (r != (long)atom)
			syslet_fail("syslet_pread_4k_cached", "async_exec returned %ld, not the atom (%p)",
				    r, (void *)atom);
		else if (cached_chain.ret != 4096)
			syslet_fail("syslet_pread_4k_cached", "pread64 atom returned %lld",
				    (long long)cached_chain.ret);
		else
			continue;
		cached_failed = 1;	/* the rest of per_op_ns() runs empty */
	}
}

static void syslet_pread_cached(void)
{
	double syslet;

	cached_ring = ring_alloc(64);
	chain_init(&cached_chain, lkl_fd, buf, 0);
	syslet = per_op_ns(syslet_pread4k, 200000);
	if (cached_failed)
		return;	/* the ring stays: a chain may still post to it */
	record("syslet_pread_4k_cached", "lkl-syslet", "latency", syslet, "ns");
	record("syslet_pread_4k_cached", "lkl-sync", "latency", per_op_ns(lkl_pread4k, 200000), "ns");
	free(cached_ring);
}

/*
 * syslet_cachemiss_return: how long the caller waits when the chain's first
 * atom sleeps at once (a read from an empty pipe): async_exec should hand
 * the sleeping atom to a spare context and return 0 without any other host
 * thread being created, woken or handed the CPU.  Then the pipe is written
 * and the completion consumed, outside the timed part.
 */
#define CACHEMISS_CALLS	2000
#define CACHEMISS_WARM	100

static void syslet_cachemiss(void)
{
	/* Static: after a failure a chain may still write them. */
	static uint64_t fd_slot, buf_slot, len_slot = 1;
	static struct lkl_syslet_atom atom;
	static int64_t ret;
	static char byte;
	static double t[CACHEMISS_CALLS];
	static const char *sc = "syslet_cachemiss_return";
	unsigned long long handoffs = 0, created = 0, notifies = 0, misses = 0;
	struct lkl_syslet_ring *ring = ring_alloc(4);
	struct lkl_syslet_completion c;
	struct lkl_stats before, after;
	int fds[2];
	long r;

	if (lkl_sys_pipe2(fds, 0)) {
		syslet_fail(sc, "pipe2 failed");
		return;
	}
	fd_slot = fds[0];
	buf_slot = (uintptr_t)&byte;
	atom.nr = __LKL_NR_read;
	atom.ret_ptr = (uintptr_t)&ret;
	atom.arg_ptr[0] = (uintptr_t)&fd_slot;
	atom.arg_ptr[1] = (uintptr_t)&buf_slot;
	atom.arg_ptr[2] = (uintptr_t)&len_slot;
	atom.private = 0x5e1e7;

	/* The first calls fill the pool of spare contexts: not counted. */
	watch_start(sc, ring);
	for (int i = -CACHEMISS_WARM; i < CACHEMISS_CALLS; i++) {
		double t0;

		lkl_stats(&before, sizeof(before));
		t0 = now_ns();
		r = lkl_sys_async_exec(&atom, ring);
		if (i >= 0)
			t[i] = now_ns() - t0;
		lkl_stats(&after, sizeof(after));
		if (r) {
			syslet_fail(sc, "async_exec of a read from an empty pipe returned %ld, not 0", r);
			return;	/* the ring and pipe stay: a chain may still use them */
		}
		if (i >= 0) {
			handoffs += after.cpu_handoffs - before.cpu_handoffs;
			created += after.host_threads_created - before.host_threads_created;
			notifies += after.cpu_thread_notifies - before.cpu_thread_notifies;
			misses += after.syslet_cachemisses - before.syslet_cachemisses;
		}
		if (lkl_sys_write(fds[1], "x", 1) != 1) {
			syslet_fail(sc, "pipe write failed");
			return;
		}
		r = lkl_sys_async_wait(ring, 1);
		if (r != 1 || ring_pop(ring, &c, 1) != 1) {
			syslet_fail(sc, "async_wait returned %ld (ring head %u, tail %u)", r,
				    ring->kernel_head, ring->user_tail);
			return;
		}
		if (c.result != 1 || c.private != atom.private) {
			syslet_fail(sc, "completion {%lld, %#llx}, expected {1, 0x5e1e7}",
				    (long long)c.result, (unsigned long long)c.private);
			return;
		}
		watch_tick(0);
	}
	watch_stop();
	record(sc, "lkl-syslet", "latency", median(t, CACHEMISS_CALLS), "ns");
	/* Per call, between the call and its return; the aim is 0 (1 miss). */
	record(sc, "lkl-syslet", "handoffs_per_call", (double)handoffs / CACHEMISS_CALLS, "count");
	record(sc, "lkl-syslet", "threads_created_per_call", (double)created / CACHEMISS_CALLS, "count");
	record(sc, "lkl-syslet", "notifies_per_call", (double)notifies / CACHEMISS_CALLS, "count");
	record(sc, "lkl-syslet", "cachemisses_per_call", (double)misses / CACHEMISS_CALLS, "count");
	lkl_sys_close(fds[0]);
	lkl_sys_close(fds[1]);
	free(ring);
}

/*
 * Random 4 KiB reads with many in flight from one thread: each chain is one
 * pread64 atom; @qd are submitted, and each completion submits the next.
 * Completions come from the ring; only when it is empty does the thread
 * sleep in async_wait(ring, 1).  A chain that completes inline (the block
 * was cached after all) counts at once.  Reads the blocks @blocks[0..n) of
 * @fd, or as many as fit in RANDREAD_SECS; returns the reads per second and
 * sets *@done, or returns -1 after saying what was wrong.
 */
#define QD_MAX		32
#define RANDREAD_SECS	2.0

static struct chain chains[QD_MAX];

static double syslet_randread(const char *sc, long fd, const unsigned long *blocks, long n,
			      int qd, long *done)
{
	/* Twice the chains in flight: a completion never waits for space. */
	struct lkl_syslet_ring *ring = ring_alloc(2 * QD_MAX);
	struct lkl_syslet_completion comp[QD_MAX];
	int free_chains[QD_MAX], nfree = qd, inflight = 0;
	double t0, deadline;
	long submitted = 0;
	char *bufs;
	int got;

	if (posix_memalign((void **)&bufs, 4096, QD_MAX * 4096))
		abort();
	for (int i = 0; i < qd; i++) {
		chain_init(&chains[i], fd, bufs + i * 4096, i);
		free_chains[i] = i;
	}
	*done = 0;
	watch_start(sc, ring);
	t0 = now_ns();
	deadline = t0 + RANDREAD_SECS * 1e9;
	for (;;) {
		while (nfree && submitted < n) {
			int i;
			long r;

			if ((submitted & 63) == 0 && now_ns() > deadline) {
				n = submitted;	/* time is up: drain what is in flight */
				break;
			}
			i = free_chains[--nfree];
			chains[i].off = blocks[submitted++] * 4096;
			chains[i].ret = -1;
			r = lkl_sys_async_exec(&chains[i].atom, ring);
			if (r == (long)&chains[i].atom) {
				if (chains[i].ret != 4096) {
					syslet_fail(sc, "inline pread64 atom returned %lld (chain %d)",
						    (long long)chains[i].ret, i);
					return -1;	/* chains may be in flight: keep ring and buffers */
				}
				free_chains[nfree++] = i;
				++*done;
				watch_tick(inflight);
			} else if (r == 0) {
				inflight++;
				watch_tick(inflight);
			} else {
				syslet_fail(sc, "async_exec returned %ld (chain %d)", r, i);
				return -1;
			}
		}
		if (!inflight)
			break;
		got = ring_pop(ring, comp, QD_MAX);
		for (int k = 0; k < got; k++) {
			unsigned long i = comp[k].private;

			if (comp[k].result != 4096 || i >= (unsigned long)qd) {
				syslet_fail(sc, "completion {%lld, private %llu}, expected {4096, a chain}",
					    (long long)comp[k].result, (unsigned long long)comp[k].private);
				return -1;
			}
			free_chains[nfree++] = i;
			inflight--;
			++*done;
			watch_tick(inflight);
		}
		if (!got) {
			long r = lkl_sys_async_wait(ring, 1);

			if (r < 1) {
				syslet_fail(sc, "async_wait returned %ld with %d in flight", r, inflight);
				return -1;
			}
		}
	}
	watch_stop();
	free(ring);
	free(bufs);
	return *done / ((now_ns() - t0) / 1e9);
}

/* The host's baseline: the same reads with liburing at @qd, one thread. */
static double uring_randread(int fd, const unsigned long *blocks, long n, int qd,
			     long *reads)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	long submitted = 0, done = 0;
	double t0, deadline;
	int inflight = 0;
	char *bufs;

	if (io_uring_queue_init(qd, &ring, 0) || posix_memalign((void **)&bufs, 4096, QD_MAX * 4096)) {
		fprintf(stderr, "bench: io_uring_queue_init failed\n");
		return -1;
	}
	t0 = now_ns();
	deadline = t0 + RANDREAD_SECS * 1e9;
	for (int i = 0; i < qd && submitted < n; i++, inflight++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, fd, bufs + i * 4096, 4096, blocks[submitted++] * 4096);
		sqe->user_data = i;
	}
	while (inflight) {
		unsigned int head, seen = 0;

		io_uring_submit_and_wait(&ring, 1);
		if (now_ns() > deadline)
			n = submitted;
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct io_uring_sqe *sqe;
			long i = cqe->user_data;

			if (cqe->res != 4096) {
				fprintf(stderr, "bench: io_uring read returned %d\n", cqe->res);
				abort();
			}
			seen++;
			done++;
			inflight--;
			if (submitted < n) {
				sqe = io_uring_get_sqe(&ring);
				io_uring_prep_read(sqe, fd, bufs + i * 4096, 4096,
						   blocks[submitted++] * 4096);
				sqe->user_data = i;
				inflight++;
			}
		}
		io_uring_cq_advance(&ring, seen);
	}
	io_uring_queue_exit(&ring);
	free(bufs);
	*reads = done;
	return done / ((now_ns() - t0) / 1e9);
}

/*
 * An image every block of which is on the host's medium: written with
 * zeros, and mke2fs told not to discard (which punches holes in a file).
 * Reads of a hole cost the host nothing, so a baseline reading the whole
 * image would otherwise be flattered.
 */
static int make_full_image(const char *img)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of=%s bs=1M count=512 conv=fsync status=none && "
		 "mke2fs -q -F -t ext4 -E nodiscard %s >/dev/null 2>&1", img, img);
	return system(cmd);
}

/* The kernel's 256 MiB file, opened for random reads with nothing cached. */
static long open_for_randread(const char *path)
{
	long fd;

	kernel_drop_caches();
	if (readahead_off(path))
		return -LKL_EINVAL;
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY, 0);
	if (fd < 0)
		return fd;
	lkl_sys_pread64(fd, chunk, 4096, 0);	/* the extent tree, once */
	return fd;
}

#define FILE_BLOCKS	(FILE_SIZE / 4096)
#define IMAGE_BLOCKS	((512UL << 20) / 4096)
#define IO_TRIALS	5
#define LATENCY_NS	200000ULL
#define LATENCY_QD32_READS	20000
#define LATENCY_QD1_READS	2000

static unsigned long rand_blocks[IMAGE_BLOCKS];

/* The trials of one system, and the lkl_stats deltas that say where the time went. */
struct randread_runs {
	double ops[IO_TRIALS];
	int n, failed;
	long done;
	double cpu_ns, last_cpu_per_op;
	unsigned long long misses, handoffs, wakeups;
};

/* One trial of the kernel's reads: a fresh random order, nothing cached. */
static void syslet_trial(struct randread_runs *runs, const char *sc, const char *path,
			 long n, int qd)
{
	struct lkl_stats before, after;
	double ops, cpu;
	long fd, done;

	if (runs->failed)
		return;
	fd = open_for_randread(path);
	if (fd < 0) {
		syslet_fail(sc, "cannot open %s: %s", path, lkl_strerror(fd));
		runs->failed = 1;
		return;
	}
	shuffle(rand_blocks, FILE_BLOCKS);
	lkl_stats(&before, sizeof(before));
	cpu = process_cpu_ns();
	ops = syslet_randread(sc, fd, rand_blocks, n, qd, &done);
	cpu = process_cpu_ns() - cpu;
	lkl_stats(&after, sizeof(after));
	watch_stop();
	lkl_sys_close(fd);
	if (ops < 0 || !done) {
		runs->failed = 1;
		return;
	}
	runs->ops[runs->n++] = ops;
	runs->done += done;
	runs->cpu_ns += cpu;
	runs->last_cpu_per_op = cpu / done;
	runs->misses += after.syslet_cachemisses - before.syslet_cachemisses;
	runs->handoffs += after.cpu_handoffs - before.cpu_handoffs;
	runs->wakeups += after.cpu_thread_wakeups - before.cpu_thread_wakeups;
}

static void record_runs(const struct randread_runs *runs, const char *sc, const char *system)
{
	double ops[IO_TRIALS];

	if (runs->failed || !runs->n)
		return;
	memcpy(ops, runs->ops, sizeof(ops));
	record(sc, system, "iops", median(ops, runs->n), "ops/s");
	/* The first trial alone: on tmpfs the later ones read through a warm mapping. */
	record(sc, system, "iops_first_trial", runs->ops[0], "ops/s");
	/* CPU of all the process's threads per read, over all trials. */
	record(sc, system, "cpu_per_op", runs->cpu_ns / runs->done / 1e3, "us");
	if (!strncmp(system, "host", 4))
		return;	/* a host loop: no kernel counters */
	/* Per read, over all trials: ~1 miss per read means every read slept. */
	record(sc, system, "cachemisses_per_op", (double)runs->misses / runs->done, "count");
	record(sc, system, "handoffs_per_op", (double)runs->handoffs / runs->done, "count");
	record(sc, system, "cpu_wakeups_per_op", (double)runs->wakeups / runs->done, "count");
}

/* One trial of the host's: a fresh random order over the whole image. */
static void uring_trial(struct randread_runs *runs, int imgfd, long n)
{
	double ops, cpu;
	long done;

	if (imgfd < 0)
		return;
	shuffle(rand_blocks, IMAGE_BLOCKS);
	cpu = process_cpu_ns();
	ops = uring_randread(imgfd, rand_blocks, n, QD_MAX, &done);
	cpu = process_cpu_ns() - cpu;
	if (ops > 0 && done) {
		runs->ops[runs->n++] = ops;
		runs->done += done;
		runs->cpu_ns += cpu;
	}
}

/* Busy for @ns of wall time: the work a completion costs, stood in for. */
static void spin_ns(double ns)
{
	double end = now_ns() + ns;

	while (now_ns() < end)
		;
}

/*
 * What randread_4k_latency_disk can reach on this machine at best: the
 * host's own io_uring timeouts of LATENCY_NS, @qd in flight, every
 * completion re-armed at once after @work_ns of busy CPU, on one thread
 * (the one thread the kernel's reads run on).  With no work this is the
 * host's ceiling for overlapping timers; with the kernel's CPU per read,
 * the ceiling for a thread that costs that much per read.
 */
static double host_timeouts(int qd, long n, double work_ns, long *done)
{
	struct __kernel_timespec ts = { 0, LATENCY_NS };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	long armed = 0;
	double t0;

	*done = 0;
	if (io_uring_queue_init(2 * qd, &ring, 0))
		return -1;
	t0 = now_ns();
	for (; armed < qd && armed < n; armed++)
		io_uring_prep_timeout(io_uring_get_sqe(&ring), &ts, 0, 0);
	while (*done < n) {
		unsigned int head, seen = 0;

		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe)
			seen++;
		io_uring_cq_advance(&ring, seen);
		for (unsigned int k = 0; k < seen; k++, ++*done) {
			spin_ns(work_ns);
			if (armed < n) {
				io_uring_prep_timeout(io_uring_get_sqe(&ring), &ts, 0, 0);
				armed++;
			}
		}
	}
	io_uring_queue_exit(&ring);
	return *done / ((now_ns() - t0) / 1e9);
}

static void timeouts_trial(struct randread_runs *runs, long n, double work_ns)
{
	double ops, cpu = process_cpu_ns();
	long done;

	ops = host_timeouts(QD_MAX, n, work_ns, &done);
	cpu = process_cpu_ns() - cpu;
	if (ops <= 0)
		return;
	runs->ops[runs->n++] = ops;
	runs->done += done;
	runs->cpu_ns += cpu;
	runs->last_cpu_per_op = cpu / done;
}

/*
 * randread_4k_qd32_<label>: a 256 MiB file written through the kernel into
 * an ext4 image in @dir (attached with @flags), the kernel's cache dropped,
 * then every block read once in random order, 32 chains in flight, against
 * liburing at QD32 over the image file (O_DIRECT when the disk is, as the
 * library opens it).  Trials alternate between the two, so that a neighbour
 * on the machine slows both alike; each figure is the median.  On tmpfs
 * also randread_4k_latency_disk: the same image attached with a 200 us
 * latency per request, 32 in flight against 1.
 */
static void syslet_randread_bench(const char *dir, const char *label, int flags,
				  int latency_only)
{
	const char *sc = scenario_name("randread_4k_qd32", label);
	char img[256];
	struct lkl_disk_options lat = { 0, LATENCY_NS };
	struct randread_runs lkl = { 0 }, host = { 0 }, qd32 = { 0 }, qd1 = { 0 };
	struct randread_runs timeouts = { 0 }, timeouts_busy = { 0 };
	int disk, imgfd;
	long fd;

	snprintf(img, sizeof(img), "%s/lkl-bench-syslet-%d.img", dir, getpid());
	memcpy(watch.image, img, sizeof(img));
	if (make_full_image(img)) {
		fprintf(stderr, "bench: cannot make %s\n", img);
		return;
	}
	disk = lkl_disk_attach(img, flags);
	if (disk < 0 || lkl_mount(disk, "ext4", "/mnt/sbench", 0, NULL)) {
		fprintf(stderr, "bench: cannot attach/mount %s: %s\n", img,
			lkl_strerror(disk < 0 ? disk : -5));
		unlink(img);
		return;
	}
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/sbench/f", LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0644);
	for (unsigned long off = 0; off < FILE_SIZE; off += CHUNK)
		if (lkl_sys_write(fd, chunk, CHUNK) != (long)CHUNK)
			abort();
	lkl_sys_fsync(fd);
	lkl_sys_close(fd);

	/* The host reads the image while it is attached: nothing writes it now. */
	imgfd = open(img, O_RDONLY | (flags & LKL_DISK_DIRECT ? O_DIRECT : 0));
	if (imgfd < 0)
		fprintf(stderr, "bench: cannot open %s for the host's reads\n", img);
	for (int t = 0; t < IO_TRIALS && !latency_only; t++) {
		syslet_trial(&lkl, sc, "/mnt/sbench/f", FILE_BLOCKS, QD_MAX);
		uring_trial(&host, imgfd, FILE_BLOCKS);
	}
	record_runs(&lkl, sc, "lkl-syslet");
	record_runs(&host, sc, "host-io_uring");
	if (imgfd >= 0)
		close(imgfd);
	lkl_umount("/mnt/sbench");
	lkl_disk_detach(disk);

	if (!(flags & LKL_DISK_DIRECT)) {
		/* Every read sleeps for the latency: what overlapping them gains. */
		sc = "randread_4k_latency_disk";
		disk = lkl_disk_attach_opts(img, &lat);
		if (disk < 0 || lkl_mount(disk, "ext4", "/mnt/sbench", 0, NULL)) {
			fprintf(stderr, "bench: cannot attach/mount %s with latency: %s\n", img,
				lkl_strerror(disk < 0 ? disk : -5));
		} else {
			for (int t = 0; t < IO_TRIALS; t++) {
				syslet_trial(&qd32, sc, "/mnt/sbench/f", LATENCY_QD32_READS, QD_MAX);
				syslet_trial(&qd1, sc, "/mnt/sbench/f", LATENCY_QD1_READS, 1);
				/* The ceilings, next to each trial: bare timers, then
				 * timers plus the kernel's CPU per read (less what the
				 * loop itself costs per timeout). */
				timeouts_trial(&timeouts, LATENCY_QD32_READS, 0);
				if (!qd32.failed && timeouts.n)
					timeouts_trial(&timeouts_busy, LATENCY_QD32_READS,
						       qd32.last_cpu_per_op > timeouts.last_cpu_per_op ?
						       qd32.last_cpu_per_op - timeouts.last_cpu_per_op : 0);
			}
			record_runs(&qd32, sc, "lkl-syslet-qd32");
			record_runs(&qd1, sc, "lkl-syslet-qd1");
			record_runs(&timeouts, sc, "host-timeouts-qd32");
			record_runs(&timeouts_busy, sc, "host-timeouts-qd32-busy");
			lkl_umount("/mnt/sbench");
			lkl_disk_detach(disk);
		}
	}
	unlink(img);
	watch.image[0] = 0;
}

static void syslet_bench(void)
{
	pthread_t watcher;
	const char *only = getenv("LKL_BENCH_SYSLET_DISK");

	pthread_create(&watcher, NULL, watchdog, NULL);
	if (!only || !strcmp(only, "none")) {
		syslet_pread_cached();
		syslet_cachemiss();
		watch_stop();
	}
	if (!only || !strcmp(only, "tmpfs") || !strcmp(only, "latency"))
		syslet_randread_bench("/dev/shm", "tmpfs", 0, only && !strcmp(only, "latency"));
	if (!only || !strcmp(only, "odirect_disk"))
		syslet_randread_bench(getenv("LKL_BENCH_DISK_DIR") ?: "/var/tmp", "odirect_disk",
				      LKL_DISK_DIRECT, 0);
}

/*
 * The syslet figures next to their baselines, measured in the same run:
 * value / baseline (ns: lower is better; ops/s: higher is better).
 */
static const struct { const char *system, *baseline; } syslet_pairs[] = {
	{ "lkl-syslet", "lkl-sync" },
	{ "lkl-syslet", "host-io_uring" },
	{ "lkl-syslet-qd32", "lkl-syslet-qd1" },
	{ "host-io_uring", NULL },
	{ "host-timeouts-qd32", "lkl-syslet-qd1" },
	{ "host-timeouts-qd32-busy", "lkl-syslet-qd1" },
};

static struct result *find_result(const char *scenario, const char *system, const char *metric)
{
	for (int i = 0; i < nresults; i++)
		if (!strcmp(results[i].scenario, scenario) && !strcmp(results[i].system, system) &&
		    !strcmp(results[i].metric, metric))
			return &results[i];
	return NULL;
}

static void print_syslet_table(void)
{
	int header = 0;

	for (int i = 0; i < nresults; i++) {
		struct result *r = &results[i], *b = NULL;
		int mine = 0;

		for (unsigned int p = 0; p < sizeof(syslet_pairs) / sizeof(syslet_pairs[0]); p++) {
			if (strcmp(r->system, syslet_pairs[p].system))
				continue;
			mine = 1;
			if (syslet_pairs[p].baseline)
				b = b ?: find_result(r->scenario, syslet_pairs[p].baseline, r->metric);
		}
		if (!mine)
			continue;
		if (!header++)
			printf("\n%-30s %-18s %-23s %12s %-6s %-15s %12s %8s\n", "syslet scenario",
			       "metric", "system", "value", "", "baseline", "value", "ratio");
		/* Counts per call are fractions; the rest are large. */
		printf(strcmp(r->unit, "count") ? "%-30s %-18s %-23s %12.1f %-6s" :
		       "%-30s %-18s %-23s %12.3f %-6s", r->scenario, r->metric, r->system, r->value,
		       r->unit);
		/* A count's baseline is shown for comparison; its ratio means little. */
		if (b && !strcmp(r->unit, "count"))
			printf(" %-15s %12.3f %8s\n", b->system, b->value, "-");
		else if (b)
			printf(" %-15s %12.1f %8.2f\n", b->system, b->value, r->value / b->value);
		else
			printf(" %-15s %12s %8s\n", "-", "-", "-");
	}
}

static double boot_ms;

/* The tables, then one JSON object per line. */
static void print_results(void)
{
	printf("%-34s %14s %14s %8s\n", "scenario", "lkl", "host", "lkl/host");
	for (int i = 0; i < nresults; i++) {
		struct result *r = &results[i], *h = NULL;

		if (strcmp(r->system, "lkl"))
			continue;
		for (int j = 0; j < nresults; j++)
			if (!strcmp(results[j].scenario, r->scenario) &&
			    !strcmp(results[j].metric, r->metric) &&
			    !strcmp(results[j].system, "host"))
				h = &results[j];
		if (h)
			printf("%-34s %9.1f %-4s %9.1f %-4s %8.2f\n", r->scenario, r->value,
			       r->unit, h->value, h->unit, r->value / h->value);
		else
			printf("%-34s %9.3f %-4s %14s %8s  (%s)\n", r->scenario, r->value, r->unit,
			       "-", "-", r->metric);
	}
	printf("(boot itself: %.1f ms)\n", boot_ms);
	print_syslet_table();
	for (int i = 0; i < nresults; i++)
		printf("{\"scenario\": \"%s\", \"system\": \"%s\", \"metric\": \"%s\", "
		       "\"value\": %.3f, \"unit\": \"%s\"}\n", results[i].scenario,
		       results[i].system, results[i].metric, results[i].value, results[i].unit);
}

int main(void)
{
	static char data[1 << 20];
	char host_path[] = "/dev/shm/lkl-bench-XXXXXX";
	double t0, first_ms;
	int syslet_only = !!getenv("LKL_BENCH_SYSLET_ONLY");

	t0 = now_ns();
	if (lkl_boot("mem=512M")) {
		fprintf(stderr, "bench: boot failed\n");
		return 1;
	}
	boot_ms = (now_ns() - t0) / 1e6;
	lkl_sys_getpid();
	first_ms = (now_ns() - t0) / 1e6;
	record("boot_to_first_syscall_512m", "lkl", "time", first_ms, "ms");

	if (!syslet_only) {
		record("null_syscall", "lkl", "latency", per_op_ns(lkl_null, 1000000), "ns");
		record("null_syscall", "host", "latency", per_op_ns(host_null, 1000000), "ns");
		first_call_after_quiet();
		first_call_after_idle();
	}

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
	if (!syslet_only) {
		record("pread_4k_cached", "lkl", "latency", per_op_ns(lkl_pread4k, 200000), "ns");
		record("pread_4k_cached", "host", "latency", per_op_ns(host_pread4k, 200000), "ns");
	}

	chunk = malloc(CHUNK);
	memset(chunk, 0x5a, CHUNK);
	lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555);
	lkl_sys_mount("proc", "/proc", "proc", 0, NULL);
	lkl_sys_mkdirat(LKL_AT_FDCWD, "/sys", 0555);
	lkl_sys_mount("sysfs", "/sys", "sysfs", 0, NULL);
	if (!syslet_only && !getenv("LKL_BENCH_DIRECT_ONLY")) {
		disk_bench("/dev/shm", "tmpfs");
		disk_bench(getenv("LKL_BENCH_DISK_DIR") ?: "/var/tmp", "disk");
	}
	if (!syslet_only)
		direct_bench(getenv("LKL_BENCH_DISK_DIR") ?: "/var/tmp");
	if (!getenv("LKL_BENCH_DIRECT_ONLY"))
		syslet_bench();
	lkl_halt();

	print_results();
	if (syslet_failures)
		fprintf(stderr, "bench: %d syslet scenario(s) FAILED (above): their figures are missing\n",
			syslet_failures);
	return syslet_failures ? 1 : 0;
}
