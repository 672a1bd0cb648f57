// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disks: a blk-mq driver whose requests go to the host's block backend
 * (io_uring or a thread pool on an image file).  Completions come back as one
 * interrupt for any number of finished requests.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/interrupt.h>
#include <linux/major.h>
#include <linux/slab.h>
#include <linux/kdev_t.h>
#include "../../kernel/lkl.h"

#define LKL_MAX_DISKS		64
#define LKL_DISK_QUEUE_DEPTH	128

struct lkl_disk {
	struct gendisk *gd;
	struct blk_mq_tag_set tag_set;
	void *host;
};

static int lkl_disk_major;
static struct lkl_disk *disks[LKL_MAX_DISKS];
static DEFINE_MUTEX(disks_lock);
/* Finished requests, pushed by host threads, taken by the interrupt. */
static struct lkl_disk_request *done_list;

/**
 * lkl_kernel_disk_complete - the host finished @req (any thread)
 *
 * The request is queued; the host raises LKL_DISK_IRQ once for a batch.
 */
void lkl_kernel_disk_complete(struct lkl_disk_request *req)
{
	struct lkl_disk_request *head = __atomic_load_n(&done_list, __ATOMIC_RELAXED);

	do {
		req->next = head;
	} while (!__atomic_compare_exchange_n(&done_list, &head, req, true,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/*
 * End @rq with the host's result.  The block layer reports a failure as
 * "I/O error" only; the host's errno, logged here, says what went wrong.
 */
static void lkl_disk_end(struct request *rq, struct lkl_disk_request *req)
{
	static const char * const ops[] = {
		[LKL_DISK_READ] = "read", [LKL_DISK_WRITE] = "write",
		[LKL_DISK_FLUSH] = "flush", [LKL_DISK_DISCARD] = "discard",
		[LKL_DISK_WRITE_ZEROES] = "write zeroes",
	};

	if (unlikely(req->result < 0))
		pr_err_ratelimited("%s: host %s%s of %llu bytes at %llu failed: error %ld\n",
				   rq->q->disk ? rq->q->disk->disk_name : "lkl",
				   req->op < ARRAY_SIZE(ops) && ops[req->op] ? ops[req->op] : "request",
				   req->fua ? " (FUA)" : "", req->length, req->offset, req->result);
	blk_mq_end_request(rq, errno_to_blk_status(req->result));
}

static irqreturn_t lkl_disk_interrupt(int irq, void *dev_id)
{
	struct lkl_disk_request *req, *next;

	req = __atomic_exchange_n(&done_list, NULL, __ATOMIC_ACQUIRE);
	for (; req; req = next) {
		next = req->next;
		lkl_disk_end(req->cookie, req);
	}
	return IRQ_HANDLED;
}

static blk_status_t lkl_disk_queue_rq(struct blk_mq_hw_ctx *hctx,
				      const struct blk_mq_queue_data *bd)
{
	struct lkl_disk *disk = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	struct lkl_disk_request *req = blk_mq_rq_to_pdu(rq);
	struct req_iterator iter;
	struct bio_vec bvec;

	req->fua = 0;
	req->nr_segs = 0;
	req->offset = (unsigned long long)blk_rq_pos(rq) << SECTOR_SHIFT;
	req->length = blk_rq_bytes(rq);
	req->result = 0;
	req->cookie = rq;
	req->disk = disk->host;

	switch (req_op(rq)) {
	case REQ_OP_READ:
		req->op = LKL_DISK_READ;
		break;
	case REQ_OP_WRITE:
		req->op = LKL_DISK_WRITE;
		req->fua = !!(rq->cmd_flags & REQ_FUA);
		break;
	case REQ_OP_FLUSH:
		req->op = LKL_DISK_FLUSH;
		break;
	case REQ_OP_DISCARD:
		req->op = LKL_DISK_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		req->op = LKL_DISK_WRITE_ZEROES;
		break;
	default:
		return BLK_STS_NOTSUPP;
	}

	if (req->op == LKL_DISK_READ || req->op == LKL_DISK_WRITE) {
		rq_for_each_segment(bvec, rq, iter) {
			void *base = bvec_virt(&bvec);
			struct lkl_disk_iovec *last = req->nr_segs ?
				&req->segs[req->nr_segs - 1] : NULL;

			/* Adjacent pages are one host segment. */
			if (last && (char *)last->base + last->len == base) {
				last->len += bvec.bv_len;
				continue;
			}
			if (WARN_ON_ONCE(req->nr_segs == LKL_DISK_MAX_SEGS))
				return BLK_STS_IOERR;
			req->segs[req->nr_segs].base = base;
			req->segs[req->nr_segs].len = bvec.bv_len;
			req->nr_segs++;
		}
	}

	blk_mq_start_request(rq);
	/* Data the host has at hand (its page cache, tmpfs) is copied at
	 * once: no wait, no interrupt, no switch. */
	if (lkl_ops->disk_submit(disk->host, req, bd->last)) {
		lkl_stat_inc_owner(disk_requests_inline);
		lkl_disk_end(rq, req);
	} else {
		lkl_stat_inc_owner(disk_requests_queued);
		/* Submitted to the host in a batch (lkl_io_flush()). */
		lkl_io_unsubmitted = true;
	}
	return BLK_STS_OK;
}

static void lkl_disk_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct lkl_disk *disk = hctx->queue->queuedata;

	lkl_ops->disk_commit(disk->host);
}

static const struct blk_mq_ops lkl_disk_mq_ops = {
	.queue_rq	= lkl_disk_queue_rq,
	.commit_rqs	= lkl_disk_commit_rqs,
};

static const struct block_device_operations lkl_disk_fops = {
	.owner		= THIS_MODULE,
};

/* Returns the new disk's dev_t (encoded), or a negative errno. */
long lkl_disk_add(void *host, unsigned long long capacity, bool read_only)
{
	struct queue_limits lim = {
		.logical_block_size	= 512,
		.physical_block_size	= 4096,
		.max_hw_sectors		= (LKL_DISK_MAX_SEGS - 1) * (PAGE_SIZE >> SECTOR_SHIFT),
		.max_segments		= LKL_DISK_MAX_SEGS,
		.max_hw_discard_sectors	= UINT_MAX >> SECTOR_SHIFT,
		.max_write_zeroes_sectors = UINT_MAX >> SECTOR_SHIFT,
		.features		= BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA,
	};
	struct lkl_disk *disk;
	int minor, err;

	if (!capacity || capacity % 512)
		return -EINVAL;
	mutex_lock(&disks_lock);
	for (minor = 0; minor < LKL_MAX_DISKS && disks[minor]; minor++)
		;
	if (minor == LKL_MAX_DISKS) {
		err = -ENOSPC;
		goto out_unlock;
	}
	disk = kzalloc(sizeof(*disk), GFP_KERNEL);
	if (!disk) {
		err = -ENOMEM;
		goto out_unlock;
	}
	disk->host = host;
	disk->tag_set.ops = &lkl_disk_mq_ops;
	disk->tag_set.nr_hw_queues = 1;
	disk->tag_set.queue_depth = LKL_DISK_QUEUE_DEPTH;
	disk->tag_set.numa_node = NUMA_NO_NODE;
	disk->tag_set.cmd_size = sizeof(struct lkl_disk_request);
	disk->tag_set.driver_data = disk;
	err = blk_mq_alloc_tag_set(&disk->tag_set);
	if (err)
		goto out_free;

	disk->gd = blk_mq_alloc_disk(&disk->tag_set, &lim, disk);
	if (IS_ERR(disk->gd)) {
		err = PTR_ERR(disk->gd);
		goto out_tags;
	}
	disk->gd->major = lkl_disk_major;
	disk->gd->first_minor = minor;
	disk->gd->minors = 1;
	disk->gd->fops = &lkl_disk_fops;
	disk->gd->private_data = disk;
	snprintf(disk->gd->disk_name, DISK_NAME_LEN, "lkl%d", minor);
	set_capacity(disk->gd, capacity >> SECTOR_SHIFT);
	set_disk_ro(disk->gd, read_only);
	err = add_disk(disk->gd);
	if (err)
		goto out_disk;
	disks[minor] = disk;
	mutex_unlock(&disks_lock);
	return new_encode_dev(MKDEV(lkl_disk_major, minor));

out_disk:
	put_disk(disk->gd);
out_tags:
	blk_mq_free_tag_set(&disk->tag_set);
out_free:
	kfree(disk);
out_unlock:
	mutex_unlock(&disks_lock);
	return err;
}

long lkl_disk_remove(unsigned int minor)
{
	struct lkl_disk *disk;

	if (minor >= LKL_MAX_DISKS)
		return -EINVAL;
	mutex_lock(&disks_lock);
	disk = disks[minor];
	if (!disk) {
		mutex_unlock(&disks_lock);
		return -ENXIO;
	}
	disks[minor] = NULL;
	mutex_unlock(&disks_lock);
	del_gendisk(disk->gd);
	put_disk(disk->gd);
	blk_mq_free_tag_set(&disk->tag_set);
	kfree(disk);
	return 0;
}

/**
 * lkl_disk_busy - whether disk @minor is open (mounted, or held by a file)
 *
 * Returns 1 or 0, or -ENXIO when there is no such disk.
 */
long lkl_disk_busy(unsigned int minor)
{
	long ret = -ENXIO;

	if (minor >= LKL_MAX_DISKS)
		return ret;
	mutex_lock(&disks_lock);
	if (disks[minor])
		ret = disk_openers(disks[minor]->gd) > 0;
	mutex_unlock(&disks_lock);
	return ret;
}

/**
 * lkl_disk_first_busy - the lowest minor of a disk that is open, or -1
 */
int lkl_disk_first_busy(void)
{
	int minor;

	for (minor = 0; minor < LKL_MAX_DISKS; minor++)
		if (lkl_disk_busy(minor) == 1)
			return minor;
	return -1;
}

static int __init lkl_disk_init(void)
{
	lkl_disk_major = register_blkdev(0, "lkl");
	if (lkl_disk_major < 0)
		return lkl_disk_major;
	if (request_irq(LKL_DISK_IRQ, lkl_disk_interrupt, 0, "lkl-disk", NULL))
		pr_warn("lkl: cannot request the disk interrupt\n");
	return 0;
}
device_initcall(lkl_disk_init);
