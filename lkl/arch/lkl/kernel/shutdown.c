// SPDX-License-Identifier: GPL-2.0-only
/*
 * Halt: leave every disk clean, whatever the tasks did before, then power off.
 *
 * The work runs in the halting thread's task, but with init's credentials:
 * the caller may have dropped its own (setuid, setfsuid, capset ...).  Every
 * open file of every task is closed, every task's root and working directory
 * go back to the real root, and every mount of a disk, together with
 * everything mounted on top of one, is unmounted, deepest first.  Only when
 * that worked and no disk is still in use does the kernel power off;
 * otherwise the halt fails and the kernel keeps running.
 */
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/init_task.h>
#include <linux/limits.h>
#include <linux/mount.h>
#include <linux/nsproxy.h>
#include <linux/path.h>
#include <linux/rbtree.h>
#include <linux/reboot.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/syscalls.h>
#include <linux/task_work.h>
#include "../../../fs/mount.h"
#include "../../../fs/internal.h"
#include "lkl.h"

/* Final fput()s and mntput()s are left for "return to user mode": run them. */
static void run_deferred_puts(void)
{
	task_work_run();
	flush_delayed_fput();
}

/* A task of a host thread (or other user task) whose file table is not @mine. */
static struct task_struct *find_other_files(struct files_struct *mine)
{
	struct task_struct *g, *t;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		if (!(t->flags & PF_KTHREAD) && t->files && t->files != mine) {
			get_task_struct(t);
			rcu_read_unlock();
			return t;
		}
	}
	rcu_read_unlock();
	return NULL;
}

/*
 * Close every file descriptor of every task.  The caller's table (normally
 * pid 1's, shared by all host threads) is emptied; a task with a table of its
 * own (unshare(CLONE_FILES)) is given the caller's and its old one is put,
 * which closes its files when the last user lets go.
 */
static void close_all_files(void)
{
	struct files_struct *mine = current->files;
	struct files_struct *old;
	struct task_struct *t;

	__close_range(0, ~0U, 0);
	while ((t = find_other_files(mine))) {
		task_lock(t);
		old = t->files;
		if (old && old != mine) {
			atomic_inc(&mine->count);
			t->files = mine;
		} else {
			old = NULL;
		}
		task_unlock(t);
		put_task_struct(t);
		if (old)
			put_files_struct(old);
	}
	run_deferred_puts();
}

/* A task's fs_struct whose root or cwd is not @root, with a reference. */
static struct fs_struct *find_moved_fs(const struct path *root)
{
	struct task_struct *g, *t;
	struct fs_struct *fs;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		task_lock(t);
		fs = t->fs;
		if (fs && (!path_equal(&fs->root, root) || !path_equal(&fs->pwd, root))) {
			spin_lock(&fs->lock);
			fs->users++;
			spin_unlock(&fs->lock);
			task_unlock(t);
			rcu_read_unlock();
			return fs;
		}
		task_unlock(t);
	}
	rcu_read_unlock();
	return NULL;
}

/* Undo chroot and chdir in every task: they would keep mounts busy. */
static void reset_all_fs(const struct path *root)
{
	struct fs_struct *fs;
	bool last;

	while ((fs = find_moved_fs(root))) {
		set_fs_root(fs, root);
		set_fs_pwd(fs, root);
		spin_lock(&fs->lock);
		last = !--fs->users;
		spin_unlock(&fs->lock);
		if (last)
			free_fs_struct(fs);
	}
}

struct victim {
	struct path path;
	int depth;
};

/* @m is a disk's file system, or mounted (maybe indirectly) on top of one. */
static bool on_disk(struct mount *m)
{
	for (;;) {
		if (m->mnt.mnt_sb->s_bdev)
			return true;
		if (!mnt_has_parent(m))
			return false;
		m = m->mnt_parent;
	}
}

static int mount_depth(struct mount *m)
{
	int depth = 0;

	for (; mnt_has_parent(m); m = m->mnt_parent)
		depth++;
	return depth;
}

static int deeper_first(const void *a, const void *b)
{
	return ((const struct victim *)b)->depth - ((const struct victim *)a)->depth;
}

/*
 * Unmount every mount of a disk in the caller's namespace, and whatever is
 * mounted on top of those (which would keep them busy), deepest first.
 * Returns 0, or the first error (each failure is logged).
 */
static int unmount_disks(void)
{
	struct mnt_namespace *ns = current->nsproxy->mnt_ns;
	unsigned int n = ns->nr_mounts, count = 0, i;
	struct victim *v;
	struct rb_node *node;
	char *buf, *name;
	int err, ret = 0;

	v = kcalloc(n, sizeof(*v), GFP_KERNEL);
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!v || !buf) {
		kfree(v);
		kfree(buf);
		return -ENOMEM;
	}
	/*
	 * One CPU and no preemption: nothing changes the tree while this
	 * walk, which does not sleep, runs.
	 */
	for (node = rb_first(&ns->mounts); node && count < n; node = rb_next(node)) {
		struct mount *m = rb_entry(node, struct mount, mnt_node);

		if (!mnt_has_parent(m) || !on_disk(m))
			continue;
		v[count].path.mnt = mntget(&m->mnt);
		v[count].path.dentry = dget(m->mnt.mnt_root);
		v[count].depth = mount_depth(m);
		count++;
	}
	sort(v, count, sizeof(*v), deeper_first, NULL);

	for (i = 0; i < count; i++) {
		name = d_path(&v[i].path, buf, PATH_MAX);
		if (IS_ERR(name))
			name = "(unnamed)";
		/* Drops the references taken above. */
		err = path_umount(&v[i].path, 0);
		/* The file system is shut down by the last mntput(). */
		run_deferred_puts();
		if (err) {
			pr_err("lkl: halt: cannot unmount %s: error %d\n", name, err);
			if (!ret)
				ret = err;
		}
	}
	kfree(buf);
	kfree(v);
	return ret;
}

/**
 * lkl_shutdown - make every disk clean and power the kernel off
 *
 * Runs with init's credentials, whatever the calling task's.  Closes every
 * file of every task, moves every task's root and working directory back to
 * the real root, unmounts every mount of a disk (and what covers one),
 * deepest first, and syncs.  Then powers off (does not return) if every
 * unmount worked and no disk is still open.  Otherwise returns a negative
 * errno (-EBUSY, or the unmount's error) and the kernel keeps running, with
 * its files closed and the rest unmounted.
 */
long lkl_shutdown(void)
{
	struct mnt_namespace *ns = current->nsproxy->mnt_ns;
	const struct cred *old = override_creds(&init_cred);
	struct path root;
	int busy;
	long ret;

	lkl_syslet_halt();
	root.mnt = mntget(&ns->root->mnt);
	root.dentry = dget(ns->root->mnt.mnt_root);
	close_all_files();
	reset_all_fs(&root);
	path_put(&root);
	ret = unmount_disks();
	ksys_sync();
	busy = lkl_disk_first_busy();
	if (busy >= 0) {
		pr_err("lkl: halt: disk lkl%d is still in use (mounted or open)\n", busy);
		if (!ret)
			ret = -EBUSY;
	}
	if (ret) {
		pr_err("lkl: halt failed (error %ld): the kernel keeps running\n", ret);
		lkl_syslet_halt_failed();
		revert_creds(old);
		return ret;
	}
	kernel_power_off();
	return -EIO;	/* not reached: power off leaves the kernel */
}
