// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disks: host image files attached as kernel block devices.
 *
 * Two backends serve the kernel's block requests:
 *  - io_uring (liburing): requests of one batch go in one submission;
 *    completions are reaped in batches by the thread releasing the CPU or by
 *    the CPU thread, woken from its idle wait by the ring's eventfd;
 *  - threads: a small pool of workers doing preadv/pwritev, used when
 *    io_uring is unavailable (containers often forbid it).
 * LKL_DISK_BACKEND=uring|threads selects one; by default io_uring is tried
 * first.  All disks share the backend.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <lkl.h>
#include <lkl/syscalls.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/mount.h>
#include <sys/mman.h>

#include "host.h"

#define MAX_DISKS		64
#define RING_ENTRIES		256
#define POOL_THREADS		2
#define MAX_LATENCY_NS		10000000000ULL	/* 10 s */

struct host_disk {
	int fd;
	int own_fd;
	int read_only;
	int in_memory;		/* on tmpfs/ramfs: I/O never waits for a device */
	int direct;		/* opened with O_DIRECT */
	unsigned int mem_align;	/* O_DIRECT: buffer address alignment */
	unsigned int off_align;	/* O_DIRECT: offset and length alignment */
	pthread_mutex_t bounce_lock;	/* serialises read-modify-write */
	unsigned long long latency_ns;	/* injected before every request */
	struct __kernel_timespec latency_ts;
	const char *map;		/* in memory: the image, mapped read-only */
	unsigned char *units;		/* per 64 KiB of it: how it is read (map_read()) */
	unsigned long long map_units;	/* whole units the map covers */
	unsigned long long size;
	char mount_point[256];	/* where lkl_mount() mounted it, if anywhere */
};

static struct host_disk *disks[MAX_DISKS];
static pthread_mutex_t disks_lock = PTHREAD_MUTEX_INITIALIZER;

enum { BACKEND_NONE, BACKEND_URING, BACKEND_THREADS };
static int backend;

/* --- reads of an in-memory image through a mapping -------------------- */

/*
 * An image on tmpfs is read by copying from a shared read-only mapping of
 * it rather than with preadv, where that pays.  A 4 KiB read of a page the
 * mapping already maps is a 0.4 us copy instead of a 2 us system call (on
 * this project's PVM guests), but the first touch of a mapped region is a
 * host page fault, 10-15 us there, for up to 16 pages (fault-around).  So
 * the image is looked at in 64 KiB units, and a unit is read through the
 * mapping only:
 *  - by small reads (MAP_READ_MAX): one preadv of many pages costs less
 *    than touching them;
 *  - once small preadvs have read it MAP_HOT_READS times: scattered pages
 *    read once or twice stay on preadv, and a hot unit pays its fault back
 *    within a few reads;
 *  - if all its pages hold data in the host file (mincore() when it turns
 *    hot): reading a hole through a mapping allocates it, and a sparse image
 *    would grow to its full size in the host's memory.  A discard or write
 *    of zeroes sends its units back to cold; a write gives a unit with
 *    holes another chance.
 * This state only decides how a page is read, never what is read: both ways
 * see the same host page cache.  A fault in the copy (the file truncated
 * behind the library's back) falls back to preadv, which reports it.  Reads
 * done at submission only (try_inline()): a disk with injected latency
 * reads when its timeout expires, with preadv, as before.
 */
#define UNIT_SHIFT		16	/* a fault maps up to 16 pages around */
#define UNIT_PAGES		16
#define MAP_READ_MAX		(32UL << 10)
#define MAP_HOT_READS		16	/* unit states 0..15: small reads so far */
#define UNIT_HOLEY		254	/* hot, but not all of it is data */
#define UNIT_MAPPED		255	/* hot and all data: read through the map */
#define MAP_IMAGE_MAX		(64ULL << 30)	/* a state byte per 64 KiB: 1 MiB */

static void map_free(struct host_disk *disk)
{
	if (disk->map)
		munmap((void *)disk->map, disk->size);
	free(disk->units);
	disk->map = NULL;
	disk->units = NULL;
}

static void map_setup(struct host_disk *disk)
{
	unsigned long long units = disk->size >> UNIT_SHIFT;	/* whole units only */
	void *map;

	if (!disk->in_memory || disk->direct || !units || disk->size > MAP_IMAGE_MAX)
		return;
	disk->units = calloc(units, 1);
	if (!disk->units)
		return;
	map = mmap(NULL, disk->size, PROT_READ, MAP_SHARED, disk->fd, 0);
	if (map == MAP_FAILED) {
		map_free(disk);
		return;
	}
	disk->map = map;
	disk->map_units = units;
}

/*
 * The units [*first, *last] that @len bytes at @off touch, @last cut to the
 * end of the map.  Returns 1 if the map covers them all, 0 if not (or if
 * there is no map: then *first > *last).
 */
static int map_units(struct host_disk *disk, unsigned long long off, unsigned long long len,
		     unsigned long long *first, unsigned long long *last)
{
	*first = 1;
	*last = 0;
	if (!disk->map || !len)
		return 0;
	*first = off >> UNIT_SHIFT;
	*last = (off + len - 1) >> UNIT_SHIFT;
	if (*last < disk->map_units)
		return 1;
	*last = disk->map_units - 1;
	return 0;
}

/* A small read of mapped units, copied from the map.  Returns 1 if done. */
static int map_read(struct host_disk *disk, struct lkl_disk_request *req)
{
	unsigned long long off = req->offset, u, last;

	if (req->length > MAP_READ_MAX || !map_units(disk, off, req->length, &u, &last))
		return 0;
	for (; u <= last; u++)
		if (__atomic_load_n(&disk->units[u], __ATOMIC_RELAXED) != UNIT_MAPPED)
			return 0;
	for (int i = 0; i < req->nr_segs; i++) {
		if (lkl_uc_copy(req->segs[i].base, disk->map + off, req->segs[i].len))
			return 0;	/* a fault: preadv redoes it whole */
		off += req->segs[i].len;
	}
	__atomic_add_fetch(&lkl_host_stats.disk_reads_mapped, 1, __ATOMIC_RELAXED);
	return 1;
}

/* After a small preadv of @req: count it in its units; a unit that turns hot is checked. */
static void map_learn(struct host_disk *disk, struct lkl_disk_request *req)
{
	unsigned long long u, last;

	if (req->length > MAP_READ_MAX || !map_units(disk, req->offset, req->length, &u, &last))
		return;
	for (; u <= last; u++) {
		unsigned char state = __atomic_load_n(&disk->units[u], __ATOMIC_RELAXED);
		unsigned char resident[UNIT_PAGES];
		int all = 1;

		if (state >= MAP_HOT_READS)
			continue;
		if (state + 1 < MAP_HOT_READS) {
			/* Racing counts (pool threads) only delay it. */
			__atomic_store_n(&disk->units[u], state + 1, __ATOMIC_RELAXED);
			continue;
		}
		/* Resident in tmpfs means allocated: data, not a hole. */
		if (mincore((void *)(disk->map + (u << UNIT_SHIFT)), 1UL << UNIT_SHIFT, resident))
			all = 0;
		for (int i = 0; all && i < UNIT_PAGES; i++)
			all = resident[i] & 1;
		__atomic_store_n(&disk->units[u], all ? UNIT_MAPPED : UNIT_HOLEY, __ATOMIC_RELAXED);
	}
}

/*
 * Before @req reaches the host: a discard or write of zeroes punches holes,
 * so its units go back to cold; a write may fill the holes of a holey unit.
 */
static void map_note_write(struct host_disk *disk, struct lkl_disk_request *req)
{
	unsigned long long u, last;
	int punch = req->op == LKL_DISK_DISCARD || req->op == LKL_DISK_WRITE_ZEROES;

	if (req->op == LKL_DISK_READ || req->op == LKL_DISK_FLUSH)
		return;
	/* Up to the end of the map: a range may run on into its partial tail. */
	map_units(disk, req->offset, req->length, &u, &last);
	for (; u <= last; u++)
		if (punch || __atomic_load_n(&disk->units[u], __ATOMIC_RELAXED) == UNIT_HOLEY)
			__atomic_store_n(&disk->units[u], 0, __ATOMIC_RELAXED);
}

/* --- completing a request, whatever the backend ------------------------ */

static long do_sync_io(struct host_disk *disk, struct lkl_disk_request *req,
		       unsigned long long done);

static void finish(struct host_disk *disk, struct lkl_disk_request *req, long res)
{
	/*
	 * Canceled by the host, not by us: io_uring cancels the work of a
	 * thread that exits (one that flushed this request with the batch,
	 * then left) when it was not started, or interrupts it.  Not done,
	 * or not whole: do it here.  Reading or writing the same bytes
	 * again, a flush, a discard or a write of zeroes are all safe to
	 * repeat.
	 */
	if (res == -ECANCELED || res == -EINTR) {
		__atomic_add_fetch(&lkl_host_stats.disk_requests_redone, 1, __ATOMIC_RELAXED);
		res = do_sync_io(disk, req, 0);
	}
	if (req->op == LKL_DISK_READ || req->op == LKL_DISK_WRITE) {
		if (res >= 0 && (unsigned long long)res < req->length)
			res = do_sync_io(disk, req, res);	/* short transfer */
		else if (res > 0)
			res = 0;
	} else if (res == -EOPNOTSUPP && req->op == LKL_DISK_DISCARD) {
		res = 0;	/* discard is a hint */
	} else if (res == -EOPNOTSUPP && req->op == LKL_DISK_WRITE_ZEROES) {
		res = do_sync_io(disk, req, 0);
	}
	req->result = res;
	lkl_kernel_disk_complete(req);
}

/* True when @req can go to an O_DIRECT file as it is. */
static int direct_aligned(struct host_disk *disk, struct lkl_disk_request *req)
{
	unsigned long long bits = req->offset | req->length;

	for (int i = 0; i < req->nr_segs; i++) {
		if ((unsigned long)req->segs[i].base & (disk->mem_align - 1))
			return 0;
		bits |= req->segs[i].len;
	}
	return !(bits & (disk->off_align - 1));
}

/* Whole-buffer pread/pwrite; reading past the end of the file gives zeroes. */
static long io_full(struct host_disk *disk, int write, char *buf,
		    size_t len, unsigned long long off, int flags)
{
	while (len) {
		ssize_t r = write ? pwritev2(disk->fd, &(struct iovec){ buf, len }, 1, off, flags) :
				    pread(disk->fd, buf, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (write)
				return -EIO;
			memset(buf, 0, len);
			return 0;
		}
		buf += r;
		len -= r;
		off += r;
	}
	return 0;
}

/*
 * A request an O_DIRECT file cannot take as it is (offset, length or a
 * buffer not aligned): through an aligned bounce buffer covering the aligned
 * range around it.  A write first reads the partial blocks at both ends
 * (read-modify-write, serialised per disk).  Synchronous; rare: file systems
 * whose block is smaller than the host's alignment (e.g. ext4's superblock
 * read at mount).  Returns 0 or a negative errno.
 */
static long bounce_io(struct host_disk *disk, struct lkl_disk_request *req)
{
	unsigned long long mask = disk->off_align - 1;
	unsigned long long start = req->offset & ~mask;
	unsigned long long end = (req->offset + req->length + mask) & ~mask;
	size_t len = end - start, pos = req->offset - start;
	size_t align = disk->mem_align > disk->off_align ? disk->mem_align : disk->off_align;
	char *buf;
	long ret = 0;

	if (posix_memalign((void **)&buf, align, len))
		return -ENOMEM;
	pthread_mutex_lock(&disk->bounce_lock);
	if (req->op == LKL_DISK_READ) {
		ret = io_full(disk, 0, buf, len, start, 0);
		for (int i = 0; !ret && i < req->nr_segs; i++) {
			memcpy(req->segs[i].base, buf + pos, req->segs[i].len);
			pos += req->segs[i].len;
		}
	} else {
		if (start != req->offset)
			ret = io_full(disk, 0, buf, disk->off_align, start, 0);
		if (!ret && end != req->offset + req->length &&
		    (end - disk->off_align != start || start == req->offset))
			ret = io_full(disk, 0, buf + len - disk->off_align,
				      disk->off_align, end - disk->off_align, 0);
		for (int i = 0; !ret && i < req->nr_segs; i++) {
			memcpy(buf + pos, req->segs[i].base, req->segs[i].len);
			pos += req->segs[i].len;
		}
		if (!ret)
			ret = io_full(disk, 1, buf, len, start, req->fua ? RWF_DSYNC : 0);
	}
	pthread_mutex_unlock(&disk->bounce_lock);
	free(buf);
	return ret;
}

/* Synchronous execution of @req from byte @done on (pool workers, and the
 * rare remainder of a short transfer).  Returns 0 or a negative errno. */
static long do_sync_io(struct host_disk *disk, struct lkl_disk_request *req,
		       unsigned long long done)
{
	static const char zeroes[65536];
	struct iovec iov[LKL_DISK_MAX_SEGS];
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	unsigned long long skip = done;
	int n = 0;
	ssize_t r;

	switch (req->op) {
	case LKL_DISK_FLUSH:
		return fdatasync(disk->fd) ? -errno : 0;
	case LKL_DISK_DISCARD:
		if (fallocate(disk->fd, mode, req->offset, req->length) && errno != EOPNOTSUPP)
			return -errno;
		return 0;
	case LKL_DISK_WRITE_ZEROES:
		if (!fallocate(disk->fd, mode, req->offset, req->length))
			return 0;
		for (unsigned long long off = 0; off < req->length; off += r) {
			size_t len = req->length - off < sizeof(zeroes) ?
				     req->length - off : sizeof(zeroes);

			r = pwrite(disk->fd, zeroes, len, req->offset + off);
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
		}
		return 0;
	}

	/* A remainder after a short transfer is unaligned as a rule. */
	if (disk->direct && (done || !direct_aligned(disk, req)))
		return bounce_io(disk, req);

	for (int i = 0; i < req->nr_segs; i++) {
		if (skip >= req->segs[i].len) {
			skip -= req->segs[i].len;
			continue;
		}
		iov[n].iov_base = (char *)req->segs[i].base + skip;
		iov[n].iov_len = req->segs[i].len - skip;
		skip = 0;
		n++;
	}
	while (done < req->length) {
		if (req->op == LKL_DISK_READ)
			r = preadv(disk->fd, iov, n, req->offset + done);
		else
			r = pwritev2(disk->fd, iov, n, req->offset + done,
				     req->fua ? RWF_DSYNC : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			/* Reading past the end of the image: zeroes. */
			if (req->op != LKL_DISK_READ)
				return -EIO;
			for (int i = 0; i < n; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		done += r;
		while (r > 0 && n) {
			if ((size_t)r >= iov[0].iov_len) {
				r -= iov[0].iov_len;
				memmove(iov, iov + 1, --n * sizeof(*iov));
			} else {
				iov[0].iov_base = (char *)iov[0].iov_base + r;
				iov[0].iov_len -= r;
				r = 0;
			}
		}
	}
	return 0;
}

/*
 * Try a read or write without blocking (RWF_NOWAIT): it succeeds when the
 * host has the data at hand (its page cache, tmpfs), and then the request is
 * done before the kernel even waits for it.  Returns 1 if done.
 */
static int try_inline(struct host_disk *disk, struct lkl_disk_request *req)
{
	/* tmpfs does not take RWF_NOWAIT, and never waits anyway. */
	int flags = disk->in_memory ? 0 : RWF_NOWAIT;
	ssize_t r;

	/*
	 * Not for a direct disk: nothing is at hand, and O_DIRECT with
	 * RWF_NOWAIT would still go to the device (while holding the CPU).
	 * Not with injected latency either: that request must wait.
	 */
	if (disk->direct || disk->latency_ns)
		return 0;
	if (req->op == LKL_DISK_READ && map_read(disk, req)) {
		req->result = 0;
		return 1;
	}
	if (req->op == LKL_DISK_READ)
		r = preadv2(disk->fd, (struct iovec *)req->segs, req->nr_segs,
			    req->offset, flags);
	else if (req->op == LKL_DISK_WRITE && !req->fua)
		r = pwritev2(disk->fd, (struct iovec *)req->segs, req->nr_segs,
			     req->offset, flags);
	else
		return 0;
	if (r < 0 || (unsigned long long)r != req->length)
		return 0;	/* not at hand, or partly: the backend redoes it whole */
	if (req->op == LKL_DISK_READ)
		map_learn(disk, req);
	req->result = 0;
	return 1;
}

/* --- io_uring backend -------------------------------------------------- */

static struct io_uring ring;
/* Requests submitted to the ring and not reaped yet (see uring_drain()). */
static unsigned int uring_inflight;

/*
 * user_data of the ring's entries: a request; NULL for the timeout linked
 * before a request (injected latency); KICK_TAG for the poll on kick_fd
 * that ends a wait in uring_wait(); a request with INLINE_TAG set for the
 * latency of a request to an in-memory disk, done when that expires.
 */
#define KICK_TAG	((void *)1)
#define INLINE_TAG	2UL

/* Requests queued by uring_submit() and not submitted yet (CPU owner). */
static unsigned int uring_queued;
/* Keep fewer than this many queued when leaving the kernel (uring_flush()). */
#define LAZY_BATCH	8
/* ... and at most this many times as many as are in flight at the host. */
#define LAZY_RATIO	4

/* Written by uring_wait_kick(); polled in the ring while a thread waits. */
static int kick_fd = -1;
/* The poll on kick_fd is in the ring (reap_lock). */
static int kick_armed;

/* Called by the CPU owner only: a single submitter. */
static void uring_submit(void *handle, struct lkl_disk_request *req, int last)
{
	struct host_disk *disk = handle;
	struct io_uring_sqe *sqe;
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	/*
	 * Room for the latency's timeout and the request, linked.  Otherwise
	 * nothing is submitted here: the requests of all the tasks that run
	 * until the CPU owner releases the CPU or waits go to the host in one
	 * io_uring_enter (lkl_io_flush() calls uring_flush()).
	 */
	while (io_uring_sq_space_left(&ring) < 2) {
		io_uring_submit(&ring);
		uring_queued = 0;
	}
	__atomic_add_fetch(&uring_inflight, 1, __ATOMIC_RELAXED);
	uring_queued++;
	if (disk->latency_ns && disk->in_memory) {
		/*
		 * An in-memory image never makes I/O wait: only the latency
		 * goes to the ring, and the reaping thread does the I/O when
		 * it expires.  A read linked to the timeout would be issued
		 * from task work and, on tmpfs (no RWF_NOWAIT), handed to an
		 * io_uring worker thread: two more thread wake-ups.
		 */
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_timeout(sqe, &disk->latency_ts, 0, 0);
		io_uring_sqe_set_data(sqe, (void *)((uintptr_t)req | INLINE_TAG));
		return;
	}
	if (disk->latency_ns) {
		sqe = io_uring_get_sqe(&ring);
		/* Expiry (-ETIME) counts as success: the linked I/O then runs. */
		io_uring_prep_timeout(sqe, &disk->latency_ts, 0,
				      IORING_TIMEOUT_ETIME_SUCCESS);
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data(sqe, NULL);
	}
	sqe = io_uring_get_sqe(&ring);

	switch (req->op) {
	case LKL_DISK_READ:
		io_uring_prep_readv(sqe, disk->fd, (struct iovec *)req->segs,
				    req->nr_segs, req->offset);
		break;
	case LKL_DISK_WRITE:
		io_uring_prep_writev(sqe, disk->fd, (struct iovec *)req->segs,
				     req->nr_segs, req->offset);
		if (req->fua)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case LKL_DISK_FLUSH:
		io_uring_prep_fsync(sqe, disk->fd, IORING_FSYNC_DATASYNC);
		break;
	default:	/* discard and write zeroes: the range reads as zeroes */
		io_uring_prep_fallocate(sqe, disk->fd, mode, req->offset, req->length);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
}

/*
 * Submit what uring_submit() queued (CPU owner).  @lazy, when the owner
 * leaves the kernel: while fewer than LAZY_BATCH are queued, and no more
 * than LAZY_RATIO times as many as are in flight at the host, keep them
 * for the next io_uring_enter, so that the requests of successive calls
 * (syslet chains submitted one after the other) go in one.  Each
 * io_uring_enter that submits costs a syscall and, for a real disk, a
 * notification of the device (a VM exit in a guest).  When the kernel's
 * CPU is the bottleneck few requests are in flight at the host, and
 * flushing as soon as more were queued than in flight made batches of 3
 * to 6; these rules make them larger and cut the CPU per read by a
 * quarter.  The cap keeps the device fed and bounds what waits.
 * Keeping them is safe: the first of those in flight to complete wakes
 * the CPU thread (the ring's eventfd), or finds a thread in the kernel,
 * and that thread submits them when it leaves or waits, or keeps them
 * only while others are in flight again.  With nothing else in flight (a
 * lone read) they go at once.  Returns 1 if requests stay queued.
 */
static int uring_flush(int lazy)
{
	unsigned int inflight = __atomic_load_n(&uring_inflight, __ATOMIC_ACQUIRE);

	if (!uring_queued && !io_uring_sq_ready(&ring))
		return 0;
	if (lazy && uring_queued < LAZY_BATCH &&
	    LAZY_RATIO * (inflight - uring_queued) >= uring_queued)
		return 1;
	io_uring_submit(&ring);
	uring_queued = 0;
	return 0;
}

static void uring_commit(void *handle)
{
	uring_flush(0);
}

/*
 * Reap completed requests (any thread; one at a time).  Runs on the thread
 * releasing the CPU and on the CPU thread after its idle wait, which the
 * ring wakes through its eventfd: completions need no thread of their own.
 */
static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static int uring_active;

/* Hand every completion in the queue to the kernel; reap_lock held. */
static unsigned int uring_reap_locked(void)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, done = 0;

	io_uring_for_each_cqe(&ring, head, cqe) {
		struct lkl_disk_request *req = io_uring_cqe_get_data(cqe);
		uint64_t count;

		n++;
		if (!req)
			continue;	/* an injected latency's timeout */
		if (req == KICK_TAG) {
			kick_armed = 0;
			if (read(kick_fd, &count, sizeof(count)) < 0)
				count = 0;	/* read by an earlier reap */
			continue;
		}
		if ((uintptr_t)req & INLINE_TAG) {
			/* The latency of an in-memory disk expired. */
			req = (void *)((uintptr_t)req & ~INLINE_TAG);
			req->result = do_sync_io(req->disk, req, 0);
			lkl_kernel_disk_complete(req);
		} else {
			finish(req->disk, req, cqe->res);
		}
		done++;
	}
	io_uring_cq_advance(&ring, n);
	/* Only requests count as in flight, not their latency timeouts. */
	__atomic_sub_fetch(&uring_inflight, done, __ATOMIC_RELEASE);
	return done;
}

static int uring_reap(void)
{
	uint64_t count;
	int n;

	if (!__atomic_load_n(&uring_active, __ATOMIC_ACQUIRE) || !io_uring_cq_ready(&ring))
		return 0;
	if (pthread_mutex_trylock(&reap_lock))
		return 0;
	if (read(lkl_host_io_eventfd, &count, sizeof(count)) < 0)
		count = 0;	/* drained already: nothing to do */
	n = uring_reap_locked();
	pthread_mutex_unlock(&reap_lock);
	return n;
}

/*
 * The CPU owner's task is about to sleep and nothing else can run (see
 * lkl_io_wait() in the kernel): submit what is queued and wait for a
 * completion in the same io_uring_enter, on this thread.  The completion
 * work of requests this thread submitted runs right here, with no other
 * thread woken, and the ring's eventfd is off meanwhile so that the CPU
 * thread sleeps on.  A thread that needs the CPU owner writes kick_fd
 * (uring_wait_kick()), which a poll in the ring turns into a completion.
 */
static int uring_wait(unsigned long long deadline_ns)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	struct timespec now;
	unsigned long long now_ns, left;
	int n;

	if (!__atomic_load_n(&uring_active, __ATOMIC_ACQUIRE))
		return -1;
	if (!__atomic_load_n(&uring_inflight, __ATOMIC_RELAXED) ||
	    !(ring.features & IORING_FEAT_EXT_ARG) || !ring.cq.kflags) {
		uring_flush(0);
		return -1;
	}
	pthread_mutex_lock(&reap_lock);
	if (!kick_armed) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		if (!sqe) {
			io_uring_submit(&ring);
			uring_queued = 0;
			sqe = io_uring_get_sqe(&ring);
		}
		io_uring_prep_poll_add(sqe, kick_fd, POLLIN);
		io_uring_sqe_set_data(sqe, KICK_TAG);
		kick_armed = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
	left = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
	ts.tv_sec = left / 1000000000ULL;
	ts.tv_nsec = left % 1000000000ULL;
	io_uring_cq_eventfd_toggle(&ring, false);
	io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
	uring_queued = 0;
	io_uring_cq_eventfd_toggle(&ring, true);
	/* What completed before the eventfd was back on is reaped here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	n = uring_reap_locked();
	pthread_mutex_unlock(&reap_lock);
	return n;
}

static void uring_wait_kick(void)
{
	uint64_t one = 1;

	if (write(kick_fd, &one, sizeof(one)) < 0)
		return;	/* the counter is saturated: the poll fires anyway */
}

/* Submit what is queued and wait until the ring has nothing in flight. */
static void uring_drain(void)
{
	struct io_uring_cqe *cqe;
	int ret;

	pthread_mutex_lock(&reap_lock);
	io_uring_submit(&ring);
	uring_queued = 0;
	while (__atomic_load_n(&uring_inflight, __ATOMIC_ACQUIRE)) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
			break;	/* the ring is broken: nothing more will come */
		uring_reap_locked();
	}
	pthread_mutex_unlock(&reap_lock);
}

/* --- thread pool backend ---------------------------------------------- */

struct pool_item {
	struct lkl_disk_request *req;
	struct host_disk *disk;
	struct timespec not_before;	/* with injected latency */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct pool_item *pool_queue;
static unsigned int pool_head, pool_tail, pool_size;
static int pool_stop;
/* Requests submitted and not finished yet; pool_idle is signalled at 0. */
static unsigned int pool_pending;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;
static void *pool_threads[POOL_THREADS];

static void pool_submit(void *handle, struct lkl_disk_request *req, int last)
{
	struct host_disk *disk = handle;
	struct timespec at = { 0 };

	if (disk->latency_ns) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += disk->latency_ns / 1000000000ULL;
		at.tv_nsec += disk->latency_ns % 1000000000ULL;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&pool_lock);
	pool_queue[pool_tail++ % pool_size] = (struct pool_item){ req, handle, at };
	pool_pending++;
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

static void pool_commit(void *handle)
{
}

static void pool_worker(void *unused)
{
	struct pool_item item;

	for (;;) {
		pthread_mutex_lock(&pool_lock);
		while (pool_head == pool_tail && !pool_stop)
			pthread_cond_wait(&pool_cond, &pool_lock);
		if (pool_head == pool_tail) {
			pthread_mutex_unlock(&pool_lock);
			return;
		}
		item = pool_queue[pool_head++ % pool_size];
		pthread_mutex_unlock(&pool_lock);

		/* Requests queue in order, so their deadlines are in order. */
		while (item.not_before.tv_sec &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
				       &item.not_before, NULL) == EINTR)
			;

		item.req->result = do_sync_io(item.disk, item.req, 0);
		lkl_kernel_disk_complete(item.req);
		lkl_kernel_trigger_irq(LKL_DISK_IRQ);
		pthread_mutex_lock(&pool_lock);
		if (!--pool_pending)
			pthread_cond_broadcast(&pool_idle);
		pthread_mutex_unlock(&pool_lock);
	}
}

/* Wait until the workers have finished every request submitted. */
static void pool_drain(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_pending)
		pthread_cond_wait(&pool_idle, &pool_lock);
	pthread_mutex_unlock(&pool_lock);
}

/* --- backend selection --------------------------------------------------- */

static int start_uring(void)
{
	int efd;

	if (io_uring_queue_init(RING_ENTRIES, &ring, 0))
		return -1;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || kick_fd < 0 || io_uring_register_eventfd(&ring, efd)) {
		if (efd >= 0)
			close(efd);
		if (kick_fd >= 0)
			close(kick_fd);
		kick_fd = -1;
		io_uring_queue_exit(&ring);
		return -1;
	}
	kick_armed = 0;
	lkl_host_io_eventfd = efd;
	__atomic_store_n(&uring_active, 1, __ATOMIC_RELEASE);
	return 0;
}

static int start_pool(void)
{
	/* Room for every request of every disk: the queue never overflows. */
	pool_size = MAX_DISKS * 128;
	pool_queue = calloc(pool_size, sizeof(*pool_queue));
	if (!pool_queue)
		return -1;
	pool_stop = 0;
	for (int i = 0; i < POOL_THREADS; i++)
		pool_threads[i] = lkl_posix_thread_create(pool_worker, NULL);
	return 0;
}

static int backend_start(void)
{
	const char *want = getenv("LKL_DISK_BACKEND");

	if (backend != BACKEND_NONE)
		return 0;
	if (!want || !strcmp(want, "uring")) {
		if (!start_uring()) {
			backend = BACKEND_URING;
			return 0;
		}
		if (want)
			return -ENOSYS;	/* asked for io_uring explicitly */
	} else if (strcmp(want, "threads")) {
		return -EINVAL;
	}
	if (start_pool())
		return -ENOMEM;
	backend = BACKEND_THREADS;
	return 0;
}

static int dispatch_submit(void *handle, struct lkl_disk_request *req, int last)
{
	struct host_disk *disk = handle;

	/* An unaligned request to a direct disk, with io_uring: at once,
	 * through a bounce buffer (rare; see bounce_io()). */
	if (disk->direct && backend == BACKEND_URING &&
	    (req->op == LKL_DISK_READ || req->op == LKL_DISK_WRITE) &&
	    !direct_aligned(disk, req)) {
		req->result = bounce_io(disk, req);
		return 1;
	}
	map_note_write(disk, req);
	if (try_inline(disk, req))
		return 1;
	if (backend == BACKEND_URING)
		uring_submit(disk, req, last);
	else
		pool_submit(disk, req, last);
	return 0;
}

static void dispatch_commit(void *disk)
{
	if (backend == BACKEND_URING)
		uring_commit(disk);
	else
		pool_commit(disk);
}

static int dispatch_flush(int lazy)
{
	return backend == BACKEND_URING ? uring_flush(lazy) : 0;
}

static int dispatch_wait(unsigned long long deadline_ns)
{
	return backend == BACKEND_URING ? uring_wait(deadline_ns) : -1;
}

static void dispatch_wait_kick(void)
{
	if (backend == BACKEND_URING)
		uring_wait_kick();
}

/* At power off: nothing the host does may touch kernel memory afterwards. */
static void dispatch_drain(void)
{
	if (backend == BACKEND_URING)
		uring_drain();
	else if (backend == BACKEND_THREADS)
		pool_drain();
}

void lkl_disk_fill_ops(struct lkl_host_ops *ops)
{
	ops->disk_submit = dispatch_submit;
	ops->disk_commit = dispatch_commit;
	ops->io_reap = uring_reap;
	ops->io_drain = dispatch_drain;
	ops->io_flush = dispatch_flush;
	ops->io_wait = dispatch_wait;
	ops->io_wait_kick = dispatch_wait_kick;
}

const char *lkl_disk_backend(void)
{
	return backend == BACKEND_URING ? "uring" :
	       backend == BACKEND_THREADS ? "threads" : "none";
}

/* After the kernel halted (and drained the backend): stop its threads. */
void lkl_disk_shutdown(void)
{
	if (backend == BACKEND_URING) {
		__atomic_store_n(&uring_active, 0, __ATOMIC_RELEASE);
		pthread_mutex_lock(&reap_lock);
		io_uring_queue_exit(&ring);
		close(lkl_host_io_eventfd);
		lkl_host_io_eventfd = -1;
		close(kick_fd);
		kick_fd = -1;
		pthread_mutex_unlock(&reap_lock);
	} else if (backend == BACKEND_THREADS) {
		pthread_mutex_lock(&pool_lock);
		pool_stop = 1;
		pthread_cond_broadcast(&pool_cond);
		pthread_mutex_unlock(&pool_lock);
		for (int i = 0; i < POOL_THREADS; i++)
			lkl_posix_thread_join(pool_threads[i]);
		free(pool_queue);
	}
	backend = BACKEND_NONE;
	for (int i = 0; i < MAX_DISKS; i++) {
		if (!disks[i])
			continue;
		/* First: the mapping holds the file, and with it the lock. */
		map_free(disks[i]);
		if (disks[i]->own_fd)
			close(disks[i]->fd);
		free(disks[i]);
		disks[i] = NULL;
	}
}

/* --- the public API -------------------------------------------------------- */

/*
 * The alignment O_DIRECT needs on @disk's file: statx STATX_DIOALIGN where
 * the host tells, the logical block size of a block device, else 4096.  Then
 * one aligned read proves the file system takes O_DIRECT.  Returns 0, or
 * -EOPNOTSUPP when the host file system refuses it.
 */
static int direct_setup(struct host_disk *disk, const struct stat *st)
{
	struct statx stx;
	int lbs;
	void *buf;
	long r;

	disk->mem_align = disk->off_align = 4096;
	if (!statx(disk->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align)
			return -EOPNOTSUPP;	/* the file system says no */
		disk->mem_align = stx.stx_dio_mem_align;
		disk->off_align = stx.stx_dio_offset_align;
	} else if (S_ISBLK(st->st_mode) && !ioctl(disk->fd, BLKSSZGET, &lbs) && lbs > 0) {
		disk->off_align = lbs;
		disk->mem_align = lbs;
	}
	/* Tests force a coarser alignment to exercise the bounce buffers. */
	if (getenv("LKL_DISK_DIRECT_ALIGN")) {
		unsigned long a = strtoul(getenv("LKL_DISK_DIRECT_ALIGN"), NULL, 0);

		if (a > disk->off_align)
			disk->off_align = a;
		if (a > disk->mem_align)
			disk->mem_align = a;
	}
	if (disk->off_align & (disk->off_align - 1) || disk->off_align > 65536 ||
	    disk->mem_align & (disk->mem_align - 1) || disk->mem_align > 65536)
		return -EOPNOTSUPP;
	if (disk->mem_align < sizeof(void *))
		disk->mem_align = sizeof(void *);
	if (posix_memalign(&buf, disk->off_align > disk->mem_align ?
			   disk->off_align : disk->mem_align, disk->off_align))
		return -ENOMEM;
	r = pread(disk->fd, buf, disk->off_align, 0);
	free(buf);
	if (r < 0)
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	return 0;
}

static int attach_fd(int fd, const struct lkl_disk_options *opts)
{
	struct host_disk *disk;
	struct statfs sfs;
	struct stat st;
	long dev;
	int minor, ret, acc, flags = opts->flags;

	if (flags & ~(LKL_DISK_READ_ONLY | LKL_DISK_DIRECT))
		return -EINVAL;
	if (opts->latency_ns > MAX_LATENCY_NS)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	acc = fcntl(fd, F_GETFL);
	if (acc < 0)
		return -errno;
	if (!(flags & LKL_DISK_READ_ONLY) && (acc & O_ACCMODE) == O_RDONLY)
		return -EBADF;	/* a read-write disk needs a writable fd */
	if ((flags & LKL_DISK_DIRECT) && !(acc & O_DIRECT))
		return -EINVAL;	/* the descriptor is the caller's: not changed */
	disk = calloc(1, sizeof(*disk));
	if (!disk)
		return -ENOMEM;
	disk->fd = fd;
	disk->read_only = !!(flags & LKL_DISK_READ_ONLY);
	disk->direct = !!(acc & O_DIRECT);
	disk->latency_ns = opts->latency_ns;
	disk->latency_ts.tv_sec = opts->latency_ns / 1000000000ULL;
	disk->latency_ts.tv_nsec = opts->latency_ns % 1000000000ULL;
	pthread_mutex_init(&disk->bounce_lock, NULL);
	if (!fstatfs(fd, &sfs))
		disk->in_memory = sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
	if (S_ISREG(st.st_mode)) {
		disk->size = st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &disk->size)) {
			free(disk);
			return -errno;
		}
	} else {
		free(disk);
		return -EINVAL;
	}
	disk->size &= ~511ULL;
	if (disk->direct) {
		ret = direct_setup(disk, &st);
		if (ret) {
			free(disk);
			return ret;
		}
		/* A direct write past the last aligned block would grow the file. */
		disk->size &= ~(unsigned long long)(disk->off_align - 1);
	}
	if (!disk->size) {
		free(disk);
		return -EINVAL;	/* an empty image */
	}

	ret = backend_start();
	if (ret) {
		free(disk);
		return ret;
	}
	map_setup(disk);
	{
		long args[6] = { (long)disk, (long)disk->size, disk->read_only };

		dev = lkl_syscall(LKL_SYSCALL_DISK_ADD, args);
	}
	if (dev < 0) {
		map_free(disk);
		free(disk);
		return dev;
	}
	minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
	pthread_mutex_lock(&disks_lock);
	disks[minor] = disk;
	pthread_mutex_unlock(&disks_lock);
	{
		char node[32];

		snprintf(node, sizeof(node), "/dev/lkl%d", minor);
		ret = lkl_sys_mknodat(LKL_AT_FDCWD, node, 060600, dev);
		if (ret < 0 && ret != -EEXIST) {
			lkl_disk_detach(minor);
			return ret;
		}
	}
	return minor;
}

int lkl_disk_attach_fd_opts(int fd, const struct lkl_disk_options *opts)
{
	static const struct lkl_disk_options none;

	return attach_fd(fd, opts ? opts : &none);
}

int lkl_disk_attach_fd(int fd, int flags)
{
	return attach_fd(fd, &(struct lkl_disk_options){ .flags = flags });
}

/*
 * An image opened by path: a regular file or a block device, nothing else;
 * then blocking again (io_uring hands EAGAIN of a non-blocking file back
 * instead of waiting).
 */
static int open_image_checks(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
		return -errno;
	return 0;
}

int lkl_disk_attach_opts(const char *path, const struct lkl_disk_options *opts)
{
	static const struct lkl_disk_options none;
	int fd, ret, flags;

	if (!opts)
		opts = &none;
	flags = opts->flags;
	if (!path)
		return -EFAULT;
	if (flags & ~(LKL_DISK_READ_ONLY | LKL_DISK_DIRECT))
		return -EINVAL;
	/*
	 * O_NONBLOCK: opening a FIFO would otherwise wait for its other end
	 * forever; O_NOCTTY: a terminal given as an image must not become the
	 * process's.  Only regular files and block devices are images.
	 */
	fd = open(path, ((flags & LKL_DISK_READ_ONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		  O_NONBLOCK | O_NOCTTY | ((flags & LKL_DISK_DIRECT) ? O_DIRECT : 0));
	/* O_DIRECT refused at open (a file system without direct I/O). */
	if (fd < 0 && errno == EINVAL && (flags & LKL_DISK_DIRECT))
		return -EOPNOTSUPP;
	if (fd < 0)
		return -errno;
	ret = open_image_checks(fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	/*
	 * Two kernels (or two attaches) writing one image corrupt it: hold an
	 * exclusive lock while attached read-write, a shared one read-only.
	 */
	if (flock(fd, ((flags & LKL_DISK_READ_ONLY) ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return ret;
	}
	ret = attach_fd(fd, opts);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	disks[ret]->own_fd = 1;
	return ret;
}

int lkl_disk_attach(const char *path, int flags)
{
	return lkl_disk_attach_opts(path, &(struct lkl_disk_options){ .flags = flags });
}

static struct host_disk *disk_get(int id)
{
	return id >= 0 && id < MAX_DISKS ? disks[id] : NULL;
}

int lkl_disk_detach(int id)
{
	struct host_disk *disk = disk_get(id);
	long args[6] = { id };
	char node[32];
	long ret;

	if (!disk)
		return -ENXIO;
	if (disk->mount_point[0])
		return -EBUSY;
	ret = lkl_syscall(LKL_SYSCALL_DISK_REMOVE, args);
	if (ret < 0)
		return ret;
	snprintf(node, sizeof(node), "/dev/lkl%d", id);
	lkl_sys_unlinkat(LKL_AT_FDCWD, node, 0);
	pthread_mutex_lock(&disks_lock);
	disks[id] = NULL;
	pthread_mutex_unlock(&disks_lock);
	map_free(disk);
	if (disk->own_fd)
		close(disk->fd);
	free(disk);
	return 0;
}

/* mkdir -p inside the kernel. */
static long make_dirs(const char *path)
{
	char buf[256];
	long ret = 0;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = 0;
			ret = lkl_sys_mkdirat(LKL_AT_FDCWD, buf, 0755);
			if (ret < 0 && ret != -EEXIST)
				return ret;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* Whether the comma-separated mount @options choose an errors= behaviour. */
static int options_set_errors(const char *options)
{
	const char *p = options;

	while (p && *p) {
		if (!strncmp(p, "errors=", 7))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

/* The kernel reads at most a page of mount options. */
#define MOUNT_OPTIONS_MAX	4095

/*
 * The options ext2/3/4 are mounted with: the caller's, with errors=remount-ro
 * in front unless they choose an errors= behaviour themselves.  An image's
 * superblock may ask for a panic on the first corruption found; obeyed, one
 * bad image would end the kernel for the whole process.  Sets *@options
 * to what to pass (@buf or unchanged); -EINVAL if that is too long.
 */
static int ext_mount_options(const char *fstype, const char **options, char *buf, size_t size)
{
	const char *given = *options;

	if (given && strlen(given) > MOUNT_OPTIONS_MAX)
		return -EINVAL;
	if (strcmp(fstype, "ext2") && strcmp(fstype, "ext3") && strcmp(fstype, "ext4"))
		return 0;
	if (options_set_errors(given))
		return 0;
	if ((size_t)snprintf(buf, size, "errors=remount-ro%s%s", given && *given ? "," : "",
			     given ? given : "") >= size)
		return -EINVAL;
	*options = buf;
	return 0;
}

int lkl_mount(int id, const char *fstype, const char *mount_point,
	      unsigned long flags, const char *options)
{
	char buf[MOUNT_OPTIONS_MAX + 1];
	struct host_disk *disk = disk_get(id);
	char node[32];
	long ret;

	if (!disk)
		return -ENXIO;
	if (!fstype || !mount_point || mount_point[0] != '/')
		return -EINVAL;
	if (strlen(mount_point) >= sizeof(disk->mount_point))
		return -ENAMETOOLONG;
	if (disk->mount_point[0])
		return -EBUSY;
	if (disk->read_only)
		flags |= LKL_MS_RDONLY;
	ret = ext_mount_options(fstype, &options, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	ret = make_dirs(mount_point);
	if (ret < 0)
		return ret;
	snprintf(node, sizeof(node), "/dev/lkl%d", id);
	ret = lkl_sys_mount(node, (char *)mount_point, (char *)fstype, flags,
			    (void *)options);
	if (ret < 0)
		return ret;
	strcpy(disk->mount_point, mount_point);
	return 0;
}

int lkl_umount(const char *mount_point)
{
	long ret;

	if (!mount_point)
		return -EINVAL;
	ret = lkl_sys_umount2((char *)mount_point, 0);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&disks_lock);
	for (int i = 0; i < MAX_DISKS; i++)
		if (disks[i] && !strcmp(disks[i]->mount_point, mount_point))
			disks[i]->mount_point[0] = 0;
	pthread_mutex_unlock(&disks_lock);
	return 0;
}

/*
 * After a failed halt, which unmounted what it could: forget the mount
 * points of the disks that are no longer mounted.
 */
void lkl_disk_forget_unmounted(void)
{
	pthread_mutex_lock(&disks_lock);
	for (int i = 0; i < MAX_DISKS; i++) {
		long args[6] = { i };

		if (disks[i] && disks[i]->mount_point[0] &&
		    lkl_syscall(LKL_SYSCALL_DISK_BUSY, args) == 0)
			disks[i]->mount_point[0] = 0;
	}
	pthread_mutex_unlock(&disks_lock);
}
