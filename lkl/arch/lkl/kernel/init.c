// SPDX-License-Identifier: GPL-2.0-only
/*
 * pid 1.  The kernel's init "executes" /init, a file this port creates in the
 * root file system and that only its own binary format accepts.  Loading it
 * turns init into an ordinary process without running any program; its
 * thread then serves the host threads (see lkl_pid1_loop()).
 */
#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include "lkl.h"

static const char init_magic[] = "\177LKL-INIT\n";

static int lkl_init_load(struct linux_binprm *bprm)
{
	int ret;

	if (memcmp(bprm->buf, init_magic, sizeof(init_magic) - 1))
		return -ENOEXEC;
	ret = begin_new_exec(bprm);
	if (ret)
		return ret;
	setup_new_exec(bprm);
	finalize_exec(bprm);
	return 0;
}

static struct linux_binfmt lkl_init_format = {
	.module		= THIS_MODULE,
	.load_binary	= lkl_init_load,
};

static int __init lkl_init_file(void)
{
	struct file *file;
	loff_t pos = 0;
	ssize_t n;

	register_binfmt(&lkl_init_format);
	file = filp_open("/init", O_CREAT | O_WRONLY | O_TRUNC, 0700);
	if (IS_ERR(file))
		panic("lkl: cannot create /init: %ld", PTR_ERR(file));
	n = kernel_write(file, init_magic, sizeof(init_magic) - 1, &pos);
	filp_close(file, NULL);
	/* The close is completed on "return to user"; do it now so that
	 * /init is no longer open for writing when it is executed. */
	task_work_run();
	if (n != sizeof(init_magic) - 1)
		panic("lkl: cannot write /init: %zd", n);
	return 0;
}
late_initcall(lkl_init_file);
