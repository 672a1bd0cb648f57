// SPDX-License-Identifier: GPL-2.0-only
/*
 * image-fuzz: mutated ext4 images, each mounted and walked by a fresh kernel.
 *
 * The base image (1 KiB blocks, a few folders, files of several sizes, a
 * symlink) has its superblock set to "panic on errors", as a hostile image
 * would.  Each round copies it, writes random bytes into its metadata (the
 * first 64 KiB: superblock, group descriptors, bitmaps, the start of the
 * inode table; or the first 1 MiB), and in a forked child boots the kernel,
 * attaches and mounts the image, reads every folder, file and link, writes,
 * renames and removes a file, unmounts and halts.  A child that dies of a
 * signal (the process crashed), whose kernel panicked, or whose kernel log
 * shows BUG:, WARNING: or Oops fails the test; the seeds are printed so a
 * failure can be replayed (LKL_IMAGE_FUZZ_SEED, LKL_IMAGE_FUZZ_ROUNDS).
 * A mount that ext4 refuses is a correct outcome.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>

#define ROUNDS		300
#define WALK_DEPTH	8

enum outcome { WALKED, REFUSED, PANICKED, LOGGED_BUG, OTHER, OUTCOMES };

static char dir[] = "/tmp/lkl-image-fuzz-XXXXXX";
static char base[256], image[256];
static int child_panicked, child_logged_bug;

static void child_panic(const char *message, void *ctx)
{
	child_panicked = 1;
}

static void child_console(const char *text, size_t len, void *ctx)
{
	if (memmem(text, len, "BUG:", 4) || memmem(text, len, "WARNING:", 8) ||
	    memmem(text, len, "Oops", 4)) {
		child_logged_bug = 1;
		fprintf(stderr, "# %.*s", (int)len, text);
	}
}

struct linux_dirent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

#define DT_DIR_TYPE	4
#define DT_LNK_TYPE	10

/* Read everything under @path; errors are the kernel's business. */
static void walk(const char *path, int depth)
{
	char dents[4096], child[512], data[4096];
	long fd, n;

	if (depth > WALK_DEPTH)
		return;
	fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY | LKL_O_DIRECTORY, 0);
	if (fd < 0)
		return;
	while ((n = lkl_sys_getdents64(fd, (void *)dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(dents + off);

			off += d->reclen;
			if (!d->reclen || !strcmp(d->name, ".") || !strcmp(d->name, ".."))
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, d->name);
			if (d->type == DT_DIR_TYPE) {
				walk(child, depth + 1);
			} else if (d->type == DT_LNK_TYPE) {
				lkl_sys_readlinkat(LKL_AT_FDCWD, child, data, sizeof(data));
			} else {
				long f = lkl_sys_openat(LKL_AT_FDCWD, child, LKL_O_RDONLY, 0);

				while (f >= 0 && lkl_sys_read(f, data, sizeof(data)) > 0)
					;
				if (f >= 0)
					lkl_sys_close(f);
			}
		}
	}
	lkl_sys_close(fd);
}

static void __attribute__((noreturn)) child_round(void)
{
	static char data[20000];
	long fd;
	int disk;

	lkl_set_panic_hook(child_panic, NULL);
	lkl_set_console_hook(child_console, NULL);
	if (lkl_boot("mem=64M"))
		_exit(OTHER);
	disk = lkl_disk_attach(image, 0);
	if (disk < 0)
		_exit(OTHER);
	if (lkl_mount(disk, "ext4", "/mnt/fuzz", 0, NULL)) {
		lkl_halt();
		_exit(child_panicked ? PANICKED : child_logged_bug ? LOGGED_BUG : REFUSED);
	}
	walk("/mnt/fuzz", 0);
	memset(data, 'w', sizeof(data));
	fd = lkl_sys_openat(LKL_AT_FDCWD, "/mnt/fuzz/new", LKL_O_CREAT | LKL_O_WRONLY, 0644);
	if (fd >= 0) {
		lkl_sys_write(fd, data, sizeof(data));
		lkl_sys_fsync(fd);
		lkl_sys_close(fd);
	}
	lkl_sys_renameat(LKL_AT_FDCWD, "/mnt/fuzz/new", LKL_AT_FDCWD, "/mnt/fuzz/a/renamed");
	lkl_sys_unlinkat(LKL_AT_FDCWD, "/mnt/fuzz/a/renamed", 0);
	lkl_umount("/mnt/fuzz");
	lkl_halt();
	_exit(child_panicked ? PANICKED : child_logged_bug ? LOGGED_BUG : WALKED);
}

/* Copy the base image to @image and write @count random bytes in its first @span bytes. */
static int mutate(unsigned int seed, long span, int count)
{
	static char buf[1 << 20];
	int in = open(base, O_RDONLY), out = open(image, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	srand(seed);
	for (int i = 0; i < count; i++) {
		unsigned char byte = rand();

		/* Past the boot block: a mutation there changes nothing. */
		if (pwrite(out, &byte, 1, 1024 + rand() % (span - 1024)) != 1)
			return -1;
	}
	return close(out);
}

static int test_mutated_images(void)
{
	const char *env_seed = getenv("LKL_IMAGE_FUZZ_SEED");
	const char *env_rounds = getenv("LKL_IMAGE_FUZZ_ROUNDS");
	unsigned int first = env_seed ? strtoul(env_seed, NULL, 0) : 1;
	int rounds = env_rounds ? atoi(env_rounds) : ROUNDS;
	int count[OUTCOMES] = { 0 }, crashed = 0, bad = 0;

	CHECK(rounds > 0, "LKL_IMAGE_FUZZ_ROUNDS=%s", env_rounds);
	for (int r = 0; r < rounds; r++) {
		unsigned int seed = first + r;
		long span = r % 2 ? 64 * 1024 : 1024 * 1024;
		int status;
		pid_t pid;

		CHECK(!mutate(seed, span, 1 + seed % 24), "mutating the image: %s", strerror(errno));
		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0, "fork: %s", strerror(errno));
		if (!pid)
			child_round();
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
		if (WIFSIGNALED(status)) {
			crashed++;
			printf("# seed %u: the process died of signal %d\n", seed, WTERMSIG(status));
		} else if (WEXITSTATUS(status) < OUTCOMES) {
			int outcome = WEXITSTATUS(status);

			count[outcome]++;
			if (outcome == PANICKED || outcome == LOGGED_BUG || outcome == OTHER) {
				bad++;
				printf("# seed %u: %s\n", seed, outcome == PANICKED ? "kernel panic" :
				       outcome == LOGGED_BUG ? "BUG/WARNING/Oops in the kernel log" :
				       "boot or attach failed");
			}
		} else {
			bad++;
			printf("# seed %u: exit status %d\n", seed, WEXITSTATUS(status));
		}
	}
	printf("# %d rounds from seed %u: %d walked, %d refused by ext4, %d panicked, "
	       "%d logged a kernel bug, %d crashed\n", rounds, first, count[WALKED], count[REFUSED],
	       count[PANICKED], count[LOGGED_BUG], crashed);
	CHECK(!crashed && !bad, "%d rounds crashed the process, %d more went wrong (seeds above)",
	      crashed, bad);
	/* Both kinds of round happened: the mutations reached ext4. */
	CHECK(rounds < 50 || (count[WALKED] && count[REFUSED]),
	      "%d walked and %d refused: the mutations did not exercise both paths",
	      count[WALKED], count[REFUSED]);
	return 0;
}

static int test_make_base(void)
{
	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(base, sizeof(base), "%s/base.img", dir);
	snprintf(image, sizeof(image), "%s/mutated.img", dir);
	CHECK(!test_shell("cd %s && mkdir -p src/a/b src/c && "
			  "for i in $(seq 1 24); do head -c $((i * 700)) /dev/urandom > src/a/f$i; done && "
			  "for i in $(seq 1 150); do echo $i > src/c/s$i; done && "
			  "head -c 300000 /dev/urandom > src/a/b/big && ln -s a/f1 src/link && "
			  "mke2fs -q -F -t ext4 -b 1024 -d src base.img 8M && tune2fs -e panic base.img", dir),
	      "making the base image");
	return 0;
}

int main(void)
{
	test_plan(2);
	test_run("a base image that asks for a panic on errors", test_make_base);
	test_run("mutated images: no crash, no panic, no kernel BUG or WARNING", test_mutated_images);
	test_shell("rm -rf %s", dir);
	return test_failures ? 1 : 0;
}
