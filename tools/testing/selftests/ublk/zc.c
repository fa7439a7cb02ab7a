// SPDX-License-Identifier: GPL-2.0
/*
 * Zero copy: the request's pages in an io_uring fixed buffer table.
 *
 * Every ring that does backing IO of a zero-copy device gets a sparse
 * table at start-up, one entry per slot the thread serves.  A request
 * with data then goes:
 *
 *   -z (UBLK_F_SUPPORT_ZERO_COPY)
 *     kublk_zc_begin(): REGISTER_IO_BUF at the slot's index, unlinked;
 *     its CQE starts the target, whose READ_FIXED / WRITE_FIXED name the
 *     index and a byte offset in the request; kublk_complete_io() ->
 *     kublk_zc_end(): UNREGISTER_IO_BUF; its CQE commits.  Three steps
 *     instead of one linked chain, so that targets that wait first
 *     (timeouts) or split a request (stripe) need nothing special, and a
 *     short read cannot break a chain and leave a buffer registered.
 *
 *   --auto_zc (UBLK_F_AUTO_BUF_REG)
 *     the FETCH / COMMIT_AND_FETCH carries struct ublk_auto_buf_reg in
 *     sqe->addr with the slot's index: the driver registered the buffer
 *     before the CQE and unregisters it at the commit.  Nothing to do.
 *     With --auto_zc_fallback (needs -z too) a request whose registration
 *     failed arrives with UBLK_IO_F_NEED_REG_BUF and goes the -z way.
 *     In batch mode the index is the buf_index of the slot's PREP and
 *     COMMIT elements, and the fallback UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK
 *     in those commands' flags; the driver registers in the ring of the
 *     fetch command that delivers the request, so every thread of a queue
 *     has an entry for each of its tags.
 *
 * Test-only options (not in mainline's kublk):
 *   --auto_zc_force_fallback  the index given to the driver is one past
 *     the slots, an entry that holds a small user buffer registered at
 *     set-up (a table from IORING_REGISTER_BUFFERS2 may mix real iovecs
 *     and empty ones): every auto registration fails (-EBUSY) and every
 *     request takes the fallback.
 *   --zc_no_unregister  -z never sends UNREGISTER_IO_BUF: the buffers
 *     stay in the table until the ring is torn down, which is what the
 *     driver must then cope with.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include "kublk.h"

/*
 * The buffer table of thread t's ring: t->nr_ios empty entries (offload
 * threads: one per slot mapped to them; batch mode: one per tag of each
 * queue the thread serves), plus the occupied one of
 * --auto_zc_force_fallback.  In the thread, after its ring is set up.
 */
int kublk_zc_table_init(struct kublk_thread *t)
{
	const struct kublk_dev *dev = t->dev;
	long pg = sysconf(_SC_PAGESIZE);
	unsigned int n = t->nr_ios;
	struct iovec *iov;
	int ret;

	if (t->offload ? !kublk_dev_zc(dev) : !kublk_dev_any_zc(dev) || dev->nr_offload)
		return 0;
	if (t->offload || !dev->auto_zc_force_fallback)
		return io_uring_register_buffers_sparse(&t->ring, n);

	iov = calloc(n + 1, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	if (posix_memalign(&t->zc_dummy, pg, pg)) {
		free(iov);
		return -ENOMEM;
	}
	memset(t->zc_dummy, 0, pg);
	/* entries 0..n-1 empty (NULL, 0), entry n a normal user buffer */
	iov[n].iov_base = t->zc_dummy;
	iov[n].iov_len = pg;
	ret = io_uring_register_buffers_tags(&t->ring, iov, NULL, n + 1);
	free(iov);
	return ret;
}

/* after the ring is gone */
void kublk_zc_table_exit(struct kublk_thread *t)
{
	free(t->zc_dummy);
	t->zc_dummy = NULL;
}

/*
 * UBLK_F_AUTO_BUF_REG: the index at which the driver is to register the
 * slot's next request in t's table (the buf_index of a batch element)
 */
unsigned int kublk_zc_auto_index(const struct kublk_thread *t, const struct kublk_io *io)
{
	const struct kublk_dev *dev = t->dev;

	if (dev->auto_zc_fallback && kublk_dev_zc(dev) && dev->auto_zc_force_fallback)
		return t->nr_ios;	/* the occupied entry */
	return io->buf_index;
}

/* sqe->addr of FETCH_REQ / COMMIT_AND_FETCH_REQ with UBLK_F_AUTO_BUF_REG */
__u64 kublk_zc_auto_reg(const struct kublk_thread *t, const struct kublk_io *io)
{
	const struct kublk_dev *dev = t->dev;
	struct ublk_auto_buf_reg reg = { .index = kublk_zc_auto_index(t, io) };

	if (dev->auto_zc_fallback && kublk_dev_zc(dev))
		reg.flags = UBLK_AUTO_BUF_REG_FALLBACK;
	return ublk_auto_buf_reg_to_sqe_addr(&reg);
}

static void queue_buf_cmd(struct kublk_thread *t, struct kublk_queue *q, int tag,
			  __u32 cmd_op, unsigned int ev)
{
	struct io_uring_sqe *sqe = kublk_slot_cmd(t, q, tag, cmd_op, 0,
						  q->ios[tag].zc_index);

	sqe->user_data = kublk_ud(q->q_id, tag, ev, 0, false);
	/* the thread must not exit while it is in flight */
	t->tgt_inflight++;
}

/*
 * Before the target sees the request of (q, tag) on t: where its data
 * is.  True when the target can serve it now; false when a
 * REGISTER_IO_BUF went out first (its CQE starts the target) or the
 * request was failed.
 */
bool kublk_zc_begin(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	struct kublk_dev *dev = q->dev;
	const struct ublksrv_io_desc *iod = kublk_iod(q, tag);
	struct kublk_io *io = &q->ios[tag];

	io->flags &= ~(KUBLK_IO_ZC | KUBLK_IO_ZC_REG);
	if (!kublk_dev_any_zc(dev) || !kublk_rq_has_data(iod))
		return true;
	io->flags |= KUBLK_IO_ZC;
	io->zc_index = t->offload ? kublk_offload_index(dev, q->q_id, tag) : io->buf_index;
	if (kublk_dev_auto_zc(dev) && !(iod->op_flags & UBLK_IO_F_NEED_REG_BUF))
		return true;	/* the driver registered it at buf_index */
	if (!kublk_dev_zc(dev)) {
		kublk_err("q%d tag %d: NEED_REG_BUF on a device without SUPPORT_ZERO_COPY",
			  q->q_id, tag);
		kublk_complete_io(t, q, tag, -EIO);
		return false;
	}
	queue_buf_cmd(t, q, tag, UBLK_U_IO_REGISTER_IO_BUF, KUBLK_EV_ZC_REG);
	return false;
}

/*
 * The target completed (q, tag) with @res.  True when the commit can go
 * out now; false when an UNREGISTER_IO_BUF went out first (its CQE
 * completes the request with @res).
 */
bool kublk_zc_end(struct kublk_thread *t, struct kublk_queue *q, int tag, int res)
{
	struct kublk_io *io = &q->ios[tag];

	if (!(io->flags & KUBLK_IO_ZC_REG))
		return true;
	io->flags &= ~KUBLK_IO_ZC_REG;
	if (q->dev->zc_no_unregister)
		return true;
	io->zc_res = res;
	queue_buf_cmd(t, q, tag, UBLK_U_IO_UNREGISTER_IO_BUF, KUBLK_EV_ZC_UNREG);
	return false;
}

/* the CQE of a REGISTER_IO_BUF or UNREGISTER_IO_BUF of ours */
void kublk_zc_cqe(struct kublk_thread *t, struct kublk_queue *q, int tag,
		  const struct io_uring_cqe *cqe)
{
	struct kublk_io *io = &q->ios[tag];
	int res;

	t->tgt_inflight--;
	if (ud_op(cqe->user_data) == KUBLK_EV_ZC_REG) {
		if (cqe->res < 0) {
			kublk_err("q%d tag %d: REGISTER_IO_BUF at index %u: %s", q->q_id, tag,
				  io->zc_index, strerror(-cqe->res));
			kublk_complete_io(t, q, tag, -EIO);
			return;
		}
		io->flags |= KUBLK_IO_ZC_REG;
		kublk_serve_io(t, q, tag);
		return;
	}
	res = io->zc_res;
	if (cqe->res < 0) {
		kublk_err("q%d tag %d: UNREGISTER_IO_BUF at index %u: %s", q->q_id, tag,
			  io->zc_index, strerror(-cqe->res));
		if (res >= 0)
			res = -EIO;
	}
	kublk_complete_io(t, q, tag, res);
}
