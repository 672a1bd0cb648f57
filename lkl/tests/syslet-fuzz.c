// SPDX-License-Identifier: GPL-2.0-only
/*
 * syslet-fuzz: 100,000 confined async_exec submissions of random chains.
 *
 * One mmap: a 64 KiB guard, the ring page, a gap, the strings page, a gap,
 * the atoms and the data, a 64 KiB guard.  The window is three ranges: the
 * ring page, the strings page, and the atoms with the data; the guards and
 * gaps are outside it and hold a pattern that must survive.
 *
 * The chains are random (flags with invalid bits, system calls from a safe
 * set, the refused ones and invalid numbers, arguments and result slots in
 * and out of the window, next pointers aligned and not) but built so that
 * every chain that went asynchronous posts exactly one completion:
 *  - NO_COMPLETE is never set, and SYNC only together with ASYNC (invalid);
 *  - each submission has a block of 8 atoms and a pad atom of 0xff bytes;
 *    next pointers go to atoms of the same block, to the pad, to the middle
 *    of an atom at its private field (whose low half has bit 31 set: invalid
 *    flags), to odd addresses or out of the window: a chain only ever runs
 *    atoms written here;
 *  - result slots and buffers never point into the atoms, so a block stays
 *    as written while its chain runs;
 *  - the 64 blocks are rewritten only after every chain of the previous
 *    round posted its completion (at most 64 in flight, a 64-entry ring).
 * The fds the chains use are the fuzz's own (the only ones this process
 * opens in the kernel), on an ext4 image attached with 50 us of latency
 * per request, with files of at most 1 MiB (RLIMIT_FSIZE).  The page cache
 * is dropped every 64 submissions, so that reads go to the disk and
 * chains also go asynchronous by sleeping (the cachemiss path), not only
 * with SYSLET_ASYNC.
 */
#include "syslet-test.h"

#include <errno.h>
#include <sys/mman.h>

#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/resource.h>

#define SUBMISSIONS	100000
#define BLOCKS		64
#define BLOCK_ATOMS	8
#define BLOCK_SIZE	((BLOCK_ATOMS + 1) * sizeof(struct lkl_syslet_atom))
#define DATA_SIZE	1024		/* per block: 64 cells, then 512 bytes of buffer */
#define CELLS		64
#define RET_CELL	48		/* cells 48..63 are result slots */
#define RING_ENTRIES	64

#define GUARD		(64 * 1024)
#define PAGE		4096
#define ATOMS_SIZE	(12 * PAGE)	/* 64 blocks of 720 bytes */
#define MAP_SIZE	(GUARD + PAGE + PAGE + PAGE + PAGE + ATOMS_SIZE + BLOCKS * DATA_SIZE + GUARD)

static unsigned char *map;
static unsigned char *ring_page, *gap1, *str_page, *gap2, *atoms_area, *data_area, *guard_hi;
static struct lkl_syslet_ring *ring;
static struct lkl_user_range ranges[3];
static long pid, fuzz_dirfd;

static char dir[] = "/tmp/lkl-syslet-fuzz-XXXXXX";
static char image[128];

static uint64_t seed = 0x5eed5eed12345678ULL;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static unsigned int pick(unsigned int n)
{
	return rnd() % n;
}

static unsigned char pattern(size_t off)
{
	return (unsigned char)((off * 131 + 7) ^ 0xa5);
}

static struct lkl_syslet_atom *block(int k)
{
	return (struct lkl_syslet_atom *)(atoms_area + k * BLOCK_SIZE);
}

static uint64_t *cells(int k)
{
	return (uint64_t *)(data_area + k * DATA_SIZE);
}

static unsigned char *buffer(int k)
{
	return data_area + k * DATA_SIZE + CELLS * 8;
}

/* Strings the paths point at; the last runs to the end of its page. */
static const char *const strings[] = {
	"/fuzz/f0", "/fuzz/f1", "/fuzz/f2", "/fuzz/f3", "/fuzz/f4", "/fuzz/f5",
	"/fuzz/f6", "/fuzz/f7", "f0", "f1", "f2", "f3", "", ".", "/fuzz/none/x",
	"/fuzz", "f4/x",
};
#define NSTR (sizeof(strings) / sizeof(strings[0]))
static size_t str_off[NSTR + 1];

/* Addresses outside the window. */
static uint64_t outside(void)
{
	switch (pick(9)) {
	case 0: return (uintptr_t)(map + (pick(GUARD / 8) * 8));
	case 1: return (uintptr_t)(guard_hi + (pick(GUARD / 8) * 8));
	case 2: return (uintptr_t)(gap1 + pick(PAGE / 8) * 8);
	case 3: return (uintptr_t)(gap2 + pick(PAGE / 8) * 8);
	case 4: return 0x1000;
	case 5: return 0xffff888000000000ULL;
	case 6: return (uint64_t)-4096;
	case 7: return (uintptr_t)(guard_hi - 4);	/* straddles the window's end */
	default: return (uintptr_t)guard_hi;
	}
}

enum arg { A_NONE, A_FD, A_BUF, A_COUNT, A_OFF, A_WHENCE, A_DIRFD, A_PATH, A_OFLAGS,
	   A_MODE, A_ANY };

static const struct call {
	unsigned int nr;
	const char *name;
	int weight;
	enum arg args[6];
} calls[] = {
	{ __LKL_NR_getpid, "getpid", 8, { 0 } },
	{ __LKL_NR_read, "read", 10, { A_FD, A_BUF, A_COUNT } },
	{ __LKL_NR_write, "write", 10, { A_FD, A_BUF, A_COUNT } },
	{ __LKL_NR_pread64, "pread64", 8, { A_FD, A_BUF, A_COUNT, A_OFF } },
	{ __LKL_NR_lseek, "lseek", 6, { A_FD, A_OFF, A_WHENCE } },
	{ __LKL_NR_fstat, "fstat", 5, { A_FD, A_BUF } },
	{ __LKL_NR_dup, "dup", 4, { A_FD } },
	{ __LKL_NR_close, "close", 6, { A_FD } },
	{ __LKL_NR_openat, "openat", 10, { A_DIRFD, A_PATH, A_OFLAGS, A_MODE } },
	{ 9999, "9999", 2, { A_ANY, A_ANY, A_ANY } },
	{ 0xffffffff, "0xffffffff", 1, { A_ANY } },
	{ 5000, "5000", 1, { A_ANY } },
	{ LKL_SYSCALL_TEST_PANIC, "test_panic", 1, { 0 } },
	{ __LKL_NR_exit, "exit", 1, { A_ANY } },
	{ __LKL_NR_exit_group, "exit_group", 1, { A_ANY } },
	{ __LKL_NR_clone, "clone", 1, { A_ANY, A_ANY, A_ANY, A_ANY, A_ANY } },
	{ __LKL_NR_clone3, "clone3", 1, { A_BUF, A_COUNT } },
	{ __LKL_NR_execve, "execve", 1, { A_PATH, A_BUF, A_BUF } },
	{ __LKL_NR_set_tid_address, "set_tid_address", 1, { A_BUF } },
	{ __LKL_NR_reboot, "reboot", 1, { A_ANY, A_ANY, A_ANY, A_BUF } },
	{ __LKL_NR_async_exec, "async_exec", 2, { A_BUF, A_BUF } },
	{ __LKL_NR_async_wait, "async_wait", 1, { A_BUF, A_COUNT } },
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static uint64_t gen_value(enum arg type, int k)
{
	static const uint64_t oflags[] = {
		LKL_O_CREAT, LKL_O_TRUNC, LKL_O_APPEND, LKL_O_NONBLOCK, LKL_O_EXCL,
		LKL_O_DIRECTORY, LKL_O_CLOEXEC, LKL_O_NOFOLLOW, LKL_O_PATH,
	};
	uint64_t v;

	switch (type) {
	case A_FD:
		switch (pick(10)) {
		case 0: return (uint64_t)-1;
		case 1: return 9999;
		case 2: return rnd();
		case 3: case 4: case 5: return fuzz_dirfd + pick(64);
		default: return fuzz_dirfd + 1 + pick(8);	/* the files */
		}
	case A_BUF:
		switch (pick(20)) {
		case 0: case 1: return outside();
		case 2: return 0;
		case 3: return (uintptr_t)(data_area + BLOCKS * DATA_SIZE - pick(64));
		case 4: return (uintptr_t)(str_page + pick(PAGE));
		case 5: return (uintptr_t)(buffer(pick(BLOCKS)) + pick(512));
		case 6: return (uintptr_t)(cells(k) + pick(RET_CELL));
		default: return (uintptr_t)(buffer(k) + pick(512));
		}
	case A_COUNT:
		switch (pick(20)) {
		case 0: case 1: return 0;
		case 2: return 65536;
		case 3: return 1ULL << 40;
		case 4: return (uint64_t)-1;
		case 5: return rnd();
		case 6: case 7: case 8: return pick(4096);
		case 9: case 10: case 11: case 12: return 1 + pick(16);
		default: return pick(512);
		}
	case A_OFF:
		switch (pick(8)) {
		case 0: return 0;
		case 1: return 1 << 20;
		case 2: return (uint64_t)-1;
		case 3: return 1ULL << 40;
		case 4: return pick(4096);
		default: return pick(65536);
		}
	case A_WHENCE:
		return pick(5);
	case A_DIRFD:
		switch (pick(10)) {
		case 0: return (uint64_t)-1;
		case 1: return fuzz_dirfd + pick(64);
		case 2: case 3: case 4: case 5: return fuzz_dirfd;
		default: return (uint64_t)(int64_t)LKL_AT_FDCWD;
		}
	case A_PATH:
		switch (pick(20)) {
		case 0: return outside();
		case 1: return 0;
		case 2: return (uintptr_t)(str_page + str_off[NSTR]);	/* unterminated */
		default: return (uintptr_t)(str_page + str_off[pick(NSTR)]);
		}
	case A_OFLAGS:
		v = pick(3);
		for (unsigned int i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++)
			if (!pick(5))
				v |= oflags[i];
		if (!pick(30))
			v |= LKL_O_DIRECT;
		return v;
	case A_MODE:
		return pick(2) ? 0600 : 07777;
	case A_ANY:
		switch (pick(5)) {
		case 0: return 0;
		case 1: return 1;
		case 2: return (uint64_t)-1;
		case 3: return (uintptr_t)(buffer(k) + pick(512));
		default: return rnd();
		}
	default:
		return rnd();
	}
}

static uint64_t atom_private(unsigned int sub, int k, int j)
{
	return ((uint64_t)sub << 32) | 0x80000000ULL | (k << 8) | j;
}

static uint64_t gen_flags(void)
{
	uint64_t f = 0;

	if (!pick(6))
		f |= LKL_SYSLET_ASYNC;
	if (!pick(6))
		f |= LKL_SYSLET_STOP_ON_NONZERO;
	if (!pick(6))
		f |= LKL_SYSLET_STOP_ON_ZERO;
	if (!pick(6))
		f |= LKL_SYSLET_STOP_ON_NEGATIVE;
	if (!pick(6))
		f |= LKL_SYSLET_STOP_ON_NON_POSITIVE;
	if (!pick(6))
		f |= LKL_SYSLET_SKIP_TO_NEXT_ON_STOP;
	if (!pick(40))
		f |= 1U << (8 + pick(24));
	if (!pick(60))
		f |= LKL_SYSLET_ASYNC | LKL_SYSLET_SYNC;
	return f;
}

static const struct call *gen_call(void)
{
	static int total;
	int w;

	if (!total)
		for (unsigned int i = 0; i < NCALLS; i++)
			total += calls[i].weight;
	w = pick(total);
	for (unsigned int i = 0; i < NCALLS; i++) {
		if (w < calls[i].weight)
			return &calls[i];
		w -= calls[i].weight;
	}
	return &calls[0];
}

static uint64_t gen_next(int k, int j)
{
	struct lkl_syslet_atom *b = block(k);

	switch (pick(20)) {
	case 0: case 1: case 2: case 3: case 4: return 0;
	case 5: return (uintptr_t)&b[pick(BLOCK_ATOMS)];	/* may loop */
	case 6: return (uintptr_t)&b[BLOCK_ATOMS];		/* the pad */
	case 7: return (uintptr_t)&b[pick(BLOCK_ATOMS)].private;	/* misframed */
	case 8: return (uintptr_t)&b[pick(BLOCK_ATOMS)] + 1 + pick(7);	/* unaligned */
	case 9: return outside();
	default:
		return j + 1 < BLOCK_ATOMS ? (uintptr_t)&b[j + 1 + pick(BLOCK_ATOMS - j - 1)] : 0;
	}
}

static void gen_block(int k, unsigned int sub)
{
	struct lkl_syslet_atom *b = block(k);
	uint64_t *c = cells(k);

	memset(&b[BLOCK_ATOMS], 0xff, sizeof(b[0]));
	for (int j = 0; j < BLOCK_ATOMS; j++) {
		const struct call *call = gen_call();
		struct lkl_syslet_atom *a = &b[j];

		memset(a, 0, sizeof(*a));
		a->flags = gen_flags();
		a->nr = call->nr;
		a->private = atom_private(sub, k, j);
		a->next = gen_next(k, j);
		switch (pick(10)) {
		case 0: a->ret_ptr = 0; break;
		case 1: a->ret_ptr = outside(); break;
		case 2: a->ret_ptr = (uintptr_t)&c[RET_CELL + pick(CELLS - RET_CELL)] + pick(8); break;
		default: a->ret_ptr = (uintptr_t)&c[RET_CELL + j]; break;
		}
		for (int i = 0; i < 6; i++) {
			enum arg type = call->args[i];
			int idx;

			if (type == A_NONE) {
				a->arg_ptr[i] = pick(4) ? 0 : (uintptr_t)&c[pick(CELLS)];
				continue;
			}
			switch (pick(20)) {
			case 0: a->arg_ptr[i] = 0; break;
			case 1: a->arg_ptr[i] = outside(); break;
			case 2: a->arg_ptr[i] = (uintptr_t)&c[pick(CELLS)] + 1 + pick(7); break;
			case 3: a->arg_ptr[i] = (uintptr_t)&cells(pick(BLOCKS))[pick(CELLS)]; break;
			case 4: case 5:
				if (type == A_FD && j > 0) {	/* an earlier atom's result */
					a->arg_ptr[i] = (uintptr_t)&c[RET_CELL + pick(j)];
					break;
				}
				/* fall through */
			default:
				idx = pick(RET_CELL);
				c[idx] = gen_value(type, k);
				a->arg_ptr[i] = (uintptr_t)&c[idx];
			}
		}
	}
}

/* --- counting ------------------------------------------------------------ */

static unsigned long n_sync, n_async, n_submit_err[4096], n_submit_other;
static unsigned long n_done_ok, n_done_err[4096], n_done_other;
static unsigned long n_bad_ring_subs;
static long awaiting[BLOCKS];	/* submission number, or -1 */
static unsigned long expected, drained;
static char failure[512];

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
}

/* Kernel-internal error numbers (ERESTARTSYS ...) must never come out. */
static int internal_errno(long r)
{
	return r <= -512 && r >= -530;
}

static void take(struct lkl_syslet_completion *c)
{
	uint64_t p = c->private;
	unsigned int k = (p >> 8) & 0xff, j = p & 0xff, sub = p >> 32;

	drained++;
	if (c->result >= 0)
		n_done_ok++;
	else if (-c->result < 4096)
		n_done_err[-c->result]++;
	else
		n_done_other++;
	if (internal_errno(c->result))
		fail("completion of submission %u: kernel-internal error %lld", sub,
		     (long long)c->result);
	if (!(p & 0x80000000ULL) || (p & 0x7fff0000ULL) || k >= BLOCKS || j >= BLOCK_ATOMS) {
		fail("completion {%lld, %#llx}: not the private of an atom",
		     (long long)c->result, (unsigned long long)p);
		return;
	}
	if (awaiting[k] != (long)sub) {
		fail("completion {%lld, %#llx}: block %u awaits %ld, not submission %u",
		     (long long)c->result, (unsigned long long)p, k, awaiting[k], sub);
		return;
	}
	awaiting[k] = -1;
}

static void drain_available(void)
{
	struct lkl_syslet_completion c;

	while (ring_pop(ring, &c))
		take(&c);
}

static int drain_all(void)
{
	while (drained < expected) {
		long n;

		drain_available();
		if (drained >= expected)
			break;
		n = async_wait(ring, expected - drained);
		if (n < 0) {
			fail("async_wait(%lu) returned %ld", expected - drained, n);
			return -1;
		}
	}
	drain_available();
	if (drained != expected)
		fail("%lu completions drained, %lu expected", drained, expected);
	return drained == expected ? 0 : -1;
}

/* --- the tests ------------------------------------------------------------ */

static int test_setup(void)
{
	struct lkl_rlimit64 fsize = { 1 << 20, 1 << 20 };
	size_t off = 0;
	char *env = getenv("LKL_FUZZ_SEED");
	int ret;

	if (env)
		seed = strtoull(env, NULL, 0) ?: seed;
	printf("# seed %#llx (LKL_FUZZ_SEED)\n", (unsigned long long)seed);
	/* No 4 GiB boundary inside the map and none just below it: the low
	 * half of every address in it has bits above 0xff (invalid flags). */
	for (int tries = 0; tries < 64; tries++) {
		map = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(map != MAP_FAILED, "mmap");
		if (((uintptr_t)map >> 32) == (((uintptr_t)map + MAP_SIZE) >> 32) &&
		    ((uintptr_t)map & 0xffffffffULL) >= 0x10000)
			break;
		map = NULL;	/* left mapped: the next one lands elsewhere */
	}
	CHECK(map, "no suitable mapping");
	ring_page = map + GUARD;
	gap1 = ring_page + PAGE;
	str_page = gap1 + PAGE;
	gap2 = str_page + PAGE;
	atoms_area = gap2 + PAGE;
	data_area = atoms_area + ATOMS_SIZE;
	guard_hi = data_area + BLOCKS * DATA_SIZE;
	_Static_assert(BLOCKS * BLOCK_SIZE <= ATOMS_SIZE, "atoms fit");
	_Static_assert(sizeof(struct lkl_syslet_ring) +
		       RING_ENTRIES * sizeof(struct lkl_syslet_completion) <= PAGE, "ring fits");

	for (size_t i = 0; i < GUARD; i++) {
		map[i] = pattern(i);
		guard_hi[i] = pattern(i + GUARD);
	}
	for (size_t i = 0; i < PAGE; i++) {
		gap1[i] = pattern(i + 2 * GUARD);
		gap2[i] = pattern(i + 3 * GUARD);
	}
	for (unsigned int i = 0; i < NSTR; i++) {
		str_off[i] = off;
		strcpy((char *)str_page + off, strings[i]);
		off += strlen(strings[i]) + 1;
	}
	str_off[NSTR] = PAGE - 16;
	memset(str_page + PAGE - 16, 'u', 16);

	ring = (struct lkl_syslet_ring *)ring_page;
	ring->entries = RING_ENTRIES;
	ranges[0] = (struct lkl_user_range){ (uintptr_t)ring_page, PAGE };
	ranges[1] = (struct lkl_user_range){ (uintptr_t)str_page, PAGE };
	ranges[2] = (struct lkl_user_range){ (uintptr_t)atoms_area, ATOMS_SIZE + BLOCKS * DATA_SIZE };
	for (int k = 0; k < BLOCKS; k++)
		awaiting[k] = -1;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(image, sizeof(image), "%s/fuzz.img", dir);
	CHECK(!test_shell("mke2fs -q -F -t ext4 %s 64M", image), "mke2fs");
	ret = lkl_boot("mem=128M");
	CHECK(ret == 0, "boot returned %d (%s)", ret, lkl_strerror(ret));
	pid = CHECK_OK(lkl_sys_getpid());
	CHECK_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/proc", 0555));
	CHECK_OK(lkl_sys_mount("proc", "/proc", "proc", 0, NULL));
	ret = lkl_disk_attach_opts(image, &(struct lkl_disk_options){ .latency_ns = 50000 });
	CHECK(ret >= 0, "attach: %d (%s)", ret, lkl_strerror(ret));
	CHECK_OK(lkl_mount(ret, "ext4", "/fuzz", 0, NULL));
	CHECK_OK(lkl_sys_chdir("/fuzz"));
	CHECK_OK(lkl_sys_prlimit64(0, LKL_RLIMIT_FSIZE, &fsize, NULL));
	/* The fuzz's fds: the directory first (the lowest), then the files. */
	fuzz_dirfd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/fuzz", LKL_O_RDONLY | LKL_O_DIRECTORY, 0));
	for (int i = 0; i < 8; i++) {
		long fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, strings[i],
						  LKL_O_CREAT | LKL_O_RDWR, 0600));

		CHECK(fd == fuzz_dirfd + 1 + i, "file %d got fd %ld", i, fd);
		for (int j = 0; j < 16; j++)
			CHECK(lkl_sys_write(fd, (char *)map, 65536) == 65536, "write");
		CHECK_OK(lkl_sys_fsync(fd));
	}
	return 0;
}

/*
 * The fuzz's fds, opened again before every round: the directory (the
 * lowest fd, as nothing else is open), then the 8 files.  The chains close,
 * dup and open at random: this keeps the table from filling up and the
 * files reachable.
 */
static long open_fuzz_fds(void)
{
	long fd;

	lkl_sys_close_range(fuzz_dirfd, ~0U, 0);
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/fuzz", LKL_O_RDONLY | LKL_O_DIRECTORY, 0);
	if (fd != fuzz_dirfd)
		return fd < 0 ? fd : -LKL_EBADF;
	for (int i = 0; i < 8; i++) {
		fd = lkl_sys_openat(LKL_AT_FDCWD, strings[i], LKL_O_CREAT | LKL_O_RDWR, 0600);
		if (fd != fuzz_dirfd + 1 + i)
			return fd < 0 ? fd : -LKL_EBADF;
	}
	return 0;
}

/* Drop the page cache: the next reads of the files go to the disk. */
static long drop_caches(void)
{
	long fd = lkl_sys_openat(LKL_AT_FDCWD, "/proc/sys/vm/drop_caches", LKL_O_WRONLY, 0);
	long n;

	if (fd < 0)
		return fd;
	n = lkl_sys_write(fd, "3", 1);
	lkl_sys_close(fd);
	return n < 0 ? n : 0;
}

static long confined_exec(uint64_t atom, uint64_t ringp)
{
	long args[6] = { (long)atom, (long)ringp, 0, 0, 0, 0 };

	return lkl_syscall_confined(__LKL_NR_async_exec, args, ranges, 3);
}

static double fuzz_secs;
static volatile unsigned int current_sub;

/* Where the fuzz hung: the submission, the ring, and its block's atoms. */
static void fuzz_hung(void)
{
	unsigned int sub = current_sub;
	struct lkl_syslet_atom *b = block(sub % BLOCKS);

	printf("# hung in submission %u (block %u): %lu completions drained of %lu expected; "
	       "ring head %u tail %u flags %#x\n", sub, sub % BLOCKS, drained, expected,
	       ring->kernel_head, ring->user_tail, ring->flags);
	for (unsigned int i = ring->user_tail; i != ring->kernel_head; i++)
		printf("#   unconsumed {%lld, %#llx}\n", (long long)ring_entry(ring, i)->result,
		       (unsigned long long)ring_entry(ring, i)->private);
	for (int j = 0; j < BLOCK_ATOMS; j++) {
		printf("#   atom %d at %p: flags %#x nr %u ret %#llx next %#llx args", j,
		       (void *)&b[j], b[j].flags, b[j].nr, (unsigned long long)b[j].ret_ptr,
		       (unsigned long long)b[j].next);
		for (int i = 0; i < 6; i++) {
			uint64_t p = b[j].arg_ptr[i];

			if (p >= (uintptr_t)data_area && p + 8 <= (uintptr_t)guard_hi)
				printf(" %#llx=%#llx", (unsigned long long)p,
				       (unsigned long long)*(uint64_t *)(uintptr_t)p);
			else
				printf(" %#llx", (unsigned long long)p);
		}
		printf("\n");
	}
}

static int test_fuzz(void)
{
	struct lkl_stats before = stats_now(), after;
	double t0 = now_s();
	/* A ring header at the end of the ring page: its entries are not. */
	struct lkl_syslet_ring *edge = (void *)(ring_page + PAGE - 16);

	for (unsigned int sub = 0; sub < SUBMISSIONS && !failure[0]; sub++) {
		int k = sub % BLOCKS, ring_ok = 1;
		uint64_t atom = (uintptr_t)block(k), ringp = (uintptr_t)ring;
		long r;

		current_sub = sub;
		if (k == 0 && drain_all())
			break;
		if (k == 0 && ((r = open_fuzz_fds()) || (r = drop_caches()))) {
			fail("the round's set-up: %ld (%s)", r, lkl_strerror(r));
			break;
		}
		gen_block(k, sub);
		switch (pick(100)) {
		case 0: atom = 0; break;
		case 1: atom += 4; break;
		case 2: atom = outside(); break;
		case 3: atom = (uintptr_t)&block(k)[pick(BLOCK_ATOMS)]; break;
		case 4: ringp = outside(); ring_ok = 0; break;
		case 5: ringp += 4; ring_ok = 0; break;
		case 6: ringp = 0; ring_ok = 0; break;
		case 7:
			memset(edge, 0, 16);
			edge->entries = RING_ENTRIES;
			ringp = (uintptr_t)edge;
			ring_ok = 0;
			break;
		}
		r = confined_exec(atom, ringp);
		if (r == 0) {
			if (!ring_ok) {
				fail("submission %u with a bad ring %#llx went asynchronous", sub,
				     (unsigned long long)ringp);
				break;
			}
			n_async++;
			awaiting[k] = sub;
			expected++;
		} else if (r > 0) {
			uintptr_t b = (uintptr_t)block(k), a = r;

			n_sync++;
			if (a < b || a >= b + BLOCK_ATOMS * sizeof(struct lkl_syslet_atom) ||
			    (a - b) % sizeof(struct lkl_syslet_atom))
				fail("submission %u returned %#lx, not an atom of its block %#lx",
				     sub, r, (unsigned long)b);
		} else {
			if (-r < 4096)
				n_submit_err[-r]++;
			else
				n_submit_other++;
			if (internal_errno(r))
				fail("submission %u: kernel-internal error %ld", sub, r);
		}
		n_bad_ring_subs += !ring_ok;
		drain_available();
	}
	if (!failure[0])
		drain_all();
	fuzz_secs = now_s() - t0;
	after = stats_now();
	printf("# %d submissions in %.2f s (%.0f/s): %lu synchronous, %lu asynchronous, "
	       "%lu failed (%lu of them with a bad ring)\n",
	       SUBMISSIONS, fuzz_secs, SUBMISSIONS / fuzz_secs, n_sync, n_async,
	       SUBMISSIONS - n_sync - n_async, n_bad_ring_subs);
	printf("# submission errors:");
	for (int e = 0; e < 4096; e++)
		if (n_submit_err[e])
			printf(" %s=%lu", e ? lkl_strerror(-e) : "0", n_submit_err[e]);
	printf("%s\n", n_submit_other ? " (and others)" : "");
	printf("# %lu completions: %lu with a result >= 0; errors:", drained, n_done_ok);
	for (int e = 1; e < 4096; e++)
		if (n_done_err[e])
			printf(" %s=%lu", lkl_strerror(-e), n_done_err[e]);
	printf("%s\n", n_done_other ? " (and others)" : "");
	printf("# counters: chains inline +%lld, cachemisses +%lld, completions +%lld, "
	       "contexts created +%lld\n",
	       DELTA(after, before, syslet_chains_inline), DELTA(after, before, syslet_cachemisses),
	       DELTA(after, before, syslet_completions), DELTA(after, before, syslet_contexts_created));
	CHECK(!failure[0], "%s", failure);
	CHECK(drained == expected, "%lu completions, %lu expected", drained, expected);
	CHECK(DELTA(after, before, syslet_completions) == (long long)expected,
	      "syslet_completions +%lld, %lu expected", DELTA(after, before, syslet_completions),
	      expected);
	CHECK(n_sync && n_async && n_sync + n_async < SUBMISSIONS,
	      "the fuzz did not reach every outcome");
	return 0;
}

static int test_guards(void)
{
	size_t bad = 0, first = 0;
	const char *where = NULL;

	for (size_t i = 0; i < GUARD; i++) {
		if (map[i] != pattern(i) && !bad++) {
			first = i;
			where = "the low guard";
		}
		if (guard_hi[i] != pattern(i + GUARD) && !bad++) {
			first = i;
			where = "the high guard";
		}
	}
	for (size_t i = 0; i < PAGE; i++) {
		if (gap1[i] != pattern(i + 2 * GUARD) && !bad++) {
			first = i;
			where = "the gap after the ring";
		}
		if (gap2[i] != pattern(i + 3 * GUARD) && !bad++) {
			first = i;
			where = "the gap after the strings";
		}
	}
	CHECK(!bad, "%zu bytes outside the window changed, the first at %s + %zu", bad, where, first);
	return 0;
}

static int test_still_works(void)
{
	static struct lkl_syslet_atom a;
	static int64_t ret;
	struct lkl_syslet_completion c;
	char buf[8] = { 0 };
	long fd;

	CHECK(lkl_sys_getpid() == pid, "getpid");
	CHECK_OK(open_fuzz_fds());
	fd = CHECK_OK(lkl_sys_openat(LKL_AT_FDCWD, "/fuzz/after", LKL_O_CREAT | LKL_O_RDWR, 0600));
	CHECK(lkl_sys_write(fd, "alive", 5) == 5 && lkl_sys_pread64(fd, buf, 5, 0) == 5 &&
	      !strcmp(buf, "alive"), "file I/O");
	lkl_sys_close(fd);
	/* Nothing more in the ring than what was drained: the next completion
	 * is this chain's. */
	CHECK(ring_pending(ring) == 0, "%u completions after the drain", ring_pending(ring));
	ATOM(&a, __LKL_NR_getpid, LKL_SYSLET_ASYNC, &ret, NULL, 0x5e5e);
	CHECK(async_exec(&a, ring) == 0, "a last asynchronous chain");
	CHECK(async_wait(ring, 1) == 1, "its completion");
	CHECK(ring_pop(ring, &c) && c.private == 0x5e5e && c.result == pid,
	      "the next completion is {%lld, %#llx}", (long long)c.result,
	      (unsigned long long)c.private);
	return 0;
}

static int test_halt(void)
{
	int ret = lkl_halt();

	CHECK(ret == 0, "halt returned %d (%s)", ret, lkl_strerror(ret));
	CHECK(!test_shell("e2fsck -fn %s", image), "e2fsck -fn reports problems in %s", image);
	return 0;
}

int main(void)
{
	test_plan(5);
	run("boot, the window and its guards", test_setup, 60);
	watchdog_report = fuzz_hung;
	run("100,000 random confined submissions", test_fuzz,
	    getenv("LKL_FUZZ_WATCHDOG") ? atoi(getenv("LKL_FUZZ_WATCHDOG")) : 120);
	watchdog_report = NULL;
	run("memory outside the window is unchanged", test_guards, 60);
	run("the kernel still works, every completion was drained", test_still_works, 60);
	run("halt, the image is clean", test_halt, 60);
	test_shell("rm -rf %s", dir);
	return test_done();
}
