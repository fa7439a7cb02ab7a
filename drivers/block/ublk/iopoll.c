// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: UBLK_F_IOPOLL, a queue served from an IORING_SETUP_IOPOLL ring.
 *
 * The server's FETCH_REQ / COMMIT_AND_FETCH_REQ commands then wait in the
 * ring's iopoll list, and io_uring calls ->uring_cmd_iopoll() for them
 * from the server's io_uring_enter(IORING_ENTER_GETEVENTS) with the
 * ring's uring_lock held.  The same ring polls the server's backing I/O,
 * so one loop in one task sees both, with no task work, IPI or wakeup
 * on the way of a request while the server polls.
 *
 * Who does what:
 *
 *  - ->queue_rq()/->queue_rqs() (any CPU) start the request in its slot
 *    (ublk_start_rq() stores @req) and push it on the queue's
 *    @poll_reqs, then signal the poller's eventfd if it announced that
 *    it sleeps.  Nothing else.
 *  - ublk_ch_uring_cmd_iopoll() (the poller, under its ring's lock) takes
 *    the whole list and delivers each request as the task work of the
 *    other mode does (ublk_dispatch(): data copy in copy mode, automatic
 *    buffer registration, completion of the slot's command), then
 *    returns how many commands it completed; io_uring looks for them in
 *    the whole list (patches/base 0006) and posts their CQEs.
 *  - The cancel callback (a ring or task going away, same lock) takes
 *    the list too and parks or fails its requests, cancelling their
 *    commands (ublk_iopoll_cancel()).
 *
 * One ring and one task serve each queue (the first fetch of a server
 * binds them, see ublk_iopoll_bind()).  Every command a delivery
 * completes therefore belongs to the ring whose lock the poller or the
 * cancel callback holds, and copies go to the right mm.
 *
 * Batch queues (UBLK_F_BATCH_IO) keep their own FIFO of tags and deliver
 * through their fetch commands' polls instead: see batch.c.
 *
 * A request is never lost nor delivered twice:
 *  - it is pushed once, by the ->queue_rq() that started it, and taken
 *    off by exactly one llist_del_all(), in one of the two consumers
 *    above, which exclude each other by the ring's lock;
 *  - its slot's command stays in the slot until then: the cancel paths
 *    (claim of idle commands, STOP_DEV, QUIESCE_DEV) skip a slot whose
 *    @req is set, and only the consumer that took the request completes
 *    the command;
 *  - after ublk_start_cancel() returns, ->queue_rq() pushes no more (it
 *    switched the queues' mode with the blk-mq queue quiesced), so what
 *    is on the list then is all there is.  A live poller delivers it,
 *    and the commits of a server being sent away get the abort; a dying
 *    ring's cancel callback parks or fails it.  Stage 2 of server exit
 *    runs when the server has no command left, so after every consumer,
 *    and finds the list empty.
 */
#include <linux/eventfd.h>
#include <linux/llist.h>

#include "ublk.h"
#include "trace.h"

static struct request *ublk_poll_node_rq(struct llist_node *node)
{
	struct ublk_rq_data *data = container_of(node, struct ublk_rq_data,
						 poll_node);

	return blk_mq_rq_from_pdu(data);
}

/* wake the queue's poller if it sleeps (UBLK_U_IO_IOPOLL_SLEEP) */
void ublk_iopoll_wake(struct ublk_queue *ubq)
{
	struct eventfd_ctx *efd;

	/*
	 * The poller stores its eventfd, a full barrier, then looks at
	 * @poll_reqs; the caller pushed to @poll_reqs (a full barrier,
	 * cmpxchg) or changed the device's state, then looks here.  One of
	 * the two sees the other, and the xchg() makes one signal per
	 * arming.
	 */
	if (!READ_ONCE(ubq->poll_sleeper))
		return;
	efd = xchg(&ubq->poll_sleeper, NULL);
	if (efd) {
		eventfd_signal(efd);
		eventfd_ctx_put(efd);
	}
}

/* the whole device: stop, quiesce, recovery and server exit news */
void ublk_iopoll_wake_all(struct ublk_device *ub)
{
	unsigned int i;

	if (!(ub->dev_info.flags & UBLK_F_IOPOLL))
		return;
	/* the caller's state change before the look, as in a push */
	smp_mb();
	for (i = 0; i < ub->dev_info.nr_hw_queues; i++)
		ublk_iopoll_wake(ub->queues[i]);
}

/* ->queue_rq(): hand @rq, started in its slot, to the poller */
void ublk_iopoll_queue(struct ublk_queue *ubq, struct request *rq)
{
	struct ublk_rq_data *data = blk_mq_rq_to_pdu(rq);

	llist_add(&data->poll_node, &ubq->poll_reqs);
	ublk_iopoll_wake(ubq);
}

/* the requests waiting for the poller, oldest first */
static struct llist_node *ublk_iopoll_take(struct ublk_queue *ubq)
{
	if (llist_empty(&ubq->poll_reqs))
		return NULL;
	return llist_reverse_order(llist_del_all(&ubq->poll_reqs));
}

/*
 * ->uring_cmd_iopoll() of /dev/ublkcN: deliver what waits for @cmd's
 * queue, completing the commands of those slots (@cmd's or others), and
 * tell io_uring how many.  Called by the poller with its ring's lock
 * held, or by io_uring reaping a dying ring from a kernel thread, which
 * ublk_dispatch() recognises and cancels instead of delivering.
 */
int ublk_ch_uring_cmd_iopoll(struct io_uring_cmd *cmd,
			     struct io_comp_batch *iob, unsigned int poll_flags)
{
	struct ublk_device *ub = cmd->file->private_data;
	struct ublk_queue *ubq;
	struct llist_node *node, *next;
	unsigned int batch = 0, pos = 0;

	/* fetch commands deliver batches themselves */
	if (ublk_dev_batch(ub))
		return ublk_batch_iopoll(cmd);
	/* NULL while the command waits to be issued from task work */
	ubq = READ_ONCE(ublk_cmd_pdu(cmd)->ubq);
	if (!ubq)
		return 0;
	node = ublk_iopoll_take(ubq);
	if (!node)
		return 0;

	if (trace_ublk_rq_delivered_enabled()) {
		for (next = node; next; next = next->next)
			batch++;
	}
	for (; node; node = next) {
		next = node->next;
		/* locked: the ring's uring_lock is held */
		ublk_dispatch(ubq, ublk_poll_node_rq(node), 0, batch, pos++);
	}
	return pos;
}

/*
 * The cancel callback of an IOPOLL queue's command: nobody will poll the
 * ring any more.  Park or fail the requests that wait for the poller,
 * cancelling their commands.  ublk_start_cancel() was called, so the
 * list gets nothing new.
 */
void ublk_iopoll_cancel(struct ublk_queue *ubq, unsigned int issue_flags)
{
	struct llist_node *node = ublk_iopoll_take(ubq), *next;

	for (; node; node = next) {
		next = node->next;
		ublk_dispatch_dead(ubq, ublk_poll_node_rq(node), issue_flags);
	}
}

/* does @cmd come from the task and ring the queue is bound to? */
static bool ublk_iopoll_is_poller(struct ublk_queue *ubq,
				  struct io_uring_cmd *cmd)
{
	return READ_ONCE(ubq->poll_task) == current &&
		READ_ONCE(ubq->poll_ctx) == io_uring_cmd_ctx_handle(cmd);
}

/*
 * A FETCH_REQ of an IOPOLL queue (with UBLK_F_BATCH_IO: a PREP_IO_CMDS
 * or FETCH_IO_CMDS): the first of a server's life binds the queue to
 * its ring and task, the others must come from them.  ubq->cancel_lock
 * held, as for the slot's state.
 */
int ublk_iopoll_bind(struct ublk_queue *ubq, struct io_uring_cmd *cmd)
{
	lockdep_assert_held(&ubq->cancel_lock);
	if (!ubq->poll_task) {
		ubq->poll_ctx = io_uring_cmd_ctx_handle(cmd);
		WRITE_ONCE(ubq->poll_task, current);
		return 0;
	}
	return ublk_iopoll_is_poller(ubq, cmd) ? 0 : -EINVAL;
}

/* COMMIT_AND_FETCH_REQ: the new command must come from the same ring */
int ublk_iopoll_check_ring(struct ublk_queue *ubq, struct io_uring_cmd *cmd)
{
	return io_uring_cmd_ctx_handle(cmd) == ubq->poll_ctx ? 0 : -EINVAL;
}

/* take back an eventfd armed and not signalled yet */
static void ublk_iopoll_disarm(struct ublk_queue *ubq)
{
	struct eventfd_ctx *efd = xchg(&ubq->poll_sleeper, NULL);

	if (efd)
		eventfd_ctx_put(efd);
}

/*
 * UBLK_U_IO_IOPOLL_SLEEP: the poller is about to sleep on eventfd @fd
 * until the next request; see the uapi header.
 */
int ublk_iopoll_sleep(struct io_uring_cmd *cmd, struct ublk_queue *ubq,
		      u16 tag, s32 res, u64 fd)
{
	struct eventfd_ctx *efd, *old;

	if (!(ubq->flags & UBLK_F_IOPOLL) || tag || res || fd > INT_MAX)
		return -EINVAL;
	if (!ublk_iopoll_is_poller(ubq, cmd))
		return -EINVAL;

	efd = eventfd_ctx_fdget(fd);
	if (IS_ERR(efd))
		return PTR_ERR(efd) == -EINVAL ? -EBADF : PTR_ERR(efd);

	/*
	 * Pairs with ublk_iopoll_wake(): store, full barrier (the xchg()
	 * is one), then look.
	 */
	old = xchg(&ubq->poll_sleeper, efd);
	if (old)
		eventfd_ctx_put(old);
	if (!llist_empty(&ubq->poll_reqs) || ublk_batch_pending(ubq) ||
	    READ_ONCE(ubq->dev->srv_aborted)) {
		/* work is waiting: take the arming back, unless used */
		ublk_iopoll_disarm(ubq);
		return -EBUSY;
	}
	return 0;
}

/* stage 2 of server exit: the queue is free for the next server */
void ublk_iopoll_reset(struct ublk_queue *ubq)
{
	ublk_iopoll_disarm(ubq);
	WARN_ON_ONCE(!llist_empty(&ubq->poll_reqs));
	ubq->poll_ctx = NULL;
	WRITE_ONCE(ubq->poll_task, NULL);
}
