// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts.  Any host thread may raise one: if it can take the CPU it runs
 * the handler at once, otherwise the interrupt is left pending and the CPU
 * owner runs it when it enables interrupts or releases the CPU.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/hardirq.h>
#include <linux/kernel_stat.h>
#include <linux/moduleparam.h>
#include <asm/irq_regs.h>
#include "lkl.h"

unsigned long lkl_irq_enabled = ARCH_IRQ_DISABLED;
int lkl_irq_pending;
static unsigned long pending_bits;
static bool dispatching;

void lkl_irq_raise_pending(int irq)
{
	__atomic_or_fetch(&pending_bits, 1UL << irq, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lkl_irq_pending, 1, __ATOMIC_SEQ_CST);
	/* Raised by a thread that does not hold the CPU: its owner may be
	 * waiting for host I/O, and must run the handler now. */
	lkl_io_waiter_kick();
}

/* Runs on the CPU owner only. */
void lkl_run_pending_irqs(void)
{
	/* The tick needs interrupt registers to account time and run the
	 * timer wheel and RCU: there is no user mode, so they are blank. */
	struct pt_regs regs = { 0 }, *old_regs;
	unsigned long flags, bits;
	int irq;

	if (dispatching)
		return;
	dispatching = true;
	while (__atomic_exchange_n(&lkl_irq_pending, 0, __ATOMIC_SEQ_CST)) {
		bits = __atomic_exchange_n(&pending_bits, 0, __ATOMIC_SEQ_CST);
		flags = arch_local_irq_save();
		old_regs = set_irq_regs(&regs);
		irq_enter();
		while (bits) {
			irq = __builtin_ctzl(bits);
			bits &= bits - 1;
			generic_handle_irq(irq);
		}
		irq_exit();
		set_irq_regs(old_regs);
		arch_local_irq_restore(flags);
	}
	dispatching = false;
}

/**
 * lkl_kernel_trigger_irq - raise interrupt @irq from any host thread
 */
void lkl_kernel_trigger_irq(int irq)
{
	struct lkl_thread *self;

	if (irq <= 0 || irq >= NR_IRQS || READ_ONCE(lkl_state) != LKL_STATE_RUNNING)
		return;
	lkl_irq_raise_pending(irq);
	/*
	 * The CPU thread runs the handler when this thread never entered the
	 * kernel, or when the CPU is idle (so that the idle loop sees what
	 * the handler did, e.g. a new timer).  Otherwise run it here if the
	 * CPU can be taken; if not, its owner runs it on release.
	 */
	self = lkl_thread_self();
	if (!self || is_idle_task(READ_ONCE(lkl_current_task))) {
		lkl_notify_cpu_thread();
		return;
	}
	if (lkl_cpu_owned_by(self)) {
		/* Inside a kernel entry, whose escape point serves. */
		lkl_cpu_try_take(self);
		lkl_cpu_release(self);
		return;
	}
	if (!lkl_cpu_try_lock(self))
		return;		/* the owner runs it when it releases the CPU */
	/* A panic in a handler leaves the kernel through here. */
	WRITE_ONCE(self->inside, 1);
	if (!lkl_ctx_save(&self->escape_ctx))
		lkl_cpu_release(self);
	__atomic_store_n(&self->inside, 0, __ATOMIC_RELEASE);
}

void __init init_IRQ(void)
{
	int irq;

	for (irq = 1; irq < NR_IRQS; irq++)
		irq_set_chip_and_handler(irq, &dummy_irq_chip, handle_simple_irq);
}

/*
 * "lkl_test_irq=N" on the command line attaches a handler that only counts
 * to interrupt N, so that tests can check delivery in /proc/interrupts.
 */
static int test_irq;
core_param(lkl_test_irq, test_irq, int, 0444);

bool lkl_test_irq_panics;

static irqreturn_t lkl_test_irq_handler(int irq, void *dev_id)
{
	if (READ_ONCE(lkl_test_irq_panics))
		panic("lkl: panic requested in the test interrupt");
	return IRQ_HANDLED;
}

static int __init lkl_test_irq_init(void)
{
	if (test_irq > LKL_TIMER_IRQ && test_irq < NR_IRQS &&
	    request_irq(test_irq, lkl_test_irq_handler, 0, "lkl-test", NULL))
		pr_warn("lkl: cannot attach the test interrupt %d\n", test_irq);
	return 0;
}
late_initcall(lkl_test_irq_init);

int arch_show_interrupts(struct seq_file *p, int prec)
{
	return 0;
}
