// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: I/O commands on /dev/ublkcN and delivery of requests to them.
 *
 * FETCH_REQ hands a slot's first command to the driver,
 * COMMIT_AND_FETCH_REQ completes the slot's request and hands the next
 * command, NEED_GET_DATA gives the buffer a WRITE is copied to.  See
 * struct ublk_io for the slot states and who may change them.
 *
 * Stage 1 of server exit lives here too: io_uring calls the cancel
 * callback for every command still in the driver when the ring or the
 * task that issued it goes away.
 */
#include <linux/nospec.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "ublk.h"
#include "trace.h"

/* the server's buffer @addr must be able to hold a whole request */
static int ublk_check_buf(const struct ublk_queue *ubq, u64 addr)
{
	if (!access_ok(u64_to_user_ptr(addr),
		       ubq->dev->dev_info.max_io_buf_bytes))
		return -EFAULT;
	return 0;
}

/* does this WRITE-like request carry data for the server to read? */
static bool ublk_rq_data_out(const struct request *rq)
{
	return req_op(rq) == REQ_OP_WRITE && ublk_rq_has_data(rq);
}

/*
 * @rq was started in its slot for delivery, but its server's task or
 * ring is going away: nobody will see the request.  Cancel the slot's
 * command and treat the request as having no server.  Runs where the
 * delivery would have run, so nothing else completes the command (the
 * cancel paths leave a slot with a request alone).
 */
void ublk_dispatch_dead(struct ublk_queue *ubq, struct request *rq,
			unsigned int issue_flags)
{
	struct ublk_io *io = &ubq->ios[rq->tag];
	struct io_uring_cmd *cmd = io->cmd;

	ublk_start_cancel(ubq->dev);
	io->cmd = NULL;
	WRITE_ONCE(io->flags, UBLK_IO_FLAG_CANCELED);
	WRITE_ONCE(io->req, NULL);
	trace_ublk_cmd_aborted(ubq, rq->tag, UBLK_ABORT_DYING);
	io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0, issue_flags);
	ublk_nosrv_rq(ubq, rq);
}

/*
 * Deliver @rq to the server: complete the slot's command, now owned by
 * the server along with the request.  Runs in the slot's task, from task
 * work or (UBLK_F_IOPOLL) the poll of its ring.  @rq is request @pos of
 * the @batch this run delivers, for tracing.
 */
void ublk_dispatch(struct ublk_queue *ubq, struct request *rq,
		   unsigned int issue_flags, unsigned int batch,
		   unsigned int pos)
{
	struct ublk_io *io = &ubq->ios[rq->tag];
	struct io_uring_cmd *cmd = io->cmd;
	unsigned int flags = UBLK_IO_FLAG_OWNED_BY_SRV;
	int res = UBLK_IO_RES_OK;
	/* the server's, and the automatic buffer's */
	int refs = 1;

	/*
	 * The task is exiting, or its ring is (io_uring then runs task work,
	 * or reaps a polled ring, from a kernel thread).
	 */
	if (unlikely((issue_flags & IO_URING_F_TASK_DEAD) ||
		     current != io->task)) {
		ublk_dispatch_dead(ubq, rq, issue_flags);
		return;
	}

	if (ublk_rq_data_out(rq) && !ublk_q_takes_refs(ubq)) {
		if (ublk_q_need_get_data(ubq)) {
			/* ask for a buffer first, see ublk_need_get_data() */
			res = UBLK_IO_RES_NEED_GET_DATA;
			flags |= UBLK_IO_FLAG_NEED_GET_DATA;
		} else if (ublk_copy_rq_user(rq, io->addr, blk_rq_bytes(rq),
					     ITER_DEST)) {
			/* the server's buffer is bad; its command stays */
			WRITE_ONCE(io->req, NULL);
			ublk_end_rq(rq, BLK_STS_IOERR);
			return;
		}
	}

	if (ublk_q_auto_buf_reg(ubq) && ublk_rq_has_data(rq)) {
		int ret = ublk_auto_buf_reg(ubq, io, rq, cmd, issue_flags);

		if (ret < 0) {
			/* as for a bad buffer: the command stays */
			WRITE_ONCE(io->req, NULL);
			ublk_end_rq(rq, BLK_STS_IOERR);
			return;
		}
		if (!ret) {
			flags |= UBLK_IO_FLAG_AUTO_REG;
			refs++;
		}
	}

	/*
	 * User copy and REGISTER_IO_BUF may take references from now on;
	 * release, so that they then find @req, which ->queue_rq() stored.
	 */
	if (ublk_q_takes_refs(ubq))
		atomic_set_release(&io->ref.refs, refs);

	io->cmd = NULL;
	WRITE_ONCE(io->flags, flags);
	trace_ublk_rq_delivered(ubq, rq->tag, res, batch, pos);
	io_uring_cmd_done(cmd, res, 0, issue_flags);
}

/* task work: deliver the requests linked from this command's pdu */
static void ublk_deliver_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct request *rq = ublk_cmd_pdu(cmd)->head, *next;
	unsigned int batch = 0, pos = 0;

	/* the batch's size goes into every delivery event: count first */
	if (trace_ublk_rq_delivered_enabled()) {
		for (next = rq; next; next = next->rq_next)
			batch++;
	}

	/* @cmd itself is completed in the loop: read nothing from it after */
	for (; rq; rq = next) {
		next = rq->rq_next;
		ublk_dispatch(ublk_rq_queue(rq), rq, issue_flags, batch, pos++);
	}
}

/*
 * Queue the delivery of a batch of started requests, already recorded
 * in their slots' @req, to the task of @io, the first one's slot.
 */
void ublk_deliver_batch(struct ublk_io *io, struct request *head)
{
	ublk_cmd_pdu(io->cmd)->head = head;
	io_uring_cmd_complete_in_task(io->cmd, ublk_deliver_tw);
}

/* queue the delivery of one request ublk_start_rq() started */
void ublk_deliver(struct ublk_queue *ubq, struct request *rq)
{
	struct ublk_io *io = &ubq->ios[rq->tag];

	rq->rq_next = NULL;
	ublk_deliver_batch(io, rq);
}

/* what the cancel callback needs to find the slot of a queued command */
static void ublk_prep_cancel(struct io_uring_cmd *cmd, unsigned int issue_flags,
			     struct ublk_queue *ubq, u16 tag)
{
	struct ublk_cmd_pdu *pdu = ublk_cmd_pdu(cmd);

	pdu->ubq = ubq;
	pdu->tag = tag;
	/*
	 * Before the command is visible in the slot: another thread may
	 * complete it from then on, and io_uring only unlinks a command
	 * from its cancel list when it is completed after this.
	 */
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
}

/*
 * Take @cmd from slot @io to complete it with UBLK_IO_RES_ABORT, if it is
 * still the slot's command and the slot has no request to deliver.  A
 * committed request still held by copiers or buffers (HELD) does not
 * stop it: the command is not needed for it, and a buffer may only go
 * when the ring whose commands these are goes.  The slot stays CANCELED
 * until the server closes /dev/ublkcN.
 */
bool ublk_claim_idle_cmd(struct ublk_queue *ubq, struct ublk_io *io,
			 struct io_uring_cmd *cmd)
{
	bool claimed = false;

	spin_lock(&ubq->cancel_lock);
	if (io->cmd == cmd && (io->flags & UBLK_IO_FLAG_ACTIVE) &&
	    (!READ_ONCE(io->req) || (io->flags & UBLK_IO_FLAG_HELD))) {
		io->cmd = NULL;
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_CANCELED);
		claimed = true;
	}
	spin_unlock(&ubq->cancel_lock);
	return claimed;
}

/*
 * UBLK_F_AUTO_BUF_REG: the SQE's own addr field (not the command's) is a
 * struct ublk_auto_buf_reg, where to register the buffer of the request
 * the command is completed with.
 */
static int ublk_parse_auto_buf_reg(struct io_uring_cmd *cmd, u16 *index,
				   u8 *flags)
{
	struct ublk_auto_buf_reg reg =
		ublk_sqe_addr_to_auto_buf_reg(READ_ONCE(cmd->sqe->addr));

	if (reg.reserved0 || reg.reserved1 ||
	    (reg.flags & ~UBLK_AUTO_BUF_REG_F_MASK))
		return -EINVAL;
	*index = reg.index;
	*flags = reg.flags;
	return 0;
}

static int ublk_fetch(struct io_uring_cmd *cmd, unsigned int issue_flags,
		      struct ublk_queue *ubq, u16 tag, u64 addr)
{
	struct ublk_device *ub = ubq->dev;
	struct ublk_io *io = &ubq->ios[tag];
	u16 buf_index = 0;
	u8 buf_flags = 0;
	int ret;

	if (ublk_q_auto_buf_reg(ubq)) {
		ret = ublk_parse_auto_buf_reg(cmd, &buf_index, &buf_flags);
		if (ret)
			return ret;
	}
	if (ublk_q_takes_refs(ubq)) {
		/* data goes through pread()/pwrite() or io_uring, not a buffer */
		if (addr)
			return -EINVAL;
	} else if (addr) {
		ret = ublk_check_buf(ubq, addr);
		if (ret)
			return ret;
	} else if (!ublk_q_need_get_data(ubq)) {
		return -EINVAL;
	}

	/* fetched already in this server's life (or aborted) */
	if (READ_ONCE(io->flags))
		return -EBUSY;

	ublk_prep_cancel(cmd, issue_flags, ubq, tag);

	ret = 0;
	spin_lock(&ubq->cancel_lock);
	if (io->flags || READ_ONCE(ub->srv_aborted)) {
		ret = -EBUSY;
	} else if (ublk_q_iopoll(ubq) && ublk_iopoll_bind(ubq, cmd)) {
		/* another ring or task serves this queue */
		ret = -EINVAL;
	} else {
		io->cmd = cmd;
		io->addr = addr;
		io->buf_index = buf_index;
		io->buf_flags = buf_flags;
		io->task = get_task_struct(current);
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE);
	}
	spin_unlock(&ubq->cancel_lock);
	if (!ret)
		trace_ublk_cmd_fetched(ubq, tag);

	if (ret) {
		/* cancelable now: only io_uring_cmd_done() unlinks it */
		io_uring_cmd_done(cmd, ret, 0, issue_flags);
		return -EIOCBQUEUED;
	}

	if (!capable(CAP_SYS_ADMIN))
		set_bit(UB_STATE_UNPRIV_SERVER, &ub->state);
	if (atomic_inc_return(&ub->nr_io_ready) == ub->nr_ios)
		wake_up_all(&ub->wait);
	return -EIOCBQUEUED;
}

/*
 * Drop a slot reference (user copy, zero copy); the last one completes
 * the request.  That is the commit, or after it (HELD) a copier or a
 * buffer's release in any task: the claim of the command the commit
 * armed is excluded by cancel_lock, so it sees either HELD with @req or
 * neither.
 */
void ublk_put_io_ref(struct ublk_queue *ubq, struct ublk_io *io)
{
	struct request *rq;

	if (!refcount_dec_and_test(&io->ref))
		return;
	spin_lock(&ubq->cancel_lock);
	rq = io->req;
	/* before the tag is freed and ->queue_rq() can reuse the slot */
	WRITE_ONCE(io->req, NULL);
	WRITE_ONCE(io->flags, io->flags & ~UBLK_IO_FLAG_HELD);
	spin_unlock(&ubq->cancel_lock);
	ublk_complete_rq(ubq, io, rq);
}

/*
 * Check the fields of a commit.  Errors here refuse the command and
 * leave the slot to the server.  What only concerns the request being
 * completed is not refused (mainline completes it): a result larger
 * than the request counts as all of it, see ublk_commit_result().
 */
static int ublk_check_commit(struct ublk_queue *ubq, struct request *rq,
			     s32 res, u64 addr)
{
	enum req_op op = req_op(rq);

	if (ublk_q_takes_refs(ubq)) {
		/* the field is the zone append LBA then, else unused */
		if (addr && op != REQ_OP_ZONE_APPEND)
			return -EINVAL;
		return 0;
	}

	/*
	 * The buffer takes the next request, and a READ's data is read
	 * from it now; only with NEED_GET_DATA may a slot wait without one.
	 */
	if (!addr) {
		if (!ublk_q_need_get_data(ubq) || op == REQ_OP_READ)
			return -EINVAL;
		return 0;
	}
	return ublk_check_buf(ubq, addr);
}

/*
 * The result the request completes with.  A READ's data is copied in
 * from the buffer now; if that faults, the request fails (mainline
 * completes what it copied, and no server retries a refused commit, so
 * refusing it would leave the request hanging).  A zone append LBA
 * outside the request's zone fails the request for the same reason:
 * storing it would put the data somewhere the writer never asked for.
 */
int ublk_commit_result(struct ublk_queue *ubq, struct request *rq,
		       s32 res, u64 addr)
{
	enum req_op op = req_op(rq);

	if (res <= 0)
		return res;

	switch (op) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_DRV_IN:
		res = min_t(u32, res, blk_rq_bytes(rq));
		if (op == REQ_OP_READ && !ublk_q_takes_refs(ubq) &&
		    ublk_copy_rq_user(rq, addr, res, ITER_SOURCE))
			return -EIO;
		return res;
	case REQ_OP_ZONE_APPEND: {
		sector_t zone = ubq->dev->params.basic.chunk_sectors;

		if (addr < blk_rq_pos(rq) || addr >= blk_rq_pos(rq) + zone)
			return -EIO;
		rq->__sector = addr;
		return blk_rq_bytes(rq);
	}
	default:
		return res;
	}
}

static int ublk_commit_and_fetch(struct io_uring_cmd *cmd,
				 unsigned int issue_flags,
				 struct ublk_queue *ubq, u16 tag, s32 res,
				 u64 addr)
{
	struct ublk_io *io = &ubq->ios[tag];
	u16 buf_index = 0;
	u8 buf_flags = 0;
	struct request *rq;
	int ret;

	/* as mainline: -EBUSY for a slot whose command the driver holds */
	if (io->task != current)
		return -EINVAL;
	if (READ_ONCE(io->flags) & UBLK_IO_FLAG_ACTIVE)
		return -EBUSY;
	if ((READ_ONCE(io->flags) & ~UBLK_IO_FLAG_AUTO_REG) !=
	    UBLK_IO_FLAG_OWNED_BY_SRV)
		return -EINVAL;
	rq = io->req;
	if (ublk_q_iopoll(ubq) && ublk_iopoll_check_ring(ubq, cmd))
		return -EINVAL;

	ret = ublk_check_commit(ubq, rq, res, addr);
	if (ret)
		return ret;
	if (ublk_q_auto_buf_reg(ubq)) {
		ret = ublk_parse_auto_buf_reg(cmd, &buf_index, &buf_flags);
		if (ret)
			return ret;
	}

	io->res = ublk_commit_result(ubq, rq, res, addr);
	trace_ublk_rq_committed(ubq, tag, res, io->res);
	/* with the old index, before the new one is stored */
	if (io->flags & UBLK_IO_FLAG_AUTO_REG)
		ublk_auto_buf_unreg(io, cmd, issue_flags);

	/*
	 * Arm the slot with the new command before the request completes:
	 * STOP_DEV may cancel the slot's command as soon as the last
	 * request is gone.
	 */
	ublk_prep_cancel(cmd, issue_flags, ubq, tag);
	io->cmd = cmd;
	io->buf_index = buf_index;
	io->buf_flags = buf_flags;
	if (!ublk_q_takes_refs(ubq))
		io->addr = addr;

	if (ublk_q_takes_refs(ubq)) {
		/* the server's reference: the last one unless others hold @rq */
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE | UBLK_IO_FLAG_HELD);
		ublk_put_io_ref(ubq, io);
	} else {
		WRITE_ONCE(io->req, NULL);
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE);
		ublk_complete_rq(ubq, io, rq);
	}

	/*
	 * The server is being sent away (QUIESCE_DEV, STOP_DEV) and the
	 * loop aborting its commands may have passed this slot already:
	 * the new command carries the news at once.  The loop sets
	 * ->srv_aborted, a full barrier, then reads the slots; this
	 * publishes the slot ACTIVE, a full barrier, then reads the flag.
	 * So at least one of the two sees the other, and the claim under
	 * cancel_lock makes sure only one completes the command.
	 */
	smp_mb();
	if (unlikely(READ_ONCE(ubq->dev->srv_aborted)) &&
	    ublk_claim_idle_cmd(ubq, io, cmd)) {
		trace_ublk_cmd_aborted(ubq, tag, UBLK_ABORT_COMMIT);
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0, issue_flags);
	}
	return -EIOCBQUEUED;
}

/*
 * UBLK_F_NEED_GET_DATA: the server names the buffer for the WRITE it was
 * told about; copy the data there and answer at once.  The slot stays
 * the server's until it commits: this command is never the slot's
 * command, so no slot is ever left looking ACTIVE without one (a
 * NEED_GET_DATA handled through task work upstream once did that), and
 * a bad buffer leaves everything as it was for the server to retry.
 */
static int ublk_need_get_data(struct ublk_queue *ubq, u16 tag, u64 addr)
{
	struct ublk_io *io = &ubq->ios[tag];
	struct request *rq;
	int ret;

	if (io->task != current ||
	    READ_ONCE(io->flags) !=
	    (UBLK_IO_FLAG_OWNED_BY_SRV | UBLK_IO_FLAG_NEED_GET_DATA))
		return -EINVAL;
	if (!addr)
		return -EINVAL;
	ret = ublk_check_buf(ubq, addr);
	if (ret)
		return ret;

	rq = io->req;
	if (ublk_copy_rq_user(rq, addr, blk_rq_bytes(rq), ITER_DEST))
		return -EFAULT;

	io->addr = addr;
	ublk_iod(ubq, tag)->addr = addr;
	WRITE_ONCE(io->flags, UBLK_IO_FLAG_OWNED_BY_SRV);
	return UBLK_IO_RES_OK;
}

static int ublk_handle_io_cmd(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	const struct ublksrv_io_cmd *ucmd = io_uring_sqe_cmd(cmd->sqe);
	struct ublk_device *ub = cmd->file->private_data;
	u16 q_id = READ_ONCE(ucmd->q_id);
	u16 tag = READ_ONCE(ucmd->tag);
	s32 res = READ_ONCE(ucmd->result);
	u64 addr = READ_ONCE(ucmd->addr);
	u32 op = cmd->cmd_op;
	struct ublk_queue *ubq;

	/*
	 * As mainline: another ioctl type is not ours; an unknown number
	 * in ours, or a command of a feature the device does not have
	 * (zero copy, batches), is -EINVAL.  IORING_URING_CMD_FIXED means
	 * nothing to these commands and is ignored.
	 */
	if (_IOC_TYPE(op) != 'u' &&
	    !(IS_ENABLED(CONFIG_BLKDEV_UBLK_LEGACY_OPCODES) && _IOC_TYPE(op) == 0))
		return -EOPNOTSUPP;
	/* names a buffer table entry, not a slot: q_id and tag unused */
	if (ublk_op_is(op, UBLK_U_IO_UNREGISTER_IO_BUF))
		return ublk_unregister_io_buf(cmd, ub, addr, issue_flags);
	if (!ublk_op_is(op, UBLK_U_IO_FETCH_REQ) &&
	    !ublk_op_is(op, UBLK_U_IO_COMMIT_AND_FETCH_REQ) &&
	    !ublk_op_is(op, UBLK_U_IO_NEED_GET_DATA) &&
	    !ublk_op_is(op, UBLK_U_IO_REGISTER_IO_BUF) &&
	    !ublk_op_is(op, UBLK_U_IO_IOPOLL_SLEEP))
		return -EINVAL;

	if (q_id >= ub->dev_info.nr_hw_queues)
		return -EINVAL;
	ubq = ub->queues[array_index_nospec(q_id, ub->dev_info.nr_hw_queues)];
	if (tag >= ubq->q_depth)
		return -EINVAL;
	tag = array_index_nospec(tag, ubq->q_depth);

	if (ublk_op_is(op, UBLK_U_IO_IOPOLL_SLEEP))
		return ublk_iopoll_sleep(cmd, ubq, tag, res, addr);
	/*
	 * The commands that wait for a request are polled exactly when the
	 * device is UBLK_F_IOPOLL: queue_rq() hands requests to the one or
	 * the other kind of command.  The others complete at once.
	 */
	if ((ublk_op_is(op, UBLK_U_IO_FETCH_REQ) ||
	     ublk_op_is(op, UBLK_U_IO_COMMIT_AND_FETCH_REQ)) &&
	    !(issue_flags & IO_URING_F_IOPOLL) != !ublk_q_iopoll(ubq))
		return -EINVAL;

	if (ublk_op_is(op, UBLK_U_IO_REGISTER_IO_BUF))
		return ublk_register_io_buf(cmd, ubq, &ubq->ios[tag], addr,
					    issue_flags);
	if (ublk_op_is(op, UBLK_U_IO_FETCH_REQ))
		return ublk_fetch(cmd, issue_flags, ubq, tag, addr);
	if (ublk_op_is(op, UBLK_U_IO_COMMIT_AND_FETCH_REQ))
		return ublk_commit_and_fetch(cmd, issue_flags, ubq, tag, res,
					     addr);
	return ublk_need_get_data(ubq, tag, addr);
}

/* a command issued from io-wq, run again in the task that submitted it */
static void ublk_io_cmd_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	int ret = -ECANCELED;

	/* task work knows nothing of polling; the command still is polled */
	if (ublk_cmd_pdu(cmd)->iopoll)
		issue_flags |= IO_URING_F_IOPOLL;
	if (!(issue_flags & IO_URING_F_TASK_DEAD))
		ret = ublk_handle_io_cmd(cmd, issue_flags);
	if (ret != -EIOCBQUEUED)
		io_uring_cmd_done(cmd, ret, 0, issue_flags);
}

/*
 * Stage 1 of server exit: io_uring cancels the commands of a ring or a
 * task that is going away, calling this for each one (again and again
 * until it is completed), with the ring's uring_lock held.
 *
 * The device stops handing requests to slots first (ublk_start_cancel():
 * the queues park or fail new requests), then the command is completed
 * with UBLK_IO_RES_ABORT unless its slot is busy:
 *
 *  - a request's delivery is queued on the command (task work that has
 *    not run yet).  Completing the command now would free it under the
 *    queued task work.  io_uring runs that task work before it gives up
 *    on the ring, and ublk_dispatch() sees the task dying, cancels the
 *    command itself and parks or fails the request.  ->queue_rq() cannot
 *    queue new deliveries after ublk_start_cancel() returned, as it
 *    changed the queues' mode with the blk-mq queue quiesced.
 *  - with user copy, a committed request still has copiers: the last
 *    one completes it shortly, and a later call cancels the command.
 *
 * No ub->mutex here: a STOP_DEV holding it may be waiting for exactly
 * these commands and requests to go away.
 */
static void ublk_cancel_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ublk_cmd_pdu *pdu = ublk_cmd_pdu(cmd);
	struct ublk_queue *ubq = pdu->ubq;
	struct ublk_io *io = &ubq->ios[pdu->tag];

	ublk_start_cancel(ubq->dev);
	/* requests waiting for the poller, which will not poll again */
	if (ublk_q_iopoll(ubq))
		ublk_iopoll_cancel(ubq, issue_flags);

	if (ublk_claim_idle_cmd(ubq, io, cmd)) {
		trace_ublk_cmd_aborted(ubq, pdu->tag, UBLK_ABORT_CANCEL);
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0, issue_flags);
	}
}

int ublk_ch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ublk_device *ub = cmd->file->private_data;

	/* a device's mode is fixed at ADD_DEV */
	if (ublk_dev_batch(ub))
		return ublk_batch_uring_cmd(cmd, issue_flags);

	if (unlikely(issue_flags & IO_URING_F_CANCEL)) {
		ublk_cancel_cmd(cmd, issue_flags);
		return 0;
	}

	/*
	 * From io-wq (IOSQE_ASYNC): the slot checks need the submitting
	 * task, and the fast paths rely on the ring's uring_lock.
	 */
	if (unlikely(issue_flags & IO_URING_F_UNLOCKED)) {
		/*
		 * On an IOPOLL ring the command is in the iopoll list when
		 * this returns: ->uring_cmd_iopoll() leaves it alone until
		 * the task work (under the same ring lock) has issued it.
		 */
		WRITE_ONCE(ublk_cmd_pdu(cmd)->ubq, NULL);
		ublk_cmd_pdu(cmd)->iopoll = issue_flags & IO_URING_F_IOPOLL;
		io_uring_cmd_complete_in_task(cmd, ublk_io_cmd_tw);
		return -EIOCBQUEUED;
	}

	return ublk_handle_io_cmd(cmd, issue_flags);
}
