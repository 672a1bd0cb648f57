// SPDX-License-Identifier: GPL-2.0-only
/* The port has no assembly that needs structure offsets. */
#include <linux/kbuild.h>

int main(void)
{
	return 0;
}
