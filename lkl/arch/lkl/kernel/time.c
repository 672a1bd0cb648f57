// SPDX-License-Identifier: GPL-2.0-only
/*
 * Time from the host's monotonic clock.  The clock event device is a single
 * deadline that the CPU thread's idle wait honours: no host thread or timer
 * is created per expiry.
 */
#include <linux/clocksource.h>
#include <linux/clockchips.h>
#include <linux/interrupt.h>
#include <linux/sched_clock.h>
#include <linux/sched/clock.h>
#include <linux/timekeeping.h>
#include <linux/delay.h>
#include <linux/init.h>
#include "lkl.h"

unsigned long long lkl_timer_deadline;
static unsigned long long boot_ns;

static u64 lkl_clock_read(struct clocksource *cs)
{
	return lkl_ops->time_ns();
}

static struct clocksource lkl_clocksource = {
	.name	= "lkl",
	.rating	= 499,
	.read	= lkl_clock_read,
	.flags	= CLOCK_SOURCE_IS_CONTINUOUS,
	.mask	= CLOCKSOURCE_MASK(64),
};

unsigned long long sched_clock(void)
{
	return lkl_ops ? lkl_ops->time_ns() - boot_ns : 0;
}

static int lkl_timer_next(unsigned long delta, struct clock_event_device *evt)
{
	unsigned long long deadline = lkl_ops->time_ns() + delta;

	__atomic_store_n(&lkl_timer_deadline, deadline, __ATOMIC_SEQ_CST);
	lkl_idle_deadline_moved(deadline);
	return 0;
}

static int lkl_timer_shutdown(struct clock_event_device *evt)
{
	WRITE_ONCE(lkl_timer_deadline, 0);
	return 0;
}

static struct clock_event_device lkl_clockevent = {
	.name			= "lkl",
	.features		= CLOCK_EVT_FEAT_ONESHOT,
	.set_next_event		= lkl_timer_next,
	.set_state_shutdown	= lkl_timer_shutdown,
	.set_state_oneshot	= lkl_timer_shutdown,
	.rating			= 499,
};

/* Called by the CPU thread: an expired deadline becomes a timer interrupt. */
void lkl_timer_check(void)
{
	unsigned long long deadline = READ_ONCE(lkl_timer_deadline);

	if (deadline && lkl_ops->time_ns() >= deadline) {
		WRITE_ONCE(lkl_timer_deadline, 0);
		lkl_irq_raise_pending(LKL_TIMER_IRQ);
	}
}

static irqreturn_t lkl_timer_interrupt(int irq, void *dev_id)
{
	lkl_clockevent.event_handler(&lkl_clockevent);
	return IRQ_HANDLED;
}

void read_persistent_clock64(struct timespec64 *ts)
{
	*ts = ns_to_timespec64(lkl_ops->realtime_ns());
}

void __init time_init(void)
{
	boot_ns = lkl_ops->time_ns();
	if (clocksource_register_hz(&lkl_clocksource, NSEC_PER_SEC))
		panic("lkl: cannot register the clock source");
	if (request_irq(LKL_TIMER_IRQ, lkl_timer_interrupt, IRQF_TIMER,
			"timer", NULL))
		panic("lkl: cannot request the timer interrupt");
	lkl_clockevent.cpumask = cpumask_of(0);
	clockevents_config_and_register(&lkl_clockevent, NSEC_PER_SEC,
					1000, ULONG_MAX);
}

/* No calibration: delays are measured on the host clock. */
unsigned long calibrate_delay_is_known(void)
{
	return 1000000 / HZ;
}

void __ndelay(unsigned long nsecs)
{
	unsigned long long end = lkl_ops->time_ns() + nsecs;

	while (lkl_ops->time_ns() < end)
		;
}

void __udelay(unsigned long usecs)
{
	__ndelay(usecs * NSEC_PER_USEC);
}

void __delay(unsigned long loops)
{
	__ndelay(loops);
}
