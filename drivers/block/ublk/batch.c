// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: batched delivery (UBLK_F_BATCH_IO) and fetch priorities
 * (UBLK_F_BATCH_PRIO, this driver's own).
 *
 * Slots carry no command here.  UBLK_U_IO_PREP_IO_CMDS hands the driver
 * a set of slots at once (each then ACTIVE with no @cmd: the driver's,
 * waiting for a request), UBLK_U_IO_COMMIT_IO_CMDS completes the
 * requests of a set of slots the server owns and gives the slots back,
 * and UBLK_U_IO_FETCH_IO_CMDS is a multishot command: every CQE it posts
 * carries, in one buffer of the server's provided buffer ring, the tags
 * of requests that are now the server's.  Any task of the server may
 * send any of them for any slot.
 *
 * The way from ->queue_rq() to the server, per queue:
 *
 *   ->queue_rq()/->queue_rqs() start the request, record it in its
 *   slot's @req and push its tag into @tags, the queue's FIFO of tags
 *   waiting for delivery.  At the end of a run (bd->last, ->commit_rqs(),
 *   the end of a ->queue_rqs() batch) they pick a fetch command to
 *   deliver them if none is delivering (@active), and queue task work
 *   on it.  The task work, in the task and under the uring_lock of the
 *   command's ring, takes a provided buffer, moves as many tags out of
 *   @tags as it holds, makes their slots the server's and posts one CQE;
 *   it goes on while tags wait, then hands over to the next command
 *   picked, or, if tags came meanwhile, to itself.
 *
 * Waiting fetch commands sit in @fcmds, one FIFO list per priority
 * level; the command picked is the first of the highest non-empty level,
 * and it stays there while it delivers.  A command leaves its list when
 * it ends: its buffer ring was empty or the CQ full (-ENOBUFS), the
 * server was sent away (UBLK_IO_RES_ABORT), or io_uring cancelled it.
 *
 * Why a tag is never lost nor delivered twice.  A tag is in @tags at
 * most once: it is pushed when its request starts, and a started
 * request's tag is not reused before the request ends.  Only the task
 * work of @active pops tags, and there is at most one such task work
 * per queue: @active is set (under @lock) only when it was NULL, work
 * is queued only by whoever set it, and only that work clears it,
 * again under @lock.  A popped tag is delivered, or its request ended
 * (its slot's buffer faulted, its automatic buffer registration
 * failed), or pushed back when the CQE could not be posted.  No tag
 * waits without a delivery coming: a producer pushes and then picks
 * under @lock, and @active's work clears @active and picks under @lock
 * too, so whichever of the two comes second sees the other's doing: the
 * producer sees no @active and starts one, or the work sees the new tag
 * and starts the next delivery.  Tags that wait when the server goes
 * away are failed or parked by stage 2 of its exit, when no command of
 * it is left (ublk_batch_drain()).
 *
 * Polled queues (UBLK_F_IOPOLL, iopoll.c): one IOPOLL ring and one task
 * serve the queue, and its fetch commands wait in that ring's iopoll
 * list.  ->queue_rq() & co. push tags and wake the poller if it sleeps,
 * nothing else: no pick, no task work.  The deliveries run in
 * ublk_batch_iopoll(), which io_uring calls from the poller's
 * io_uring_enter() with the ring's lock held, for each fetch command
 * in the list: it picks a command as above (all of the queue's are on
 * that ring), delivers as its task work would, and lets go of @active
 * before it returns, so @active is set only inside a poll.  A tag is
 * still popped only by @active, now under the ring's lock, which the
 * cancel callback holds too.  No tag waits without a delivery coming:
 * the poller polls until it has announced that it sleeps
 * (UBLK_U_IO_IOPOLL_SLEEP), which looks at @tags after arming, while a
 * producer looks for the armed sleeper after its push; with a full
 * barrier on both sides, one of the two sees the other.
 *
 * Slots: ACTIVE (the driver's; with @req set once a request is started
 * for it) -> delivered: OWNED_BY_SRV (and AUTO_REG) -> COMMIT_IO_CMDS:
 * ACTIVE again (ACTIVE|HELD while user copy or registered buffers
 * still hold the request).  Since any task may commit, a commit claims
 * the slot with a cmpxchg() of its flags, so that two commits of one
 * tag cannot both complete the request.
 */
#include <linux/kfifo.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>

#include "ublk.h"
#include "trace.h"

/* tags one CQE delivers at most: the stack array of a delivery */
#define UBLK_BATCH_MAX_TAGS	128
/* deliveries one task work run makes before it queues itself again */
#define UBLK_BATCH_MAX_ROUNDS	32
/* element bytes copied per copy_from_user(): 8, 16 and 24 all divide it */
#define UBLK_BATCH_CHUNK	480
/* a slot being committed (claimed by one committer) */
#define UBLK_IO_FLAG_COMMITTING	0x40

#define UBLK_BATCH_F_MAINLINE	(UBLK_BATCH_F_HAS_ZONE_LBA |		\
				 UBLK_BATCH_F_HAS_BUF_ADDR |		\
				 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK)
#define UBLK_BATCH_NR_PRIO	(UBLK_BATCH_PRIO_MAX + 1)

struct ublk_batch_queue {
	/*
	 * Taken by ->queue_rq() & co. and by the fetch commands' handlers;
	 * innermost, never held with another lock of ours.
	 */
	spinlock_t		lock;
	/* pushed under @lock; popped only by @active's task work */
	DECLARE_KFIFO_PTR(tags, u16);
	/* under @lock: the fetch command whose task work delivers, or NULL */
	struct io_uring_cmd	*active;
	/*
	 * Under @lock: the server was sent away (STOP_DEV, QUIESCE_DEV); no
	 * fetch command may wait.  Cleared when the next server comes.
	 */
	bool			closed;
	/* under @lock: the waiting fetch commands (struct ublk_fcmd.node) */
	struct list_head	fcmds[UBLK_BATCH_NR_PRIO];
};

/* a FETCH_IO_CMDS command, in its io_uring_cmd's pdu */
struct ublk_fcmd {
	/* in ublk_batch_queue.fcmds[@prio] while it waits (under its lock) */
	struct list_head	node;
	/* the SQE's, for UPDATE_CMD_PRIO */
	u64			user_data;
	u16			q_id;
	u16			buf_group;
	/* under the queue's lock */
	u8			prio;
	/*
	 * Under the queue's lock: in a list of @fcmds.  Whoever takes it
	 * out (abort loop, cancel, its own delivery) clears it and then
	 * owns its completion.
	 */
	bool			waiting;
	/*
	 * Polled queue: a fetch command ublk_batch_iopoll() may deliver
	 * for (its fields above are set).  Read in polls, under the ring's
	 * lock; written with it held, or before the command is in the
	 * ring's iopoll list (issue from io-wq).  Left set when another
	 * context completes the command: io_uring polls completed commands
	 * no more, and a poll already under way only reads the fields.
	 */
	bool			polled;
	/* issued from io-wq on an IOPOLL ring, run again from task work */
	bool			iopoll;
};

static inline struct ublk_fcmd *ublk_fcmd(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct ublk_fcmd);
}

static inline struct io_uring_cmd *ublk_fcmd_cmd(struct ublk_fcmd *f)
{
	return container_of((void *)f, struct io_uring_cmd, pdu);
}

/* the header of every batch command, read once */
struct ublk_batch_hdr {
	u16			q_id;
	u16			flags;
	u16			nr_elem;
	u8			elem_bytes;
	u8			prio;
	u64			reserved2;
};

int ublk_batch_init_queue(struct ublk_queue *ubq)
{
	struct ublk_batch_queue *bq;
	int i, ret;

	bq = kzalloc(sizeof(*bq), GFP_KERNEL);
	if (!bq)
		return -ENOMEM;
	/* every started request once at most: the depth is enough */
	ret = kfifo_alloc(&bq->tags, ubq->q_depth, GFP_KERNEL);
	if (ret) {
		kfree(bq);
		return ret;
	}
	spin_lock_init(&bq->lock);
	for (i = 0; i < UBLK_BATCH_NR_PRIO; i++)
		INIT_LIST_HEAD(&bq->fcmds[i]);
	ubq->batch = bq;
	return 0;
}

void ublk_batch_free_queue(struct ublk_queue *ubq)
{
	struct ublk_batch_queue *bq = ubq->batch;

	if (!bq)
		return;
	kfifo_free(&bq->tags);
	kfree(bq);
	ubq->batch = NULL;
}

static void ublk_batch_deliver_tw(struct io_uring_cmd *cmd,
				  unsigned int issue_flags);

/*
 * Under @bq->lock: if tags wait and no command delivers them, make the
 * first command of the highest non-empty level the one that does.  The
 * caller queues its task work (ublk_batch_kick()) after unlocking.
 */
static struct io_uring_cmd *ublk_batch_pick(struct ublk_batch_queue *bq)
{
	int p;

	lockdep_assert_held(&bq->lock);

	if (bq->active || kfifo_is_empty(&bq->tags))
		return NULL;
	for (p = UBLK_BATCH_PRIO_MAX; p >= 0; p--) {
		struct ublk_fcmd *f;

		f = list_first_entry_or_null(&bq->fcmds[p], struct ublk_fcmd,
					     node);
		if (f) {
			bq->active = ublk_fcmd_cmd(f);
			return bq->active;
		}
	}
	return NULL;
}

static void ublk_batch_kick(struct io_uring_cmd *cmd)
{
	if (cmd)
		io_uring_cmd_complete_in_task(cmd, ublk_batch_deliver_tw);
}

/* push @n tags of started requests; @kick at the end of a run */
static void ublk_batch_push(struct ublk_queue *ubq, const u16 *tags,
			    unsigned int n, bool kick)
{
	struct ublk_batch_queue *bq = ubq->batch;
	struct io_uring_cmd *cmd = NULL;

	spin_lock(&bq->lock);
	/* cannot be short: see the kfifo_alloc() */
	kfifo_in(&bq->tags, tags, n);
	if (kick && !ublk_q_iopoll(ubq))
		cmd = ublk_batch_pick(bq);
	spin_unlock(&bq->lock);
	if (ublk_q_iopoll(ubq)) {
		/*
		 * The poller's next poll delivers.  Pairs with
		 * ublk_iopoll_sleep(): push, full barrier, look for a
		 * sleeper (see the top of the file).
		 */
		smp_mb();
		ublk_iopoll_wake(ubq);
		return;
	}
	ublk_batch_kick(cmd);
}

static void ublk_batch_kick_queue(struct ublk_queue *ubq)
{
	struct ublk_batch_queue *bq = ubq->batch;
	struct io_uring_cmd *cmd;

	/* polled: every push woke the poller already */
	if (ublk_q_iopoll(ubq))
		return;
	spin_lock(&bq->lock);
	cmd = ublk_batch_pick(bq);
	spin_unlock(&bq->lock);
	ublk_batch_kick(cmd);
}

/* blk-mq side */

static blk_status_t ublk_batch_queue_rq(struct blk_mq_hw_ctx *hctx,
					const struct blk_mq_queue_data *bd)
{
	struct ublk_queue *ubq = hctx->driver_data;
	struct request *rq = bd->rq;
	blk_status_t status;
	u16 tag = rq->tag;

	if (unlikely(READ_ONCE(ubq->nosrv))) {
		ublk_nosrv_rq(ubq, rq);
		return BLK_STS_OK;
	}
	status = ublk_start_rq(ubq, rq);
	if (unlikely(status != BLK_STS_OK))
		return status;
	ublk_batch_push(ubq, &tag, 1, bd->last);
	return BLK_STS_OK;
}

static void ublk_batch_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	ublk_batch_kick_queue(hctx->driver_data);
}

/*
 * A plugged batch: the tags of each run of requests for one queue go in
 * with one lock round and one pick.  What cannot be taken goes back to
 * blk-mq, which issues it through ->queue_rq().
 */
static void ublk_batch_queue_rqs(struct rq_list *rqlist)
{
	struct rq_list rest = { };
	struct ublk_queue *cur = NULL;
	u16 tags[UBLK_BATCH_MAX_TAGS];
	unsigned int n = 0;
	struct request *rq;

	while ((rq = rq_list_pop(rqlist))) {
		struct ublk_queue *ubq = ublk_rq_queue(rq);

		if (unlikely(READ_ONCE(ubq->nosrv) ||
			     ublk_start_rq(ubq, rq) != BLK_STS_OK)) {
			rq_list_add_tail(&rest, rq);
			continue;
		}
		if (n && (ubq != cur || n == ARRAY_SIZE(tags))) {
			ublk_batch_push(cur, tags, n, ubq != cur);
			n = 0;
		}
		cur = ubq;
		tags[n++] = rq->tag;
	}
	if (n)
		ublk_batch_push(cur, tags, n, true);
	*rqlist = rest;
}

const struct blk_mq_ops ublk_batch_mq_ops = {
	.queue_rq	= ublk_batch_queue_rq,
	.commit_rqs	= ublk_batch_commit_rqs,
	.queue_rqs	= ublk_batch_queue_rqs,
	.timeout	= ublk_timeout,
	.init_hctx	= ublk_init_hctx,
	.init_request	= ublk_init_request,
};

/* delivery */

/*
 * Make slot @tag's request the server's, for a CQE of @cmd.  false if
 * the request ended instead (the slot stays the driver's).
 */
static bool ublk_batch_start_io(struct ublk_queue *ubq, u16 tag,
				struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	struct ublk_io *io = &ubq->ios[tag];
	struct request *rq = io->req;
	unsigned int flags = UBLK_IO_FLAG_OWNED_BY_SRV;
	int refs = 1;

	/* the server task's own memory: this runs in a task of the server */
	if (req_op(rq) == REQ_OP_WRITE && ublk_rq_has_data(rq) &&
	    !ublk_q_takes_refs(ubq) &&
	    ublk_copy_rq_user(rq, io->addr, blk_rq_bytes(rq), ITER_DEST)) {
		WRITE_ONCE(io->req, NULL);
		ublk_end_rq(rq, BLK_STS_IOERR);
		return false;
	}

	if (ublk_q_auto_buf_reg(ubq) && ublk_rq_has_data(rq)) {
		int ret = ublk_auto_buf_reg(ubq, io, rq, cmd, issue_flags);

		if (ret < 0) {
			WRITE_ONCE(io->req, NULL);
			ublk_end_rq(rq, BLK_STS_IOERR);
			return false;
		}
		if (!ret) {
			flags |= UBLK_IO_FLAG_AUTO_REG;
			refs++;
		}
	}

	/* user copy and REGISTER_IO_BUF may take references from now on */
	if (ublk_q_takes_refs(ubq))
		atomic_set_release(&io->ref.refs, refs);
	WRITE_ONCE(io->flags, flags);
	return true;
}

/*
 * The CQE carrying slots ublk_batch_start_io() gave the server could not
 * be posted: nobody saw them, so they are the driver's again, and their
 * tags go back for the next delivery.
 */
static void ublk_batch_undo(struct ublk_queue *ubq, struct io_uring_cmd *cmd,
			    const u16 *tags, unsigned int n,
			    unsigned int issue_flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct ublk_io *io = &ubq->ios[tags[i]];

		/* the entry's release drops its reference, not the last one */
		if (io->flags & UBLK_IO_FLAG_AUTO_REG)
			ublk_auto_buf_unreg(io, cmd, issue_flags);
		if (ublk_q_takes_refs(ubq))
			refcount_set(&io->ref, 0);
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE);
	}
	ublk_batch_push(ubq, tags, n, false);
}

/*
 * One CQE of fetch command @cmd: the tags waiting, as many as its next
 * provided buffer holds.  Returns how many tags it took out of the FIFO
 * (0: none waited), or an error that ends the command.
 */
static int ublk_batch_deliver(struct ublk_queue *ubq, struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	struct ublk_batch_queue *bq = ubq->batch;
	struct ublk_fcmd *f = ublk_fcmd(cmd);
	u16 tags[UBLK_BATCH_MAX_TAGS];
	unsigned int n, i, kept;
	struct io_br_sel sel;
	size_t len = 0;

	if (kfifo_is_empty(&bq->tags))
		return 0;

	sel = io_uring_cmd_buffer_select(cmd, f->buf_group, &len, issue_flags);
	if (sel.val < 0)
		return sel.val;
	if (!sel.addr)
		return -ENOBUFS;

	n = min_t(size_t, len / sizeof(u16), UBLK_BATCH_MAX_TAGS);
	n = kfifo_out(&bq->tags, tags, n);
	/* pairs with kfifo_in()'s: the slots' @req were set before */
	smp_rmb();
	for (i = kept = 0; i < n; i++) {
		if (ublk_batch_start_io(ubq, tags[i], cmd, issue_flags))
			tags[kept++] = tags[i];
	}

	if (!kept) {
		/* give the buffer back; a buffer too small for a tag ends it */
		sel.val = 0;
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		return n ? n : -ENOBUFS;
	}

	if (copy_to_user(sel.addr, tags, kept * sizeof(u16))) {
		ublk_batch_undo(ubq, cmd, tags, kept, issue_flags);
		sel.val = 0;
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		return -EFAULT;
	}

	sel.val = kept * sizeof(u16);
	if (io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags)) {
		/*
		 * The CQ is full.  The command ends with -ENOBUFS, as on
		 * mainline, where servers re-arm on it; the tags go to the
		 * next command.
		 */
		ublk_batch_undo(ubq, cmd, tags, kept, issue_flags);
		return -ENOBUFS;
	}
	if (trace_ublk_rq_delivered_enabled()) {
		for (i = 0; i < kept; i++)
			trace_ublk_rq_delivered(ubq, tags[i], UBLK_IO_RES_OK,
						kept, i);
	}
	return n;
}

/*
 * Deliver what waits as @cmd, the queue's @active, then let go of
 * @active.  @cmd ends here when it could not go on, when the server was
 * sent away while it delivered (the abort loop leaves the active
 * command to this), or, with @dead, at once.  Returns the command to
 * deliver next from task work (NULL on a polled queue, whose next poll
 * picks), and whether @cmd ended in *@ended.
 */
static struct io_uring_cmd *ublk_batch_run(struct ublk_queue *ubq,
					   struct io_uring_cmd *cmd,
					   unsigned int issue_flags, bool dead,
					   bool *ended)
{
	struct ublk_batch_queue *bq = ubq->batch;
	struct ublk_fcmd *f = ublk_fcmd(cmd);
	struct io_uring_cmd *next = NULL;
	int ret = 0, rounds;
	bool end;

	if (unlikely(dead)) {
		ret = UBLK_IO_RES_ABORT;
	} else {
		for (rounds = 0; rounds < UBLK_BATCH_MAX_ROUNDS; rounds++) {
			ret = ublk_batch_deliver(ubq, cmd, issue_flags);
			if (ret <= 0)
				break;
		}
	}

	spin_lock(&bq->lock);
	WARN_ON_ONCE(bq->active != cmd);
	bq->active = NULL;
	end = ret < 0 || bq->closed;
	if (end) {
		list_del_init(&f->node);
		f->waiting = false;
		f->polled = false;
	}
	/* @cmd itself if it still waits and tags came meanwhile */
	if (!ublk_q_iopoll(ubq))
		next = ublk_batch_pick(bq);
	spin_unlock(&bq->lock);

	if (end) {
		if (ret >= 0) {
			ret = UBLK_IO_RES_ABORT;
			trace_ublk_cmd_aborted(ubq, U16_MAX, UBLK_ABORT_STOP);
		}
		io_uring_cmd_done(cmd, ret, 0, issue_flags);
	}
	*ended = end;
	return next;
}

/* task work of the fetch command that is @active for its queue */
static void ublk_batch_deliver_tw(struct io_uring_cmd *cmd,
				  unsigned int issue_flags)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_queue *ubq = ub->queues[ublk_fcmd(cmd)->q_id];
	bool dead = issue_flags & IO_URING_F_TASK_DEAD, ended;

	if (unlikely(dead)) {
		/*
		 * The task or its ring is exiting: nobody would read a CQE.
		 * The server is going away; the tags wait for another command
		 * of it, or for stage 2.
		 */
		ublk_start_cancel(ub);
		trace_ublk_cmd_aborted(ubq, U16_MAX, UBLK_ABORT_DYING);
	}
	ublk_batch_kick(ublk_batch_run(ubq, cmd, issue_flags, dead, &ended));
}

#ifdef UBLK_HAVE_IOPOLL_MSHOT
/*
 * ->uring_cmd_iopoll() of a polled batch queue's command, called by the
 * ring's poller with its lock held (see the top of the file): deliver
 * what waits through the best fetch command of the queue, which is on
 * this ring too.  Returns 1 if that command ended, so that io_uring,
 * which only looks at @cmd, sweeps the list for it.
 */
int ublk_batch_iopoll(struct io_uring_cmd *cmd)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_fcmd *f = ublk_fcmd(cmd);
	struct ublk_batch_queue *bq;
	struct ublk_queue *ubq;
	struct io_uring_cmd *d;
	bool ended;

	/* waiting to be issued from task work, or no fetch command */
	if (!f->polled)
		return 0;
	ubq = ub->queues[f->q_id];
	bq = ubq->batch;
	/* only @active pops, and it is set inside polls only */
	if (kfifo_is_empty(&bq->tags))
		return 0;
	/*
	 * Copies go to the poller's memory.  Anyone else polling (io_uring
	 * reaping a dying ring from a kernel thread, after cancelling its
	 * commands) leaves the tags to the poller, or to stage 2.
	 */
	if (current != READ_ONCE(ubq->poll_task))
		return 0;

	spin_lock(&bq->lock);
	d = ublk_batch_pick(bq);
	spin_unlock(&bq->lock);
	if (!d)
		return 0;
	/* locked: the ring's uring_lock is held */
	ublk_batch_run(ubq, d, 0, false, &ended);
	return ended;
}
#endif

/* a new request waits for a polled queue's delivery (UBLK_U_IO_IOPOLL_SLEEP) */
bool ublk_batch_pending(struct ublk_queue *ubq)
{
	return ubq->batch && !kfifo_is_empty(&ubq->batch->tags);
}

/* command handlers */

static int ublk_batch_check_hdr(const struct ublk_device *ub,
				const struct ublk_batch_hdr *h)
{
	u64 flags = ub->dev_info.flags;
	unsigned int elem_bytes = sizeof(struct ublk_elem_header);

	/* as mainline, and in its order */
	if (h->q_id >= ub->dev_info.nr_hw_queues)
		return -EINVAL;
	if (h->nr_elem > ub->dev_info.queue_depth)
		return -E2BIG;
	if ((h->flags & UBLK_BATCH_F_HAS_ZONE_LBA) && !(flags & UBLK_F_ZONED))
		return -EINVAL;
	/* a buffer address is what copy mode has, and only copy mode */
	if ((h->flags & UBLK_BATCH_F_HAS_BUF_ADDR) &&
	    (flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
		      UBLK_F_AUTO_BUF_REG)))
		return -EINVAL;
	if ((h->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) &&
	    !(flags & UBLK_F_AUTO_BUF_REG))
		return -EINVAL;
	if (h->flags & ~UBLK_BATCH_F_MAINLINE)
		return -EINVAL;
	if ((h->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) &&
	    (h->flags & UBLK_BATCH_F_HAS_BUF_ADDR))
		return -EINVAL;
	if (h->flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		elem_bytes += sizeof(u64);
	if (h->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		elem_bytes += sizeof(u64);
	if (h->elem_bytes != elem_bytes)
		return -EINVAL;
	return 0;
}

static u64 ublk_elem_buf_addr(const struct ublk_batch_hdr *h, const void *e)
{
	if (!(h->flags & UBLK_BATCH_F_HAS_BUF_ADDR))
		return 0;
	return get_unaligned((const u64 *)(e + sizeof(struct ublk_elem_header)));
}

static u64 ublk_elem_zone_lba(const struct ublk_batch_hdr *h, const void *e)
{
	size_t off = sizeof(struct ublk_elem_header);

	if (!(h->flags & UBLK_BATCH_F_HAS_ZONE_LBA))
		return 0;
	if (h->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		off += sizeof(u64);
	return get_unaligned((const u64 *)(e + off));
}

/* the buffer a copy-mode slot names: mainline requires one, no GET_DATA */
static int ublk_batch_check_buf(const struct ublk_queue *ubq, u64 addr)
{
	if (ublk_q_takes_refs(ubq))
		return 0;
	if (!addr)
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(addr),
		       ubq->dev->dev_info.max_io_buf_bytes))
		return -EFAULT;
	return 0;
}

/*
 * PREP_IO_CMDS: all slots named, or none.  The array is read and checked
 * whole first, then the slots are taken in one go under cancel_lock, so
 * START_DEV never sees a device ready that a failing PREP then takes
 * back (mainline reverts a partial PREP under ub->mutex, which these
 * handlers may not take here).
 */
static int ublk_batch_prep(struct io_uring_cmd *cmd,
			   const struct ublk_batch_hdr *h)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_queue *ubq = ub->queues[h->q_id];
	size_t bytes = (size_t)h->nr_elem * h->elem_bytes;
	unsigned long *seen = NULL;
	void *elems;
	unsigned int i;
	int ret;

	if (!h->nr_elem)
		return 0;
	elems = kvmalloc(bytes, GFP_KERNEL);
	if (!elems)
		return -ENOMEM;
	ret = -EFAULT;
	if (copy_from_user(elems, u64_to_user_ptr(READ_ONCE(cmd->sqe->addr)),
			   bytes))
		goto out;
	ret = -ENOMEM;
	seen = bitmap_zalloc(ubq->q_depth, GFP_KERNEL);
	if (!seen)
		goto out;

	for (i = 0; i < h->nr_elem; i++) {
		const void *e = elems + i * h->elem_bytes;
		const struct ublk_elem_header *eh = e;

		ret = -EINVAL;
		if (eh->tag >= ubq->q_depth)
			goto out;
		/* a slot may be fetched once: mainline's -EINVAL */
		if (__test_and_set_bit(array_index_nospec(eh->tag, ubq->q_depth),
				       seen))
			goto out;
		ret = ublk_batch_check_buf(ubq, ublk_elem_buf_addr(h, e));
		if (ret)
			goto out;
	}

	spin_lock(&ubq->cancel_lock);
	ret = 0;
	if (READ_ONCE(ub->srv_aborted) ||
	    atomic_read(&ub->nr_io_ready) == ub->nr_ios) {
		/* sent away, or every slot taken already: mainline's -EBUSY */
		ret = -EBUSY;
	} else if (ublk_q_iopoll(ubq) && ublk_iopoll_bind(ubq, cmd)) {
		/* a polled queue's slots are its poller's (iopoll.c) */
		ret = -EINVAL;
	} else {
		for (i = 0; i < h->nr_elem; i++) {
			const struct ublk_elem_header *eh =
				elems + i * h->elem_bytes;

			if (ubq->ios[array_index_nospec(eh->tag,
							ubq->q_depth)].flags) {
				ret = -EINVAL;
				break;
			}
		}
	}
	for (i = 0; !ret && i < h->nr_elem; i++) {
		const void *e = elems + i * h->elem_bytes;
		const struct ublk_elem_header *eh = e;
		struct ublk_io *io =
			&ubq->ios[array_index_nospec(eh->tag, ubq->q_depth)];

		io->addr = ublk_elem_buf_addr(h, e);
		io->buf_index = eh->buf_index;
		io->buf_flags = (h->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) ?
			UBLK_AUTO_BUF_REG_FALLBACK : 0;
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE);
		trace_ublk_cmd_fetched(ubq, eh->tag);
	}
	spin_unlock(&ubq->cancel_lock);
	if (ret)
		goto out;

	if (!capable(CAP_SYS_ADMIN))
		set_bit(UB_STATE_UNPRIV_SERVER, &ub->state);
	if (atomic_add_return(h->nr_elem, &ub->nr_io_ready) == ub->nr_ios)
		wake_up_all(&ub->wait);
out:
	bitmap_free(seen);
	kvfree(elems);
	return ret;
}

/*
 * Complete the request of one slot the server owns and give the slot
 * back.  Full successes of plain reads and writes are ended together at
 * the end of the command (@iob); the rest as the per-io commit does.
 */
static int ublk_batch_commit_one(struct ublk_queue *ubq,
				 const struct ublk_batch_hdr *h, const void *e,
				 struct io_uring_cmd *cmd,
				 struct io_comp_batch *iob,
				 unsigned int issue_flags)
{
	const struct ublk_elem_header *eh = e;
	u64 addr = ublk_elem_buf_addr(h, e);
	struct ublk_io *io;
	struct request *rq;
	unsigned int old;
	s32 res = eh->result;
	int ret;

	if (eh->tag >= ubq->q_depth)
		return -EINVAL;
	io = &ubq->ios[array_index_nospec(eh->tag, ubq->q_depth)];
	/* mainline's order: the slot first, then the buffer */
	old = READ_ONCE(io->flags);
	if ((old & ~UBLK_IO_FLAG_AUTO_REG) != UBLK_IO_FLAG_OWNED_BY_SRV)
		return -EBUSY;
	ret = ublk_batch_check_buf(ubq, addr);
	if (ret)
		return ret;
	/* claim it: commits may come from any task at once */
	if (cmpxchg(&io->flags, old, UBLK_IO_FLAG_COMMITTING) != old)
		return -EBUSY;
	rq = io->req;

	if (req_op(rq) == REQ_OP_ZONE_APPEND)
		io->res = ublk_commit_result(ubq, rq, res,
					     ublk_elem_zone_lba(h, e));
	else
		io->res = ublk_commit_result(ubq, rq, res, addr);
	trace_ublk_rq_committed(ubq, eh->tag, res, io->res);
	if (old & UBLK_IO_FLAG_AUTO_REG)
		ublk_auto_buf_unreg(io, cmd, issue_flags);

	/* where the slot's next request goes */
	io->addr = addr;
	io->buf_index = eh->buf_index;
	io->buf_flags = (h->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) ?
		UBLK_AUTO_BUF_REG_FALLBACK : 0;

	if (ublk_q_takes_refs(ubq)) {
		WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE | UBLK_IO_FLAG_HELD);
		ublk_put_io_ref(ubq, io);
		return 0;
	}

	WRITE_ONCE(io->req, NULL);
	WRITE_ONCE(io->flags, UBLK_IO_FLAG_ACTIVE);
	if ((req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE) &&
	    io->res == blk_rq_bytes(rq) &&
	    blk_mq_add_to_batch(rq, iob, false, blk_mq_end_request_batch)) {
		trace_ublk_rq_completed(rq, BLK_STS_OK, io->res, false);
		return 0;
	}
	ublk_complete_rq(ubq, io, rq);
	return 0;
}

/*
 * COMMIT_IO_CMDS: element by element, as mainline: the bytes of the
 * array handled, or, if the first element was refused, its error.
 */
static int ublk_batch_commit(struct io_uring_cmd *cmd,
			     const struct ublk_batch_hdr *h,
			     unsigned int issue_flags)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_queue *ubq = ub->queues[h->q_id];
	void __user *uaddr = u64_to_user_ptr(READ_ONCE(cmd->sqe->addr));
	size_t total = (size_t)h->nr_elem * h->elem_bytes, done = 0;
	u8 buf[UBLK_BATCH_CHUNK];
	DEFINE_IO_COMP_BATCH(iob);
	int ret = 0;

	/* a polled queue's slots come back on its poller's ring */
	if (ublk_q_iopoll(ubq) && ublk_iopoll_check_ring(ubq, cmd))
		return -EINVAL;

	while (!ret && done < total) {
		size_t len = min_t(size_t, sizeof(buf), total - done), i;

		if (copy_from_user(buf, uaddr + done, len)) {
			ret = -EFAULT;
			break;
		}
		for (i = 0; i < len; i += h->elem_bytes) {
			ret = ublk_batch_commit_one(ubq, h, buf + i, cmd, &iob,
						    issue_flags);
			if (ret)
				break;
			done += h->elem_bytes;
		}
	}

	if (iob.complete) {
		/* as ublk_end_rq(): no file release from this task's work */
		local_bh_disable();
		iob.complete(&iob);
		local_bh_enable();
	}
	return done ? done : ret;
}

/*
 * FETCH_IO_CMDS: join the waiting commands of the queue.  Marked
 * cancelable first: from the moment it is in the list, the abort loop
 * or a delivery may complete it, and io_uring then unlinks it.
 */
static int ublk_batch_fetch(struct io_uring_cmd *cmd,
			    const struct ublk_batch_hdr *h,
			    unsigned int issue_flags)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_fcmd *f = ublk_fcmd(cmd);
	struct ublk_queue *ubq;
	struct ublk_batch_queue *bq;
	struct io_uring_cmd *next;
	bool refused = false;
	u8 prio = UBLK_BATCH_PRIO_DEFAULT;

	if (h->q_id >= ub->dev_info.nr_hw_queues)
		return -EINVAL;
	if (!(cmd->flags & IORING_URING_CMD_MULTISHOT))
		return -EINVAL;
	/* fetch commands are polled exactly when the device is */
	if (!(issue_flags & IO_URING_F_IOPOLL) !=
	    !(ub->dev_info.flags & UBLK_F_IOPOLL))
		return -EINVAL;
	if (h->elem_bytes != sizeof(u16))
		return -EINVAL;
	if (h->flags == UBLK_BATCH_F_PRIO &&
	    (ub->dev_info.flags & UBLK_F_BATCH_PRIO)) {
		if (h->prio > UBLK_BATCH_PRIO_MAX)
			return -EINVAL;
		prio = h->prio;
	} else if (h->flags) {
		return -EINVAL;
	}

	ubq = ub->queues[array_index_nospec(h->q_id,
					    ub->dev_info.nr_hw_queues)];
	bq = ubq->batch;
	f->q_id = ubq->q_id;
	f->buf_group = READ_ONCE(cmd->sqe->buf_index);
	f->user_data = READ_ONCE(cmd->sqe->user_data);
	f->prio = prio;
	f->waiting = false;
	f->polled = false;
	INIT_LIST_HEAD(&f->node);

	if (ublk_q_iopoll(ubq)) {
		int ret;

		/* the queue's one ring and task (iopoll.c) */
		spin_lock(&ubq->cancel_lock);
		ret = ublk_iopoll_bind(ubq, cmd);
		spin_unlock(&ubq->cancel_lock);
		if (ret)
			return ret;
	}
	io_uring_cmd_mark_cancelable(cmd, issue_flags);

	spin_lock(&bq->lock);
	if (bq->closed || READ_ONCE(ub->srv_aborted)) {
		refused = true;
	} else {
		list_add_tail(&f->node, &bq->fcmds[prio]);
		f->waiting = true;
		/* under the ring's lock, as every poll */
		f->polled = ublk_q_iopoll(ubq);
	}
	/* polled: the next poll picks */
	next = ublk_q_iopoll(ubq) ? NULL : ublk_batch_pick(bq);
	spin_unlock(&bq->lock);

	if (refused) {
		/* cancelable now: only io_uring_cmd_done() unlinks it */
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0, issue_flags);
	}
	ublk_batch_kick(next);
	return -EIOCBQUEUED;
}

/*
 * UPDATE_CMD_PRIO (ours): move the calling ring's waiting fetch commands
 * of a queue (or the one whose user_data is reserved2) to another level.
 * A command delivering now moves too; its next pick sees the new level.
 */
static int ublk_batch_update_prio(struct io_uring_cmd *cmd,
				  const struct ublk_batch_hdr *h)
{
	struct ublk_device *ub = cmd->file->private_data;
	void *ring = io_uring_cmd_ctx_handle(cmd);
	struct ublk_batch_queue *bq;
	struct ublk_fcmd *f, *tmp;
	LIST_HEAD(moved);
	int p, n = 0;

	if (h->q_id >= ub->dev_info.nr_hw_queues)
		return -EINVAL;
	if (h->flags != UBLK_BATCH_F_PRIO || h->prio > UBLK_BATCH_PRIO_MAX ||
	    h->nr_elem || h->elem_bytes)
		return -EINVAL;
	bq = ub->queues[array_index_nospec(h->q_id,
					   ub->dev_info.nr_hw_queues)]->batch;

	spin_lock(&bq->lock);
	for (p = 0; p < UBLK_BATCH_NR_PRIO; p++) {
		list_for_each_entry_safe(f, tmp, &bq->fcmds[p], node) {
			if (io_uring_cmd_ctx_handle(ublk_fcmd_cmd(f)) != ring ||
			    (h->reserved2 && f->user_data != h->reserved2))
				continue;
			n++;
			/* one at the level already keeps its place */
			if (p == h->prio)
				continue;
			f->prio = h->prio;
			list_move_tail(&f->node, &moved);
		}
	}
	/* behind those waiting at the new level, in their old order */
	list_splice_tail(&moved, &bq->fcmds[h->prio]);
	spin_unlock(&bq->lock);
	return n;
}

/*
 * Commands that are not batch commands: the buffer table ones, as on a
 * per-io device; everything else is mainline's -EOPNOTSUPP.
 */
static int ublk_batch_other_cmd(struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	const struct ublksrv_io_cmd *ucmd = io_uring_sqe_cmd(cmd->sqe);
	struct ublk_device *ub = cmd->file->private_data;
	u16 q_id = READ_ONCE(ucmd->q_id);
	u16 tag = READ_ONCE(ucmd->tag);
	u64 addr = READ_ONCE(ucmd->addr);
	struct ublk_queue *ubq;

	if (ublk_op_is(cmd->cmd_op, UBLK_U_IO_UNREGISTER_IO_BUF))
		return ublk_unregister_io_buf(cmd, ub, addr, issue_flags);
	if (q_id >= ub->dev_info.nr_hw_queues ||
	    tag >= ub->dev_info.queue_depth)
		return -EINVAL;
	ubq = ub->queues[array_index_nospec(q_id, ub->dev_info.nr_hw_queues)];
	/* ours, as on a per-io device: q_id names the queue, tag is 0 */
	if (ublk_op_is(cmd->cmd_op, UBLK_U_IO_IOPOLL_SLEEP))
		return ublk_iopoll_sleep(cmd, ubq, tag, READ_ONCE(ucmd->result),
					 addr);
	if (!ublk_op_is(cmd->cmd_op, UBLK_U_IO_REGISTER_IO_BUF))
		return -EOPNOTSUPP;
	tag = array_index_nospec(tag, ubq->q_depth);
	return ublk_register_io_buf(cmd, ubq, &ubq->ios[tag], addr,
				    issue_flags);
}

static int ublk_batch_handle_cmd(struct io_uring_cmd *cmd,
				 unsigned int issue_flags)
{
	const struct ublk_batch_io *uc = io_uring_sqe_cmd(cmd->sqe);
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_batch_hdr h = {
		.q_id		= READ_ONCE(uc->q_id),
		.flags		= READ_ONCE(uc->flags),
		.nr_elem	= READ_ONCE(uc->nr_elem),
		.elem_bytes	= READ_ONCE(uc->elem_bytes),
		.prio		= READ_ONCE(uc->prio),
		.reserved2	= READ_ONCE(uc->reserved2),
	};
	u32 op = cmd->cmd_op;
	int ret;

	if (_IOC_TYPE(op) != 'u' &&
	    !(IS_ENABLED(CONFIG_BLKDEV_UBLK_LEGACY_OPCODES) && _IOC_TYPE(op) == 0))
		return -EOPNOTSUPP;

	/*
	 * A polled queue's batch commands all come from its poller's
	 * IOPOLL ring (see ublk_iopoll_bind()); fetch commands also
	 * from nowhere else.
	 */
	if ((ub->dev_info.flags & UBLK_F_IOPOLL) &&
	    !(issue_flags & IO_URING_F_IOPOLL) &&
	    (ublk_op_is(op, UBLK_U_IO_PREP_IO_CMDS) ||
	     ublk_op_is(op, UBLK_U_IO_COMMIT_IO_CMDS) ||
	     ublk_op_is(op, UBLK_U_IO_UPDATE_CMD_PRIO)))
		return -EINVAL;
	if (ublk_op_is(op, UBLK_U_IO_FETCH_IO_CMDS))
		return ublk_batch_fetch(cmd, &h, issue_flags);
	if (ublk_op_is(op, UBLK_U_IO_UPDATE_CMD_PRIO)) {
		/* ours: told plainly, not read as some other command */
		if (!(ub->dev_info.flags & UBLK_F_BATCH_PRIO))
			return -EOPNOTSUPP;
		return ublk_batch_update_prio(cmd, &h);
	}
	if (!ublk_op_is(op, UBLK_U_IO_PREP_IO_CMDS) &&
	    !ublk_op_is(op, UBLK_U_IO_COMMIT_IO_CMDS))
		return ublk_batch_other_cmd(cmd, issue_flags);

	ret = ublk_batch_check_hdr(ub, &h);
	if (ret)
		return ret;
	if (ublk_op_is(op, UBLK_U_IO_PREP_IO_CMDS))
		return ublk_batch_prep(cmd, &h);
	return ublk_batch_commit(cmd, &h, issue_flags);
}

/* a command issued from io-wq, run again in the task that submitted it */
static void ublk_batch_cmd_tw(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	int ret = -ECANCELED;

	/* task work knows nothing of polling; the command still is polled */
	if (ublk_fcmd(cmd)->iopoll)
		issue_flags |= IO_URING_F_IOPOLL;
	if (!(issue_flags & IO_URING_F_TASK_DEAD))
		ret = ublk_batch_handle_cmd(cmd, issue_flags);
	if (ret != -EIOCBQUEUED)
		io_uring_cmd_done(cmd, ret, 0, issue_flags);
}

/*
 * Stage 1 of server exit for a fetch command (the only cancelable ones):
 * stop delivery, then complete it unless it is the one delivering,
 * whose task work then ends it (its task or ring is dying) or leaves it
 * waiting, where a later call finds it.
 */
static void ublk_batch_cancel(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_fcmd *f = ublk_fcmd(cmd);
	struct ublk_queue *ubq = ub->queues[f->q_id];
	struct ublk_batch_queue *bq = ubq->batch;
	bool claimed;

	ublk_start_cancel(ub);

	spin_lock(&bq->lock);
	claimed = bq->active != cmd && f->waiting;
	if (claimed) {
		list_del_init(&f->node);
		f->waiting = false;
	}
	spin_unlock(&bq->lock);

	if (claimed) {
		trace_ublk_cmd_aborted(ubq, U16_MAX, UBLK_ABORT_CANCEL);
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0, issue_flags);
	}
}

int ublk_batch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	if (unlikely(issue_flags & IO_URING_F_CANCEL)) {
		ublk_batch_cancel(cmd, issue_flags);
		return 0;
	}
	/* the fetch lists and deliveries rely on the ring's uring_lock */
	if (unlikely(issue_flags & IO_URING_F_UNLOCKED)) {
		struct ublk_fcmd *f = ublk_fcmd(cmd);

		/*
		 * On an IOPOLL ring the command is in the iopoll list when
		 * this returns: ublk_batch_iopoll() leaves it alone until
		 * the task work (under the same ring lock) has issued it.
		 */
		f->polled = false;
		f->iopoll = issue_flags & IO_URING_F_IOPOLL;
		io_uring_cmd_complete_in_task(cmd, ublk_batch_cmd_tw);
		return -EIOCBQUEUED;
	}
	return ublk_batch_handle_cmd(cmd, issue_flags);
}

/* lifecycle.c's hooks */

/*
 * STOP_DEV, QUIESCE_DEV: no fetch command may wait from now on; the
 * waiting ones end with UBLK_IO_RES_ABORT, the delivering one when its
 * task work finishes.  ub->mutex held.
 */
void ublk_batch_abort(struct ublk_device *ub)
{
	unsigned int i;
	int p;

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];
		struct ublk_batch_queue *bq = ubq->batch;
		struct ublk_fcmd *f, *tmp;
		LIST_HEAD(gone);

		spin_lock(&bq->lock);
		bq->closed = true;
		for (p = 0; p < UBLK_BATCH_NR_PRIO; p++) {
			list_for_each_entry_safe(f, tmp, &bq->fcmds[p], node) {
				if (ublk_fcmd_cmd(f) == bq->active)
					continue;
				/* ours now: cancel leaves it alone */
				f->waiting = false;
				list_move_tail(&f->node, &gone);
			}
		}
		spin_unlock(&bq->lock);

		list_for_each_entry_safe(f, tmp, &gone, node) {
			list_del_init(&f->node);
			trace_ublk_cmd_aborted(ubq, U16_MAX, UBLK_ABORT_STOP);
			io_uring_cmd_done(ublk_fcmd_cmd(f), UBLK_IO_RES_ABORT, 0,
					  IO_URING_F_UNLOCKED);
		}
	}
}

/* QUIESCE_DEV: does every queue have a fetch command to tell its server? */
bool ublk_batch_can_abort(struct ublk_device *ub)
{
	unsigned int i;
	int p;

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_batch_queue *bq = ub->queues[i]->batch;
		bool found = false;

		spin_lock(&bq->lock);
		for (p = 0; p < UBLK_BATCH_NR_PRIO && !found; p++)
			found = !list_empty(&bq->fcmds[p]);
		spin_unlock(&bq->lock);
		if (!found)
			return false;
	}
	return true;
}

/*
 * Stage 2 of server exit: no command of the server is left, so no
 * delivery runs; the requests whose tags wait never reached it, and
 * are parked or failed as the queue's nosrv mode says.
 */
void ublk_batch_drain(struct ublk_queue *ubq)
{
	struct ublk_batch_queue *bq = ubq->batch;
	u16 tag;

	spin_lock(&bq->lock);
	WARN_ON_ONCE(bq->active);
	while (kfifo_get(&bq->tags, &tag)) {
		struct ublk_io *io = &ubq->ios[tag];
		struct request *rq = io->req;

		WRITE_ONCE(io->req, NULL);
		spin_unlock(&bq->lock);
		if (!WARN_ON_ONCE(!rq))
			ublk_nosrv_rq(ubq, rq);
		spin_lock(&bq->lock);
	}
	spin_unlock(&bq->lock);
}

/* the next server may fetch again */
void ublk_batch_reset(struct ublk_queue *ubq)
{
	struct ublk_batch_queue *bq = ubq->batch;

	spin_lock(&bq->lock);
	bq->closed = false;
	spin_unlock(&bq->lock);
}
