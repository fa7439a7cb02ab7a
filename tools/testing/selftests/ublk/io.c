// SPDX-License-Identifier: GPL-2.0
/*
 * kublk server threads: each owns a set of io slots and one io_uring, on
 * which it keeps one ublk io command per slot in the driver (FETCH_REQ
 * first, then COMMIT_AND_FETCH_REQ with the previous request's result)
 * and, unless offloading, the targets' backing IO (batch mode: see
 * below).
 *
 * A slot's life: FETCH -> request arrives (CQE res 0) -> target serves
 * it -> COMMIT_AND_FETCH -> next request ...  With NEED_GET_DATA a WRITE
 * first arrives with res UBLK_IO_RES_NEED_GET_DATA and the thread answers
 * with NEED_GET_DATA carrying the buffer.  When the device stops, the
 * driver completes the outstanding command with UBLK_IO_RES_ABORT; once
 * every slot of the thread is aborted and no target IO is left, the
 * thread exits.
 *
 * Zero copy (zc.c) adds REGISTER_IO_BUF before the target serves a
 * request and UNREGISTER_IO_BUF after, or with AUTO_BUF_REG a struct
 * ublk_auto_buf_reg in the sqe->addr of FETCH and COMMIT_AND_FETCH.
 *
 * Batch mode (-b, UBLK_F_BATCH_IO; batch.c) keeps this file's request
 * path and replaces the per-slot commands: no slot is a thread's, a
 * thread keeps one multishot FETCH_IO_CMDS per queue it serves, whose
 * CQEs carry the tags of new requests (each goes to kublk_dispatch_io()
 * as a FETCH_REQ completion would), and kublk_commit_io() adds the
 * result to the queue's COMMIT_IO_CMDS, which goes out at the end of the
 * pass (kublk_handle_ready()).  The thread exits once its fetch commands
 * are aborted and it holds no request.
 *
 * Polled mode (--iopoll, UBLK_F_IOPOLL) keeps the per-slot commands on
 * an IORING_SETUP_IOPOLL ring, one thread per queue.  The driver hands
 * a request to its FETCH from inside io_uring_enter(GETEVENTS), which
 * also polls the backing I/O, so the thread's loop (iopoll_reap())
 * enters without waiting for a completion, over and over.  When it has
 * no backing I/O in flight and no CQE came for KUBLK_IOPOLL_IDLE_NS, it
 * issues UBLK_U_IO_IOPOLL_SLEEP with its eventfd: armed (0), it blocks
 * in read() until the driver signals the eventfd (a new request, or the
 * device stopping, quiescing or losing its server), then polls again;
 * -EBUSY means requests already wait, so it polls on.  With -b too, the
 * thread's one FETCH_IO_CMDS of its queue sits in the same ring, the
 * driver posts its CQEs from inside io_uring_enter(), and the thread
 * sleeps the same way once it holds no request.
 */
#include <assert.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include "kublk.h"

/* --iopoll: poll this long without a CQE before sleeping */
#define KUBLK_IOPOLL_IDLE_NS	1000000ULL

static inline bool dev_get_data(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_NEED_GET_DATA;
}

/* file offset of (q, tag)'s data for pread()/pwrite() on /dev/ublkcN */
static inline __u64 user_copy_off(unsigned int q_id, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((__u64)q_id << UBLK_QID_OFF) +
	       ((__u64)tag << UBLK_TAG_OFF);
}

/* an SQE for a target IO: its CQE goes to the target's ->io_done() */
struct io_uring_sqe *kublk_tgt_sqe(struct kublk_thread *t)
{
	t->tgt_inflight++;
	return kublk_get_sqe(t);
}

struct io_uring_sqe *kublk_get_sqe(struct kublk_thread *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe) {
		io_uring_submit(&t->ring);
		sqe = io_uring_get_sqe(&t->ring);
	}
	if (!sqe) {
		/* rings are sized for the worst case: this is a kublk bug */
		kublk_err("thread %d: submission queue full", t->idx);
		abort();
	}
	return sqe;
}

int kublk_thread_ring_init(struct kublk_thread *t, unsigned int entries)
{
	struct kublk_dev *dev = t->dev;
	struct io_uring_params p = { };
	int fds[KUBLK_MAX_FILES + 1];
	int i, ret;

	/* our ring, used only by this thread: let the kernel rely on that */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	/* the driver delivers requests to a polled ring's FETCHes */
	if (!t->offload && kublk_dev_iopoll(dev))
		p.flags |= IORING_SETUP_IOPOLL;
	p.cq_entries = entries * 2;
	ret = io_uring_queue_init_params(entries, &t->ring, &p);
	if (ret)
		return ret;
	t->ring_ok = true;
	t->ring_depth = entries;

	fds[0] = dev->cdev_fd;
	for (i = 0; i < dev->nr_files; i++)
		fds[i + 1] = dev->fds[i];
	return io_uring_register_files(&t->ring, fds, dev->nr_files + 1);
}

/* (re)arm the multishot read of this thread's notification eventfd */
int kublk_arm_notify(struct kublk_thread *t)
{
	struct io_uring_sqe *sqe = kublk_get_sqe(t);

	kublk_prep_read_multishot(sqe, t->evfd, false, 0);
	sqe->user_data = kublk_ud(0, 0, KUBLK_EV_NOTIFY, 0, false);
	t->ev_armed = true;
	return 0;
}

/*
 * The inbox and eventfd through which other threads hand work to @t:
 * set up by the main thread before any thread runs, so that nobody can
 * push to a thread that is not ready.  @nr_ents bounds what can be
 * pending at once.
 */
int kublk_inbox_init(struct kublk_thread *t, unsigned int nr_ents)
{
	unsigned int n = 1;

	while (n < nr_ents)
		n <<= 1;
	t->inbox.ents = calloc(n, sizeof(*t->inbox.ents));
	if (!t->inbox.ents)
		return -ENOMEM;
	t->inbox.mask = n - 1;
	pthread_mutex_init(&t->inbox.lock, NULL);
	t->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->evfd < 0)
		return -errno;
	return 0;
}

void kublk_inbox_exit(struct kublk_thread *t)
{
	if (t->evfd >= 0)
		close(t->evfd);
	t->evfd = -1;
	free(t->inbox.ents);
	t->inbox.ents = NULL;
}

/* in the thread, on its ring: start reading the eventfd */
int kublk_notify_start(struct kublk_thread *t)
{
	int ret = kublk_buf_ring_setup(&t->ring, &t->evbr, 16, sizeof(__u64), 0);

	if (ret)
		return ret;
	return kublk_arm_notify(t);
}

/*
 * Hand (q_id, tag, res) to thread @to; it learns about it when
 * kublk_notify_all() of the sender writes its eventfd.  The inbox holds
 * every slot of the device, so it cannot overflow.
 */
void kublk_push(struct kublk_thread *from, struct kublk_thread *to,
		unsigned int q_id, unsigned int tag, int res)
{
	struct kublk_mpq *mq = &to->inbox;
	struct kublk_mpq_ent *e;
	int i;

	pthread_mutex_lock(&mq->lock);
	assert(mq->tail - mq->head <= mq->mask);
	e = &mq->ents[mq->tail++ & mq->mask];
	e->q_id = q_id;
	e->tag = tag;
	e->res = res;
	pthread_mutex_unlock(&mq->lock);

	for (i = 0; i < from->nr_notify; i++)
		if (from->notify[i] == to)
			return;
	from->notify[from->nr_notify++] = to;
}

void kublk_notify_all(struct kublk_thread *t)
{
	__u64 one = 1;
	int i;

	for (i = 0; i < t->nr_notify; i++)
		if (write(t->notify[i]->evfd, &one, sizeof(one)) != sizeof(one))
			kublk_err("thread %d: eventfd write: %m", t->idx);
	t->nr_notify = 0;
}

/* pop one inbox entry; false when empty */
bool kublk_inbox_pop(struct kublk_thread *t, struct kublk_mpq_ent *out)
{
	struct kublk_mpq *mq = &t->inbox;
	bool ok = false;

	pthread_mutex_lock(&mq->lock);
	if (mq->head != mq->tail) {
		*out = mq->ents[mq->head++ & mq->mask];
		ok = true;
	}
	pthread_mutex_unlock(&mq->lock);
	return ok;
}

/* an SQE for I/O command @cmd_op of slot (q, tag); user_data left to fill */
struct io_uring_sqe *kublk_slot_cmd(struct kublk_thread *t,
				    const struct kublk_queue *q, int tag,
				    __u32 cmd_op, int result, __u64 addr)
{
	struct io_uring_sqe *sqe = kublk_get_sqe(t);
	struct ublksrv_io_cmd *cmd;

	kublk_prep_uring_cmd(sqe, 0, true, cmd_op, false);
	cmd = kublk_sqe_cmd(sqe);
	cmd->q_id = q->q_id;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = addr;
	return sqe;
}

static void queue_io_cmd(struct kublk_thread *t, struct kublk_queue *q, int tag,
			 __u32 cmd_op, int result, __u64 addr)
{
	struct kublk_io *io = &q->ios[tag];
	struct io_uring_sqe *sqe = kublk_slot_cmd(t, q, tag, cmd_op, result, addr);

	/* where the driver is to register the next request's buffer */
	if (kublk_dev_auto_zc(q->dev) &&
	    (cmd_op == UBLK_U_IO_FETCH_REQ || cmd_op == UBLK_U_IO_COMMIT_AND_FETCH_REQ))
		sqe->addr = kublk_zc_auto_reg(t, io);
	sqe->user_data = kublk_ud(q->q_id, tag, _IOC_NR(cmd_op), 0, false);
	io->flags |= KUBLK_IO_IN_KERNEL;
	t->cmd_inflight++;
}

static void queue_fetch(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	const struct kublk_dev *dev = q->dev;
	__u64 addr = (unsigned long)q->ios[tag].buf;

	/*
	 * NEED_GET_DATA: the buffer is named when a WRITE needs it; zero
	 * copy and user copy have none
	 */
	if (kublk_dev_user_copy(dev) || dev_get_data(dev) || kublk_dev_any_zc(dev))
		addr = 0;
	queue_io_cmd(t, q, tag, UBLK_U_IO_FETCH_REQ, 0, addr);
}

/* complete the request of (q, tag) and fetch the slot's next one */
void kublk_commit_io(struct kublk_thread *t, struct kublk_queue *q, int tag, int res)
{
	const struct kublk_dev *dev = q->dev;
	struct kublk_io *io = &q->ios[tag];
	unsigned int op = ublksrv_get_op(kublk_iod(q, tag));
	__u64 addr = (unsigned long)io->buf;

	io->flags &= ~(KUBLK_IO_IN_SERVER | KUBLK_IO_OFFLOADED);
	if (kublk_dev_user_copy(dev)) {
		if (op == UBLK_IO_OP_READ && res > 0) {
			ssize_t n = pwrite(dev->cdev_fd, io->buf, res,
					   user_copy_off(q->q_id, tag));

			if (n != res) {
				kublk_err("q%d tag %d: user copy of %d bytes to the request: %s",
					  q->q_id, tag, res, n < 0 ? strerror(errno) : "short");
				res = -EIO;
			}
		}
		addr = 0;
	} else if ((dev_get_data(dev) && op != UBLK_IO_OP_READ) || kublk_dev_any_zc(dev)) {
		/* zero copy has no buffer; NEED_GET_DATA uses it for READs only */
		addr = 0;
	}
	if (kublk_dev_batch(dev)) {
		/* gathered, sent at the end of the pass */
		kublk_batch_commit(t, q, tag, res);
		return;
	}
	queue_io_cmd(t, q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, res, addr);
}

void kublk_complete_io(struct kublk_thread *t, struct kublk_queue *q, int tag, int res)
{
	/* a buffer we registered leaves the table before the commit */
	if (!kublk_zc_end(t, q, tag, res))
		return;
	if (t->offload)
		kublk_push(t, q->ios[tag].t, q->q_id, tag, res);
	else
		kublk_commit_io(t, q, tag, res);
}

void kublk_serve_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	int res = q->dev->tgt->queue_io(t, q, tag);

	if (res != KUBLK_QUEUED)
		kublk_complete_io(t, q, tag, res);
}

void kublk_start_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	if (kublk_zc_begin(t, q, tag))
		kublk_serve_io(t, q, tag);
}

void kublk_dispatch_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	struct kublk_dev *dev = q->dev;
	const struct ublksrv_io_desc *iod = kublk_iod(q, tag);
	struct kublk_io *io = &q->ios[tag];
	unsigned int len = iod->nr_sectors << 9;

	io->flags |= KUBLK_IO_IN_SERVER;
	io->tgt_pending = 0;
	io->tgt_res = 0;
	io->tgt_state = 0;

	if (kublk_rq_has_data(iod) && len > dev->info.max_io_buf_bytes) {
		kublk_err("q%d tag %d: request of %u bytes exceeds max_io %u",
			  q->q_id, tag, len, dev->info.max_io_buf_bytes);
		kublk_commit_io(t, q, tag, -EIO);
		return;
	}
	if (kublk_dev_user_copy(dev) && ublksrv_get_op(iod) == UBLK_IO_OP_WRITE) {
		ssize_t n = pread(dev->cdev_fd, io->buf, len, user_copy_off(q->q_id, tag));

		if (n != (ssize_t)len) {
			kublk_err("q%d tag %d: user copy of %u bytes from the request: %s",
				  q->q_id, tag, len, n < 0 ? strerror(errno) : "short");
			kublk_commit_io(t, q, tag, -EIO);
			return;
		}
	}
	if (dev->nr_offload) {
		kublk_offload_submit(t, q, tag);
		return;
	}
	kublk_start_io(t, q, tag);
}

static void handle_notify(struct kublk_thread *t, const struct io_uring_cqe *cqe)
{
	struct kublk_mpq_ent e;

	if (cqe->flags & IORING_CQE_F_BUFFER)
		kublk_buf_ring_recycle(&t->evbr, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		t->ev_armed = false;
		if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -EAGAIN &&
		    cqe->res != -ECANCELED)
			kublk_err("thread %d: eventfd read: %s", t->idx, strerror(-cqe->res));
		if (cqe->res != -ECANCELED)
			kublk_arm_notify(t);
	}

	if (t->offload) {
		kublk_offload_drain(t);
		return;
	}
	while (kublk_inbox_pop(t, &e))
		kublk_commit_io(t, &t->dev->queues[e.q_id], e.tag, e.res);
}

void kublk_handle_cqe(struct kublk_thread *t, const struct io_uring_cqe *cqe)
{
	struct kublk_dev *dev = t->dev;
	__u64 ud = cqe->user_data;
	unsigned int tag = ud_tag(ud), op = ud_op(ud);
	struct kublk_queue *q = &dev->queues[ud_q_id(ud)];
	struct kublk_io *io;

	if (ud_is_tgt(ud) && (ud & KUBLK_UD_SYNC)) {
		/* the NOP of a backing IO done as a system call: its result */
		struct io_uring_cqe c = *cqe;

		c.res = -(int)((ud >> KUBLK_UD_SYNC_SHIFT) & KUBLK_UD_SYNC_MAX);
		t->tgt_inflight--;
		dev->tgt->io_done(t, q, tag, &c);
		return;
	}
	if (ud_is_tgt(ud)) {
		t->tgt_inflight--;
		dev->tgt->io_done(t, q, tag, cqe);
		return;
	}
	if (op == KUBLK_EV_SLEEP) {
		t->sleep_pending = false;
		t->sleep_armed = !cqe->res;
		if (cqe->res == -EBUSY) {
			t->sleep_eagain++;
		} else if (cqe->res && cqe->res != t->sleep_err) {
			/* polling on works, at the cost of a CPU: say it once */
			t->sleep_err = cqe->res;
			kublk_err("thread %d: IOPOLL_SLEEP: %s", t->idx, strerror(-cqe->res));
		}
		return;
	}
	if (op == KUBLK_EV_NOTIFY) {
		handle_notify(t, cqe);
		return;
	}
	if (op == KUBLK_EV_ZC_REG || op == KUBLK_EV_ZC_UNREG) {
		kublk_zc_cqe(t, q, tag, cqe);
		return;
	}
	if (kublk_is_batch_op(op)) {
		kublk_batch_cqe(t, cqe);
		return;
	}

	io = &q->ios[tag];
	t->cmd_inflight--;
	io->flags &= ~KUBLK_IO_IN_KERNEL;
	switch (cqe->res) {
	case UBLK_IO_RES_OK:
		kublk_dispatch_io(t, q, tag);
		break;
	case UBLK_IO_RES_NEED_GET_DATA:
		queue_io_cmd(t, q, tag, UBLK_U_IO_NEED_GET_DATA, 0,
			     (unsigned long)io->buf);
		break;
	case UBLK_IO_RES_ABORT:
		io->flags |= KUBLK_IO_DONE;
		t->nr_done++;
		break;
	default:
		if (op == UBLK_IO_FETCH_REQ && !t->fetch_err)
			t->fetch_err = cqe->res;
		kublk_err("q%d tag %d: io command 0x%x failed: %s", q->q_id, tag, op,
			  strerror(-cqe->res));
		io->flags |= KUBLK_IO_DONE;
		t->nr_done++;
		break;
	}
}

/*
 * One pass: handle every CQE there is; then, in batch mode, send what the
 * pass gathered (one COMMIT_IO_CMDS per queue), and notify the threads
 * it pushed work to.
 */
void kublk_handle_ready(struct kublk_thread *t)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&t->ring, head, cqe) {
		kublk_handle_cqe(t, cqe);
		n++;
	}
	io_uring_cq_advance(&t->ring, n);
	if (!t->offload && kublk_dev_batch(t->dev))
		kublk_batch_flush(t);
	kublk_notify_all(t);
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* the driver signalled the eventfd: the thread resumes polling */
static void iopoll_block(struct kublk_thread *t)
{
	__u64 v;

	t->sleeps++;
	while (read(t->sleep_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	t->last_cqe_ns = now_ns();
}

/*
 * --iopoll: one poll of the ring (submit what is queued, reap what is
 * done, never wait) and, when the thread has been idle for a while,
 * announce that it sleeps and sleep.
 */
static bool iopoll_reap(struct kublk_thread *t)
{
	struct io_uring_sqe *sqe;
	struct ublksrv_io_cmd *cmd;
	unsigned int n;
	int ret;

	ret = io_uring_submit_and_get_events(&t->ring);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		kublk_err("thread %d: io_uring_enter: %s", t->idx, strerror(-ret));
		return false;
	}
	n = io_uring_cq_ready(&t->ring);
	if (n) {
		kublk_handle_ready(t);
		/* only our IOPOLL_SLEEP's CQE, armed, and nothing else to do */
		if (t->sleep_armed && n == 1 && !t->tgt_inflight && !t->nr_owned &&
		    !io_uring_sq_ready(&t->ring) && t->nr_done < t->nr_ios) {
			t->sleep_armed = false;
			iopoll_block(t);
			return true;
		}
		/* armed but busy: a later signal only makes a sleep return early */
		t->sleep_armed = false;
		t->last_cqe_ns = now_ns();
		return true;
	}
	if (t->tgt_inflight || t->nr_owned || t->sleep_pending || t->sleep_fd < 0 ||
	    t->nr_done == t->nr_ios || now_ns() - t->last_cqe_ns < KUBLK_IOPOLL_IDLE_NS)
		return true;

	/* completes at once; the next pass sees its CQE */
	sqe = kublk_get_sqe(t);
	kublk_prep_uring_cmd(sqe, 0, true, UBLK_U_IO_IOPOLL_SLEEP, false);
	cmd = kublk_sqe_cmd(sqe);
	/* one thread per queue: thread i serves queue i */
	cmd->q_id = t->idx;
	cmd->addr = t->sleep_fd;
	sqe->user_data = kublk_ud(t->idx, 0, KUBLK_EV_SLEEP, 0, false);
	t->sleep_pending = true;
	return true;
}

/* wait for CQEs and handle them, one pass; false if the ring failed */
bool kublk_reap(struct kublk_thread *t)
{
	int ret;

	if (!t->offload && kublk_dev_iopoll(t->dev))
		return iopoll_reap(t);
	ret = io_uring_submit_and_wait(&t->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		kublk_err("thread %d: io_uring_enter: %s", t->idx, strerror(-ret));
		return false;
	}
	kublk_handle_ready(t);
	return true;
}

static void server_exit(struct kublk_thread *t)
{
	struct kublk_dev *dev = t->dev;

	if (t->ring_ok)
		io_uring_queue_exit(&t->ring);
	t->ring_ok = false;
	kublk_buf_ring_free(&t->evbr);
	if (t->sleep_fd >= 0)
		close(t->sleep_fd);
	t->sleep_fd = -1;
	if (t->sleeps || t->sleep_eagain)
		kublk_log("thread %d: slept %lu times, refused %lu", t->idx, t->sleeps,
			  t->sleep_eagain);
	kublk_batch_exit(t);
	kublk_zc_table_exit(t);
	__atomic_sub_fetch(&dev->threads_running, 1, __ATOMIC_SEQ_CST);
	pthread_kill(dev->main_tid, SIGUSR1);
}

static void *server_thread_fn(void *arg)
{
	struct kublk_thread *t = arg;
	struct kublk_dev *dev = t->dev;
	int per_io = dev->nr_offload ? 0 : dev->tgt->sqes_per_io(dev);
	struct kublk_queue *q;
	int tag, n = 0, ret;

	/* zero copy: a REGISTER or UNREGISTER at a time, never with the IO */
	if (kublk_dev_any_zc(dev) && !dev->nr_offload && !per_io)
		per_io = 1;
	ret = kublk_thread_ring_init(t, round_up(t->nr_ios * (1 + per_io) + 8 +
						 kublk_batch_ring_extra(t), 8));
	if (!ret)
		ret = kublk_zc_table_init(t);
	if (!ret && dev->nr_offload)
		ret = kublk_notify_start(t);
	if (!ret && kublk_dev_iopoll(dev)) {
		t->sleep_fd = eventfd(0, EFD_CLOEXEC);
		if (t->sleep_fd < 0)
			ret = -errno;
		t->last_cqe_ns = now_ns();
	}
	if (ret) {
		t->fetch_err = ret;
		kublk_err("thread %d: io_uring setup: %s", t->idx, strerror(-ret));
		if (kublk_dev_batch(dev))
			kublk_batch_fail(t, ret);
		sem_post(&dev->ready);
		server_exit(t);
		return NULL;
	}

	if (kublk_dev_batch(dev)) {
		ret = kublk_batch_start(t);
		if (ret && !t->fetch_err)
			t->fetch_err = ret;
		sem_post(&dev->ready);
		/* a failed start may leave commands to be aborted */
		while (kublk_batch_busy(t))
			if (!kublk_reap(t))
				break;
		server_exit(t);
		return NULL;
	}

	/* the slots of this thread, in (queue, tag) order */
	for (q = &dev->queues[0]; q < &dev->queues[dev->info.nr_hw_queues]; q++) {
		for (tag = 0; tag < q->depth; tag++) {
			if (q->ios[tag].t != t)
				continue;
			if (dev->tgt->hook)
				dev->tgt->hook(t, KUBLK_HOOK_FETCH, n);
			queue_fetch(t, q, tag);
			n++;
		}
	}
	ret = io_uring_submit(&t->ring);
	if (ret < 0) {
		t->fetch_err = ret;
		kublk_err("thread %d: submitting fetch commands: %s", t->idx, strerror(-ret));
	}
	sem_post(&dev->ready);

	while (t->nr_done < t->nr_ios || t->tgt_inflight)
		if (!kublk_reap(t))
			break;
	server_exit(t);
	return NULL;
}

static int alloc_queues(struct kublk_dev *dev)
{
	size_t priv = dev->tgt->io_priv_size ? dev->tgt->io_priv_size(dev) : 0;
	unsigned int i;
	long pg = sysconf(_SC_PAGESIZE);
	int tag;

	/*
	 * The descriptor size ADD_DEV handed back (UBLK_F_IO_DESC_SIZE).
	 * Drivers without the feature report the size of the struct, or
	 * (6.12) leave what we wrote there, which is that size too; 0 came
	 * from drivers that cleared the field.
	 */
	unsigned int iod_size = dev->info.io_desc_size ?
		dev->info.io_desc_size : sizeof(struct ublksrv_io_desc);

	for (i = 0; i < dev->info.nr_hw_queues; i++) {
		struct kublk_queue *q = &dev->queues[i];
		/* the driver sizes every queue's mapping for UBLK_MAX_QUEUE_DEPTH */
		off_t off = UBLKSRV_CMD_BUF_OFFSET +
			i * round_up((size_t)UBLK_MAX_QUEUE_DEPTH * iod_size, pg);

		q->q_id = i;
		q->depth = dev->info.queue_depth;
		q->dev = dev;
		q->iod_size = iod_size;
		q->iods_len = round_up((size_t)q->depth * iod_size, pg);
		q->iods = mmap(NULL, q->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
			       dev->cdev_fd, off);
		if (q->iods == MAP_FAILED) {
			q->iods = NULL;
			kublk_err("mmap of queue %u's descriptors: %m", i);
			return -errno;
		}
		q->ios = calloc(q->depth, sizeof(*q->ios));
		if (!q->ios)
			return -ENOMEM;
		for (tag = 0; tag < q->depth; tag++) {
			struct kublk_io *io = &q->ios[tag];

			/* zero copy: the request's own pages, no buffer */
			if (!kublk_dev_any_zc(dev) &&
			    posix_memalign(&io->buf, pg, dev->info.max_io_buf_bytes))
				return -ENOMEM;
			if (priv) {
				io->tgt_priv = calloc(1, priv);
				if (!io->tgt_priv)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static void free_queues(struct kublk_dev *dev)
{
	unsigned int i;
	int tag;

	for (i = 0; i < dev->info.nr_hw_queues; i++) {
		struct kublk_queue *q = &dev->queues[i];

		if (q->iods)
			munmap((void *)q->iods, q->iods_len);
		q->iods = NULL;
		if (!q->ios)
			continue;
		for (tag = 0; tag < q->depth; tag++) {
			free(q->ios[tag].buf);
			free(q->ios[tag].tgt_priv);
		}
		free(q->ios);
		q->ios = NULL;
	}
}

/*
 * Which server thread serves which slot: thread q serves queue q, unless
 * --nthreads asks for another count, which needs per-io daemons; then the
 * slots of all queues are dealt out round robin.  With --per_io_tasks,
 * thread i serves tag t of every queue when t mod nr_threads is i (no
 * more threads than tags: each one has slots).
 */
static void place_ios(struct kublk_dev *dev)
{
	unsigned int i, nq = dev->info.nr_hw_queues;
	bool per_queue = !dev->per_io_tasks && (!dev->nthreads || dev->nthreads == (int)nq);
	int tag, n = 0, idx;

	if (per_queue)
		dev->nr_threads = nq;
	else if (dev->per_io_tasks)
		dev->nr_threads = dev->nthreads ? dev->nthreads : 2;
	else
		dev->nr_threads = dev->nthreads;
	if (dev->per_io_tasks && dev->nr_threads > (int)dev->info.queue_depth)
		dev->nr_threads = dev->info.queue_depth;
	for (i = 0; i < nq; i++) {
		struct kublk_queue *q = &dev->queues[i];

		for (tag = 0; tag < q->depth; tag++, n++) {
			struct kublk_thread *t;

			if (per_queue)
				idx = i;
			else if (dev->per_io_tasks)
				idx = tag % dev->nr_threads;
			else
				idx = n % dev->nr_threads;
			t = &dev->threads[idx];
			q->ios[tag].t = t;
			/* its entry in t's buffer table: tag, with a thread a queue */
			q->ios[tag].buf_index = t->nr_ios++;
		}
	}
}

/*
 * Map the queues, start offload and server threads and wait until every
 * server thread has issued its fetch commands (or failed to).
 */
int kublk_start_threads(struct kublk_dev *dev)
{
	int i, ret;

	ret = alloc_queues(dev);
	if (ret)
		return ret;
	if (kublk_dev_batch(dev)) {
		pthread_mutex_init(&dev->batch_lock, NULL);
		pthread_cond_init(&dev->batch_cond, NULL);
		ret = kublk_batch_place(dev);
		if (ret)
			return ret;
	} else {
		place_ios(dev);
	}
	if (dev->nr_offload) {
		ret = kublk_offload_start(dev);
		if (ret)
			return ret;
	}
	sem_init(&dev->ready, 0, 0);
	for (i = 0; i < dev->nr_threads; i++) {
		struct kublk_thread *t = &dev->threads[i];

		t->dev = dev;
		t->idx = i;
		t->evfd = -1;
		t->sleep_fd = -1;
		if (dev->nr_offload) {
			ret = kublk_inbox_init(t, t->nr_ios);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < dev->nr_threads; i++) {
		struct kublk_thread *t = &dev->threads[i];

		__atomic_add_fetch(&dev->threads_running, 1, __ATOMIC_SEQ_CST);
		ret = pthread_create(&t->tid, NULL, server_thread_fn, t);
		if (ret) {
			__atomic_sub_fetch(&dev->threads_running, 1, __ATOMIC_SEQ_CST);
			kublk_err("creating server thread %d: %s", i, strerror(ret));
			dev->nr_threads = i;
			return -ret;
		}
	}
	for (i = 0; i < dev->nr_threads; i++)
		sem_wait(&dev->ready);
	for (i = 0; i < dev->nr_threads; i++)
		if (dev->threads[i].fetch_err)
			return dev->threads[i].fetch_err;
	if (dev->tgt->hook)
		dev->tgt->hook(&dev->threads[0], KUBLK_HOOK_FETCHED, 0);
	return 0;
}

void kublk_join_threads(struct kublk_dev *dev)
{
	int i;

	for (i = 0; i < dev->nr_threads; i++) {
		pthread_join(dev->threads[i].tid, NULL);
		kublk_inbox_exit(&dev->threads[i]);
		free(dev->threads[i].bq);
		dev->threads[i].bq = NULL;
	}
	dev->nr_threads = 0;
	if (dev->nr_offload)
		kublk_offload_stop(dev);
	free_queues(dev);
}
