/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kublk: a ublk server for the selftests.
 *
 * The core (kublk.c: command line and device life cycle; ctrl.c: control
 * commands; io.c: server threads and the io command loop; offload.c:
 * offload threads) serves /dev/ublkbN through /dev/ublkcN and hands every
 * request to a target, one file each (tgt_null.c, tgt_loop.c,
 * tgt_stripe.c, tgt_fault_inject.c).
 *
 * Threads.  A server thread owns a set of io slots (queue, tag) and an
 * io_uring on which it issues their FETCH / COMMIT_AND_FETCH / NEED_GET_DATA
 * commands and, unless offloading, the targets' backing IO.  By default
 * there is one server thread per queue (all 6.12 drivers require that: a
 * queue's commands must come from one task); with --nthreads and a driver
 * reporting UBLK_F_PER_IO_DAEMON the slots are spread over the threads;
 * --per_io_tasks spreads the tags of each queue over them (tag t of every
 * queue goes to thread t mod n), so that one queue is served by several
 * tasks whatever the thread count.
 * With --offload N, N offload threads run the targets on their own rings;
 * server threads only fetch, copy and commit.
 *
 * Data.  Without zero copy, targets see the request's data in the slot's
 * server buffer (struct kublk_io.buf): in copy mode the driver copies it
 * there, with NEED_GET_DATA the driver asks for the buffer first, and
 * with USER_COPY the core moves it with pread()/pwrite() on /dev/ublkcN.
 *
 * Zero copy (-z, --auto_zc; zc.c).  Slots have no server buffer: the
 * request's own pages sit in the fixed buffer table of the ring that does
 * the backing IO, at index kublk_io.zc_index, and targets read and write
 * them with READ_FIXED / WRITE_FIXED (addr = byte offset in the request).
 * With -z the core registers them (UBLK_U_IO_REGISTER_IO_BUF) before the
 * target sees the request and unregisters them when the target completes
 * it, before the commit; with --auto_zc the driver registers them at the
 * slot's index when it delivers the request and unregisters them at the
 * commit.  Every server thread's ring has a sparse table with one entry
 * per slot it owns (kublk_io.buf_index: the tag, with one thread per
 * queue); offload threads (-z only, UBLK_F_BUF_REG_OFF_DAEMON) register
 * in their own rings, at the slot's index among theirs.
 *
 * Batch mode (-b, UBLK_F_BATCH_IO; batch.c).  Slots belong to no thread:
 * a queue's tags are prepared once (PREP_IO_CMDS), every thread serving
 * the queue keeps one multishot FETCH_IO_CMDS armed on its ring, each of
 * whose CQEs hands it a buffer of new tags, and the results a thread
 * gathers in one pass of its loop go back in one COMMIT_IO_CMDS per
 * queue.  --nthreads N gives N threads in all, thread i serving queue
 * i mod nr_queues (fewer threads than queues: thread i serves the queues
 * q with q mod N = i).  kublk_io.t is then the thread serving the
 * current request, and every thread's buffer table has one entry per
 * tag of each queue it serves, so that any of them can take any tag.
 * With UBLK_F_BATCH_PRIO the fetch commands carry a priority (--prio),
 * which --balance moves with the thread's load.
 *
 * Polled mode (--iopoll, UBLK_F_IOPOLL; io.c).  One thread per queue, whose
 * ring is an IORING_SETUP_IOPOLL one: the driver hands it requests from
 * the ring's poll loop, and the same ring polls the backing I/O (files
 * opened O_DIRECT, checked to be pollable when they are opened).  Such a
 * ring takes no timeout, eventfd read, FSYNC or FALLOCATE, so the
 * targets and options that need them are refused, and FLUSH, DISCARD
 * and WRITE_ZEROES run as system calls whose results a NOP carries
 * (KUBLK_UD_SYNC).  An idle thread sleeps in read() on its eventfd after
 * UBLK_U_IO_IOPOLL_SLEEP armed it.
 */
#ifndef KUBLK_H
#define KUBLK_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>
#include <linux/ublk_cmd.h>
#include "liburing_compat.h"

#define KUBLK_MAX_QUEUES	32
#define KUBLK_MAX_THREADS	64
#define KUBLK_MAX_FILES		4
#define KUBLK_DEF_DEPTH		128
#define KUBLK_MAX_DEPTH		1024
#define KUBLK_DEF_MAX_IO	(512 << 10)
#define KUBLK_CTRL_DEV		"/dev/ublk-control"
#define KUBLK_DEF_RUN_DIR	"/run/kublk"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define round_up(x, a)		({ __typeof__(a) __a = (a); (((x) + __a - 1) / __a) * __a; })

/*
 * io_uring user_data of everything a server or offload thread issues:
 *
 *   bits  0-15  tag
 *   bits 16-23  op: _IOC_NR of a ublk io command, a KUBLK_EV_* event,
 *               or (target IO) the target's own operation code
 *   bits 24-39  target data (e.g. which backing file)
 *   bits 40-51  queue id
 *   bits 52-61  KUBLK_UD_SYNC: -errno of the system call
 *   bit     62  KUBLK_UD_SYNC: a NOP standing for a backing IO that was
 *               done as a system call (IOPOLL rings cannot carry it);
 *               its result is in bits 52-61, not in the CQE
 *   bit     63  target IO: the CQE goes to the target's ->io_done()
 */
#define KUBLK_UD_TGT		(1ULL << 63)
#define KUBLK_UD_SYNC		(1ULL << 62)
#define KUBLK_UD_SYNC_SHIFT	52
#define KUBLK_UD_SYNC_MAX	0x3ff
#define KUBLK_EV_NOTIFY		0xf0	/* offload eventfd read */
#define KUBLK_EV_ZC_REG		0xf1	/* UBLK_U_IO_REGISTER_IO_BUF */
#define KUBLK_EV_ZC_UNREG	0xf2	/* UBLK_U_IO_UNREGISTER_IO_BUF */
#define KUBLK_EV_SLEEP		0xf3	/* UBLK_U_IO_IOPOLL_SLEEP */
/*
 * Batch commands have their own _IOC_NR as op (PREP 0x25, COMMIT 0x26,
 * FETCH 0x27, UPDATE_CMD_PRIO 0xff); for PREP and COMMIT the tag field
 * is the index of the element buffer in the thread's pool (batch.c).
 */

static inline __u64 kublk_ud(unsigned int q_id, unsigned int tag, unsigned int op,
			     unsigned int tgt_data, bool tgt)
{
	return (__u64)tag | ((__u64)(op & 0xff) << 16) |
	       ((__u64)(tgt_data & 0xffff) << 24) | ((__u64)(q_id & 0xfff) << 40) |
	       (tgt ? KUBLK_UD_TGT : 0);
}

static inline unsigned int ud_tag(__u64 ud) { return ud & 0xffff; }
static inline unsigned int ud_op(__u64 ud) { return (ud >> 16) & 0xff; }
static inline unsigned int ud_tgt_data(__u64 ud) { return (ud >> 24) & 0xffff; }
static inline unsigned int ud_q_id(__u64 ud) { return (ud >> 40) & 0xfff; }
static inline bool ud_is_tgt(__u64 ud) { return ud & KUBLK_UD_TGT; }

struct kublk_dev;
struct kublk_thread;

/*
 * One io slot.  Only its owning server thread touches it, except that
 * while an offload thread runs the target for it (KUBLK_IO_OFFLOADED)
 * the target fields belong to that thread.
 */
struct kublk_io {
	void *buf;			/* server buffer, max_io bytes */
	unsigned int flags;
#define KUBLK_IO_IN_KERNEL	(1U << 0)	/* a command of ours is in the driver */
#define KUBLK_IO_IN_SERVER	(1U << 1)	/* a request is being served */
#define KUBLK_IO_OFFLOADED	(1U << 2)	/* ... by an offload thread */
#define KUBLK_IO_DONE		(1U << 3)	/* aborted: no more commands */
#define KUBLK_IO_ZC		(1U << 4)	/* data in fixed buffer zc_index */
#define KUBLK_IO_ZC_REG		(1U << 5)	/* ... registered by us: unregister */
	struct kublk_thread *t;		/* the server thread owning the slot */
	unsigned int buf_index;		/* index in t's buffer table (zero copy) */
	unsigned int zc_index;		/* where the request's buffer is now */
	int zc_res;			/* the target's result, while unregistering */

	/* for the target while it serves a request */
	int tgt_pending;		/* backing IOs not completed yet */
	int tgt_res;			/* result gathered so far */
	unsigned int tgt_state;		/* target's own per-request state */
	struct __kernel_timespec ts;	/* for a target's IORING_OP_TIMEOUT */
	void *tgt_priv;			/* target's per-slot memory */
};

struct kublk_queue {
	int q_id;
	int depth;
	struct kublk_dev *dev;
	const void *iods;		/* mmapped, read-only */
	size_t iods_len;
	unsigned int iod_size;		/* bytes per descriptor */
	struct kublk_io *ios;

	/* batch mode */
	int nr_servers;			/* threads serving the queue */
	bool prepared;			/* PREP_IO_CMDS done, under dev->batch_lock */
	int prep_res;			/* ... and its result */
};

/* a bounded multi-producer queue of (queue, tag, result) */
struct kublk_mpq_ent {
	__u16 q_id;
	__u16 tag;
	__s32 res;
};

struct kublk_mpq {
	pthread_mutex_t lock;
	unsigned int head, tail, mask;	/* under lock */
	struct kublk_mpq_ent *ents;
};

/* batch mode: an element array of a PREP or COMMIT in flight, or being filled */
struct kublk_batch_buf {
	void *elems;			/* depth elements */
	unsigned int nr;		/* ... sent */
	bool busy;
};

/* batch mode: what a server thread keeps for one queue it serves */
struct kublk_batch_q {
	struct kublk_queue *q;
	struct kublk_buf_ring fetch_br;	/* where FETCH_IO_CMDS writes tags */
	__u64 fetch_ud;			/* user_data of our fetch command */
	bool fetch_armed;
	bool fetch_over;		/* ended for good (abort, error) */
	int fetch_errs;			/* failures in a row */
	bool prep_pending;		/* our PREP_IO_CMDS is in flight */
	int prep_res;
	unsigned int prio;		/* level of the fetch (BATCH_PRIO) */
	unsigned int base_prio;		/* --prio, or the driver's default */
	unsigned int inflight;		/* requests received, not committed */
	unsigned int threshold;		/* --balance: lower prio above this */
	bool rose;			/* inflight went above it this pass */
	int commit_buf;			/* buffer being filled, -1: none */
	unsigned int nr_commit;		/* ... elements in it */
};

struct kublk_thread {
	struct kublk_dev *dev;
	int idx;
	bool offload;			/* an offload thread, no slots */
	bool started;
	pthread_t tid;
	struct io_uring ring;
	bool ring_ok;
	unsigned int ring_depth;
	void *zc_dummy;			/* --auto_zc_force_fallback's user buffer */

	int nr_ios;			/* slots owned (server threads) */
	int nr_done;			/* ... that were aborted */
	int cmd_inflight;		/* ublk io commands in the driver */
	int tgt_inflight;		/* target IOs on this ring */
	int fetch_err;			/* first failed FETCH, errno */

	/*
	 * Offload plumbing (server threads with --offload, and offload
	 * threads): others push to inbox and write evfd, which this
	 * thread's ring reads with READ_MULTISHOT.
	 */
	int evfd;
	struct kublk_mpq inbox;
	struct kublk_buf_ring evbr;
	bool ev_armed;
	bool need_exit;			/* offload threads: told to stop */
	/* threads this one pushed to since it last notified them */
	struct kublk_thread *notify[KUBLK_MAX_THREADS];
	int nr_notify;

	/* batch mode (server threads) */
	struct kublk_batch_q *bq;	/* the queues served, ascending q_id */
	int nr_bq;
	struct kublk_batch_buf *bbufs;	/* pool of element arrays */
	int nr_bbufs;
	unsigned int nr_owned;		/* requests received, not committed */
	bool serving;			/* start-up is over */
	unsigned long batch_reqs, batch_fetches;	/* tags, fetch CQEs */
	unsigned long prio_down, prio_up, prio_fail;	/* --balance */

	/* polled mode (server threads) */
	int sleep_fd;			/* eventfd the driver signals, -1: none */
	bool sleep_pending;		/* our IOPOLL_SLEEP has no CQE yet */
	bool sleep_armed;		/* ... it had, with res 0 */
	int sleep_err;			/* last failure of IOPOLL_SLEEP */
	unsigned long long last_cqe_ns;	/* CLOCK_MONOTONIC of the last CQE */
	unsigned long sleeps, sleep_eagain;	/* how often it slept, was refused */
};

enum kublk_hook {
	KUBLK_HOOK_FETCH,	/* a server thread is about to issue fetch n */
	KUBLK_HOOK_FETCHED,	/* all threads issued their fetches */
};

struct kublk_tgt_ops {
	const char *name;
	const char *usage;		/* help text for the target's arguments */
	const struct option *opts;	/* its own long options (may be NULL) */
	/* an option of ->opts, or a positional argument (opt == 0) */
	int (*parse_opt)(struct kublk_dev *dev, int opt, const char *arg);
	/* open backing files, set dev->size and the parameters */
	int (*init)(struct kublk_dev *dev);
	void (*deinit)(struct kublk_dev *dev);
	/* most SQEs one request needs on a ring */
	int (*sqes_per_io)(const struct kublk_dev *dev);
	/* optional: bytes of per-slot memory the core allocates (tgt_priv) */
	size_t (*io_priv_size)(const struct kublk_dev *dev);
	/*
	 * Serve the request of (q, tag) on thread t's ring.  Returns a
	 * result to complete it at once (bytes, or -errno), or
	 * KUBLK_QUEUED when the target completes it later with
	 * kublk_complete_io().
	 */
	int (*queue_io)(struct kublk_thread *t, struct kublk_queue *q, int tag);
	/* a CQE of the target's IO */
	void (*io_done)(struct kublk_thread *t, struct kublk_queue *q, int tag,
			const struct io_uring_cqe *cqe);
	/* optional: called at the points of enum kublk_hook */
	void (*hook)(struct kublk_thread *t, enum kublk_hook h, int n);
	/* optional: extra words for "kublk list" (target=... is printed) */
	void (*describe)(const struct kublk_dev *dev, FILE *f);
};

#define KUBLK_QUEUED	1000000

struct kublk_dev {
	/* what the user asked for */
	const struct kublk_tgt_ops *tgt;
	int dev_id;			/* -1: any */
	unsigned int nr_queues;
	unsigned int depth;
	unsigned int max_io;
	__u64 flags;			/* UBLK_F_* requested */
	unsigned long long size;	/* -s, for targets without files */
	unsigned int lbs, pbs;		/* block sizes, bytes */
	bool rotational, read_only;
	int nthreads;			/* 0: one per queue */
	bool per_io_tasks;		/* tag t of every queue: thread t % n */
	unsigned int io_desc_size;	/* --io_desc_size, 0: the driver's */
	int compat;			/* --compat: KUBLK_COMPAT_* */
	int nr_offload;
	bool foreground;
	bool recovering;		/* started by "kublk recover" */
	const char *log;

	bool zero_copy, auto_zc;	/* -z, --auto_zc */
	bool auto_zc_fallback;		/* --auto_zc_fallback */
	/* test-only: every auto registration fails; no UNREGISTER_IO_BUF */
	bool auto_zc_force_fallback, zc_no_unregister;

	bool batch;			/* -b: UBLK_F_BATCH_IO */
	int prio;			/* --prio N: N + 1, 0 if not given */
	bool balance;			/* --balance */
	bool iopoll;			/* --iopoll: UBLK_F_IOPOLL */

	/* the target */
	int nr_files;
	char *files[KUBLK_MAX_FILES];
	int fds[KUBLK_MAX_FILES];
	bool direct;			/* backing files opened O_DIRECT */
	void *tgt_data;

	/* the device */
	struct ublksrv_ctrl_dev_info info;	/* as the driver returned it */
	struct ublk_params params;
	__u64 features;			/* GET_FEATURES */
	int cdev_fd;
	struct kublk_queue queues[KUBLK_MAX_QUEUES];
	struct kublk_thread threads[KUBLK_MAX_THREADS];
	int nr_threads;
	struct kublk_thread offload[KUBLK_MAX_THREADS];

	/* threads -> main thread */
	sem_t ready;			/* posted once per server thread */
	/* batch mode: a queue's first thread publishes its PREP result */
	pthread_mutex_t batch_lock;
	pthread_cond_t batch_cond;
	int threads_running;		/* atomic */
	pthread_t main_tid;

	/* saved arguments of "add", for "recover" and "list" */
	int argc;
	char **argv;
};

/*
 * --compat SERVER: send the parameters another ublk server sends, field
 * for field, so that the compatibility tests see what it would see.
 */
enum {
	KUBLK_COMPAT_NONE,
	KUBLK_COMPAT_UBLKSRV,	/* ublksrv 1.6's null and loop targets */
	KUBLK_COMPAT_KUBLK,	/* mainline kublk's null and loop targets */
	KUBLK_COMPAT_NVME,	/* an NVMe-like server: PRP virtual boundary */
};

/* targets */
extern const struct kublk_tgt_ops tgt_null_ops;
extern const struct kublk_tgt_ops tgt_loop_ops;
extern const struct kublk_tgt_ops tgt_stripe_ops;
extern const struct kublk_tgt_ops tgt_fault_inject_ops;

/* kublk.c */
void kublk_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kublk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kublk_parse_size(const char *s, unsigned long long *out);
int kublk_parse_uint(const char *s, unsigned int *out);

/* ctrl.c: control commands; return 0 / bytes or -errno */
int kublk_ctrl_cmd(__u32 cmd_op, __u32 dev_id, void *buf, __u16 len, __u64 data);
int kublk_get_features(__u64 *features);
int kublk_get_info(int dev_id, struct ublksrv_ctrl_dev_info *info);
int kublk_get_params(int dev_id, struct ublk_params *p);
const char *kublk_feature_name(int bit);
const char *kublk_state_name(int state);
void kublk_print_flags(FILE *f, __u64 flags);

/* io.c */
static inline bool kublk_dev_batch(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_BATCH_IO;
}

static inline bool kublk_dev_iopoll(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_IOPOLL;
}

static inline bool kublk_dev_user_copy(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_USER_COPY;
}

int kublk_start_threads(struct kublk_dev *dev);
void kublk_join_threads(struct kublk_dev *dev);
struct io_uring_sqe *kublk_slot_cmd(struct kublk_thread *t,
				    const struct kublk_queue *q, int tag,
				    __u32 cmd_op, int result, __u64 addr);
/* have the target serve the request of (q, tag) on t (zero copy first) */
void kublk_start_io(struct kublk_thread *t, struct kublk_queue *q, int tag);
/* ... the target part: ->queue_io(), completing at once if it is done */
void kublk_serve_io(struct kublk_thread *t, struct kublk_queue *q, int tag);
/* target: the request of (q, tag) is done with @res (bytes or -errno) */
void kublk_complete_io(struct kublk_thread *t, struct kublk_queue *q, int tag, int res);
/* target: an SQE for its IO on t's ring (user_data: kublk_ud(..., true)) */
struct io_uring_sqe *kublk_tgt_sqe(struct kublk_thread *t);
struct io_uring_sqe *kublk_get_sqe(struct kublk_thread *t);
void kublk_handle_cqe(struct kublk_thread *t, const struct io_uring_cqe *cqe);
/* a request arrived in slot (q, tag): serve it on t */
void kublk_dispatch_io(struct kublk_thread *t, struct kublk_queue *q, int tag);
/* handle the CQEs there are, without waiting */
void kublk_handle_ready(struct kublk_thread *t);
bool kublk_reap(struct kublk_thread *t);
int kublk_thread_ring_init(struct kublk_thread *t, unsigned int entries);
int kublk_inbox_init(struct kublk_thread *t, unsigned int nr_ents);
void kublk_inbox_exit(struct kublk_thread *t);
bool kublk_inbox_pop(struct kublk_thread *t, struct kublk_mpq_ent *out);
int kublk_notify_start(struct kublk_thread *t);
int kublk_arm_notify(struct kublk_thread *t);
void kublk_push(struct kublk_thread *from, struct kublk_thread *to,
		unsigned int q_id, unsigned int tag, int res);
void kublk_notify_all(struct kublk_thread *t);
void kublk_commit_io(struct kublk_thread *t, struct kublk_queue *q, int tag, int res);

static inline const struct ublksrv_io_desc *kublk_iod(const struct kublk_queue *q, int tag)
{
	return (const struct ublksrv_io_desc *)((const char *)q->iods +
						 (size_t)tag * q->iod_size);
}

/* zc.c: zero copy */
static inline bool kublk_dev_zc(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_SUPPORT_ZERO_COPY;
}

static inline bool kublk_dev_auto_zc(const struct kublk_dev *dev)
{
	return dev->info.flags & UBLK_F_AUTO_BUF_REG;
}

/* the request's pages, not a server buffer, carry the data */
static inline bool kublk_dev_any_zc(const struct kublk_dev *dev)
{
	return kublk_dev_zc(dev) || kublk_dev_auto_zc(dev);
}

int kublk_zc_table_init(struct kublk_thread *t);
void kublk_zc_table_exit(struct kublk_thread *t);
__u64 kublk_zc_auto_reg(const struct kublk_thread *t, const struct kublk_io *io);
unsigned int kublk_zc_auto_index(const struct kublk_thread *t, const struct kublk_io *io);
bool kublk_zc_begin(struct kublk_thread *t, struct kublk_queue *q, int tag);
bool kublk_zc_end(struct kublk_thread *t, struct kublk_queue *q, int tag, int res);
void kublk_zc_cqe(struct kublk_thread *t, struct kublk_queue *q, int tag,
		  const struct io_uring_cqe *cqe);

static inline bool kublk_rq_has_data(const struct ublksrv_io_desc *iod)
{
	unsigned int op = ublksrv_get_op(iod);

	return op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE;
}

/* batch.c: UBLK_F_BATCH_IO */
int kublk_batch_place(struct kublk_dev *dev);
unsigned int kublk_batch_ring_extra(const struct kublk_thread *t);
int kublk_batch_start(struct kublk_thread *t);
void kublk_batch_fail(struct kublk_thread *t, int err);
bool kublk_batch_busy(const struct kublk_thread *t);
void kublk_batch_exit(struct kublk_thread *t);
void kublk_batch_commit(struct kublk_thread *t, struct kublk_queue *q, int tag, int res);
void kublk_batch_cqe(struct kublk_thread *t, const struct io_uring_cqe *cqe);
void kublk_batch_flush(struct kublk_thread *t);

static inline bool kublk_is_batch_op(unsigned int op)
{
	return op == _IOC_NR(UBLK_U_IO_PREP_IO_CMDS) ||
	       op == _IOC_NR(UBLK_U_IO_COMMIT_IO_CMDS) ||
	       op == _IOC_NR(UBLK_U_IO_FETCH_IO_CMDS) ||
	       op == _IOC_NR(UBLK_U_IO_UPDATE_CMD_PRIO);
}

/* offload.c */
unsigned int kublk_offload_index(const struct kublk_dev *dev, unsigned int q_id,
				 unsigned int tag);
int kublk_offload_start(struct kublk_dev *dev);
void kublk_offload_stop(struct kublk_dev *dev);
void kublk_offload_submit(struct kublk_thread *t, struct kublk_queue *q, int tag);
void kublk_offload_drain(struct kublk_thread *t);

/* backing.c: helpers for targets with backing files */
int kublk_backing_open(struct kublk_dev *dev, int i, unsigned long long *size);
void kublk_backing_close(struct kublk_dev *dev);
/*
 * prepare one IO on backing file i (fixed file i + 1), on the bytes from
 * @buf_off of the request's data (its server buffer, or with zero copy
 * its registered pages)
 */
void kublk_backing_prep(struct kublk_thread *t, struct kublk_queue *q, int tag,
			int file, unsigned int op, unsigned int buf_off, unsigned int len,
			unsigned long long off, unsigned int tgt_data);
void kublk_backing_set_params(struct kublk_dev *dev);
void kublk_set_discard(struct kublk_dev *dev);
int kublk_null_result(const struct kublk_queue *q, int tag);
int kublk_backing_queue_io(struct kublk_thread *t, struct kublk_queue *q, int tag);
int kublk_prep_timeout(struct kublk_thread *t, struct kublk_queue *q, int tag,
		       unsigned int op, struct __kernel_timespec *ts);
void kublk_set_ts(struct __kernel_timespec *ts, unsigned long long us);
/* size of the data of the request in slot (q, tag), bytes */
static inline unsigned int kublk_io_len(const struct kublk_queue *q, int tag)
{
	return kublk_iod(q, tag)->nr_sectors << 9;
}

static inline unsigned long long kublk_io_off(const struct kublk_queue *q, int tag)
{
	return kublk_iod(q, tag)->start_sector << 9;
}

#endif
