/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ublk: userspace block device - internal interfaces.
 *
 * A ublk device is a pair of a block device, /dev/ublkbN, and a char
 * device, /dev/ublkcN, that a userspace server opens to serve it.  The
 * server owns one io_uring command (uring_cmd) per I/O slot (queue,
 * tag); a block request for a slot completes that command, the server
 * handles the request and returns its result with the next command for
 * the slot (COMMIT_AND_FETCH_REQ).
 *
 * Files:
 *   main.c      module, control misc device, device numbers, device
 *               allocation and lifetime
 *   ctrl.c      control commands on /dev/ublk-control
 *   params.c    device parameters and block queue limits
 *   rq.c        blk-mq side: queue_rq/queue_rqs, descriptors, request
 *               completion and data copies
 *   io.c        I/O commands on /dev/ublkcN and their delivery to the
 *               server (task work), stage 1 of server exit
 *   cdev.c      /dev/ublkcN file operations: open, release (stage 2 of
 *               server exit), mmap, user copy
 *   lifecycle.c device and server state machines: start, stop, cancel,
 *               recovery
 *   zoned.c     zoned devices (CONFIG_BLK_DEV_ZONED)
 *   buf.c       zero copy: request buffers in the server's io_uring
 *               buffer table (needs the kernel's io_buffer_register_bvec())
 *   batch.c     UBLK_F_BATCH_IO: slots without commands, requests handed
 *               over in batches by multishot fetch commands kept in
 *               priority lists (needs multishot uring_cmd)
 *   iopoll.c    UBLK_F_IOPOLL: queues served from an IORING_SETUP_IOPOLL
 *               ring, requests handed over by its poll loop (needs
 *               patches/base 0006)
 *   trace.h     tracepoints (TRACE_SYSTEM ublk), instantiated in trace.c
 *
 * Lock order (outermost first); each lock's users are listed where the
 * protected field is declared:
 *
 *   ub->mutex > io_uring ctx->uring_lock
 *             > ub->cancel_mutex > ubq->cancel_lock
 *
 * ublk_ctl_mutex (main.c) is taken alone, with only ublk_idr_lock
 * inside it.
 *
 * io_uring calls the I/O command handlers, the task work that delivers
 * requests, and the cancel callback with the ring's uring_lock held.
 * None of them may take ub->mutex: a thread holding ub->mutex may wait
 * for I/O (del_gendisk()) or complete commands (which takes uring_lock),
 * and either needs those paths to make progress.  They may take
 * ub->cancel_mutex, whose holders never wait for I/O or commands.
 */
#ifndef _UBLK_H
#define _UBLK_H

#include <linux/blk-mq.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/io_uring/cmd.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/ublk_cmd.h>

#define UBLK_MINORS		BIT(MINORBITS)
#define UBLK_MAX_UBLKS		UBLK_MINORS

/* the largest request a slot's buffer may hold: what user copy can address */
#define UBLK_MAX_IO_BUF_BYTES	BIT(UBLK_IO_BUF_BITS)

/*
 * Zero copy needs io_uring to hold a request's pages in a ring's buffer
 * table: io_buffer_register_bvec(), in mainline since 6.15 and in 6.12
 * with this project's patches/base.  The Makefile defines UBLK_HAVE_KBUF
 * when the kernel's <linux/io_uring/cmd.h> declares it.
 */
#ifdef UBLK_HAVE_KBUF
#define UBLK_F_ZC_ALL		(UBLK_F_SUPPORT_ZERO_COPY |		\
				 UBLK_F_AUTO_BUF_REG |			\
				 UBLK_F_BUF_REG_OFF_DAEMON)
#define UBLK_F_ZC_ALWAYS	UBLK_F_BUF_REG_OFF_DAEMON
#else
#define UBLK_F_ZC_ALL		0
#define UBLK_F_ZC_ALWAYS	0
#endif

/*
 * Batched delivery needs multishot uring_cmds with provided buffers
 * (mainline 6.18, or 6.12 with this project's patches/base); the
 * Makefile defines UBLK_HAVE_MSHOT when the kernel has them.
 */
#ifdef UBLK_HAVE_MSHOT
#define UBLK_F_BATCH_ALL	(UBLK_F_BATCH_IO | UBLK_F_BATCH_PRIO)
#else
#define UBLK_F_BATCH_ALL	0
#endif

/*
 * Serving a queue from an IOPOLL ring needs ->uring_cmd_iopoll() to be
 * able to complete any command of the ring, and a dying ring to cancel
 * its commands before it waits for its polled requests (patches/base
 * 0006), and the ring handle; the Makefile defines UBLK_HAVE_IOPOLL.
 */
#ifdef UBLK_HAVE_IOPOLL
#define UBLK_F_IOPOLL_ALL	UBLK_F_IOPOLL
#else
#define UBLK_F_IOPOLL_ALL	0
#endif

/*
 * The features this driver implements.  UBLK_U_CMD_GET_FEATURES reports
 * exactly these; ADD_DEV drops every other bit from the flags it
 * returns.
 */
#define UBLK_F_SUPPORTED	(UBLK_F_URING_CMD_COMP_IN_TASK |	\
				 UBLK_F_NEED_GET_DATA |			\
				 UBLK_F_USER_RECOVERY |			\
				 UBLK_F_USER_RECOVERY_REISSUE |		\
				 UBLK_F_UNPRIVILEGED_DEV |		\
				 UBLK_F_CMD_IOCTL_ENCODE |		\
				 UBLK_F_USER_COPY |			\
				 (IS_ENABLED(CONFIG_BLK_DEV_ZONED) ?	\
				  UBLK_F_ZONED : 0) |			\
				 UBLK_F_USER_RECOVERY_FAIL_IO |		\
				 UBLK_F_UPDATE_SIZE |			\
				 UBLK_F_QUIESCE |			\
				 UBLK_F_PER_IO_DAEMON |			\
				 UBLK_F_SAFE_STOP_DEV |			\
				 UBLK_F_NO_AUTO_PART_SCAN |		\
				 UBLK_F_IO_DESC_SIZE |			\
				 UBLK_F_ZC_ALL |			\
				 UBLK_F_BATCH_ALL |			\
				 UBLK_F_IOPOLL_ALL)

/*
 * This driver's own features (bits from 63 down, see ublk_cmd.h).  They
 * are not in GET_FEATURES, which lists mainline's features only, so that
 * a mainline server (and mainline's own check that it knows every
 * reported bit) sees exactly mainline's set.  ADD_DEV grants them to a
 * server that asks, like any feature, and the read-only module parameter
 * ext_features lists them.
 */
#define UBLK_F_EXTENSIONS	(UBLK_F_SUPPORTED &			\
				 (UBLK_F_BATCH_PRIO | UBLK_F_IOPOLL))

/* UBLK_F_IO_DESC_SIZE: the sizes a server may choose for a descriptor */
#define UBLK_IO_DESC_SIZE_MIN	sizeof(struct ublksrv_io_desc)
#define UBLK_IO_DESC_SIZE_MAX	256
#define UBLK_IO_DESC_SIZE_ALIGN	__alignof__(struct ublksrv_io_desc)

/* set on every device, whatever the server asked for */
#define UBLK_F_ALWAYS		(UBLK_F_URING_CMD_COMP_IN_TASK |	\
				 UBLK_F_CMD_IOCTL_ENCODE |		\
				 UBLK_F_PER_IO_DAEMON |			\
				 UBLK_F_SAFE_STOP_DEV |			\
				 UBLK_F_ZC_ALWAYS)

/* the parameter types the ABI defines, and the ones SET_PARAMS accepts */
#define UBLK_PARAM_TYPE_DEFINED	GENMASK(6, 0)
#define UBLK_PARAM_TYPE_SUPPORTED (UBLK_PARAM_TYPE_BASIC |		\
				   UBLK_PARAM_TYPE_DISCARD |		\
				   UBLK_PARAM_TYPE_ZONED |		\
				   UBLK_PARAM_TYPE_DMA_ALIGN |		\
				   UBLK_PARAM_TYPE_SEGMENT)

/*
 * Per-slot state.
 *
 * A slot is in one of these states (ublk_io.flags):
 *
 *   idle     (0)           no command, no request: before FETCH_REQ
 *   ACTIVE                 the driver holds the server's command @cmd,
 *                          waiting for a request.  @req != NULL means
 *                          the slot is still busy with a request: one
 *                          handed to the slot's task for delivery (task
 *                          work queued on @cmd), or, with user copy, a
 *                          committed one that copiers still reference.
 *   OWNED_BY_SRV           the server holds request @req; @cmd is NULL.
 *                          With NEED_GET_DATA, the server must first
 *                          send UBLK_U_IO_NEED_GET_DATA.
 *   CANCELED               the command was completed with
 *                          UBLK_IO_RES_ABORT; the slot stays unusable
 *                          until the server closes /dev/ublkcN.
 *   ACTIVE|HELD            (devices that take slot references, see
 *                          @ref) the server committed @req and armed
 *                          the slot with its next command, but a copier
 *                          or a registered buffer still holds @req; the
 *                          last of them completes it and clears HELD.
 *                          The command may be cancelled meanwhile
 *                          (CANCELED, @req still set until then).
 *   AUTO_REG               (with OWNED_BY_SRV) UBLK_F_AUTO_BUF_REG put
 *                          @req's buffer into the ring of @buf_ctx at
 *                          @buf_index; the commit takes it out again.
 *
 * With UBLK_F_BATCH_IO slots hold no command (@cmd stays NULL, @task
 * too): PREP_IO_CMDS makes them ACTIVE, delivery OWNED_BY_SRV,
 * COMMIT_IO_CMDS ACTIVE again; see batch.c, which also says who writes
 * what there.
 *
 *   idle --FETCH_REQ--> ACTIVE --request delivered--> OWNED_BY_SRV
 *   OWNED_BY_SRV --COMMIT_AND_FETCH_REQ--> ACTIVE
 *   ACTIVE --cancel (server exit, STOP_DEV)--> CANCELED
 *   OWNED_BY_SRV --server closed /dev/ublkcN--> request failed or
 *                  requeued, slot reset to idle
 *
 * Who writes what:
 *  - The slot's task (@task, the task that fetched it) moves the slot
 *    between ACTIVE and OWNED_BY_SRV, in its command handlers and its
 *    task work, under its ring's uring_lock.  These are the fast paths
 *    and take no lock of ours.
 *  - ublk_queue_rq()/ublk_queue_rqs() write @req of an ACTIVE slot
 *    (WRITE_ONCE: user copy reads it from other threads).  The slot's
 *    tag was free, so nothing else writes the slot at that time.
 *  - Cancel paths move ACTIVE slots without a pending request to
 *    CANCELED under ubq->cancel_lock; they only do so once the queue
 *    no longer hands requests to slots (ubq->nosrv set, see below), so
 *    @req cannot change under them.  FETCH_REQ publishes ACTIVE under
 *    the same lock.
 *  - Stage 2 of server exit (release of /dev/ublkcN) runs when no
 *    command of the server is left and nobody can send one, so only
 *    STOP_DEV's cancel loop could look at the slots: failing the
 *    requests the server held takes ubq->cancel_lock against it, and
 *    the reset of every slot that follows holds ub->mutex, as the loop
 *    does.
 *  - With user copy or zero copy, a copier or a registered buffer holds
 *    a reference (@ref) on the slot, so @req stays; whoever drops the
 *    last one completes the request (ublk_put_io_ref()), and clears
 *    HELD and @req under ubq->cancel_lock, against the cancel paths'
 *    claim.
 */
#define UBLK_IO_FLAG_ACTIVE		0x01
#define UBLK_IO_FLAG_OWNED_BY_SRV	0x02
#define UBLK_IO_FLAG_NEED_GET_DATA	0x04
#define UBLK_IO_FLAG_CANCELED		0x08
#define UBLK_IO_FLAG_HELD		0x10
#define UBLK_IO_FLAG_AUTO_REG		0x20

struct ublk_io {
	/* the server's data buffer for this slot (copy mode), or 0 */
	u64			addr;
	unsigned int		flags;
	/* the result committed for @req */
	int			res;
	struct io_uring_cmd	*cmd;
	struct request		*req;
	/* the task that fetched this slot; all its commands come from it */
	struct task_struct	*task;
	/*
	 * UBLK_F_USER_COPY, UBLK_F_SUPPORT_ZERO_COPY, UBLK_F_AUTO_BUF_REG
	 * (ublk_q_takes_refs()): 1 while the server owns @req, plus one
	 * per pread()/pwrite() copying its data and one per io_uring
	 * buffer table entry holding its pages; @req completes when it
	 * drops to 0.  0 while the driver owns the slot.  It is the
	 * slot's, not the request's, so that a copier never touches a
	 * request it has no reference to.
	 */
	refcount_t		ref;
	/*
	 * UBLK_F_AUTO_BUF_REG, written by the slot's task: where the
	 * command the slot holds (its SQE's addr) wants the next request's
	 * buffer
	 * (@buf_index, UBLK_AUTO_BUF_REG_* @buf_flags), and, with
	 * UBLK_IO_FLAG_AUTO_REG, the ring (io_uring_cmd_ctx_handle()) the
	 * current request's buffer went into.
	 */
	u16			buf_index;
	u8			buf_flags;
	void			*buf_ctx;
} ____cacheline_aligned_in_smp;

/*
 * What a queue does with a request while it has no server to give it to
 * (ublk_queue.nosrv).
 */
enum {
	UBLK_NOSRV_NONE = 0,	/* a server is serving: deliver */
	UBLK_NOSRV_REQUEUE,	/* park it until a new server (recovery) */
	UBLK_NOSRV_FAIL,	/* fail it */
};

struct ublk_queue {
	/* read-mostly, used for every request */
	struct ublk_device	*dev;
	/*
	 * The descriptors the server maps read-only, one per tag, @iod_size
	 * (dev_info.io_desc_size) bytes apart; see ublk_iod().
	 */
	void			*iods;
	/* ub->dev_info.flags, fixed at ADD_DEV */
	u64			flags;
	u16			q_id;
	u16			q_depth;
	u16			iod_size;
	/*
	 * UBLK_NOSRV_*.  Written under ub->cancel_mutex with the blk-mq
	 * queue quiesced (or before the disk exists), so a queue_rq() run
	 * sees either the old or the new value for its whole duration.
	 */
	u8			nosrv;

	/* claims of ACTIVE slots by cancel paths, see struct ublk_io */
	spinlock_t		cancel_lock;

	/* UBLK_F_BATCH_IO: tags waiting, fetch commands (batch.c) */
	struct ublk_batch_queue	*batch;

	/*
	 * UBLK_F_IOPOLL (iopoll.c).  @poll_reqs: requests started for
	 * delivery, pushed by ->queue_rq(), taken by the poller or the
	 * cancel callback under the ring's lock.  @poll_ctx, @poll_task:
	 * the ring and task serving the queue, set by the server's first
	 * FETCH_REQ under @cancel_lock, cleared by stage 2 of server exit.
	 * @poll_sleeper: the eventfd of a poller that sleeps, exchanged
	 * with xchg() only.
	 */
	struct llist_head	poll_reqs;
	void			*poll_ctx;
	struct task_struct	*poll_task;
	struct eventfd_ctx	*poll_sleeper;

	struct ublk_io		ios[] __counted_by(q_depth);
};

/* ublk_device.state bits */
enum {
	/* a server has /dev/ublkcN open; set and cleared under cancel_mutex */
	UB_STATE_OPEN,
	/* DEL_DEV was issued: no more commands but GET_DEV_INFO(2) */
	UB_STATE_DELETED,
	/* a task without CAP_SYS_ADMIN fetched slots: no partition scan */
	UB_STATE_UNPRIV_SERVER,
	/*
	 * TRY_STOP_DEV found the disk unused and is deleting it: opens of
	 * the disk fail.  Set under the disk's open_mutex, cleared by
	 * START_DEV before the next disk exists.
	 */
	UB_STATE_NO_OPEN,
};

struct ublk_device {
	/*
	 * Under ->mutex: state, ublksrv_pid.  The rest is fixed at
	 * ADD_DEV.  GET_DEV_INFO reads it without the lock.
	 */
	struct ublksrv_ctrl_dev_info	dev_info;
	/* under ->mutex */
	struct ublk_params	params;

	struct blk_mq_tag_set	tag_set;
	/*
	 * The disk while the device is started.  Changed under ->mutex and
	 * ->cancel_mutex, so holding either keeps it stable.
	 */
	struct gendisk		*ub_disk;

	struct cdev		cdev;
	/* its refcount is the device's; the release frees everything */
	struct device		cdev_dev;
	int			ub_number;
	unsigned long		state;		/* UB_STATE_* */

	/*
	 * Control commands and the device state machine, see lifecycle.c.
	 * Commands take it with ublk_lock_ctrl(), the work items that stop
	 * the device or end a server with mutex_lock().
	 */
	struct mutex		mutex;

	/*
	 * Server exit and stop: the per-queue nosrv modes and the fields
	 * below.  Taken in io_uring's cancel callback and task work, so it
	 * must never be held while waiting for I/O or a command.
	 */
	struct mutex		cancel_mutex;
	/* queues do not deliver requests (nosrv != NONE) */
	bool			canceling;
	/* the disk is being stopped: requests fail instead of waiting */
	bool			stopping;
	/*
	 * The current server's commands are being aborted: no slot may be
	 * fetched and the device may not go live until it closes
	 * /dev/ublkcN.
	 */
	bool			srv_aborted;

	/* slots fetched since the server opened /dev/ublkcN */
	atomic_t		nr_io_ready;
	unsigned int		nr_ios;
	/* START_DEV and END_USER_RECOVERY wait here for the server */
	wait_queue_head_t	wait;
	/*
	 * Stage 2 of server exit, queued on ublk_wq by the release of
	 * /dev/ublkcN with a device reference that it drops.  It requeues
	 * itself while @nr_kbufs is not 0.
	 */
	struct delayed_work	release_work;
	/*
	 * Request buffers in io_uring buffer tables (zero copy).  Each
	 * holds a slot reference; its release callback drops that, then
	 * this count, and touches the device no more: stage 2, which keeps
	 * the device alive, waits for 0 before it fails requests and
	 * resets slots.
	 */
	atomic_t		nr_kbufs;

	/* under ->lock: the server's mm (first mmap) and process */
	spinlock_t		lock;
	struct mm_struct	*mm;
	struct pid		*srv_tgid;
	/* an unprivileged device's server was killed for a timeout */
	bool			srv_killed;

	/* dev_info.nr_hw_queues of them */
	struct ublk_queue	*queues[];
};

/* request payload (blk-mq pdu) */
struct ublk_rq_data {
	/*
	 * A zone report (REQ_OP_DRV_IN) built by ublk_report_zones(); 0
	 * zones for any other request.
	 */
	u64			zone_sector;
	u32			nr_zones;
	/* UBLK_F_IOPOLL: in ublk_queue.poll_reqs while started, undelivered */
	struct llist_node	poll_node;
};

/* io_uring_cmd pdu of the I/O commands */
struct ublk_cmd_pdu {
	/* requests (linked by rq_next) this command's task work delivers */
	struct request		*head;
	/* the slot, for the cancel callback */
	struct ublk_queue	*ubq;
	u16			tag;
	/* issued from io-wq on an IOPOLL ring, run again from task work */
	bool			iopoll;
};

/*
 * ub->mutex for a control command: 0, or -EINTR on a signal.  Its holder
 * may be a stop waiting in del_gendisk() for requests the server holds,
 * for as long as the server holds them, so the command waits
 * interruptibly: the exit of its task or ring (which interrupts the
 * io-wq worker running it) ends the wait, and a device whose server
 * never answers leaves no task of anyone's in D state for the hung-task
 * detector (whose report can be a panic) to find.
 */
static inline int ublk_lock_ctrl(struct ublk_device *ub)
{
	return mutex_lock_interruptible(&ub->mutex) ? -EINTR : 0;
}

static inline struct ublk_cmd_pdu *ublk_cmd_pdu(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct ublk_cmd_pdu);
}

static inline struct ublk_queue *ublk_rq_queue(const struct request *rq)
{
	return rq->mq_hctx->driver_data;
}

static inline bool ublk_dev_user_copy(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_USER_COPY;
}

static inline bool ublk_dev_zoned(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_ZONED;
}

static inline bool ublk_dev_unprivileged(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_UNPRIVILEGED_DEV;
}

static inline bool ublk_dev_recovery(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_USER_RECOVERY;
}

static inline bool ublk_q_user_copy(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_USER_COPY;
}

static inline bool ublk_q_need_get_data(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_NEED_GET_DATA;
}

static inline bool ublk_q_zoned(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_ZONED;
}

static inline bool ublk_q_zero_copy(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_SUPPORT_ZERO_COPY;
}

static inline bool ublk_dev_batch(const struct ublk_device *ub)
{
	return ub->dev_info.flags & UBLK_F_BATCH_IO;
}

static inline bool ublk_q_iopoll(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_IOPOLL;
}

static inline bool ublk_q_auto_buf_reg(const struct ublk_queue *ubq)
{
	return ubq->flags & UBLK_F_AUTO_BUF_REG;
}

/*
 * The driver copies no data: the server reaches the request's pages
 * with pread()/pwrite() or through io_uring, the slot has no buffer, and
 * those users hold slot references (ublk_io.ref).
 */
static inline bool ublk_q_takes_refs(const struct ublk_queue *ubq)
{
	return ubq->flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
			     UBLK_F_AUTO_BUF_REG);
}

/* the descriptor of slot @tag; the bytes after it stay zero */
static inline struct ublksrv_io_desc *ublk_iod(const struct ublk_queue *ubq,
					       unsigned int tag)
{
	return ubq->iods + (size_t)tag * ubq->iod_size;
}

/* bytes of one queue's descriptor array, as mapped */
static inline size_t ublk_iods_size(unsigned int depth, unsigned int iod_size)
{
	return round_up((size_t)depth * iod_size, PAGE_SIZE);
}

/* distance between two queues' arrays in the mmap offset space */
static inline size_t ublk_iods_stride(unsigned int iod_size)
{
	return ublk_iods_size(UBLK_MAX_QUEUE_DEPTH, iod_size);
}

/*
 * Is @cmd_op the command @u_op?  As on mainline, a command is its number
 * in the 'u' ioctl space, whatever the size and direction bits say, or
 * (CONFIG_BLKDEV_UBLK_LEGACY_OPCODES) the bare number.
 */
static inline bool ublk_op_is(u32 cmd_op, u32 u_op)
{
	if (_IOC_TYPE(cmd_op) == 'u')
		return _IOC_NR(cmd_op) == _IOC_NR(u_op);
	return IS_ENABLED(CONFIG_BLKDEV_UBLK_LEGACY_OPCODES) &&
		cmd_op == _IOC_NR(u_op);
}

/* main.c */
struct ublk_device *ublk_get_device_from_id(u32 id);
void ublk_get_device(struct ublk_device *ub);
void ublk_put_device(struct ublk_device *ub);
int ublk_add_dev(struct ublksrv_ctrl_dev_info *info, void __user *argp);
int ublk_remove(struct ublk_device *ub);
int ublk_wait_id_freed(u32 id);
extern const struct file_operations ublk_ch_fops;
extern struct workqueue_struct *ublk_wq;
extern const struct block_device_operations ublk_bd_fops;

/* ctrl.c */
int ublk_ctrl_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

/* params.c */
int ublk_validate_params(const struct ublk_device *ub,
			 const struct ublk_params *p);
void ublk_params_to_limits(const struct ublk_device *ub,
			   struct queue_limits *lim);
void ublk_apply_params(struct ublk_device *ub, struct gendisk *disk);

/* rq.c */
extern const struct blk_mq_ops ublk_mq_ops;
blk_status_t ublk_setup_iod(struct ublk_queue *ubq, struct request *rq);
blk_status_t ublk_start_rq(struct ublk_queue *ubq, struct request *rq);
enum blk_eh_timer_return ublk_timeout(struct request *rq);
int ublk_init_hctx(struct blk_mq_hw_ctx *hctx, void *driver_data,
		   unsigned int hctx_idx);
int ublk_init_request(struct blk_mq_tag_set *set, struct request *rq,
		      unsigned int hctx_idx, unsigned int numa_node);
void ublk_end_rq(struct request *rq, blk_status_t status);
void ublk_complete_rq(struct ublk_queue *ubq, struct ublk_io *io,
		      struct request *rq);
void ublk_nosrv_rq(struct ublk_queue *ubq, struct request *rq);
void ublk_abort_owned_rq(struct ublk_queue *ubq, struct request *rq);
size_t ublk_copy_rq(struct request *rq, size_t offset, struct iov_iter *iter);
int ublk_copy_rq_user(struct request *rq, u64 addr, size_t len, int dir);
bool ublk_rq_has_data(const struct request *rq);

/* io.c */
int ublk_ch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
void ublk_dispatch(struct ublk_queue *ubq, struct request *rq,
		   unsigned int issue_flags, unsigned int batch,
		   unsigned int pos);
void ublk_dispatch_dead(struct ublk_queue *ubq, struct request *rq,
			unsigned int issue_flags);
void ublk_deliver(struct ublk_queue *ubq, struct request *rq);
void ublk_deliver_batch(struct ublk_io *io, struct request *head);
void ublk_put_io_ref(struct ublk_queue *ubq, struct ublk_io *io);
bool ublk_claim_idle_cmd(struct ublk_queue *ubq, struct ublk_io *io,
			 struct io_uring_cmd *cmd);
int ublk_commit_result(struct ublk_queue *ubq, struct request *rq,
		       s32 res, u64 addr);

/* batch.c */
struct ublk_batch_queue;
#ifdef UBLK_HAVE_MSHOT
extern const struct blk_mq_ops ublk_batch_mq_ops;
int ublk_batch_init_queue(struct ublk_queue *ubq);
void ublk_batch_free_queue(struct ublk_queue *ubq);
int ublk_batch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
void ublk_batch_abort(struct ublk_device *ub);
bool ublk_batch_can_abort(struct ublk_device *ub);
void ublk_batch_drain(struct ublk_queue *ubq);
void ublk_batch_reset(struct ublk_queue *ubq);
bool ublk_batch_pending(struct ublk_queue *ubq);
#ifdef UBLK_HAVE_IOPOLL_MSHOT
int ublk_batch_iopoll(struct io_uring_cmd *cmd);
#else
static inline int ublk_batch_iopoll(struct io_uring_cmd *cmd)
{
	return 0;
}
#endif
#else
/* never called: no device has UBLK_F_BATCH_IO */
#define ublk_batch_mq_ops	ublk_mq_ops
static inline int ublk_batch_init_queue(struct ublk_queue *ubq)
{
	return -EOPNOTSUPP;
}

static inline void ublk_batch_free_queue(struct ublk_queue *ubq)
{
}

static inline int ublk_batch_uring_cmd(struct io_uring_cmd *cmd,
				       unsigned int issue_flags)
{
	return -EOPNOTSUPP;
}

static inline void ublk_batch_abort(struct ublk_device *ub)
{
}

static inline bool ublk_batch_can_abort(struct ublk_device *ub)
{
	return false;
}

static inline void ublk_batch_drain(struct ublk_queue *ubq)
{
}

static inline void ublk_batch_reset(struct ublk_queue *ubq)
{
}

static inline bool ublk_batch_pending(struct ublk_queue *ubq)
{
	return false;
}

static inline int ublk_batch_iopoll(struct io_uring_cmd *cmd)
{
	return 0;
}
#endif

/* iopoll.c */
#ifdef UBLK_HAVE_IOPOLL
int ublk_ch_uring_cmd_iopoll(struct io_uring_cmd *cmd,
			     struct io_comp_batch *iob, unsigned int poll_flags);
void ublk_iopoll_queue(struct ublk_queue *ubq, struct request *rq);
void ublk_iopoll_wake(struct ublk_queue *ubq);
void ublk_iopoll_wake_all(struct ublk_device *ub);
void ublk_iopoll_cancel(struct ublk_queue *ubq, unsigned int issue_flags);
int ublk_iopoll_bind(struct ublk_queue *ubq, struct io_uring_cmd *cmd);
int ublk_iopoll_check_ring(struct ublk_queue *ubq, struct io_uring_cmd *cmd);
int ublk_iopoll_sleep(struct io_uring_cmd *cmd, struct ublk_queue *ubq,
		      u16 tag, s32 res, u64 fd);
void ublk_iopoll_reset(struct ublk_queue *ubq);
#else
/* never called but for the sleep command: no device has UBLK_F_IOPOLL */
static inline void ublk_iopoll_queue(struct ublk_queue *ubq,
				     struct request *rq)
{
}

static inline void ublk_iopoll_wake(struct ublk_queue *ubq)
{
}

static inline void ublk_iopoll_wake_all(struct ublk_device *ub)
{
}

static inline void ublk_iopoll_cancel(struct ublk_queue *ubq,
				      unsigned int issue_flags)
{
}

static inline int ublk_iopoll_bind(struct ublk_queue *ubq,
				   struct io_uring_cmd *cmd)
{
	return -EINVAL;
}

static inline int ublk_iopoll_check_ring(struct ublk_queue *ubq,
					 struct io_uring_cmd *cmd)
{
	return -EINVAL;
}

static inline int ublk_iopoll_sleep(struct io_uring_cmd *cmd,
				    struct ublk_queue *ubq, u16 tag, s32 res,
				    u64 fd)
{
	return -EINVAL;
}

static inline void ublk_iopoll_reset(struct ublk_queue *ubq)
{
}
#endif

/* buf.c */
#ifdef UBLK_HAVE_KBUF
int ublk_register_io_buf(struct io_uring_cmd *cmd, struct ublk_queue *ubq,
			 struct ublk_io *io, u64 index,
			 unsigned int issue_flags);
int ublk_unregister_io_buf(struct io_uring_cmd *cmd, struct ublk_device *ub,
			   u64 index, unsigned int issue_flags);
int ublk_auto_buf_reg(struct ublk_queue *ubq, struct ublk_io *io,
		      struct request *rq, struct io_uring_cmd *cmd,
		      unsigned int issue_flags);
void ublk_auto_buf_unreg(struct ublk_io *io, struct io_uring_cmd *cmd,
			 unsigned int issue_flags);
#else
static inline int ublk_register_io_buf(struct io_uring_cmd *cmd,
				       struct ublk_queue *ubq,
				       struct ublk_io *io, u64 index,
				       unsigned int issue_flags)
{
	return -EINVAL;
}

static inline int ublk_unregister_io_buf(struct io_uring_cmd *cmd,
					 struct ublk_device *ub, u64 index,
					 unsigned int issue_flags)
{
	return -EINVAL;
}

static inline int ublk_auto_buf_reg(struct ublk_queue *ubq,
				    struct ublk_io *io, struct request *rq,
				    struct io_uring_cmd *cmd,
				    unsigned int issue_flags)
{
	return -EOPNOTSUPP;
}

static inline void ublk_auto_buf_unreg(struct ublk_io *io,
				       struct io_uring_cmd *cmd,
				       unsigned int issue_flags)
{
}
#endif

/* cdev.c */
int ublk_add_chdev(struct ublk_device *ub);

/* lifecycle.c */
void ublk_start_cancel(struct ublk_device *ub);
void ublk_set_nosrv(struct ublk_device *ub, u8 mode);
int ublk_start_dev(struct ublk_device *ub, int srv_pid);
int ublk_stop_dev(struct ublk_device *ub);
int ublk_try_stop_dev(struct ublk_device *ub);
int ublk_quiesce_dev(struct ublk_device *ub, u64 timeout_ms);
int ublk_update_size(struct ublk_device *ub, u64 sectors);
int ublk_start_recovery(struct ublk_device *ub);
int ublk_end_recovery(struct ublk_device *ub, int srv_pid);
int ublk_server_open(struct ublk_device *ub);
void ublk_server_release_work(struct work_struct *work);

/* zoned.c */
#ifdef CONFIG_BLK_DEV_ZONED
int ublk_validate_zoned_params(const struct ublk_device *ub,
			       const struct ublk_params *p);
blk_status_t ublk_setup_iod_zoned(struct ublk_queue *ubq, struct request *rq,
				  struct ublksrv_io_desc *iod);
int ublk_report_zones(struct gendisk *disk, sector_t sector,
		      unsigned int nr_zones, report_zones_cb cb, void *data);
int ublk_revalidate_zones(struct ublk_device *ub, struct gendisk *disk);
#else
static inline int ublk_validate_zoned_params(const struct ublk_device *ub,
					     const struct ublk_params *p)
{
	return -EOPNOTSUPP;
}

static inline blk_status_t ublk_setup_iod_zoned(struct ublk_queue *ubq,
						struct request *rq,
						struct ublksrv_io_desc *iod)
{
	return BLK_STS_NOTSUPP;
}

#define ublk_report_zones NULL

/* never called: no device is zoned */
static inline int ublk_revalidate_zones(struct ublk_device *ub,
					struct gendisk *disk)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* _UBLK_H */
