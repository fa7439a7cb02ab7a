// SPDX-License-Identifier: GPL-2.0
/*
 * Offload mode (--offload N): server threads only fetch, copy and commit;
 * N offload threads, each with an io_uring of its own, run the targets.
 *
 *   server thread                         offload thread
 *   request arrives
 *   kublk_offload_submit(): push
 *   (q, tag) to the offload thread's
 *   inbox, write its eventfd  ----------> READ_MULTISHOT CQE on its eventfd
 *                                         kublk_offload_drain(): pop,
 *                                         target ->queue_io() on its ring
 *                                         ... backing IO CQEs ...
 *                                         kublk_complete_io(): push (q, tag,
 *   READ_MULTISHOT CQE on its  <--------- res) to the server thread's inbox,
 *   eventfd: pop, COMMIT_AND_FETCH        write its eventfd
 *
 * The eventfds are read by multishot reads armed in the rings, so a
 * notification can never fall between a check of the inbox and the wait
 * in io_uring_enter(): it completes a CQE either way.  Notifications are
 * batched: a thread writes each peer's eventfd once per round of CQEs.
 *
 * Slot (q, tag) always goes to offload thread (q * depth + tag) % N, so
 * its target state is touched by one offload thread at a time.  Offload
 * threads live as long as the device's server; they stop after every
 * server thread has exited.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kublk.h"

static void offload_exit(struct kublk_thread *t)
{
	if (t->ring_ok)
		io_uring_queue_exit(&t->ring);
	t->ring_ok = false;
	kublk_buf_ring_free(&t->evbr);
	kublk_zc_table_exit(t);
}

static void *offload_thread_fn(void *arg)
{
	struct kublk_thread *t = arg;
	struct kublk_dev *dev = t->dev;
	int per_io = dev->tgt->sqes_per_io(dev);
	int ret;

	/* -z: REGISTER / UNREGISTER_IO_BUF on this ring (BUF_REG_OFF_DAEMON) */
	if (kublk_dev_zc(dev) && !per_io)
		per_io = 1;
	ret = kublk_thread_ring_init(t, round_up(t->nr_ios * per_io + 8, 8));
	if (!ret)
		ret = kublk_zc_table_init(t);
	if (!ret)
		ret = kublk_notify_start(t);
	if (!ret)
		ret = io_uring_submit(&t->ring) < 0 ? -EIO : 0;
	if (ret) {
		t->fetch_err = ret;
		kublk_err("offload thread %d: io_uring setup: %s", t->idx, strerror(-ret));
		sem_post(&dev->ready);
		offload_exit(t);
		return NULL;
	}
	sem_post(&dev->ready);

	while (!__atomic_load_n(&t->need_exit, __ATOMIC_ACQUIRE) || t->tgt_inflight)
		if (!kublk_reap(t))
			break;
	offload_exit(t);
	return NULL;
}

static struct kublk_thread *offload_thread_of(struct kublk_dev *dev,
					      unsigned int q_id, unsigned int tag)
{
	return &dev->offload[(q_id * dev->info.queue_depth + tag) % dev->nr_offload];
}

/* the slot's index among those of its offload thread: its buffer table entry */
unsigned int kublk_offload_index(const struct kublk_dev *dev, unsigned int q_id,
				 unsigned int tag)
{
	return (q_id * dev->info.queue_depth + tag) / dev->nr_offload;
}

/* server thread: have slot (q, tag)'s request served by its offload thread */
void kublk_offload_submit(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	q->ios[tag].flags |= KUBLK_IO_OFFLOADED;
	kublk_push(t, offload_thread_of(q->dev, q->q_id, tag), q->q_id, tag, 0);
}

/* offload thread: serve what the server threads handed over */
void kublk_offload_drain(struct kublk_thread *t)
{
	struct kublk_dev *dev = t->dev;
	struct kublk_mpq_ent e;

	while (kublk_inbox_pop(t, &e))
		kublk_start_io(t, &dev->queues[e.q_id], e.tag);
}

int kublk_offload_start(struct kublk_dev *dev)
{
	unsigned int total = dev->info.nr_hw_queues * dev->info.queue_depth;
	int i, ret;

	sem_init(&dev->ready, 0, 0);
	for (i = 0; i < dev->nr_offload; i++) {
		struct kublk_thread *t = &dev->offload[i];

		t->dev = dev;
		t->idx = i;
		t->offload = true;
		t->evfd = -1;
		/* the slots that map to this thread, rounded up */
		t->nr_ios = (total + dev->nr_offload - 1) / dev->nr_offload;
		ret = kublk_inbox_init(t, t->nr_ios);
		if (ret)
			return ret;
	}
	for (i = 0; i < dev->nr_offload; i++) {
		struct kublk_thread *t = &dev->offload[i];

		ret = pthread_create(&t->tid, NULL, offload_thread_fn, t);
		if (ret) {
			kublk_err("creating offload thread %d: %s", i, strerror(ret));
			return -ret;
		}
		t->started = true;
	}
	for (i = 0; i < dev->nr_offload; i++)
		if (dev->offload[i].started)
			sem_wait(&dev->ready);
	for (i = 0; i < dev->nr_offload; i++)
		if (dev->offload[i].fetch_err)
			return dev->offload[i].fetch_err;
	return 0;
}

void kublk_offload_stop(struct kublk_dev *dev)
{
	__u64 one = 1;
	int i;

	for (i = 0; i < dev->nr_offload; i++) {
		struct kublk_thread *t = &dev->offload[i];

		if (!t->started)
			continue;
		__atomic_store_n(&t->need_exit, true, __ATOMIC_RELEASE);
		if (write(t->evfd, &one, sizeof(one)) != sizeof(one))
			kublk_err("offload thread %d: eventfd write: %m", i);
	}
	for (i = 0; i < dev->nr_offload; i++) {
		struct kublk_thread *t = &dev->offload[i];

		if (t->started)
			pthread_join(t->tid, NULL);
		t->started = false;
		kublk_inbox_exit(t);
	}
}
