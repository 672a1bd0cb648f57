/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _ASM_LKL_IRQFLAGS_H
#define _ASM_LKL_IRQFLAGS_H

#define ARCH_IRQ_ENABLED	1
#define ARCH_IRQ_DISABLED	0

#ifndef __ASSEMBLY__
/*
 * The interrupt flag is a variable of the one virtual CPU.  Interrupts raised
 * by host threads that cannot take the CPU are left pending; they run when the
 * CPU owner enables interrupts or releases the CPU.
 */
extern unsigned long lkl_irq_enabled;
extern int lkl_irq_pending;
void lkl_run_pending_irqs(void);

static inline unsigned long arch_local_save_flags(void)
{
	return lkl_irq_enabled;
}

static inline void arch_local_irq_restore(unsigned long flags)
{
	lkl_irq_enabled = flags;
	if (flags == ARCH_IRQ_ENABLED && __atomic_load_n(&lkl_irq_pending, __ATOMIC_RELAXED))
		lkl_run_pending_irqs();
}
#endif

#include <asm-generic/irqflags.h>

#endif /* _ASM_LKL_IRQFLAGS_H */
