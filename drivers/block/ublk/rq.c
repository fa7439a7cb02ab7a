// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: the blk-mq side.
 *
 * ->queue_rq() and ->queue_rqs() describe each request in its slot's
 * descriptor and hand it to the task that serves the slot, as task work
 * queued on the slot's command (io.c delivers it).  ->queue_rqs() queues
 * one task work per run of requests for the same task, so a plugged
 * batch costs one wakeup of the server.  Requests come back through
 * ublk_complete_rq() when the server commits them.
 */
#include <linux/highmem.h>
#include <linux/uio.h>

#include "ublk.h"
#include "trace.h"

/* REQ_* flags the server may care about, as UBLK_IO_F_* */
static u32 ublk_rq_flags(const struct request *rq)
{
	blk_opf_t f = rq->cmd_flags;
	u32 flags = 0;

	if (f & REQ_FAILFAST_DEV)
		flags |= UBLK_IO_F_FAILFAST_DEV;
	if (f & REQ_FAILFAST_TRANSPORT)
		flags |= UBLK_IO_F_FAILFAST_TRANSPORT;
	if (f & REQ_FAILFAST_DRIVER)
		flags |= UBLK_IO_F_FAILFAST_DRIVER;
	if (f & REQ_META)
		flags |= UBLK_IO_F_META;
	if (f & REQ_FUA)
		flags |= UBLK_IO_F_FUA;
	if (f & REQ_NOUNMAP)
		flags |= UBLK_IO_F_NOUNMAP;
	if (f & REQ_SWAP)
		flags |= UBLK_IO_F_SWAP;
	return flags;
}

bool ublk_rq_has_data(const struct request *rq)
{
	return rq->bio && bio_has_data(rq->bio);
}

/* fill the slot's descriptor; the server reads it after delivery */
blk_status_t ublk_setup_iod(struct ublk_queue *ubq, struct request *rq)
{
	struct ublksrv_io_desc *iod = ublk_iod(ubq, rq->tag);
	struct ublk_rq_data *pdu;
	u32 op;

	switch (req_op(rq)) {
	case REQ_OP_READ:
		op = UBLK_IO_OP_READ;
		break;
	case REQ_OP_WRITE:
		op = UBLK_IO_OP_WRITE;
		break;
	case REQ_OP_FLUSH:
		op = UBLK_IO_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
		op = UBLK_IO_OP_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		op = UBLK_IO_OP_WRITE_ZEROES;
		break;
	case REQ_OP_ZONE_OPEN:
		op = UBLK_IO_OP_ZONE_OPEN;
		break;
	case REQ_OP_ZONE_CLOSE:
		op = UBLK_IO_OP_ZONE_CLOSE;
		break;
	case REQ_OP_ZONE_FINISH:
		op = UBLK_IO_OP_ZONE_FINISH;
		break;
	case REQ_OP_ZONE_APPEND:
		op = UBLK_IO_OP_ZONE_APPEND;
		break;
	case REQ_OP_ZONE_RESET_ALL:
		op = UBLK_IO_OP_ZONE_RESET_ALL;
		break;
	case REQ_OP_ZONE_RESET:
		op = UBLK_IO_OP_ZONE_RESET;
		break;
	case REQ_OP_DRV_IN:
		/* only the zone reports ublk_report_zones() builds */
		pdu = blk_mq_rq_to_pdu(rq);
		if (!ublk_q_zoned(ubq) || !pdu->nr_zones)
			return BLK_STS_NOTSUPP;
		iod->op_flags = UBLK_IO_OP_REPORT_ZONES | ublk_rq_flags(rq);
		iod->nr_zones = pdu->nr_zones;
		iod->start_sector = pdu->zone_sector;
		iod->addr = ubq->ios[rq->tag].addr;
		return BLK_STS_OK;
	default:
		return BLK_STS_NOTSUPP;
	}

	if (op >= UBLK_IO_OP_ZONE_OPEN && !ublk_q_zoned(ubq))
		return BLK_STS_NOTSUPP;

	iod->op_flags = op | ublk_rq_flags(rq);
	iod->nr_sectors = blk_rq_sectors(rq);
	iod->start_sector = blk_rq_pos(rq);
	iod->addr = ubq->ios[rq->tag].addr;
	return BLK_STS_OK;
}

/*
 * End a request.  Bottom halves stay off while the bios complete: if
 * their completion drops the last reference to a file (say, an aio on
 * /dev/ublkbN), fput() then defers the release to a work item instead of
 * the current task's task work.  The current task may be the server, and
 * releasing the block device can wait for I/O that only it would serve.
 */
void ublk_end_rq(struct request *rq, blk_status_t status)
{
	trace_ublk_rq_completed(rq, status, blk_rq_bytes(rq), false);
	local_bh_disable();
	blk_mq_end_request(rq, status);
	local_bh_enable();
}

/*
 * Complete @rq with the result the server committed to @io.  A partial
 * transfer completes what was done and issues the rest again.
 */
void ublk_complete_rq(struct ublk_queue *ubq, struct ublk_io *io,
		      struct request *rq)
{
	int res = io->res;
	bool requeue;

	if (res < 0) {
		ublk_end_rq(rq, errno_to_blk_status(res));
		return;
	}

	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_ZONE_APPEND:
		break;
	default:
		/* no data, or a zone report that fills its buffer as is */
		ublk_end_rq(rq, BLK_STS_OK);
		return;
	}

	/* nothing transferred is an error, or the request would loop */
	if (!res) {
		ublk_end_rq(rq, BLK_STS_IOERR);
		return;
	}

	local_bh_disable();
	requeue = blk_update_request(rq, BLK_STS_OK, res);
	/* before the request is gone or issued again */
	trace_ublk_rq_completed(rq, BLK_STS_OK, res, requeue);
	if (requeue)
		blk_mq_requeue_request(rq, true);
	else
		__blk_mq_end_request(rq, BLK_STS_OK);
	local_bh_enable();
}

/* @rq came while its queue has no server: park it or fail it */
void ublk_nosrv_rq(struct ublk_queue *ubq, struct request *rq)
{
	if (READ_ONCE(ubq->nosrv) == UBLK_NOSRV_REQUEUE) {
		trace_ublk_rq_completed(rq, BLK_STS_OK, 0, true);
		blk_mq_requeue_request(rq, false);
	} else {
		ublk_end_rq(rq, BLK_STS_IOERR);
	}
}

/*
 * The server that owned @rq is gone: issue it again to the next server
 * (UBLK_F_USER_RECOVERY_REISSUE) or fail it.  A reissued request goes
 * through ->queue_rq() again, which parks it for that server.
 *
 * Only while the queue parks requests, though.  Stage 2 calls this after
 * the queue's nosrv mode is set; when that mode fails requests (the
 * device is stopping, or its START_DEV failed), a reissued request
 * would only be failed by ->queue_rq() in turn, and it would get there
 * only when someone kicks the requeue list, which needs ub->ub_disk.  A
 * START_DEV that gave up on its zone report (-EINTR) has detached the
 * disk already, and the report, owned by the dead server, then sat in
 * the requeue list of the never-added disk for good, with the
 * revalidation work, the device's last reference and every DEL_DEV of
 * it waiting (ublk_fuzz found it).  So fail it here.
 */
void ublk_abort_owned_rq(struct ublk_queue *ubq, struct request *rq)
{
	if ((ubq->flags & UBLK_F_USER_RECOVERY) &&
	    (ubq->flags & UBLK_F_USER_RECOVERY_REISSUE) &&
	    READ_ONCE(ubq->nosrv) == UBLK_NOSRV_REQUEUE) {
		trace_ublk_rq_completed(rq, BLK_STS_OK, 0, true);
		blk_mq_requeue_request(rq, false);
	} else {
		ublk_end_rq(rq, BLK_STS_IOERR);
	}
}

/*
 * Copy between @rq's data, from byte @offset on, and @iter, in the
 * direction of @iter.  Returns the bytes copied.
 */
size_t ublk_copy_rq(struct request *rq, size_t offset, struct iov_iter *iter)
{
	bool to_iter = iov_iter_rw(iter) == ITER_DEST;
	struct req_iterator it;
	struct bio_vec bv;
	size_t done = 0;

	rq_for_each_segment(bv, rq, it) {
		size_t len, n;

		if (offset >= bv.bv_len) {
			offset -= bv.bv_len;
			continue;
		}
		len = bv.bv_len - offset;
		if (to_iter)
			n = copy_page_to_iter(bv.bv_page, bv.bv_offset + offset,
					      len, iter);
		else
			n = copy_page_from_iter(bv.bv_page,
						bv.bv_offset + offset, len,
						iter);
		offset = 0;
		done += n;
		if (n < len || !iov_iter_count(iter))
			break;
	}
	return done;
}

/*
 * Copy @len bytes between @rq and the current task's buffer at @addr:
 * ITER_DEST copies the request's data out to the buffer, ITER_SOURCE in
 * from it.  0, or -EFAULT if the buffer could not take it all.
 */
int ublk_copy_rq_user(struct request *rq, u64 addr, size_t len, int dir)
{
	struct iov_iter iter;
	int ret;

	ret = import_ubuf(dir, u64_to_user_ptr(addr), len, &iter);
	if (ret)
		return ret;
	return ublk_copy_rq(rq, 0, &iter) == len ? 0 : -EFAULT;
}

static blk_status_t ublk_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct ublk_queue *ubq = hctx->driver_data;
	struct request *rq = bd->rq;
	blk_status_t status;

	if (unlikely(READ_ONCE(ubq->nosrv))) {
		ublk_nosrv_rq(ubq, rq);
		return BLK_STS_OK;
	}

	status = ublk_start_rq(ubq, rq);
	if (unlikely(status != BLK_STS_OK))
		return status;
	if (ublk_q_iopoll(ubq))
		ublk_iopoll_queue(ubq, rq);
	else
		ublk_deliver(ubq, rq);
	return BLK_STS_OK;
}

/*
 * Describe @rq in its slot, start it and record it there, for delivery
 * by either mode's ->queue_rq() or ->queue_rqs(); the caller checked
 * that the queue has a server.  Else the descriptor's error, and @rq is
 * not started.  The slot is ACTIVE and its tag was free, so nobody else
 * writes its @req.  Traced before the delivery: once queued, the request
 * may be gone.
 */
blk_status_t ublk_start_rq(struct ublk_queue *ubq, struct request *rq)
{
	blk_status_t status = ublk_setup_iod(ubq, rq);

	if (unlikely(status != BLK_STS_OK))
		return status;
	blk_mq_start_request(rq);
	trace_ublk_rq_queued(ubq, rq);
	WRITE_ONCE(ubq->ios[rq->tag].req, rq);
	return BLK_STS_OK;
}

/*
 * A plugged batch: deliver it with one task work per run of requests
 * whose slots the same task serves.  Requests this cannot take (no
 * server, or a descriptor error) go back to blk-mq, which hands them to
 * ->queue_rq() one by one.
 */
static void ublk_queue_rqs(struct rq_list *rqlist)
{
	struct rq_list batch = { }, rest = { };
	struct ublk_io *batch_io = NULL;
	struct request *rq;

	while ((rq = rq_list_pop(rqlist))) {
		struct ublk_queue *ubq = ublk_rq_queue(rq);
		struct ublk_io *io = &ubq->ios[rq->tag];

		if (unlikely(READ_ONCE(ubq->nosrv) ||
			     ublk_start_rq(ubq, rq) != BLK_STS_OK)) {
			rq_list_add_tail(&rest, rq);
			continue;
		}
		/* the poller takes them from the queue's list, not from tw */
		if (ublk_q_iopoll(ubq)) {
			ublk_iopoll_queue(ubq, rq);
			continue;
		}

		if (batch_io && batch_io->task != io->task) {
			ublk_deliver_batch(batch_io, rq_list_peek(&batch));
			rq_list_init(&batch);
			batch_io = NULL;
		}
		if (!batch_io)
			batch_io = io;
		rq_list_add_tail(&batch, rq);
	}
	if (batch_io)
		ublk_deliver_batch(batch_io, rq_list_peek(&batch));
	*rqlist = rest;
}

/*
 * The server owns its requests for as long as it likes; only an
 * unprivileged device's server, which nobody vouched for, is killed when
 * it sits on one too long.  Stage 2 of its exit then fails the request.
 */
enum blk_eh_timer_return ublk_timeout(struct request *rq)
{
	struct ublk_queue *ubq = ublk_rq_queue(rq);
	struct ublk_device *ub = ubq->dev;

	if (ubq->flags & UBLK_F_UNPRIVILEGED_DEV) {
		spin_lock(&ub->lock);
		if (ub->srv_tgid && !ub->srv_killed) {
			dev_warn(&ub->cdev_dev,
				 "request timed out, killing the server\n");
			kill_pid(ub->srv_tgid, SIGKILL, 1);
			ub->srv_killed = true;
		}
		spin_unlock(&ub->lock);
	}
	return BLK_EH_RESET_TIMER;
}

int ublk_init_hctx(struct blk_mq_hw_ctx *hctx, void *driver_data,
		   unsigned int hctx_idx)
{
	struct ublk_device *ub = driver_data;

	hctx->driver_data = ub->queues[hctx_idx];
	return 0;
}

int ublk_init_request(struct blk_mq_tag_set *set, struct request *rq,
		      unsigned int hctx_idx, unsigned int numa_node)
{
	struct ublk_rq_data *pdu = blk_mq_rq_to_pdu(rq);

	pdu->nr_zones = 0;
	pdu->zone_sector = 0;
	return 0;
}

const struct blk_mq_ops ublk_mq_ops = {
	.queue_rq	= ublk_queue_rq,
	.queue_rqs	= ublk_queue_rqs,
	.timeout	= ublk_timeout,
	.init_hctx	= ublk_init_hctx,
	.init_request	= ublk_init_request,
};
