// SPDX-License-Identifier: GPL-2.0
/*
 * pvmig: /dev/pvmig, a snapshot of the guest's free pages for live
 * migration.  The interface is described in pvmig_uapi.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/poison.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pvmig_uapi.h"
#include "pvmig_walk.h"

/*
 * Default bound on one zone->lock hold (interrupts off), in microseconds.
 * The walk time hardly depends on the bound (a hold costs little, and a
 * fragmented walk is cut by the 4 KiB range buffer anyway), so the bound
 * is chosen for latency alone: the smallest one that TCG guests still
 * keep, below which the emulator's own jitter overruns it often.  The
 * figures are in docs/module-walk.md and bench/results/module.json.
 */
#define PVMIG_DEFAULT_HOLD_US	50
#define PVMIG_MAX_HOLD_US	10000

/* ranges produced per lock-drop/copy_to_user cycle: one 4 KiB buffer */
#define PVMIG_BUF_RANGES	(PAGE_SIZE / sizeof(struct pvmig_range))

static unsigned int max_hold_us = PVMIG_DEFAULT_HOLD_US;
module_param(max_hold_us, uint, 0644);
MODULE_PARM_DESC(max_hold_us,
		 "longest zone->lock hold during a snapshot, in us (1..10000)");

struct pvmig_dev {
	struct mutex lock;	/* serialises read/ioctl/llseek of the opener */
	unsigned long busy;	/* bit 0: opened */
	bool active;		/* a snapshot was started by read() at 0 */
	loff_t pos;		/* where the snapshot's stream stands */
	u64 t_start;
	struct pvmig_snapshot_info info;
	struct pvmig_walk walk;
};

static struct pvmig_dev pvmig_dev = {
	.lock = __MUTEX_INITIALIZER(pvmig_dev.lock),
};

/* per module load; only touched under pvmig_dev.lock */
static u64 pvmig_next_id = 1;

static void pvmig_info_reset(struct pvmig_snapshot_info *info)
{
	memset(info, 0, sizeof(*info));
	info->version = PVMIG_UAPI_VERSION;
	info->page_size = PAGE_SIZE;
	if (page_poisoning_enabled_static()) {
		info->flags |= PVMIG_INFO_POISONING;
		info->poison_pattern = PAGE_POISON;
	}
	if (want_init_on_free())
		info->flags |= PVMIG_INFO_INIT_ON_FREE;
}

/* No snapshot under way: the next read() at position 0 starts one. */
static void pvmig_rewind(struct pvmig_dev *d)
{
	d->active = false;
	d->pos = 0;
}

static void pvmig_snapshot_start(struct pvmig_dev *d)
{
	unsigned int us = clamp(READ_ONCE(max_hold_us), 1U, PVMIG_MAX_HOLD_US);
	unsigned long max_pfn;
	u64 nr_free;

	pvmig_info_reset(&d->info);
	d->info.snapshot_id = pvmig_next_id++;
	d->t_start = ktime_get_ns();
	pvmig_walk_start(&d->walk, (u64)us * NSEC_PER_USEC, &max_pfn,
			 &nr_free);
	d->info.max_pfn = max_pfn;
	d->info.nr_free_pages = nr_free;
	d->info.hold_limit_ns = (u64)us * NSEC_PER_USEC;
	d->active = true;
	d->pos = 0;
}

static void pvmig_info_update(struct pvmig_dev *d)
{
	struct pvmig_walk *w = &d->walk;
	struct pvmig_snapshot_info *info = &d->info;

	info->pages_reported = w->pages;
	info->ranges_reported = w->ranges;
	info->max_hold_ns = w->max_hold_ns;
	info->lock_holds = w->lock_holds;
	info->holds_over_limit = w->holds_over_limit;
	if (w->done && w->head == w->nr && !w->run_len &&
	    !(info->flags & PVMIG_INFO_COMPLETE)) {
		info->walk_ns = ktime_get_ns() - d->t_start;
		if (w->truncated)
			info->flags |= PVMIG_INFO_TRUNCATED;
		info->flags |= PVMIG_INFO_COMPLETE;
	}
}

static int pvmig_open(struct inode *inode, struct file *file)
{
	struct pvmig_dev *d = &pvmig_dev;
	struct pvmig_range *buf;

	if (test_and_set_bit_lock(0, &d->busy))
		return -EBUSY;

	buf = kmalloc_array(PVMIG_BUF_RANGES, sizeof(*buf), GFP_KERNEL);
	if (!buf) {
		clear_bit_unlock(0, &d->busy);
		return -ENOMEM;
	}

	mutex_lock(&d->lock);
	pvmig_walk_init(&d->walk, buf, PVMIG_BUF_RANGES);
	pvmig_rewind(d);
	pvmig_info_reset(&d->info);
	mutex_unlock(&d->lock);

	file->private_data = d;
	return 0;
}

static int pvmig_release(struct inode *inode, struct file *file)
{
	struct pvmig_dev *d = file->private_data;

	mutex_lock(&d->lock);
	kfree(d->walk.buf);
	pvmig_walk_init(&d->walk, NULL, 0);
	pvmig_rewind(d);
	mutex_unlock(&d->lock);

	clear_bit_unlock(0, &d->busy);
	return 0;
}

static ssize_t pvmig_read(struct file *file, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	const size_t rsz = sizeof(struct pvmig_range);
	struct pvmig_dev *d = file->private_data;
	struct pvmig_walk *w = &d->walk;
	size_t room, done = 0;
	ssize_t ret;

	if (count < rsz)
		return -EINVAL;
	room = min_t(size_t, count, MAX_RW_COUNT) / rsz;

	if (mutex_lock_killable(&d->lock))
		return -EINTR;

	if (*ppos == 0) {
		pvmig_snapshot_start(d);
	} else if (!d->active || *ppos != d->pos) {
		ret = -EINVAL;
		goto out;
	}

	while (room) {
		if (w->head < w->nr) {
			size_t n = min_t(size_t, room, w->nr - w->head);

			if (copy_to_user(ubuf + done * rsz, &w->buf[w->head],
					 n * rsz)) {
				if (!done) {
					ret = -EFAULT;
					goto out;
				}
				break;
			}
			w->head += n;
			done += n;
			room -= n;
			continue;
		}
		if (w->done && !w->run_len)
			break;
		pvmig_walk_fill(w);
		/* fill() flushes the last range only once there is room */
	}
	pvmig_info_update(d);

	ret = done * rsz;
	*ppos += ret;
	d->pos = *ppos;
out:
	mutex_unlock(&d->lock);
	return ret;
}

static loff_t pvmig_llseek(struct file *file, loff_t offset, int whence)
{
	struct pvmig_dev *d = file->private_data;
	loff_t pos;

	mutex_lock(&d->lock);
	switch (whence) {
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		pos = file->f_pos + offset;
		break;
	default:
		pos = -EINVAL;
		goto out;
	}
	/* only a rewind, or asking where we are, makes sense */
	if (pos == 0) {
		pvmig_rewind(d);
		file->f_pos = 0;
	} else if (pos != file->f_pos) {
		pos = -EINVAL;
	}
out:
	mutex_unlock(&d->lock);
	return pos;
}

static long pvmig_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	struct pvmig_dev *d = file->private_data;
	struct pvmig_snapshot_info info;

	if (cmd != PVMIG_IOC_GET_INFO)
		return -ENOTTY;

	mutex_lock(&d->lock);
	if (d->active)
		pvmig_info_update(d);
	info = d->info;
	mutex_unlock(&d->lock);

	if (copy_to_user((void __user *)arg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static const struct file_operations pvmig_fops = {
	.owner		= THIS_MODULE,
	.open		= pvmig_open,
	.release	= pvmig_release,
	.read		= pvmig_read,
	.llseek		= pvmig_llseek,
	.unlocked_ioctl	= pvmig_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice pvmig_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "pvmig",
	.fops	= &pvmig_fops,
	.mode	= 0600,
};

static int __init pvmig_init(void)
{
	int ret = misc_register(&pvmig_misc);

	if (ret)
		pr_err("cannot register /dev/pvmig: %d\n", ret);
	return ret;
}

static void __exit pvmig_exit(void)
{
	misc_deregister(&pvmig_misc);
}

module_init(pvmig_init);
module_exit(pvmig_exit);

MODULE_DESCRIPTION("pvmig: snapshot of free guest pages for live migration");
MODULE_LICENSE("GPL");
