// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: control commands, uring_cmds on /dev/ublk-control.
 *
 * Each command carries a struct ublksrv_ctrl_cmd in an SQE128.  It is
 * copied once, checked against the table of commands, the device it
 * names is looked up and the caller's right to it checked, then the
 * command runs.  Everything but GET_FEATURES may sleep, so it runs from
 * io-wq (-EAGAIN when io_uring tries it non-blocking first).
 */
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/namei.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ublk.h"

/* the user buffer of @h, which must hold at least @len bytes */
static void __user *ublk_ctrl_buf(const struct ublksrv_ctrl_cmd *h, size_t len)
{
	if (!h->addr || h->len < len)
		return NULL;
	return u64_to_user_ptr(h->addr);
}

static int ublk_ctrl_get_features(struct ublk_device *ub,
				  struct ublksrv_ctrl_cmd *h)
{
	void __user *argp = ublk_ctrl_buf(h, UBLK_FEATURES_LEN);
	/* mainline's bits only: see UBLK_F_EXTENSIONS */
	u64 features = UBLK_F_SUPPORTED & ~UBLK_F_EXTENSIONS;

	if (!argp)
		return -EINVAL;
	if (copy_to_user(argp, &features, sizeof(features)))
		return -EFAULT;
	return 0;
}

/*
 * The features a new device gets: the ones asked for that this driver
 * has, plus those it always sets.  Bits it does not know are dropped,
 * as 6.12 and mainline drop them: the flags ADD_DEV hands back are how
 * a server newer than the driver learns what it got.  Combinations that
 * make no sense are refused.
 */
static int ublk_negotiate_features(u64 *flagsp)
{
	u64 flags = *flagsp;

	if (capable(CAP_SYS_ADMIN))
		flags &= ~UBLK_F_UNPRIVILEGED_DEV;
	else if (!(flags & UBLK_F_UNPRIVILEGED_DEV))
		return -EPERM;

	if (flags & UBLK_F_UNPRIVILEGED_DEV) {
		/*
		 * The server would reach into kernel buffers.  (SHMEM_ZC maps
		 * only the server's own memory; mainline allows it, and it is
		 * dropped below as not implemented.)
		 */
		if (flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
			     UBLK_F_AUTO_BUF_REG))
			return -EINVAL;
		/* nor may it make I/O wait for it forever */
		flags &= ~(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE |
			   UBLK_F_USER_RECOVERY_FAIL_IO | UBLK_F_QUIESCE);
	}

	/* the recovery modes: none, plain, REISSUE or FAIL_IO */
	if ((flags & (UBLK_F_USER_RECOVERY_REISSUE |
		      UBLK_F_USER_RECOVERY_FAIL_IO)) &&
	    !(flags & UBLK_F_USER_RECOVERY))
		return -EINVAL;
	if ((flags & UBLK_F_USER_RECOVERY_REISSUE) &&
	    (flags & UBLK_F_USER_RECOVERY_FAIL_IO))
		return -EINVAL;
	/* quiescing hands the device to a new server: recovery does that */
	if ((flags & UBLK_F_QUIESCE) && !(flags & UBLK_F_USER_RECOVERY))
		return -EINVAL;

	/* a zoned device that this kernel cannot make is refused, not dropped */
	if ((flags & UBLK_F_ZONED) && !IS_ENABLED(CONFIG_BLK_DEV_ZONED))
		return -EINVAL;

	flags &= UBLK_F_SUPPORTED;
	flags |= UBLK_F_ALWAYS;

	/* with user copy or zero copy there is no buffer to ask for */
	if (flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
		     UBLK_F_AUTO_BUF_REG))
		flags &= ~UBLK_F_NEED_GET_DATA;
	/*
	 * Batch slots belong to no task, and commit without a buffer only
	 * where no buffer is needed: as mainline, no PER_IO_DAEMON, no
	 * NEED_GET_DATA.  Fetch priorities are an option of batch delivery.
	 */
	if (flags & UBLK_F_BATCH_IO)
		flags &= ~(UBLK_F_PER_IO_DAEMON | UBLK_F_NEED_GET_DATA);
	else
		flags &= ~UBLK_F_BATCH_PRIO;
	/*
	 * A polled queue is served by one ring and one task (iopoll.c).
	 * Polled batch delivery needs io_uring to take the CQEs polls post
	 * (patches/base 0008).
	 */
#ifndef UBLK_HAVE_IOPOLL_MSHOT
	if (flags & UBLK_F_BATCH_IO)
		flags &= ~UBLK_F_IOPOLL;
#endif
	if (flags & UBLK_F_IOPOLL)
		flags &= ~UBLK_F_PER_IO_DAEMON;
	/* zone reports and appends need user copy */
	if ((flags & UBLK_F_ZONED) && !(flags & UBLK_F_USER_COPY))
		return -EINVAL;

	*flagsp = flags;
	return 0;
}

static int ublk_ctrl_add_dev(struct ublk_device *unused,
			     struct ublksrv_ctrl_cmd *h)
{
	void __user *argp = ublk_ctrl_buf(h, sizeof(struct ublksrv_ctrl_dev_info));
	struct ublksrv_ctrl_dev_info info;
	int ret;

	if (!argp)
		return -EINVAL;
	/* GET_QUEUE_AFFINITY aside, no command is about a queue */
	if (h->queue_id != (u16)-1)
		return -EINVAL;
	if (copy_from_user(&info, argp, sizeof(info)))
		return -EFAULT;

	if (h->dev_id != info.dev_id)
		return -EINVAL;
	if (info.dev_id != U32_MAX && info.dev_id >= UBLK_MAX_UBLKS)
		return -EINVAL;
	if (!info.nr_hw_queues || info.nr_hw_queues > UBLK_MAX_NR_QUEUES)
		return -EINVAL;
	if (!info.queue_depth || info.queue_depth > UBLK_MAX_QUEUE_DEPTH)
		return -EINVAL;
	/*
	 * The buffer size is negotiated like the flags: the driver hands
	 * back what it will use (rounded down to pages by ublk_add_dev()),
	 * and servers size their buffers from that.  More than user copy
	 * offsets can address is cut down to that; less than a page leaves
	 * a device that no SET_PARAMS can complete, as on mainline.
	 */
	info.max_io_buf_bytes = min_t(u32, info.max_io_buf_bytes,
				      UBLK_MAX_IO_BUF_BYTES);

	ret = ublk_negotiate_features(&info.flags);
	if (ret)
		return ret;

	if (info.flags & UBLK_F_IO_DESC_SIZE) {
		if (info.io_desc_size < UBLK_IO_DESC_SIZE_MIN ||
		    info.io_desc_size > UBLK_IO_DESC_SIZE_MAX ||
		    !IS_ALIGNED(info.io_desc_size, UBLK_IO_DESC_SIZE_ALIGN))
			return -EINVAL;
	} else {
		/* what a server that does not choose gets, and reads back */
		info.io_desc_size = UBLK_IO_DESC_SIZE_MIN;
	}

	return ublk_add_dev(&info, argp);
}

static int ublk_ctrl_del_dev(struct ublk_device *ub, struct ublksrv_ctrl_cmd *h)
{
	return ublk_remove(ub);
}

static int ublk_ctrl_start_dev(struct ublk_device *ub,
			       struct ublksrv_ctrl_cmd *h)
{
	/* the server's pid, reported in dev_info.ublksrv_pid */
	if (!h->data[0] || h->data[0] > PID_MAX_LIMIT)
		return -EINVAL;
	return ublk_start_dev(ub, h->data[0]);
}

static int ublk_ctrl_stop_dev(struct ublk_device *ub,
			      struct ublksrv_ctrl_cmd *h)
{
	return ublk_stop_dev(ub);
}

static int ublk_ctrl_try_stop_dev(struct ublk_device *ub,
				  struct ublksrv_ctrl_cmd *h)
{
	return ublk_try_stop_dev(ub);
}

static int ublk_ctrl_quiesce_dev(struct ublk_device *ub,
				 struct ublksrv_ctrl_cmd *h)
{
	/* data[0]: how long to wait for the server, in ms; 0: forever */
	return ublk_quiesce_dev(ub, h->data[0]);
}

static int ublk_ctrl_update_size(struct ublk_device *ub,
				 struct ublksrv_ctrl_cmd *h)
{
	/* data[0]: the new size in 512-byte sectors */
	return ublk_update_size(ub, h->data[0]);
}

static int ublk_ctrl_get_dev_info(struct ublk_device *ub,
				  struct ublksrv_ctrl_cmd *h)
{
	void __user *argp = ublk_ctrl_buf(h, sizeof(ub->dev_info));
	struct ublksrv_ctrl_dev_info info;

	if (!argp)
		return -EINVAL;
	/* state and pid change under ub->mutex; a snapshot will do */
	memcpy(&info, &ub->dev_info, sizeof(info));
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static int ublk_ctrl_get_queue_affinity(struct ublk_device *ub,
					struct ublksrv_ctrl_cmd *h)
{
	void __user *argp = ublk_ctrl_buf(h, sizeof(unsigned long));
	unsigned int *map = ub->tag_set.map[HCTX_TYPE_DEFAULT].mq_map;
	size_t len = h->len, copy;
	cpumask_var_t mask;
	unsigned int cpu;
	int ret = 0;

	/* a whole cpumask, in longs */
	if (!argp || len * BITS_PER_BYTE < nr_cpu_ids ||
	    len % sizeof(unsigned long))
		return -EINVAL;
	if (h->data[0] >= ub->dev_info.nr_hw_queues)
		return -EINVAL;

	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		if (map[cpu] == h->data[0])
			cpumask_set_cpu(cpu, mask);

	copy = min_t(size_t, len, cpumask_size());
	if (copy_to_user(argp, cpumask_bits(mask), copy) ||
	    clear_user(argp + copy, len - copy))
		ret = -EFAULT;
	free_cpumask_var(mask);
	return ret;
}

/* the length and types every ublk_params starts with */
struct ublk_params_header {
	__u32	len;
	__u32	types;
};

/*
 * The size of the caller's struct ublk_params, from its header: more
 * than the header for SET_PARAMS (@min_len), any for GET_PARAMS.
 */
static int ublk_params_len(const struct ublksrv_ctrl_cmd *h, void __user **argp,
			   struct ublk_params_header *ph, u32 min_len)
{
	*argp = ublk_ctrl_buf(h, sizeof(*ph) + 1);
	if (!*argp)
		return -EINVAL;
	if (copy_from_user(ph, *argp, sizeof(*ph)))
		return -EFAULT;
	if (ph->len < min_len || ph->len > h->len)
		return -EINVAL;
	return min_t(u32, ph->len, sizeof(struct ublk_params));
}

static int ublk_ctrl_get_params(struct ublk_device *ub,
				struct ublksrv_ctrl_cmd *h)
{
	struct ublk_params_header ph;
	struct ublk_params p;
	void __user *argp;
	int len;

	len = ublk_params_len(h, &argp, &ph, 1);
	if (len < 0)
		return len;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	p = ub->params;
	p.devt.char_major = MAJOR(ub->cdev_dev.devt);
	p.devt.char_minor = MINOR(ub->cdev_dev.devt);
	if (ub->ub_disk) {
		p.devt.disk_major = MAJOR(disk_devt(ub->ub_disk));
		p.devt.disk_minor = MINOR(disk_devt(ub->ub_disk));
	}
	mutex_unlock(&ub->mutex);
	p.types |= UBLK_PARAM_TYPE_DEVT;
	p.len = len;

	if (copy_to_user(argp, &p, len))
		return -EFAULT;
	return 0;
}

static int ublk_ctrl_set_params(struct ublk_device *ub,
				struct ublksrv_ctrl_cmd *h)
{
	struct ublk_params_header ph;
	struct ublk_params p = { };
	void __user *argp;
	int len, ret;

	len = ublk_params_len(h, &argp, &ph, sizeof(ph) + 1);
	if (len < 0)
		return len;
	/*
	 * An older server's struct is shorter: what it does not know of
	 * stays zero.  Types a newer server knows and this driver does not
	 * are dropped, as 6.12 and mainline drop them; GET_PARAMS shows
	 * which ones were kept.
	 */
	if (copy_from_user(&p, argp, len))
		return -EFAULT;
	p.len = len;
	p.types &= UBLK_PARAM_TYPE_DEFINED;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	if (test_bit(UB_STATE_DELETED, &ub->state))
		ret = -ENODEV;
	else if (ub->ub_disk || ub->dev_info.state != UBLK_S_DEV_DEAD)
		/* the disk's limits are set: started devices keep them */
		ret = -EACCES;
	else
		ret = ublk_validate_params(ub, &p);
	if (!ret)
		ub->params = p;
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ublk_ctrl_start_recovery(struct ublk_device *ub,
				    struct ublksrv_ctrl_cmd *h)
{
	return ublk_start_recovery(ub);
}

static int ublk_ctrl_end_recovery(struct ublk_device *ub,
				  struct ublksrv_ctrl_cmd *h)
{
	if (!h->data[0] || h->data[0] > PID_MAX_LIMIT)
		return -EINVAL;
	return ublk_end_recovery(ub, h->data[0]);
}

struct ublk_ctrl_op {
	u32	op;		/* UBLK_U_CMD_* */
	bool	exact;		/* only as exactly this encoding */
	/*
	 * An unprivileged device's owner needs this access to its char
	 * device; 0 for commands about no device.
	 */
	int	mask;
	int	(*fn)(struct ublk_device *ub, struct ublksrv_ctrl_cmd *h);
};

static const struct ublk_ctrl_op ublk_ctrl_ops[] = {
	{ UBLK_U_CMD_GET_QUEUE_AFFINITY, false, MAY_READ,
	  ublk_ctrl_get_queue_affinity },
	{ UBLK_U_CMD_GET_DEV_INFO, false, MAY_READ, ublk_ctrl_get_dev_info },
	{ UBLK_U_CMD_ADD_DEV, false, 0, ublk_ctrl_add_dev },
	{ UBLK_U_CMD_DEL_DEV, false, MAY_READ | MAY_WRITE, ublk_ctrl_del_dev },
	{ UBLK_U_CMD_START_DEV, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_start_dev },
	{ UBLK_U_CMD_STOP_DEV, false, MAY_READ | MAY_WRITE, ublk_ctrl_stop_dev },
	{ UBLK_U_CMD_SET_PARAMS, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_set_params },
	{ UBLK_U_CMD_GET_PARAMS, false, MAY_READ, ublk_ctrl_get_params },
	{ UBLK_U_CMD_START_USER_RECOVERY, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_start_recovery },
	{ UBLK_U_CMD_END_USER_RECOVERY, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_end_recovery },
	{ UBLK_U_CMD_GET_DEV_INFO2, false, MAY_READ, ublk_ctrl_get_dev_info },
	{ UBLK_U_CMD_GET_FEATURES, true, 0, ublk_ctrl_get_features },
	{ UBLK_U_CMD_DEL_DEV_ASYNC, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_del_dev },
	{ UBLK_U_CMD_UPDATE_SIZE, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_update_size },
	{ UBLK_U_CMD_QUIESCE_DEV, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_quiesce_dev },
	{ UBLK_U_CMD_TRY_STOP_DEV, false, MAY_READ | MAY_WRITE,
	  ublk_ctrl_try_stop_dev },
};

/*
 * As mainline: a command is known by its number in the 'u' ioctl space
 * (the size and direction bits of the encoding are not checked), or by
 * the bare number with CONFIG_BLKDEV_UBLK_LEGACY_OPCODES.  GET_FEATURES,
 * which servers send before they know anything about the driver, must
 * be encoded exactly.
 */
static const struct ublk_ctrl_op *ublk_ctrl_find(u32 cmd_op)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ublk_ctrl_ops); i++) {
		const struct ublk_ctrl_op *op = &ublk_ctrl_ops[i];

		if (op->exact ? cmd_op == op->op : ublk_op_is(cmd_op, op->op))
			return op;
	}
	return NULL;
}

/* is @path the char device of @ub, and may the caller open it so? */
static int ublk_check_chdev(struct ublk_device *ub, const char *path, int mask)
{
	struct path p;
	struct kstat stat;
	int ret;

	ret = kern_path(path, LOOKUP_FOLLOW, &p);
	if (ret)
		return ret;
	ret = vfs_getattr(&p, &stat, STATX_TYPE, AT_STATX_SYNC_AS_STAT);
	if (!ret && (!S_ISCHR(stat.mode) || stat.rdev != ub->cdev_dev.devt))
		ret = -EPERM;
	if (!ret)
		ret = inode_permission(&nop_mnt_idmap, d_backing_inode(p.dentry),
				       mask);
	path_put(&p);
	return ret;
}

/*
 * Who may send @op about @ub: CAP_SYS_ADMIN for ordinary devices; for
 * unprivileged ones, whoever may access its char device, whose path
 * then leads the command's buffer (dev_path_len bytes).  GET_DEV_INFO2
 * always carries the path, as the caller may not know the device kind.
 */
static int ublk_ctrl_permission(struct ublk_device *ub,
				const struct ublk_ctrl_op *op,
				struct ublksrv_ctrl_cmd *h)
{
	char *path;
	int ret;

	if (!ublk_dev_unprivileged(ub)) {
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (op->op != UBLK_U_CMD_GET_DEV_INFO2)
			return 0;
	}

	if (!h->dev_path_len || h->dev_path_len > PATH_MAX ||
	    h->len < h->dev_path_len || !h->addr)
		return -EINVAL;
	path = memdup_user_nul(u64_to_user_ptr(h->addr), h->dev_path_len);
	if (IS_ERR(path))
		return PTR_ERR(path);
	ret = ublk_check_chdev(ub, path, op->mask);
	kfree(path);
	if (ret)
		return ret;

	/* the command's own payload follows the path */
	h->addr += h->dev_path_len;
	h->len -= h->dev_path_len;
	return 0;
}

int ublk_ctrl_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	const struct ublksrv_ctrl_cmd *sqe_cmd = io_uring_sqe_cmd(cmd->sqe);
	const struct ublk_ctrl_op *op;
	struct ublksrv_ctrl_cmd h;
	struct ublk_device *ub = NULL;
	u32 dev_id;
	int ret;

	if (issue_flags & IO_URING_F_CANCEL)
		return -EINVAL;
	/* struct ublksrv_ctrl_cmd takes more than a 64-byte SQE has */
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;
	/* IORING_URING_CMD_FIXED means nothing here and is ignored */
	op = ublk_ctrl_find(cmd->cmd_op);
	if (!op)
		return -EOPNOTSUPP;
	if ((issue_flags & IO_URING_F_NONBLOCK) &&
	    op->op != UBLK_U_CMD_GET_FEATURES)
		return -EAGAIN;

	h.dev_id = READ_ONCE(sqe_cmd->dev_id);
	h.queue_id = READ_ONCE(sqe_cmd->queue_id);
	h.len = READ_ONCE(sqe_cmd->len);
	h.addr = READ_ONCE(sqe_cmd->addr);
	h.data[0] = READ_ONCE(sqe_cmd->data[0]);
	h.dev_path_len = READ_ONCE(sqe_cmd->dev_path_len);
	h.pad = 0;
	h.reserved = 0;

	if (op->mask) {
		ub = ublk_get_device_from_id(h.dev_id);
		if (!ub)
			return -ENODEV;
		ret = ublk_ctrl_permission(ub, op, &h);
		if (ret)
			goto out;
	}

	ret = op->fn(ub, &h);
out:
	if (!ub)
		return ret;
	dev_id = ub->ub_number;
	ublk_put_device(ub);
	/* DEL_DEV returns once the device is gone and its id free */
	if (!ret && op->op == UBLK_U_CMD_DEL_DEV)
		ret = ublk_wait_id_freed(dev_id);
	return ret;
}
