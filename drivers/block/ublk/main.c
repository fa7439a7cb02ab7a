// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: userspace block device.
 *
 * The module, /dev/ublk-control, device numbers, and the creation,
 * removal and lifetime of devices.
 *
 * A device lives as long as its struct device (cdev_dev) has references:
 * one from ADD_DEV until DEL_DEV, one per control command working on it,
 * one from the disk (START_DEV to the disk's release), and the server's
 * open file through the cdev.  Its id stays taken in ublk_idr until the
 * last one goes, so an id never names two devices at once.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ublk.h"

/*
 * This driver's version, for modinfo and the load message; the DKMS
 * package (scripts/deb.sh) takes its version from here too.
 */
#define UBLK_DRV_VERSION	"0.1.0"

/*
 * What tells this ublk_drv from the kernel's own, which has the same name
 * and description: the version, the "flavour" in modinfo and the load
 * message, both with the optional features the build found in the kernel
 * it was built against (zero copy: io_uring kernel buffers; batch:
 * multishot uring_cmd; iopoll: ->uring_cmd_iopoll() for any command).
 */
#ifdef UBLK_HAVE_KBUF
#define UBLK_BUILD_ZC		"yes"
#else
#define UBLK_BUILD_ZC		"no"
#endif
#ifdef UBLK_HAVE_MSHOT
#define UBLK_BUILD_BATCH	"yes"
#else
#define UBLK_BUILD_BATCH	"no"
#endif
#ifdef UBLK_HAVE_IOPOLL
#define UBLK_BUILD_IOPOLL	"yes"
#else
#define UBLK_BUILD_IOPOLL	"no"
#endif
#define UBLK_BUILD_FEATURES	"zero_copy=" UBLK_BUILD_ZC " batch=" \
				UBLK_BUILD_BATCH " iopoll=" UBLK_BUILD_IOPOLL

/*
 * Serializes ADD_DEV (the id, the char device, the count of unprivileged
 * devices); protects ublks_added.  Never held while waiting for a server.
 */
static DEFINE_MUTEX(ublk_ctl_mutex);

/* id -> device; an entry is NULL while its ADD_DEV is in progress */
static DEFINE_IDR(ublk_idr);
static DEFINE_SPINLOCK(ublk_idr_lock);
/* DEL_DEV waits here for an id to be freed */
static DECLARE_WAIT_QUEUE_HEAD(ublk_idr_wq);

static dev_t ublk_chr_devt;
static const struct class ublk_chr_class = {
	.name = "ublk-char",
};

/*
 * Unprivileged devices that may exist at once (module parameter
 * ublks_max), and how many do.
 */
static unsigned int ublks_max = 64;
static unsigned int ublks_added;

static struct miscdevice ublk_misc;

/*
 * Runs stage 2 of server exits.  The module's own, so that unloading
 * waits for work still running after it dropped its device reference.
 */
struct workqueue_struct *ublk_wq;

void ublk_get_device(struct ublk_device *ub)
{
	get_device(&ub->cdev_dev);
}

void ublk_put_device(struct ublk_device *ub)
{
	put_device(&ub->cdev_dev);
}

struct ublk_device *ublk_get_device_from_id(u32 id)
{
	struct ublk_device *ub;

	if (id >= UBLK_MAX_UBLKS)
		return NULL;

	spin_lock(&ublk_idr_lock);
	ub = idr_find(&ublk_idr, id);
	/* the last reference may be going: then it is gone */
	if (ub && !kobject_get_unless_zero(&ub->cdev_dev.kobj))
		ub = NULL;
	spin_unlock(&ublk_idr_lock);
	return ub;
}

static bool ublk_id_freed(u32 id)
{
	bool freed;

	spin_lock(&ublk_idr_lock);
	freed = !idr_find(&ublk_idr, id);
	spin_unlock(&ublk_idr_lock);
	return freed;
}

static bool ublk_no_devices(void)
{
	bool none;

	spin_lock(&ublk_idr_lock);
	none = idr_is_empty(&ublk_idr);
	spin_unlock(&ublk_idr_lock);
	return none;
}

int ublk_wait_id_freed(u32 id)
{
	if (wait_event_interruptible(ublk_idr_wq, ublk_id_freed(id)))
		return -EINTR;
	return 0;
}

static void ublk_free_queues(struct ublk_device *ub)
{
	unsigned int i;

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];

		if (!ubq)
			continue;
		ublk_batch_free_queue(ubq);
		vfree(ubq->iods);
		kvfree(ubq);
	}
}

/* the device's last reference is gone */
static void ublk_dev_release(struct device *dev)
{
	struct ublk_device *ub = container_of(dev, struct ublk_device,
					      cdev_dev);

	ublk_free_queues(ub);
	if (ub->tag_set.tags)
		blk_mq_free_tag_set(&ub->tag_set);
	if (ub->ub_number >= 0) {
		spin_lock(&ublk_idr_lock);
		idr_remove(&ublk_idr, ub->ub_number);
		spin_unlock(&ublk_idr_lock);
		wake_up_all(&ublk_idr_wq);
	}
	mutex_destroy(&ub->cancel_mutex);
	mutex_destroy(&ub->mutex);
	kfree(ub);
}

/* the NUMA node of the CPUs that submit to queue @q */
static int ublk_queue_node(struct ublk_device *ub, unsigned int q)
{
	unsigned int *map = ub->tag_set.map[HCTX_TYPE_DEFAULT].mq_map;
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		if (map[cpu] == q)
			return cpu_to_node(cpu);
	return NUMA_NO_NODE;
}

static int ublk_alloc_queues(struct ublk_device *ub)
{
	unsigned int depth = ub->dev_info.queue_depth;
	unsigned int i;

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq;

		ubq = kvzalloc_node(struct_size(ubq, ios, depth), GFP_KERNEL,
				    ublk_queue_node(ub, i));
		if (!ubq)
			return -ENOMEM;
		ubq->q_depth = depth;
		ub->queues[i] = ubq;

		ubq->iod_size = ub->dev_info.io_desc_size;
		ubq->iods = vmalloc_user(ublk_iods_size(depth, ubq->iod_size));
		if (!ubq->iods)
			return -ENOMEM;
		ubq->dev = ub;
		ubq->flags = ub->dev_info.flags;
		ubq->q_id = i;
		/* no server yet */
		ubq->nosrv = UBLK_NOSRV_FAIL;
		spin_lock_init(&ubq->cancel_lock);
		if (ublk_dev_batch(ub)) {
			int ret = ublk_batch_init_queue(ubq);

			if (ret)
				return ret;
		}
	}
	return 0;
}

static int ublk_alloc_tag_set(struct ublk_device *ub)
{
	struct blk_mq_tag_set *set = &ub->tag_set;
	int ret;

	set->ops = ublk_dev_batch(ub) ? &ublk_batch_mq_ops : &ublk_mq_ops;
	set->nr_hw_queues = ub->dev_info.nr_hw_queues;
	set->queue_depth = ub->dev_info.queue_depth;
	set->numa_node = NUMA_NO_NODE;
	set->cmd_size = sizeof(struct ublk_rq_data);
	set->flags = BLK_MQ_F_SHOULD_MERGE;
	set->driver_data = ub;

	ret = blk_mq_alloc_tag_set(set);
	if (ret)
		set->tags = NULL;
	return ret;
}

/* take id @want, or any free one for U32_MAX, without a device yet */
static int ublk_alloc_id(u32 want)
{
	int id;

	idr_preload(GFP_KERNEL);
	spin_lock(&ublk_idr_lock);
	if (want == U32_MAX) {
		id = idr_alloc(&ublk_idr, NULL, 0, UBLK_MAX_UBLKS, GFP_NOWAIT);
	} else {
		id = idr_alloc(&ublk_idr, NULL, want, want + 1, GFP_NOWAIT);
		if (id == -ENOSPC)
			id = -EEXIST;
	}
	spin_unlock(&ublk_idr_lock);
	idr_preload_end();
	return id;
}

/*
 * ADD_DEV: create the device @info describes (checked by the caller) and
 * its char device, and report it back at @argp.
 */
int ublk_add_dev(struct ublksrv_ctrl_dev_info *info, void __user *argp)
{
	bool unprivileged = info->flags & UBLK_F_UNPRIVILEGED_DEV;
	unsigned int nr_queues = min(info->nr_hw_queues, nr_cpu_ids);
	struct ublk_device *ub;
	kuid_t uid;
	kgid_t gid;
	int ret;

	ret = mutex_lock_killable(&ublk_ctl_mutex);
	if (ret)
		return ret;

	if (unprivileged && ublks_added >= READ_ONCE(ublks_max)) {
		ret = -EACCES;
		goto out_unlock;
	}

	ub = kzalloc(struct_size(ub, queues, nr_queues), GFP_KERNEL);
	if (!ub) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	mutex_init(&ub->mutex);
	mutex_init(&ub->cancel_mutex);
	spin_lock_init(&ub->lock);
	init_waitqueue_head(&ub->wait);
	INIT_DELAYED_WORK(&ub->release_work, ublk_server_release_work);
	ub->canceling = true;
	ub->ub_number = -1;

	/* from here on, the release function cleans up */
	device_initialize(&ub->cdev_dev);
	ub->cdev_dev.parent = ublk_misc.this_device;
	ub->cdev_dev.class = &ublk_chr_class;
	ub->cdev_dev.release = ublk_dev_release;

	ret = ublk_alloc_id(info->dev_id);
	if (ret < 0)
		goto out_put;
	ub->ub_number = ret;
	ub->cdev_dev.devt = MKDEV(MAJOR(ublk_chr_devt), ub->ub_number);

	current_uid_gid(&uid, &gid);
	ub->dev_info = (struct ublksrv_ctrl_dev_info) {
		.nr_hw_queues		= nr_queues,
		.queue_depth		= info->queue_depth,
		.state			= UBLK_S_DEV_DEAD,
		.io_desc_size		= info->io_desc_size,
		.max_io_buf_bytes	= round_down(info->max_io_buf_bytes,
						     PAGE_SIZE),
		.dev_id			= ub->ub_number,
		.ublksrv_pid		= -1,
		.flags			= info->flags,
		.ublksrv_flags		= info->ublksrv_flags,
		.owner_uid		= from_kuid(&init_user_ns, uid),
		.owner_gid		= from_kgid(&init_user_ns, gid),
		/* unused; kept as the server wrote them, as 6.12 keeps them */
		.pad1			= info->pad1,
		.reserved1		= info->reserved1,
		.reserved2		= info->reserved2,
	};
	ub->nr_ios = nr_queues * info->queue_depth;

	ret = ublk_alloc_tag_set(ub);
	if (ret)
		goto out_put;
	ret = ublk_alloc_queues(ub);
	if (ret)
		goto out_put;

	if (copy_to_user(argp, &ub->dev_info, sizeof(ub->dev_info))) {
		ret = -EFAULT;
		goto out_put;
	}

	ret = dev_set_name(&ub->cdev_dev, "ublkc%d", ub->ub_number);
	if (ret)
		goto out_put;
	cdev_init(&ub->cdev, &ublk_ch_fops);
	ret = cdev_device_add(&ub->cdev, &ub->cdev_dev);
	if (ret)
		goto out_put;

	spin_lock(&ublk_idr_lock);
	idr_replace(&ublk_idr, ub, ub->ub_number);
	spin_unlock(&ublk_idr_lock);
	if (unprivileged)
		ublks_added++;
	mutex_unlock(&ublk_ctl_mutex);
	return 0;

out_put:
	put_device(&ub->cdev_dev);
out_unlock:
	mutex_unlock(&ublk_ctl_mutex);
	return ret;
}

/*
 * DEL_DEV: stop the device, remove its char device and drop the
 * reference ADD_DEV took.  It is freed when the other references go.
 * -EINTR if a signal ended the wait for the stop, which then finishes
 * in the background (ublk_run_stop()): the device is deleted all the
 * same.  0 at once if another DEL_DEV came first.
 *
 * No lock is held while the stop runs: it lasts as long as the server
 * keeps requests, and ublk_ctl_mutex held across it would let one
 * device's server hold up ADD_DEV and DEL_DEV of every other device
 * (ublk_fuzz found it so: a server with a request and no ring, a
 * DEL_DEV, then thirty control commands queued behind it, in D state).
 *
 * UB_STATE_DELETED is claimed without ub->mutex, which a stop may hold
 * for as long.  The commands that check it do so under ub->mutex, and
 * each either sees it or finished before the stop below took ub->mutex
 * (the stop runs after the bit is set: the queueing of its work orders
 * them), so whatever such a command did (a started disk), the stop
 * undoes.
 */
int ublk_remove(struct ublk_device *ub)
{
	int ret;

	if (test_and_set_bit(UB_STATE_DELETED, &ub->state))
		return 0;
	ret = ublk_stop_dev(ub);
	cdev_device_del(&ub->cdev, &ub->cdev_dev);
	if (ublk_dev_unprivileged(ub)) {
		mutex_lock(&ublk_ctl_mutex);
		ublks_added--;
		mutex_unlock(&ublk_ctl_mutex);
	}
	ublk_put_device(ub);
	return ret;
}

/*
 * An unprivileged device's disk is for its owner (or an admin) only, and
 * nobody's once TRY_STOP_DEV decided to delete it.  Called under the
 * disk's open_mutex.
 */
static int ublk_bd_open(struct gendisk *disk, blk_mode_t mode)
{
	struct ublk_device *ub = disk->private_data;
	kuid_t uid;
	kgid_t gid;

	if (test_bit(UB_STATE_NO_OPEN, &ub->state))
		return -ENXIO;
	if (!ublk_dev_unprivileged(ub) || capable(CAP_SYS_ADMIN))
		return 0;

	current_uid_gid(&uid, &gid);
	if (from_kuid(&init_user_ns, uid) != ub->dev_info.owner_uid ||
	    from_kgid(&init_user_ns, gid) != ub->dev_info.owner_gid)
		return -EPERM;
	return 0;
}

static void ublk_bd_free_disk(struct gendisk *disk)
{
	ublk_put_device(disk->private_data);
}

const struct block_device_operations ublk_bd_fops = {
	.owner		= THIS_MODULE,
	.open		= ublk_bd_open,
	.free_disk	= ublk_bd_free_disk,
	.report_zones	= ublk_report_zones,
};

static const struct file_operations ublk_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.uring_cmd	= ublk_ctrl_uring_cmd,
	.llseek		= noop_llseek,
};

static struct miscdevice ublk_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "ublk-control",
	.fops		= &ublk_ctl_fops,
};

static int __init ublk_init(void)
{
	int ret;

	BUILD_BUG_ON(UBLKSRV_IO_BUF_OFFSET + UBLKSRV_IO_BUF_TOTAL_SIZE <
		     UBLKSRV_IO_BUF_OFFSET);
	/* I/O commands fit a plain 64-byte SQE */
	BUILD_BUG_ON(sizeof(struct ublksrv_io_cmd) >
		     sizeof(struct io_uring_sqe) -
		     offsetof(struct io_uring_sqe, cmd));

	ublk_wq = alloc_workqueue("ublk", WQ_UNBOUND, 0);
	if (!ublk_wq)
		return -ENOMEM;
	ret = alloc_chrdev_region(&ublk_chr_devt, 0, UBLK_MINORS, "ublk-char");
	if (ret)
		goto out_wq;
	ret = class_register(&ublk_chr_class);
	if (ret)
		goto out_region;
	/* last: commands can come as soon as it is there */
	ret = misc_register(&ublk_misc);
	if (ret)
		goto out_class;
	pr_info("reworked driver %s: %s\n", UBLK_DRV_VERSION, UBLK_BUILD_FEATURES);
	return 0;

out_class:
	class_unregister(&ublk_chr_class);
out_region:
	unregister_chrdev_region(ublk_chr_devt, UBLK_MINORS);
out_wq:
	destroy_workqueue(ublk_wq);
	return ret;
}

static void __exit ublk_exit(void)
{
	struct ublk_device *ub;
	int id;

	/*
	 * Nobody has /dev/ublk-control, a disk or a char device open, or
	 * the module could not go: only the ADD_DEV references are left.
	 */
	misc_deregister(&ublk_misc);
	idr_for_each_entry(&ublk_idr, ub, id)
		ublk_remove(ub);
	/*
	 * A device whose server's io_uring still holds buffers of its
	 * requests lives on, with stage 2 of the server's exit polling for
	 * them (delayed work on ublk_wq, with our release callback in the
	 * rings): wait until every device is freed.
	 */
	wait_event(ublk_idr_wq, ublk_no_devices());
	class_unregister(&ublk_chr_class);
	unregister_chrdev_region(ublk_chr_devt, UBLK_MINORS);
	idr_destroy(&ublk_idr);
	/* stage 2 work may still be returning from its last put */
	destroy_workqueue(ublk_wq);
}

module_init(ublk_init);
module_exit(ublk_exit);

static int ublks_max_set(const char *buf, const struct kernel_param *kp)
{
	return param_set_uint_minmax(buf, kp, 0, UBLK_MAX_UBLKS);
}

static const struct kernel_param_ops ublks_max_ops = {
	.set	= ublks_max_set,
	.get	= param_get_uint,
};

module_param_cb(ublks_max, &ublks_max_ops, &ublks_max, 0644);

/* what GET_FEATURES leaves out: this driver's own features */
static unsigned long long ext_features = UBLK_F_EXTENSIONS;
module_param(ext_features, ullong, 0444);
MODULE_PARM_DESC(ext_features, "this driver's own UBLK_F_* features, not reported by GET_FEATURES (read-only)");
MODULE_PARM_DESC(ublks_max, "how many unprivileged ublk devices may exist (default 64)");

MODULE_DESCRIPTION("Userspace block device");
MODULE_LICENSE("GPL");
MODULE_VERSION(UBLK_DRV_VERSION);
MODULE_INFO(flavour, "reworked " UBLK_BUILD_FEATURES);
