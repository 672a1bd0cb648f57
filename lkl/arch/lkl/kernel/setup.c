// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot, memory, panic, and the halt entry point (the power-off itself,
 * machine_power_off(), is in process.c).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/panic_notifier.h>
#include <linux/random.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/start_kernel.h>
#include <linux/string.h>
#include <linux/syscalls.h>
#include <generated/utsrelease.h>
#include <asm/setup.h>
#include "lkl.h"

const struct lkl_host_ops *lkl_ops;
int lkl_state;
const char lkl_kernel_version[] = UTS_RELEASE;

unsigned long memory_start, memory_end;
void *empty_zero_page;
static void *memory_alloc;
static unsigned long memory_alloc_size;
static unsigned long mem_size = CONFIG_LKL_DEFAULT_MEM_MB * 1024UL * 1024;

static void *cpu_thread_handle;
static unsigned int boot_status;	/* 0 booting, 1 up, 2 failed */
static int boot_error;

static int __init lkl_mem_param(char *arg)
{
	unsigned long size = memparse(arg, NULL);

	if (size >= 16UL << 20)
		mem_size = PAGE_ALIGN(size);
	return 0;
}
early_param("mem", lkl_mem_param);

/* Makes reboot(POWER_OFF) take the power-off path, which ends in
 * machine_power_off(). */
static void lkl_pm_power_off(void)
{
}

/*
 * Seed the kernel's random generator with bytes from the host's, as a boot
 * loader would: credited unless "random.trust_bootloader=off", so that
 * getrandom() never waits for entropy.
 */
static void __init seed_random(void)
{
	u8 seed[64];
	long n = 0;

	if (lkl_ops->random_bytes)
		n = lkl_ops->random_bytes(seed, sizeof(seed));
	if (n > 0)
		add_bootloader_randomness(seed, min_t(long, n, sizeof(seed)));
	memzero_explicit(seed, sizeof(seed));
}

void __init setup_arch(char **cmdline_p)
{
	unsigned long align = PAGE_SIZE << MAX_PAGE_ORDER;
	unsigned long max_zone_pfn[MAX_NR_ZONES] = { 0 };

	*cmdline_p = boot_command_line;
	parse_early_param();
	pm_power_off = lkl_pm_power_off;
	seed_random();

	/* Aligned so that the buddy allocator gets whole max-order blocks. */
	memory_alloc_size = mem_size + align;
	memory_alloc = lkl_ops->page_alloc(memory_alloc_size);
	if (!memory_alloc)
		panic("lkl: cannot allocate %lu bytes of kernel memory", mem_size);
	memory_start = ALIGN((unsigned long)memory_alloc, align);
	memory_end = memory_start + mem_size;

	memblock_add(__pa(memory_start), mem_size);
	empty_zero_page = memblock_alloc(PAGE_SIZE, PAGE_SIZE);

	min_low_pfn = 0;
	max_low_pfn = PFN_DOWN(mem_size);
	max_pfn = max_low_pfn;
	max_mapnr = max_pfn;
	high_memory = (void *)memory_end;

	max_zone_pfn[ZONE_NORMAL] = max_pfn;
	free_area_init(max_zone_pfn);
}

void __init mem_init(void)
{
	memblock_free_all();
}

void free_initmem(void)
{
	/* Init sections belong to the host program; nothing to give back. */
}

void lkl_boot_done(int err)
{
	boot_error = err;
	__atomic_store_n(&boot_status, err ? 2 : 1, __ATOMIC_SEQ_CST);
	lkl_ops->futex_wake(&boot_status, 1);
}

static void __ref cpu_thread_main(void *unused)
{
	struct lkl_thread *self = lkl_thread_alloc(true);

	if (!self) {
		lkl_boot_done(-ENOMEM);
		return;
	}
	lkl_cpu_thread = self;
	init_task.thread.bound = self;
	lkl_cpu_take(self);
	if (!lkl_ctx_save(&self->escape_ctx))
		start_kernel();
	/* Halt or panic: the kernel is stopped and this thread ends. */
	lkl_ops->thread_data_set(NULL);
}

static int lkl_panic_notify(struct notifier_block *nb, unsigned long event,
			    void *msg)
{
	struct lkl_thread *self = lkl_thread_self();

	WRITE_ONCE(lkl_state, LKL_STATE_DEAD);
	lkl_syslet_panic();
	lkl_ops->panic(msg);
	if (!READ_ONCE(boot_status))
		lkl_boot_done(-LKL_EKERNELDEAD);
	lkl_wake_all_threads();
	/* Leave the kernel: back to where this thread entered it. */
	lkl_ctx_jump(&self->escape_ctx);
	return NOTIFY_DONE;
}

static struct notifier_block lkl_panic_nb = {
	.notifier_call = lkl_panic_notify,
	.priority = INT_MIN,
};

/*
 * Defaults put before the caller's command line (a value the caller gives
 * comes later and wins).  Dirty limits: the stock 20% / 10% throttle a
 * writer with balance_dirty_pages() pauses of whole jiffies (10 ms at HZ=100)
 * although writeback to an image the host has in memory takes microseconds
 * and runs on the writer's own thread anyway; at 40% / 20% a 256 MiB write
 * into a 512 MiB kernel is never paused (docs/disks.md).
 */
#define LKL_DEFAULT_CMDLINE \
	"sysctl.vm.dirty_ratio=40 sysctl.vm.dirty_background_ratio=20 "

/**
 * lkl_kernel_start - boot the kernel in this process
 * @ops: host operations, must stay valid until halt
 * @cmdline: kernel command line
 *
 * Returns 0 once the kernel runs and accepts syscalls, or a negative errno.
 */
int __ref lkl_kernel_start(const struct lkl_host_ops *ops, const char *cmdline)
{
	if (__atomic_load_n(&lkl_state, __ATOMIC_SEQ_CST) != LKL_STATE_OFF)
		return -EALREADY;
	if (strlen(LKL_DEFAULT_CMDLINE) + strlen(cmdline) >= COMMAND_LINE_SIZE)
		return -E2BIG;
	lkl_ops = ops;
	lkl_state = LKL_STATE_BOOTING;
	strscpy(boot_command_line, LKL_DEFAULT_CMDLINE, COMMAND_LINE_SIZE);
	strlcat(boot_command_line, cmdline, COMMAND_LINE_SIZE);
	atomic_notifier_chain_register(&panic_notifier_list, &lkl_panic_nb);

	cpu_thread_handle = ops->thread_create(cpu_thread_main, NULL);
	if (!cpu_thread_handle) {
		lkl_state = LKL_STATE_DEAD;
		return -EAGAIN;
	}
	while (!__atomic_load_n(&boot_status, __ATOMIC_SEQ_CST))
		ops->futex_wait(&boot_status, 0, 0);
	if (boot_error) {
		ops->thread_join(cpu_thread_handle);
		cpu_thread_handle = NULL;
		return boot_error;
	}
	WRITE_ONCE(lkl_state, LKL_STATE_RUNNING);
	return 0;
}

/**
 * lkl_kernel_halt - shut the kernel down and free what it allocated
 *
 * Closes every file, unmounts every disk and syncs, with the kernel's own
 * credentials whatever the caller's (see lkl_shutdown()), runs the kernel's
 * power-off path (which waits for the host's in-flight disk I/O), joins the
 * CPU thread and frees kernel memory.  Returns 0, or a negative errno with
 * the kernel still running (-EBUSY: a disk could not be unmounted), or
 * -ESHUTDOWN when it was not running.
 */
int lkl_kernel_halt(void)
{
	long args[6] = { 0 };
	long ret;

	if (READ_ONCE(lkl_state) == LKL_STATE_DEAD) {
		/* The CPU thread left at the panic; reclaim it. */
		if (cpu_thread_handle)
			lkl_ops->thread_join(cpu_thread_handle);
		cpu_thread_handle = NULL;
		return -LKL_EKERNELDEAD;
	}
	if (READ_ONCE(lkl_state) == LKL_STATE_RUNNING) {
		ret = lkl_kernel_syscall(LKL_SYSCALL_HALT, args, NULL);
		if (READ_ONCE(lkl_state) != LKL_STATE_HALTED)
			return ret < 0 ? ret : -EIO;
	} else if (READ_ONCE(lkl_state) != LKL_STATE_HALTED || !cpu_thread_handle) {
		return -ESHUTDOWN;
	}
	/* Halted, here or by a reboot() syscall: reclaim threads and memory. */
	lkl_ops->thread_join(cpu_thread_handle);
	cpu_thread_handle = NULL;
	lkl_free_threads();
	lkl_ops->thread_data_set(NULL);
	lkl_ops->page_free(memory_alloc, memory_alloc_size);
	memory_alloc = NULL;
	return 0;
}
