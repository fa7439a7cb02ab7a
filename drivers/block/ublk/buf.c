// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: zero copy.  A request's pages go into the server's io_uring
 * buffer table, so that the server's READ_FIXED/WRITE_FIXED on its
 * backing files move the data straight between them and the request:
 *
 *   UBLK_F_SUPPORT_ZERO_COPY  UBLK_U_IO_REGISTER_IO_BUF and
 *                             UBLK_U_IO_UNREGISTER_IO_BUF, sent by the
 *                             server for a request it owns, put the
 *                             buffer in (at index ublksrv_io_cmd.addr)
 *                             and take it out.
 *   UBLK_F_AUTO_BUF_REG       the driver puts it in before it delivers
 *                             the request, at the index the command it
 *                             completes named (struct ublk_auto_buf_reg
 *                             in the SQE's addr), and takes it out
 *                             at the commit, if that arrives on the
 *                             same ring.
 *   UBLK_F_BUF_REG_OFF_DAEMON the two commands may come from any task.
 *
 * Request lifetime.  A buffer table entry may outlive both the commit
 * and the server (I/O on it still in flight, a server that never
 * unregisters, a ring torn down after the server's exit), and the pages
 * must stay the request's while it lives.  So each entry holds a slot
 * reference (ublk_io.ref), taken before the entry exists, dropped by
 * ublk_io_release(), which io_uring calls exactly once, when the entry
 * is out of the table and no I/O uses it any more.  The request
 * completes when the last slot reference goes: the server's, dropped by
 * its commit, or an entry's, whichever comes last.  It therefore cannot
 * complete under an I/O on its pages, and it cannot be completed twice:
 * there is one last reference.  A server that dies with entries in its
 * rings gets them released when io_uring frees the ring; stage 2 of its
 * exit (lifecycle.c) waits for that (ublk_device.nr_kbufs) before it
 * fails what the server held, so it neither races the release nor frees
 * the device under it.
 */
#include "ublk.h"
#include "trace.h"

/*
 * io_uring is done with an entry of @priv's pages.  Runs where io_uring
 * drops its last use: a command's completion, the ring's teardown
 * (io_ring_exit_work), the server's own task.
 */
static void ublk_io_release(void *priv)
{
	struct request *rq = priv;
	struct ublk_queue *ubq = ublk_rq_queue(rq);
	struct ublk_device *ub = ubq->dev;

	/* before the put: the last reference ends @rq */
	trace_ublk_buf_released(ubq, rq->tag);
	ublk_put_io_ref(ubq, &ubq->ios[rq->tag]);
	/*
	 * Last: once nr_kbufs may read 0, stage 2 of server exit can go on
	 * and drop what keeps @ub alive; what the put did is visible to it
	 * by then.
	 */
	smp_mb__before_atomic();
	atomic_dec(&ub->nr_kbufs);
}

/* put @rq's pages into the ring of @cmd at @index; a slot reference held */
static int ublk_buf_add(struct io_uring_cmd *cmd, struct ublk_queue *ubq,
			struct request *rq, unsigned int index,
			unsigned int issue_flags)
{
	struct ublk_device *ub = ubq->dev;
	int ret;

	atomic_inc(&ub->nr_kbufs);
	ret = io_buffer_register_bvec(cmd, rq, ublk_io_release, index,
				      issue_flags);
	if (ret)
		atomic_dec(&ub->nr_kbufs);
	return ret;
}

/*
 * UBLK_U_IO_REGISTER_IO_BUF.  Any task may send it (BUF_REG_OFF_DAEMON),
 * so the slot can change under it: the reference it takes is only
 * there while the server owns the request or something else holds it,
 * and with it taken, a slot still OWNED_BY_SRV has its request.  If the
 * server committed meanwhile, this reference may turn out to be the
 * last one, and dropping it completes the request.
 */
int ublk_register_io_buf(struct io_uring_cmd *cmd, struct ublk_queue *ubq,
			 struct ublk_io *io, u64 index,
			 unsigned int issue_flags)
{
	struct request *rq;
	int ret;

	if (!ublk_q_zero_copy(ubq))
		return -EINVAL;
	/* io_uring's tables are far smaller; no truncation to alias one */
	if (index > U16_MAX)
		return -EINVAL;

	if (!refcount_inc_not_zero(&io->ref))
		return -EINVAL;
	/* pairs with the release in ublk_dispatch(), as for user copy */
	smp_rmb();
	rq = READ_ONCE(io->req);
	if (!(READ_ONCE(io->flags) & UBLK_IO_FLAG_OWNED_BY_SRV) || !rq ||
	    !ublk_rq_has_data(rq)) {
		ret = -EINVAL;
		goto put;
	}

	ret = ublk_buf_add(cmd, ubq, rq, index, issue_flags);
	if (!ret) {
		trace_ublk_buf_registered(ubq, rq->tag, index, false);
		return 0;
	}
put:
	ublk_put_io_ref(ubq, io);
	return ret;
}

/*
 * UBLK_U_IO_UNREGISTER_IO_BUF: io_uring checks the entry; its release
 * runs when the last I/O on it is done.  The slot in the command is
 * not looked at, as on mainline: the entry says whose pages it holds.
 */
int ublk_unregister_io_buf(struct io_uring_cmd *cmd, struct ublk_device *ub,
			   u64 index, unsigned int issue_flags)
{
	if (!(ub->dev_info.flags & UBLK_F_SUPPORT_ZERO_COPY))
		return -EINVAL;
	if (index > U16_MAX)
		return -EINVAL;
	return io_buffer_unregister_bvec(cmd, index, issue_flags);
}

/*
 * UBLK_F_AUTO_BUF_REG, at delivery, in the slot's task: put @rq's pages
 * into the ring of @cmd, the command about to be completed, where it
 * asked.  0 when done: the caller then counts the entry's reference in
 * the slot's, which it sets after this.  That is soon enough: the
 * delivery runs as task work with the ring's uring_lock held, and
 * nothing takes the entry out of the ring (release) without that lock.
 * The caller also marks the slot UBLK_IO_FLAG_AUTO_REG.  Or
 * 1 when it failed and the command asked for UBLK_AUTO_BUF_REG_FALLBACK
 * (the descriptor then says UBLK_IO_F_NEED_REG_BUF and the server
 * registers the buffer itself); else the error, and the request is to
 * fail.
 */
int ublk_auto_buf_reg(struct ublk_queue *ubq, struct ublk_io *io,
		      struct request *rq, struct io_uring_cmd *cmd,
		      unsigned int issue_flags)
{
	int ret;

	ret = ublk_buf_add(cmd, ubq, rq, io->buf_index, issue_flags);
	if (ret) {
		if (!(io->buf_flags & UBLK_AUTO_BUF_REG_FALLBACK))
			return ret;
		ublk_iod(ubq, rq->tag)->op_flags |= UBLK_IO_F_NEED_REG_BUF;
		return 1;
	}
	io->buf_ctx = io_uring_cmd_ctx_handle(cmd);
	trace_ublk_buf_registered(ubq, rq->tag, io->buf_index, true);
	return 0;
}

/*
 * The commit of a request whose buffer was registered automatically: take
 * the entry out if the commit came on the ring it went into.  On another
 * ring the index may name something else entirely, so the entry stays
 * for the server to unregister (as mainline does); the request then
 * completes when it does, or when that ring goes.  An entry the server
 * unregistered or replaced itself makes this fail, which is harmless.
 */
void ublk_auto_buf_unreg(struct ublk_io *io, struct io_uring_cmd *cmd,
			 unsigned int issue_flags)
{
	if (io->buf_ctx == io_uring_cmd_ctx_handle(cmd))
		io_buffer_unregister_bvec(cmd, io->buf_index, issue_flags);
	io->flags &= ~UBLK_IO_FLAG_AUTO_REG;
	io->buf_ctx = NULL;
}
