// SPDX-License-Identifier: GPL-2.0
/*
 * Batch mode (-b, UBLK_F_BATCH_IO): a queue's io commands go in bulk,
 * not one per slot, and no slot belongs to a thread.
 *
 *   PREP_IO_CMDS    once per queue, by the queue's first thread before
 *                   any thread fetches: one element per tag, with the
 *                   slot's buffer (copy mode) or its table index
 *                   (--auto_zc)
 *   FETCH_IO_CMDS   multishot, one armed per (thread, queue) at all
 *                   times: each CQE has filled one buffer of the
 *                   thread's buffer ring for that queue with the __u16
 *                   tags of new requests, which the thread now serves
 *   COMMIT_IO_CMDS  at the end of each pass of a thread's loop, one per
 *                   queue, with the results that pass gathered
 *
 * Elements are a struct ublk_elem_header, then the buffer address in
 * copy mode (UBLK_BATCH_F_HAS_BUF_ADDR); with user copy and zero copy
 * the header alone.  The arrays of PREP and COMMIT must stay untouched
 * until the command's CQE, so they come from a per-thread pool that
 * grows when every array is in flight; the tag field of the command's
 * user_data names the array.
 *
 * A fetch command ends (a CQE without IORING_CQE_F_MORE) when its buffer
 * ring ran dry (-ENOBUFS), when the CQ ring overflowed, on an error, and
 * when the device stops (UBLK_IO_RES_ABORT).  It is armed again at once
 * except after ABORT, after an error during start-up (the start fails)
 * and after KUBLK_FETCH_RETRIES ends in a row that delivered nothing.
 * A thread exits when none of its commands is in the driver any more
 * and every request it received is committed.
 *
 * Priorities (UBLK_F_BATCH_PRIO): the driver hands a new request to a
 * waiting fetch command of the highest level, 0 to UBLK_BATCH_PRIO_MAX.
 * --prio N puts every fetch command at level N; without it they are at
 * UBLK_BATCH_PRIO_DEFAULT.  --balance moves each thread's level with its
 * load on the queue: a pass in which the thread's in-flight count for
 * the queue (requests received and not committed yet) went above
 * depth / (2 * threads serving the queue), at least 1, lowers its level
 * by one, never below 0 (UPDATE_CMD_PRIO), so that the queue's other
 * threads get the next requests; a pass that ends with none in flight
 * puts it back to the base level.  Each change is logged (the first
 * KUBLK_PRIO_LOG of a thread) and counted, and the thread logs the
 * counts when it exits.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "kublk.h"

/* buffers in each (thread, queue) buffer ring of FETCH_IO_CMDS */
#define KUBLK_FETCH_BUFS	4
/* fetch ends in a row without tags after which a thread stops fetching a queue */
#define KUBLK_FETCH_RETRIES	8
/* priority changes a thread logs one by one */
#define KUBLK_PRIO_LOG		32

static_assert(sizeof(struct ublk_batch_io) == 16,
	      "struct ublk_batch_io must fit the command area of a 64-byte SQE");
static_assert(sizeof(struct ublk_elem_header) == 8, "batch element header");

/* copy mode: the elements carry the slot's buffer */
static bool batch_buf_addr(const struct kublk_dev *dev)
{
	return !kublk_dev_user_copy(dev) && !kublk_dev_any_zc(dev);
}

static unsigned int batch_elem_bytes(const struct kublk_dev *dev)
{
	return sizeof(struct ublk_elem_header) + (batch_buf_addr(dev) ? sizeof(__u64) : 0);
}

/* flags of PREP_IO_CMDS and COMMIT_IO_CMDS */
static __u16 batch_flags(const struct kublk_dev *dev)
{
	if (batch_buf_addr(dev))
		return UBLK_BATCH_F_HAS_BUF_ADDR;
	if (kublk_dev_auto_zc(dev) && kublk_dev_zc(dev) && dev->auto_zc_fallback)
		return UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK;
	return 0;
}

/*
 * Threads to queues: with m = min(threads, queues), thread j serves the
 * queues i with i mod m = j mod m.  Queue i's first thread is thread
 * i mod m, and i / m is its index among the queues of each of its
 * threads.
 */
static unsigned int batch_m(const struct kublk_dev *dev)
{
	unsigned int nq = dev->info.nr_hw_queues;

	return (unsigned int)dev->nr_threads < nq ? (unsigned int)dev->nr_threads : nq;
}

static bool batch_first(const struct kublk_thread *t, const struct kublk_queue *q)
{
	return (unsigned int)t->idx == q->q_id % batch_m(t->dev);
}

static struct kublk_batch_q *batch_q_of(struct kublk_thread *t, const struct kublk_queue *q)
{
	struct kublk_batch_q *bq = &t->bq[q->q_id / batch_m(t->dev)];

	assert(bq->q == q);
	return bq;
}

/*
 * Before any thread runs: who serves what.  Every thread's buffer table
 * has depth entries per queue it serves, at (queue index in the thread)
 * * depth + tag, the same for every thread of a queue, since any of
 * them may be handed any tag.
 */
int kublk_batch_place(struct kublk_dev *dev)
{
	unsigned int nq = dev->info.nr_hw_queues, m, i;
	int j, k, tag;

	dev->nr_threads = dev->nthreads ? dev->nthreads : (int)nq;
	m = batch_m(dev);
	for (i = 0; i < nq; i++) {
		struct kublk_queue *q = &dev->queues[i];

		q->nr_servers = 0;
		for (j = 0; j < dev->nr_threads; j++)
			if (j % m == i % m)
				q->nr_servers++;
		for (tag = 0; tag < q->depth; tag++) {
			q->ios[tag].t = &dev->threads[i % m];
			q->ios[tag].buf_index = (i / m) * q->depth + tag;
		}
	}
	for (j = 0; j < dev->nr_threads; j++) {
		struct kublk_thread *t = &dev->threads[j];

		t->nr_bq = 0;
		for (i = j % m; i < nq; i += m)
			t->nr_bq++;
		t->bq = calloc(t->nr_bq, sizeof(*t->bq));
		if (!t->bq)
			return -ENOMEM;
		for (i = j % m, k = 0; i < nq; i += m, k++) {
			struct kublk_batch_q *bq = &t->bq[k];
			struct kublk_queue *q = &dev->queues[i];
			unsigned int thr = q->depth / (2 * q->nr_servers);

			bq->q = q;
			bq->base_prio = dev->prio ? dev->prio - 1 : UBLK_BATCH_PRIO_DEFAULT;
			bq->prio = bq->base_prio;
			bq->threshold = thr ? thr : 1;
			bq->commit_buf = -1;
		}
		t->nr_ios = t->nr_bq * dev->info.queue_depth;
	}
	return 0;
}

/* SQEs a thread may need beyond those of its requests: 4 per queue */
unsigned int kublk_batch_ring_extra(const struct kublk_thread *t)
{
	return 4 * t->nr_bq;
}

/* ---- element arrays ---- */

static int bbuf_get(struct kublk_thread *t)
{
	const struct kublk_dev *dev = t->dev;
	size_t bytes = (size_t)dev->info.queue_depth * batch_elem_bytes(dev);
	struct kublk_batch_buf *nb;
	int i, n, old = t->nr_bbufs;

	for (i = 0; i < t->nr_bbufs; i++)
		if (!t->bbufs[i].busy)
			goto found;
	/* all in flight: two more per queue (the tag of user_data holds 16 bits) */
	n = old + 2 * t->nr_bq;
	if (n > 0xffff)
		goto oom;
	nb = realloc(t->bbufs, n * sizeof(*nb));
	if (!nb)
		goto oom;
	t->bbufs = nb;
	for (i = old; i < n; i++) {
		nb[i].busy = false;
		nb[i].nr = 0;
		nb[i].elems = calloc(1, bytes);
		if (!nb[i].elems)
			goto oom;
		t->nr_bbufs = i + 1;
	}
	i = old;
found:
	t->bbufs[i].busy = true;
	t->bbufs[i].nr = 0;
	return i;
oom:
	/* nothing sensible to do: the requests could not be committed */
	kublk_err("thread %d: no memory for batch element arrays (%d in use)", t->idx,
		  t->nr_bbufs);
	abort();
}

/* element @n of array @b: (q, tag) with @res */
static void fill_elem(struct kublk_thread *t, struct kublk_batch_buf *b, unsigned int n,
		      const struct kublk_queue *q, int tag, int res)
{
	const struct kublk_dev *dev = t->dev;
	struct ublk_elem_header *h;

	h = (void *)((char *)b->elems + (size_t)n * batch_elem_bytes(dev));
	h->tag = tag;
	h->buf_index = kublk_dev_auto_zc(dev) ? kublk_zc_auto_index(t, &q->ios[tag]) : 0;
	h->result = res;
	if (batch_buf_addr(dev))
		*(__u64 *)(h + 1) = (uintptr_t)q->ios[tag].buf;
}

/* ---- commands ---- */

static struct io_uring_sqe *batch_sqe(struct kublk_thread *t, const struct kublk_queue *q,
				      __u32 cmd_op, __u16 flags, __u16 nr_elem,
				      __u8 elem_bytes, unsigned int ud_tag)
{
	struct io_uring_sqe *sqe = kublk_get_sqe(t);
	struct ublk_batch_io *cmd;

	kublk_prep_uring_cmd(sqe, 0, true, cmd_op, false);
	cmd = kublk_sqe_cmd(sqe);
	cmd->q_id = q->q_id;
	cmd->flags = flags;
	cmd->nr_elem = nr_elem;
	cmd->elem_bytes = elem_bytes;
	sqe->user_data = kublk_ud(q->q_id, ud_tag, _IOC_NR(cmd_op), 0, false);
	t->cmd_inflight++;
	return sqe;
}

/* a PREP_IO_CMDS or COMMIT_IO_CMDS of the @nr elements of array @b */
static void queue_elems(struct kublk_thread *t, const struct kublk_queue *q, __u32 cmd_op,
			int b, unsigned int nr)
{
	const struct kublk_dev *dev = t->dev;
	unsigned int eb = batch_elem_bytes(dev);
	struct io_uring_sqe *sqe;

	t->bbufs[b].nr = nr;
	sqe = batch_sqe(t, q, cmd_op, batch_flags(dev), nr, eb, b);
	sqe->addr = (uintptr_t)t->bbufs[b].elems;
	sqe->len = nr * eb;
}

static void queue_prep(struct kublk_thread *t, struct kublk_batch_q *bq)
{
	struct kublk_queue *q = bq->q;
	int b = bbuf_get(t), tag;

	for (tag = 0; tag < q->depth; tag++)
		fill_elem(t, &t->bbufs[b], tag, q, tag, 0);
	queue_elems(t, q, UBLK_U_IO_PREP_IO_CMDS, b, q->depth);
	bq->prep_pending = true;
}

static bool batch_prio(const struct kublk_dev *dev)
{
	return dev->prio || dev->balance;
}

static void arm_fetch(struct kublk_thread *t, struct kublk_batch_q *bq)
{
	const struct kublk_dev *dev = t->dev;
	struct io_uring_sqe *sqe;
	struct ublk_batch_io *cmd;

	sqe = batch_sqe(t, bq->q, UBLK_U_IO_FETCH_IO_CMDS,
			batch_prio(dev) ? UBLK_BATCH_F_PRIO : 0, 0, sizeof(__u16), 0);
	cmd = kublk_sqe_cmd(sqe);
	if (batch_prio(dev))
		cmd->prio = bq->prio;
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bq->fetch_br.bgid;
	bq->fetch_ud = sqe->user_data;
	bq->fetch_armed = true;
}

/* --balance: move the fetch command of (t, bq) to @level */
static void set_prio(struct kublk_thread *t, struct kublk_batch_q *bq, unsigned int level,
		     const char *why)
{
	struct io_uring_sqe *sqe;
	struct ublk_batch_io *cmd;

	if (level == bq->prio)
		return;
	if (t->prio_down + t->prio_up < KUBLK_PRIO_LOG)
		kublk_log("thread %d q%d: fetch priority %u -> %u (%s, %u in flight)", t->idx,
			  bq->q->q_id, bq->prio, level, why, bq->inflight);
	if (level < bq->prio)
		t->prio_down++;
	else
		t->prio_up++;
	bq->prio = level;
	/* a fetch command being re-armed gets the new level anyway */
	if (!bq->fetch_armed)
		return;
	sqe = batch_sqe(t, bq->q, UBLK_U_IO_UPDATE_CMD_PRIO, UBLK_BATCH_F_PRIO, 0, 0, level);
	cmd = kublk_sqe_cmd(sqe);
	cmd->prio = level;
	cmd->reserved2 = bq->fetch_ud;
}

static void balance(struct kublk_thread *t, struct kublk_batch_q *bq)
{
	if (!t->dev->balance || bq->fetch_over)
		return;
	if (bq->rose) {
		bq->rose = false;
		if (bq->prio > 0)
			set_prio(t, bq, bq->prio - 1, "busy");
	} else if (!bq->inflight && bq->prio != bq->base_prio) {
		set_prio(t, bq, bq->base_prio, "idle");
	}
}

/* ---- the thread ---- */

/* publish the PREP result of the queues @t is the first thread of */
static void publish_prep(struct kublk_thread *t, int err)
{
	struct kublk_dev *dev = t->dev;
	int k;

	pthread_mutex_lock(&dev->batch_lock);
	for (k = 0; k < t->nr_bq; k++) {
		struct kublk_queue *q = t->bq[k].q;

		if (!batch_first(t, q) || q->prepared)
			continue;
		q->prep_res = err ? err : t->bq[k].prep_res;
		q->prepared = true;
	}
	pthread_cond_broadcast(&dev->batch_cond);
	pthread_mutex_unlock(&dev->batch_lock);
}

/* the first failed PREP of the queues @t serves, once all are done */
static int wait_prep(struct kublk_thread *t)
{
	struct kublk_dev *dev = t->dev;
	int k, ret = 0;

	pthread_mutex_lock(&dev->batch_lock);
	for (k = 0; k < t->nr_bq; k++) {
		struct kublk_queue *q = t->bq[k].q;

		while (!q->prepared)
			pthread_cond_wait(&dev->batch_cond, &dev->batch_lock);
		if (q->prep_res < 0 && !ret)
			ret = q->prep_res;
	}
	pthread_mutex_unlock(&dev->batch_lock);
	return ret;
}

/* @t could not start: the threads waiting for its queues must not wait */
void kublk_batch_fail(struct kublk_thread *t, int err)
{
	publish_prep(t, err);
}

static bool prep_pending(const struct kublk_thread *t)
{
	int k;

	for (k = 0; k < t->nr_bq; k++)
		if (t->bq[k].prep_pending)
			return true;
	return false;
}

/*
 * In the thread, its ring set up: buffer rings, PREP of the queues it is
 * the first thread of (waited for), then, once every queue it serves is
 * prepared, its fetch commands.  Returns 0 or the first error.
 */
int kublk_batch_start(struct kublk_thread *t)
{
	struct kublk_dev *dev = t->dev;
	unsigned int size = 2 * dev->info.queue_depth;
	int k, ret = 0;

	for (k = 0; k < t->nr_bq && !ret; k++) {
		ret = kublk_buf_ring_setup(&t->ring, &t->bq[k].fetch_br, KUBLK_FETCH_BUFS,
					   size, 1 + k);
		if (ret)
			kublk_err("thread %d: buffer ring for q%d's tags: %s", t->idx,
				  t->bq[k].q->q_id, strerror(-ret));
	}
	if (!ret) {
		for (k = 0; k < t->nr_bq; k++)
			if (batch_first(t, t->bq[k].q))
				queue_prep(t, &t->bq[k]);
		while (prep_pending(t))
			if (!kublk_reap(t)) {
				ret = -EIO;
				break;
			}
	}
	publish_prep(t, ret);
	if (ret)
		return ret;
	ret = wait_prep(t);
	if (ret)
		return ret;

	for (k = 0; k < t->nr_bq; k++) {
		if (dev->tgt->hook)
			dev->tgt->hook(t, KUBLK_HOOK_FETCH, k);
		arm_fetch(t, &t->bq[k]);
	}
	/* a fetch command the driver refuses at once fails the start */
	ret = io_uring_submit_and_get_events(&t->ring);
	if (ret < 0) {
		kublk_err("thread %d: submitting fetch commands: %s", t->idx, strerror(-ret));
		return ret;
	}
	kublk_handle_ready(t);
	t->serving = true;
	return t->fetch_err;
}

bool kublk_batch_busy(const struct kublk_thread *t)
{
	return t->cmd_inflight || t->nr_owned || t->tgt_inflight;
}

/* after the ring is gone */
void kublk_batch_exit(struct kublk_thread *t)
{
	const struct kublk_dev *dev = t->dev;
	int k;

	if (!t->bq)
		return;
	kublk_log("thread %d: batch: %lu requests in %lu fetch CQEs",
		  t->idx, t->batch_reqs, t->batch_fetches);
	if (batch_prio(dev))
		kublk_log("thread %d: fetch priority changes: %lu (%lu down, %lu up, %lu failed)",
			  t->idx, t->prio_down + t->prio_up, t->prio_down, t->prio_up,
			  t->prio_fail);
	for (k = 0; k < t->nr_bq; k++)
		kublk_buf_ring_free(&t->bq[k].fetch_br);
	for (k = 0; k < t->nr_bbufs; k++)
		free(t->bbufs[k].elems);
	free(t->bbufs);
	t->bbufs = NULL;
	t->nr_bbufs = 0;
}

/* a new request in (bq's queue, tag), for @t to serve */
static void take_tag(struct kublk_thread *t, struct kublk_batch_q *bq, unsigned int tag)
{
	struct kublk_queue *q = bq->q;
	struct kublk_io *io;

	if (tag >= (unsigned int)q->depth) {
		kublk_err("thread %d q%d: FETCH_IO_CMDS delivered tag %u (depth %d)", t->idx,
			  q->q_id, tag, q->depth);
		return;
	}
	io = &q->ios[tag];
	if (io->flags & KUBLK_IO_IN_SERVER) {
		kublk_err("thread %d q%d: tag %u delivered again before its commit (thread %d has it)",
			  t->idx, q->q_id, tag, io->t->idx);
		return;
	}
	io->t = t;
	t->nr_owned++;
	t->batch_reqs++;
	if (++bq->inflight == bq->threshold + 1)
		bq->rose = true;
	kublk_dispatch_io(t, q, tag);
}

static void fetch_cqe(struct kublk_thread *t, struct kublk_batch_q *bq,
		      const struct io_uring_cqe *cqe)
{
	struct kublk_buf_ring *br = &bq->fetch_br;
	int res = cqe->res, q_id = bq->q->q_id;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		const __u16 *tags = (const void *)(br->bufs + (size_t)bid * br->size);
		unsigned int i;

		if (bid >= br->nr) {
			kublk_err("thread %d q%d: FETCH_IO_CMDS used buffer %u of %u", t->idx,
				  q_id, bid, br->nr);
		} else {
			if (res > 0 && ((unsigned int)res > br->size || res % 2))
				kublk_err("thread %d q%d: FETCH_IO_CMDS wrote %d bytes of tags to a %u-byte buffer",
					  t->idx, q_id, res, br->size);
			else if (res > 0)
				for (i = 0; i < (unsigned int)res / 2; i++)
					take_tag(t, bq, tags[i]);
			/* the tags are taken: the buffer can be filled again */
			kublk_buf_ring_recycle(br, bid);
		}
		t->batch_fetches++;
		bq->fetch_errs = 0;
	} else if (res > 0) {
		kublk_err("thread %d q%d: FETCH_IO_CMDS returned %d bytes without a buffer",
			  t->idx, q_id, res);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;

	/* the command is over */
	t->cmd_inflight--;
	bq->fetch_armed = false;
	if (res == UBLK_IO_RES_ABORT || res == -ECANCELED) {
		kublk_log("thread %d q%d: fetching ends: %s", t->idx, q_id, strerror(-res));
		bq->fetch_over = true;
		return;
	}
	if (res < 0 && res != -ENOBUFS) {
		kublk_err("thread %d q%d: FETCH_IO_CMDS: %s", t->idx, q_id, strerror(-res));
		if (!t->serving) {
			if (!t->fetch_err)
				t->fetch_err = res;
			bq->fetch_over = true;
			return;
		}
	}
	/*
	 * Buffers go back to the ring as their CQEs are handled, all before
	 * this one: after a re-arm the ring is full again, so that ends
	 * without a delivery in between (-ENOBUFS included) are no passing
	 * state but a fault.
	 */
	if (!(cqe->flags & IORING_CQE_F_BUFFER) && ++bq->fetch_errs >= KUBLK_FETCH_RETRIES) {
		kublk_err("thread %d q%d: fetch command ended %d times in a row without delivering (last: %d), this thread stops fetching",
			  t->idx, q_id, bq->fetch_errs, res);
		if (!t->serving && !t->fetch_err)
			t->fetch_err = res < 0 ? res : -EIO;
		bq->fetch_over = true;
		return;
	}
	arm_fetch(t, bq);
}

static void elems_cqe(struct kublk_thread *t, struct kublk_batch_q *bq, unsigned int op,
		      int b, int res)
{
	const struct kublk_dev *dev = t->dev;
	struct kublk_batch_buf *bb = &t->bbufs[b];
	unsigned int eb = batch_elem_bytes(dev), want = bb->nr * eb, i;
	int q_id = bq->q->q_id;

	assert(b < t->nr_bbufs && bb->busy);
	bb->busy = false;
	if (op == _IOC_NR(UBLK_U_IO_PREP_IO_CMDS)) {
		bq->prep_pending = false;
		bq->prep_res = res < 0 ? res : 0;
		if (res < 0)
			kublk_err("q%d: PREP_IO_CMDS of %u tags: %s", q_id, bb->nr, strerror(-res));
		return;
	}
	if (res < 0) {
		kublk_err("thread %d q%d: COMMIT_IO_CMDS of %u results: %s", t->idx, q_id,
			  bb->nr, strerror(-res));
		return;
	}
	if ((unsigned int)res == want)
		return;
	kublk_err("thread %d q%d: COMMIT_IO_CMDS took %d of %u bytes (%u results); refused:",
		  t->idx, q_id, res, want, bb->nr);
	for (i = res / eb; i < bb->nr; i++) {
		const struct ublk_elem_header *h =
			(const void *)((char *)bb->elems + (size_t)i * eb);

		kublk_err("    q%d tag %u result %d", q_id, h->tag, h->result);
	}
}

void kublk_batch_cqe(struct kublk_thread *t, const struct io_uring_cqe *cqe)
{
	struct kublk_dev *dev = t->dev;
	__u64 ud = cqe->user_data;
	unsigned int op = ud_op(ud);
	struct kublk_batch_q *bq = batch_q_of(t, &dev->queues[ud_q_id(ud)]);

	switch (op) {
	case _IOC_NR(UBLK_U_IO_FETCH_IO_CMDS):
		fetch_cqe(t, bq, cqe);
		return;
	case _IOC_NR(UBLK_U_IO_UPDATE_CMD_PRIO):
		t->cmd_inflight--;
		if (cqe->res < 0) {
			if (!t->prio_fail++)
				kublk_err("thread %d q%d: UPDATE_CMD_PRIO to %u: %s", t->idx,
					  bq->q->q_id, ud_tag(ud), strerror(-cqe->res));
		}
		return;
	default:
		t->cmd_inflight--;
		elems_cqe(t, bq, op, ud_tag(ud), cqe->res);
		return;
	}
}

/* the request of (q, tag) on @t is done: its result goes in this pass's COMMIT */
void kublk_batch_commit(struct kublk_thread *t, struct kublk_queue *q, int tag, int res)
{
	struct kublk_batch_q *bq = batch_q_of(t, q);

	if (bq->commit_buf < 0) {
		bq->commit_buf = bbuf_get(t);
		bq->nr_commit = 0;
	}
	/* a tag comes back only after its commit went out: one result each */
	assert(bq->nr_commit < (unsigned int)q->depth);
	fill_elem(t, &t->bbufs[bq->commit_buf], bq->nr_commit++, q, tag, res);
	assert(bq->inflight && t->nr_owned);
	bq->inflight--;
	t->nr_owned--;
}

/* the end of a pass of @t's loop: priorities, then one COMMIT per queue */
void kublk_batch_flush(struct kublk_thread *t)
{
	int k;

	for (k = 0; k < t->nr_bq; k++) {
		struct kublk_batch_q *bq = &t->bq[k];

		balance(t, bq);
		if (bq->commit_buf < 0)
			continue;
		queue_elems(t, bq->q, UBLK_U_IO_COMMIT_IO_CMDS, bq->commit_buf, bq->nr_commit);
		bq->commit_buf = -1;
		bq->nr_commit = 0;
	}
}
