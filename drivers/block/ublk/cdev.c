// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: /dev/ublkcN, the server's end of a device.
 *
 * One process at a time opens it (the server).  It maps each queue's
 * descriptor array read-only, sends the I/O commands (io.c) on it, and
 * with UBLK_F_USER_COPY reads and writes request data with pread() and
 * pwrite() at offsets that name the slot.  Its release is stage 2 of
 * server exit (lifecycle.c).
 */
#include <linux/fs.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>

#include "ublk.h"

static int ublk_ch_open(struct inode *inode, struct file *filp)
{
	struct ublk_device *ub = container_of(inode->i_cdev,
					      struct ublk_device, cdev);
	int ret;

	ret = ublk_server_open(ub);
	if (ret)
		return ret;
	filp->private_data = ub;
	return 0;
}

/*
 * Stage 2 of server exit runs from a work item: it may delete the disk,
 * which waits for I/O, and the last fput() of the file can come from
 * contexts that should not wait for that (io_uring's ring teardown, the
 * exit of a killed server).  The device stays claimed (UB_STATE_OPEN)
 * until the work is done, so no new server slips in before the slots
 * are reset.
 */
static int ublk_ch_release(struct inode *inode, struct file *filp)
{
	struct ublk_device *ub = filp->private_data;

	ublk_get_device(ub);
	/* never pending here: only the work itself lets the next opener in */
	if (WARN_ON_ONCE(!queue_delayed_work(ublk_wq, &ub->release_work, 0)))
		ublk_put_device(ub);
	return 0;
}

/*
 * Queue q's descriptors live at offset UBLKSRV_CMD_BUF_OFFSET +
 * q * ublk_iods_stride(), mapped whole and read-only, by one process.
 * An offset inside queue q's stride maps queue q's array, as 6.12 and
 * mainline do: the queue is the offset divided by the stride.
 */
static int ublk_ch_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct ublk_device *ub = filp->private_data;
	size_t size = vma->vm_end - vma->vm_start;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	struct ublk_queue *ubq;
	unsigned int q_id;
	int ret = 0;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;

	off -= UBLKSRV_CMD_BUF_OFFSET;
	off = div64_u64(off, ublk_iods_stride(ub->dev_info.io_desc_size));
	if (off >= ub->dev_info.nr_hw_queues)
		return -EINVAL;
	q_id = array_index_nospec((unsigned int)off, ub->dev_info.nr_hw_queues);
	ubq = ub->queues[q_id];
	if (size != ublk_iods_size(ubq->q_depth, ubq->iod_size))
		return -EINVAL;

	spin_lock(&ub->lock);
	if (!ub->mm)
		ub->mm = current->mm;
	else if (ub->mm != current->mm)
		ret = -EINVAL;
	spin_unlock(&ub->lock);
	if (ret)
		return ret;

	/* the kernel writes these; no mprotect() to writable either */
	vm_flags_clear(vma, VM_MAYWRITE);
	return remap_vmalloc_range(vma, ubq->iods, 0);
}

/*
 * User copy: find the request the server owns at the slot that @pos
 * names, take a reference on the slot so that the request cannot
 * complete during the copy, and check that data may flow in direction
 * @dir (ITER_DEST: out of the request, for a WRITE; ITER_SOURCE: into
 * it, for a READ or a zone report).
 */
static struct request *ublk_user_copy_get(struct ublk_device *ub, loff_t pos,
					  int dir, size_t *offset,
					  struct ublk_io **iop)
{
	u64 p = (u64)pos;
	struct ublk_queue *ubq;
	struct ublk_io *io;
	struct request *rq;
	unsigned int q_id, tag;
	enum req_op op;

	/* errnos as mainline's: -EACCES for a copy the slot does not allow */
	if (!ublk_dev_user_copy(ub))
		return ERR_PTR(-EACCES);
	if (pos < 0 || p < UBLKSRV_IO_BUF_OFFSET)
		return ERR_PTR(-EINVAL);
	p -= UBLKSRV_IO_BUF_OFFSET;
	/* integrity data (bit 62) is not supported, nor any other bit */
	if (p >> UBLKSRV_IO_BUF_TOTAL_BITS)
		return ERR_PTR(-EINVAL);

	q_id = (p >> UBLK_QID_OFF) & UBLK_QID_BITS_MASK;
	tag = (p >> UBLK_TAG_OFF) & UBLK_TAG_BITS_MASK;
	*offset = p & UBLK_IO_BUF_BITS_MASK;

	if (q_id >= ub->dev_info.nr_hw_queues)
		return ERR_PTR(-EINVAL);
	ubq = ub->queues[array_index_nospec(q_id, ub->dev_info.nr_hw_queues)];
	if (tag >= ubq->q_depth)
		return ERR_PTR(-EINVAL);
	io = &ubq->ios[array_index_nospec(tag, ubq->q_depth)];

	/* nonzero only while the server owns the slot's request */
	if (!refcount_inc_not_zero(&io->ref))
		return ERR_PTR(-EINVAL);
	/* pairs with the release in ublk_dispatch() */
	smp_rmb();
	rq = READ_ONCE(io->req);
	if (WARN_ON_ONCE(!rq))
		goto fail;

	op = req_op(rq);
	if (dir == ITER_DEST) {
		if (op != REQ_OP_WRITE && op != REQ_OP_ZONE_APPEND)
			goto fail_dir;
	} else if (op != REQ_OP_READ && op != REQ_OP_DRV_IN) {
		goto fail_dir;
	}
	if (*offset > blk_rq_bytes(rq))
		goto fail;

	*iop = io;
	return rq;
fail_dir:
	/* not the last reference: the server's own is still there */
	refcount_dec(&io->ref);
	return ERR_PTR(-EACCES);
fail:
	refcount_dec(&io->ref);
	return ERR_PTR(-EINVAL);
}

static ssize_t ublk_user_copy(struct kiocb *iocb, struct iov_iter *iter,
			      int dir)
{
	struct ublk_device *ub = iocb->ki_filp->private_data;
	struct ublk_io *io;
	struct request *rq;
	size_t offset, done;

	rq = ublk_user_copy_get(ub, iocb->ki_pos, dir, &offset, &io);
	if (IS_ERR(rq))
		return PTR_ERR(rq);

	done = ublk_copy_rq(rq, offset, iter);

	/* the last reference if the server committed meanwhile */
	ublk_put_io_ref(ublk_rq_queue(rq), io);
	return done;
}

static ssize_t ublk_ch_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return ublk_user_copy(iocb, to, ITER_DEST);
}

static ssize_t ublk_ch_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return ublk_user_copy(iocb, from, ITER_SOURCE);
}

const struct file_operations ublk_ch_fops = {
	.owner		= THIS_MODULE,
	.open		= ublk_ch_open,
	.release	= ublk_ch_release,
	.mmap		= ublk_ch_mmap,
	.read_iter	= ublk_ch_read_iter,
	.write_iter	= ublk_ch_write_iter,
	.uring_cmd	= ublk_ch_uring_cmd,
#ifdef UBLK_HAVE_IOPOLL
	.uring_cmd_iopoll = ublk_ch_uring_cmd_iopoll,
#endif
};
