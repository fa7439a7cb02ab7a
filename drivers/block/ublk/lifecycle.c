// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: device and server life cycle.
 *
 * Device states (dev_info.state, under ub->mutex):
 *
 *   DEAD      no disk: just added, or stopped.  START_DEV makes it LIVE
 *             once a server has fetched every slot.
 *   LIVE      the disk exists and a server serves it.
 *   QUIESCED  UBLK_F_USER_RECOVERY: the server went away; requests wait
 *             (UBLK_F_USER_RECOVERY_REISSUE: including those it held)
 *             until a new server fetches every slot and sends
 *             END_USER_RECOVERY, which makes the device LIVE again.
 *   FAIL_IO   as QUIESCED with UBLK_F_USER_RECOVERY_FAIL_IO, but requests
 *             fail while there is no server.
 *
 *   DEAD --START_DEV--> LIVE --STOP_DEV/DEL_DEV--> DEAD
 *   LIVE --server exit, no recovery--> DEAD
 *   LIVE --server exit, recovery--> QUIESCED or FAIL_IO
 *   LIVE --QUIESCE_DEV, then the server exits--> QUIESCED or FAIL_IO
 *   LIVE --TRY_STOP_DEV with the disk unused--> DEAD
 *   QUIESCED/FAIL_IO --END_USER_RECOVERY--> LIVE
 *   QUIESCED/FAIL_IO --STOP_DEV/DEL_DEV--> DEAD
 *
 * Server life (one open of /dev/ublkcN, UB_STATE_OPEN): the server
 * opens the char device, maps the descriptors, fetches every slot, and
 * its commands are completed when it exits, in two stages:
 *
 *  1. io_uring cancels the commands still in the driver when the task or
 *     its ring goes away (ublk_cancel_cmd() in io.c).  The first one
 *     stops the queues from handing requests to slots
 *     (ublk_start_cancel()), each one then completes its command.  No
 *     ub->mutex: STOP_DEV may hold it while waiting for these requests.
 *  2. When the last reference to the opened file goes, no command of the
 *     server is left (each held a file reference).  The release queues
 *     ublk_server_release(), which fails or requeues the requests the
 *     server held, then, under ub->mutex, stops the device or moves it
 *     to QUIESCED/FAIL_IO, and resets every slot for the next server.
 *     Until it is done the device counts as open, so no new server can
 *     attach to half-reset slots.
 *
 * QUIESCE_DEV, STOP_DEV and DEL_DEV send a live server away themselves:
 * they stop delivery and complete its waiting commands with
 * UBLK_IO_RES_ABORT (ublk_abort_server()), and commands it sends later
 * are aborted as they arrive; its exit then runs the two stages.
 * STOP_DEV, DEL_DEV and TRY_STOP_DEV delete the disk from a work item
 * and wait for it interruptibly, so that a server that sends them
 * itself can still exit (ublk_run_stop()).
 *
 * What a queue does with a request it cannot deliver is its nosrv mode
 * (struct ublk_queue), changed only here under ub->cancel_mutex with the
 * blk-mq queue quiesced, so that no ->queue_rq() run straddles a change.
 * Once a queue stops delivering, no slot gains a pending delivery, which
 * is what lets the cancel paths complete commands safely.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/pid.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "ublk.h"
#include "trace.h"

/* how the queues treat requests while there is no server */
static u8 ublk_nosrv_mode(const struct ublk_device *ub)
{
	lockdep_assert_held(&ub->cancel_mutex);

	if (ub->stopping || !ublk_dev_recovery(ub) ||
	    (ub->dev_info.flags & UBLK_F_USER_RECOVERY_FAIL_IO))
		return UBLK_NOSRV_FAIL;
	return UBLK_NOSRV_REQUEUE;
}

/*
 * Switch every queue to @mode.  Requests parked for a server are issued
 * again unless they are to stay parked.
 */
void ublk_set_nosrv(struct ublk_device *ub, u8 mode)
{
	struct gendisk *disk = ub->ub_disk;
	unsigned int i;

	lockdep_assert_held(&ub->cancel_mutex);

	if (disk)
		blk_mq_quiesce_queue(disk->queue);
	for (i = 0; i < ub->dev_info.nr_hw_queues; i++)
		WRITE_ONCE(ub->queues[i]->nosrv, mode);
	ub->canceling = mode != UBLK_NOSRV_NONE;
	if (disk) {
		blk_mq_unquiesce_queue(disk->queue);
		if (mode != UBLK_NOSRV_REQUEUE)
			blk_mq_kick_requeue_list(disk->queue);
	}
}

/*
 * The server is going away (stage 1 and 2): stop handing requests to
 * slots, and refuse new fetches until it has closed /dev/ublkcN.  Safe
 * to call any number of times.
 */
void ublk_start_cancel(struct ublk_device *ub)
{
	mutex_lock(&ub->cancel_mutex);
	if (!ub->canceling) {
		ublk_set_nosrv(ub, ublk_nosrv_mode(ub));
		trace_ublk_dev_state(ub, UBLK_EV_SRV_EXIT1);
	}
	ub->srv_aborted = true;
	mutex_unlock(&ub->cancel_mutex);
	wake_up_all(&ub->wait);
	/* a sleeping poller finds its cancelled commands */
	ublk_iopoll_wake_all(ub);
}

/* a server has the device open and is still setting up or serving */
static bool ublk_server_pending(struct ublk_device *ub)
{
	return test_bit(UB_STATE_OPEN, &ub->state) &&
		!READ_ONCE(ub->srv_aborted);
}

/* ... and has fetched every slot: requests can be delivered */
static bool ublk_server_ready(struct ublk_device *ub)
{
	return ublk_server_pending(ub) &&
		atomic_read(&ub->nr_io_ready) == ub->nr_ios;
}

/*
 * Wait until the server has fetched every slot.  Servers commonly send
 * START_DEV while their queue threads are still submitting FETCH_REQ, so
 * this waits for them, but only while a server is attached: -EBUSY if
 * there is none or it goes away, -EINTR on a signal.
 *
 * 6.12 and mainline also wait while no server has /dev/ublkcN open, for
 * one to come.  A caller whose server died before it opened the device
 * then sleeps until a signal; here it is told.  Every server we know of
 * (ublksrv, libublk-rs, SPDK, kublk) opens /dev/ublkcN before it sends
 * START_DEV or END_USER_RECOVERY.
 */
static int ublk_wait_server(struct ublk_device *ub)
{
	if (wait_event_interruptible(ub->wait, ublk_server_ready(ub) ||
				     !ublk_server_pending(ub)))
		return -EINTR;
	return ublk_server_ready(ub) ? 0 : -EBUSY;
}

/* let the queues deliver again; caller holds ub->mutex */
static int ublk_go_live(struct ublk_device *ub, int srv_pid)
{
	int ret = 0;

	mutex_lock(&ub->cancel_mutex);
	if (ublk_server_ready(ub))
		ublk_set_nosrv(ub, UBLK_NOSRV_NONE);
	else
		ret = -EBUSY;
	mutex_unlock(&ub->cancel_mutex);
	if (ret)
		return ret;

	ub->dev_info.state = UBLK_S_DEV_LIVE;
	ub->dev_info.ublksrv_pid = srv_pid;
	return 0;
}

static int ublk_check_startable(struct ublk_device *ub)
{
	lockdep_assert_held(&ub->mutex);

	if (test_bit(UB_STATE_DELETED, &ub->state))
		return -ENODEV;
	if (ub->ub_disk || ub->dev_info.state != UBLK_S_DEV_DEAD)
		return -EEXIST;
	if (!(ub->params.types & UBLK_PARAM_TYPE_BASIC))
		return -EINVAL;
	return 0;
}

/* drop the disk under both locks that keep ub->ub_disk stable */
static void ublk_detach_disk(struct ublk_device *ub)
{
	lockdep_assert_held(&ub->mutex);

	mutex_lock(&ub->cancel_mutex);
	ub->ub_disk = NULL;
	mutex_unlock(&ub->cancel_mutex);
}

/*
 * Check that @check allows the command, wait for the server to be ready
 * (without ub->mutex: its fetches do not take it, but a STOP_DEV that
 * may end the wait does) and check again.  0 with ub->mutex held, or an
 * error without.
 */
static int ublk_lock_when_ready(struct ublk_device *ub,
				int (*check)(struct ublk_device *ub))
{
	int ret;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	ret = check(ub);
	mutex_unlock(&ub->mutex);
	if (!ret)
		ret = ublk_wait_server(ub);
	if (ret)
		return ret;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	ret = check(ub);
	if (ret)
		mutex_unlock(&ub->mutex);
	return ret;
}

struct ublk_part_scan {
	struct work_struct	work;
	/* a reference of the work's: the disk and the device stay */
	struct gendisk		*disk;
};

static void ublk_part_scan_work(struct work_struct *work)
{
	struct ublk_part_scan *scan = container_of(work, struct ublk_part_scan,
						   work);
	struct gendisk *disk = scan->disk;

	mutex_lock(&disk->open_mutex);
	/* gone already (stopped): nothing to scan */
	if (disk_live(disk))
		bdev_disk_changed(disk, false);
	mutex_unlock(&disk->open_mutex);
	put_disk(disk);
	kfree(scan);
}

/*
 * Read the partition table of a newly started disk, in the background.
 *
 * Not in add_disk(), under START_DEV: the reads need the server, and the
 * server may die while its own thread sits in START_DEV, waiting for
 * them.  The process then cannot finish exiting, so /dev/ublkcN is never
 * released, so stage 2 never fails the read the server held: a deadlock
 * no signal ends.  From a work item the wait blocks nobody the server
 * needs, and a lost server's reads fail (or wait for recovery) like any
 * other I/O.  No scan if memory is short: BLKRRPART can do it later.
 */
static void ublk_queue_part_scan(struct gendisk *disk)
{
	struct ublk_part_scan *scan = kmalloc(sizeof(*scan), GFP_KERNEL);

	if (!scan)
		return;
	INIT_WORK(&scan->work, ublk_part_scan_work);
	get_device(disk_to_dev(disk));
	scan->disk = disk;
	queue_work(ublk_wq, &scan->work);
}

int ublk_start_dev(struct ublk_device *ub, int srv_pid)
{
	struct queue_limits lim;
	struct gendisk *disk;
	bool trusted = true;
	int ret;

	ret = ublk_lock_when_ready(ub, ublk_check_startable);
	if (ret)
		return ret;

	ublk_params_to_limits(ub, &lim);
	disk = blk_mq_alloc_disk(&ub->tag_set, &lim, NULL);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_unlock;
	}
	snprintf(disk->disk_name, sizeof(disk->disk_name), "ublkb%d",
		 ub->ub_number);
	disk->fops = &ublk_bd_fops;
	disk->private_data = ub;
	ublk_apply_params(ub, disk);

	/*
	 * Until add_disk() returns, a lost server fails requests instead of
	 * parking them for recovery: the zone revalidation below waits for
	 * the server, and recovery would need ub->mutex, held here.
	 */
	mutex_lock(&ub->cancel_mutex);
	ub->ub_disk = disk;
	ub->stopping = true;
	mutex_unlock(&ub->cancel_mutex);

	ret = ublk_go_live(ub, srv_pid);
	if (ret)
		goto out_detach;

	/*
	 * A server nobody vouched for must not feed the partition parsers;
	 * with UBLK_F_NO_AUTO_PART_SCAN the server asks for no scan now but
	 * may have one later (BLKRRPART).  add_disk() itself never scans:
	 * see ublk_queue_part_scan().
	 */
	if (ublk_dev_unprivileged(ub) ||
	    test_bit(UB_STATE_UNPRIV_SERVER, &ub->state))
		trusted = false;
	set_bit(GD_SUPPRESS_PART_SCAN, &disk->state);
	clear_bit(UB_STATE_NO_OPEN, &ub->state);

	/*
	 * The zone report needs the server, which may die while its own
	 * thread waits here: ublk_revalidate_zones() reads it from a work
	 * item and gives up on a fatal signal (-EINTR), leaving the disk to
	 * the work until the report ends.
	 */
	if (ublk_dev_zoned(ub)) {
		ret = ublk_revalidate_zones(ub, disk);
		if (ret)
			goto out_dead;
	}

	/* the disk's reference, dropped by ublk_bd_free_disk() */
	ublk_get_device(ub);
	ret = add_disk(disk);
	if (ret) {
		ublk_put_device(ub);
		goto out_dead;
	}

	if (trusted) {
		clear_bit(GD_SUPPRESS_PART_SCAN, &disk->state);
		if (!(ub->dev_info.flags & UBLK_F_NO_AUTO_PART_SCAN))
			ublk_queue_part_scan(disk);
	}

	mutex_lock(&ub->cancel_mutex);
	ub->stopping = false;
	if (ub->canceling)
		ublk_set_nosrv(ub, ublk_nosrv_mode(ub));
	mutex_unlock(&ub->cancel_mutex);
	trace_ublk_dev_state(ub, UBLK_EV_START);
	mutex_unlock(&ub->mutex);
	return 0;

out_dead:
	/* requests may have been issued (zones, partitions): drain them */
	mutex_lock(&ub->cancel_mutex);
	ub->stopping = true;
	ublk_set_nosrv(ub, UBLK_NOSRV_FAIL);
	mutex_unlock(&ub->cancel_mutex);
	ub->dev_info.state = UBLK_S_DEV_DEAD;
	ub->dev_info.ublksrv_pid = -1;
out_detach:
	ublk_detach_disk(ub);
	put_disk(disk);
out_unlock:
	mutex_unlock(&ub->mutex);
	return ret;
}

/*
 * Wait for the queue work that ublk_set_nosrv() (its unquiesce runs the
 * hardware queues asynchronously, then it kicks the requeue list) or
 * stage 2's ublk_fail_owned() (a kick) may have queued through
 * ub->ub_disk after del_gendisk() cancelled the queue's work: both do so
 * under ub->cancel_mutex and only while ub->ub_disk is set, so once
 * ublk_detach_disk() has cleared it no new kick comes, and without this
 * the last one can run on the queue put_disk() frees (KASAN found it
 * with ublk_fuzz: blk_mq_requeue_work() on a released queue's hctx).
 * The requeue work first: it can queue the hardware queues' run work.
 * A disk that was never added needs none of this: disk_release() does
 * it.
 */
static void ublk_sync_queue_work(struct request_queue *q)
{
	struct blk_mq_hw_ctx *hctx;
	unsigned long i;

	cancel_delayed_work_sync(&q->requeue_work);
	queue_for_each_hw_ctx(q, hctx, i)
		cancel_delayed_work_sync(&hctx->run_work);
}

/* delete the disk, failing what its server cannot serve; ub->mutex held */
static void ublk_stop_disk(struct ublk_device *ub)
{
	struct gendisk *disk = ub->ub_disk;

	lockdep_assert_held(&ub->mutex);
	if (!disk)
		return;

	/*
	 * From here on a lost server means failed requests, not parked
	 * ones: del_gendisk() waits for all of them.  A live server keeps
	 * serving until the queue is drained.
	 */
	mutex_lock(&ub->cancel_mutex);
	ub->stopping = true;
	if (ub->canceling)
		ublk_set_nosrv(ub, UBLK_NOSRV_FAIL);
	mutex_unlock(&ub->cancel_mutex);

	del_gendisk(disk);
	ublk_detach_disk(ub);
	ublk_sync_queue_work(disk->queue);
	ub->dev_info.state = UBLK_S_DEV_DEAD;
	ub->dev_info.ublksrv_pid = -1;
	put_disk(disk);
	trace_ublk_dev_state(ub, UBLK_EV_STOP);
}

/*
 * Complete the server's waiting commands with UBLK_IO_RES_ABORT, so that
 * it learns it is to exit: the device is stopped (the disk is gone, so
 * no slot is busy with a request), or quiesced (the queues deliver
 * nothing new; a slot still busy with a delivery hands the request to
 * the server, whose commit then gets the abort).  ub->mutex held,
 * against the reset in ublk_server_release().
 */
static void ublk_abort_server(struct ublk_device *ub)
{
	unsigned int i, tag;

	lockdep_assert_held(&ub->mutex);

	mutex_lock(&ub->cancel_mutex);
	if (!test_bit(UB_STATE_OPEN, &ub->state)) {
		mutex_unlock(&ub->cancel_mutex);
		return;
	}
	/* fetches from now on fail; the loop below sees earlier ones */
	ub->srv_aborted = true;
	mutex_unlock(&ub->cancel_mutex);
	/* pairs with the one in ublk_commit_and_fetch() */
	smp_mb();
	wake_up_all(&ub->wait);
	/* and the one in ublk_iopoll_sleep() */
	ublk_iopoll_wake_all(ub);

	/* batch slots hold no command: the fetch commands carry the news */
	if (ublk_dev_batch(ub)) {
		ublk_batch_abort(ub);
		return;
	}

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];

		for (tag = 0; tag < ubq->q_depth; tag++) {
			struct ublk_io *io = &ubq->ios[tag];
			/* checked again under cancel_lock by the claim */
			struct io_uring_cmd *cmd = READ_ONCE(io->cmd);

			if (cmd && ublk_claim_idle_cmd(ubq, io, cmd)) {
				trace_ublk_cmd_aborted(ubq, tag,
						       UBLK_ABORT_STOP);
				io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, 0,
						  IO_URING_F_UNLOCKED);
			}
		}
	}
}

/* STOP_DEV, DEL_DEV: the device ends up DEAD and its server told so */
static int __ublk_stop_dev(struct ublk_device *ub)
{
	mutex_lock(&ub->mutex);
	ublk_stop_disk(ub);
	ublk_abort_server(ub);
	mutex_unlock(&ub->mutex);
	return 0;
}

/*
 * TRY_STOP_DEV: STOP_DEV, unless somebody has the disk open (-EBUSY).
 * Whether it is open is only known under the disk's open_mutex, so the
 * disk is closed to new openers there before it is deleted.
 */
static int __ublk_try_stop_dev(struct ublk_device *ub)
{
	struct gendisk *disk;
	int ret = 0;

	mutex_lock(&ub->mutex);
	disk = ub->ub_disk;
	if (disk) {
		/*
		 * Not mutex_lock(): its holder may be a partition scan or
		 * BLKRRPART waiting for a read parked until a new server
		 * comes, which END_USER_RECOVERY, needing ub->mutex held
		 * here, would let in.  A holder means the disk is in use.
		 */
		if (!mutex_trylock(&disk->open_mutex)) {
			ret = -EBUSY;
		} else {
			if (disk_openers(disk))
				ret = -EBUSY;
			else
				set_bit(UB_STATE_NO_OPEN, &ub->state);
			mutex_unlock(&disk->open_mutex);
		}
	} else {
		/* not started: nothing to stop (mainline's errno) */
		ret = -ENODEV;
	}
	if (!ret) {
		ublk_stop_disk(ub);
		ublk_abort_server(ub);
	}
	mutex_unlock(&ub->mutex);
	return ret;
}

/*
 * A stop in a work item, and the command that waits for it.  The caller's
 * reference and the work's: the last one frees.
 */
struct ublk_stop {
	struct work_struct	work;
	struct ublk_device	*ub;
	int			(*fn)(struct ublk_device *ub);
	/* fn's result, written before @done completes */
	int			ret;
	struct completion	done;
	refcount_t		ref;
};

static void ublk_stop_put(struct ublk_stop *st)
{
	if (refcount_dec_and_test(&st->ref)) {
		ublk_put_device(st->ub);
		kfree(st);
	}
}

static void ublk_stop_work(struct work_struct *work)
{
	struct ublk_stop *st = container_of(work, struct ublk_stop, work);

	st->ret = st->fn(st->ub);
	complete(&st->done);
	ublk_stop_put(st);
}

/*
 * Run @fn, a stop of the device, so that a signal ends the wait for it.
 *
 * A stop deletes the disk, and del_gendisk() waits for the disk's
 * open_mutex (which a partition scan holds while its read waits for the
 * server) and for every request in flight, the server's among them.
 * When the server sends the stop itself, the command runs in the
 * server's own io-wq, and the server's exit waits for its io-wq workers
 * (io_wq_put_and_exit()) before it closes its files.  The requests the
 * server holds fail only in stage 2, after that close: the exit waits
 * for the stop, the stop for the requests, the requests for the exit.
 * Nothing ends that, not even SIGKILL (found by ublk_fuzz; badcmd
 * "selfdel").
 *
 * So the stop runs in a work item on ublk_wq (unbound, not ordered:
 * stage 2 and partition scans run beside it), and the command waits for
 * it interruptibly.  The exit of a process kills its io-wq workers
 * (zap_other_threads()), and io_uring's cancel interrupts them (a
 * notify signal), so the server's own command returns -EINTR at once.
 * The exit then goes on, closes /dev/ublkcN, and stage 2 fails what the
 * server held before it takes ub->mutex (which the stop holds): the
 * stop finishes in the background.  Any other caller that is
 * interrupted returns the same way, with the stop under way; one that
 * is not returns when the stop is done, with its result, as before.
 *
 * The work holds a device reference, so the device outlives a caller
 * that left.  Without memory for the work the stop runs here, as 6.12
 * does.
 */
static int ublk_run_stop(struct ublk_device *ub,
			 int (*fn)(struct ublk_device *ub))
{
	struct ublk_stop *st = kmalloc(sizeof(*st), GFP_KERNEL);
	int ret;

	if (!st)
		return fn(ub);
	INIT_WORK(&st->work, ublk_stop_work);
	ublk_get_device(ub);
	st->ub = ub;
	st->fn = fn;
	init_completion(&st->done);
	refcount_set(&st->ref, 2);
	queue_work(ublk_wq, &st->work);

	/* complete() orders the write of ->ret before our wakeup */
	if (wait_for_completion_interruptible(&st->done))
		ret = -EINTR;
	else
		ret = st->ret;
	ublk_stop_put(st);
	return ret;
}

/* STOP_DEV, DEL_DEV: 0, or -EINTR with the stop still under way */
int ublk_stop_dev(struct ublk_device *ub)
{
	return ublk_run_stop(ub, __ublk_stop_dev);
}

/* TRY_STOP_DEV: as __ublk_try_stop_dev(), or -EINTR as ublk_stop_dev() */
int ublk_try_stop_dev(struct ublk_device *ub)
{
	return ublk_run_stop(ub, __ublk_try_stop_dev);
}

/* does every queue have a slot whose command can carry an abort? */
static bool ublk_queues_have_idle_slot(struct ublk_device *ub)
{
	unsigned int i, tag;

	if (ublk_dev_batch(ub))
		return ublk_batch_can_abort(ub);

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];

		for (tag = 0; tag < ubq->q_depth; tag++) {
			struct ublk_io *io = &ubq->ios[tag];

			if (READ_ONCE(io->flags) == UBLK_IO_FLAG_ACTIVE &&
			    !READ_ONCE(io->req))
				break;
		}
		if (tag == ubq->q_depth)
			return false;
	}
	return true;
}

/*
 * Poll until every queue has an idle slot, or the server is gone anyway.
 * Slots go idle as the server commits; nothing signals that, and this is
 * no fast path.
 */
static int ublk_wait_idle_slots(struct ublk_device *ub, u64 timeout_ms)
{
	unsigned long deadline = jiffies +
		msecs_to_jiffies(min_t(u64, timeout_ms, UINT_MAX));

	for (;;) {
		if (READ_ONCE(ub->srv_aborted) || ublk_queues_have_idle_slot(ub))
			return 0;
		if (timeout_ms && time_after(jiffies, deadline))
			return -EBUSY;
		if (signal_pending(current))
			return -EINTR;
		msleep_interruptible(10);
	}
}

/*
 * QUIESCE_DEV: send the server away without failing I/O, so that a new
 * one can take over (USER_RECOVERY is required at ADD_DEV).
 *
 * New requests park first (or fail, with USER_RECOVERY_FAIL_IO), as if
 * the server had died.  Once every queue has an idle slot, whose command
 * tells that queue's thread, the server's waiting commands complete with
 * UBLK_IO_RES_ABORT, and so does every command it sends after that
 * (ublk_commit_and_fetch()), so its threads learn of it as they commit
 * what they hold.  The server then exits; stage 2 of its exit makes the
 * device QUIESCED (or FAIL_IO) for the next server.  The state is still
 * LIVE when this returns.
 *
 * If the slots do not go idle in time, the queues resume and the device
 * is as before: -EBUSY.
 */
int ublk_quiesce_dev(struct ublk_device *ub, u64 timeout_ms)
{
	int ret = 0;

	if (!(ub->dev_info.flags & UBLK_F_QUIESCE))
		return -EOPNOTSUPP;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	if (test_bit(UB_STATE_DELETED, &ub->state)) {
		ret = -ENODEV;
		goto out;
	}
	/* no server to send away */
	if (ub->dev_info.state == UBLK_S_DEV_QUIESCED ||
	    ub->dev_info.state == UBLK_S_DEV_FAIL_IO)
		goto out;
	/* DEAD: not started, or stopped */
	if (ub->dev_info.state != UBLK_S_DEV_LIVE) {
		ret = -ENODEV;
		goto out;
	}

	mutex_lock(&ub->cancel_mutex);
	/* LIVE with canceling set: the server is leaving already */
	if (!ub->canceling)
		ublk_set_nosrv(ub, ublk_nosrv_mode(ub));
	mutex_unlock(&ub->cancel_mutex);

	ret = ublk_wait_idle_slots(ub, timeout_ms);
	if (ret) {
		mutex_lock(&ub->cancel_mutex);
		if (!ub->srv_aborted)
			ublk_set_nosrv(ub, UBLK_NOSRV_NONE);
		mutex_unlock(&ub->cancel_mutex);
		goto out;
	}
	ublk_abort_server(ub);
	trace_ublk_dev_state(ub, UBLK_EV_QUIESCE);
out:
	mutex_unlock(&ub->mutex);
	return ret;
}

/*
 * UPDATE_SIZE: the server changed the device's size; tell the block
 * layer (and, through a uevent, userspace).
 */
int ublk_update_size(struct ublk_device *ub, u64 sectors)
{
	int ret = 0;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	if (test_bit(UB_STATE_DELETED, &ub->state))
		ret = -ENODEV;
	else if (!ub->ub_disk)
		/* not started: SET_PARAMS sets the size */
		ret = -EBUSY;
	else if (ublk_dev_zoned(ub))
		/* the zones are fixed by the parameters */
		ret = -EOPNOTSUPP;
	/*
	 * A started disk has validated basic parameters: shift >= 9.  0
	 * empties the disk, as mainline allows; a size that is not whole
	 * logical blocks is refused (mainline takes it), since I/O comes
	 * in whole blocks and the last part block could never be reached.
	 */
	else if (sectors > (U64_MAX >> SECTOR_SHIFT) ||
		 !IS_ALIGNED(sectors, 1ULL << (ub->params.basic.logical_bs_shift -
					       SECTOR_SHIFT)))
		ret = -EINVAL;
	if (!ret) {
		ub->params.basic.dev_sectors = sectors;
		set_capacity_and_notify(ub->ub_disk, sectors);
	}
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ublk_check_recovering(struct ublk_device *ub)
{
	lockdep_assert_held(&ub->mutex);

	if (test_bit(UB_STATE_DELETED, &ub->state))
		return -ENODEV;
	if (ub->dev_info.state != UBLK_S_DEV_QUIESCED &&
	    ub->dev_info.state != UBLK_S_DEV_FAIL_IO)
		return -EBUSY;
	return 0;
}

int ublk_start_recovery(struct ublk_device *ub)
{
	int ret;

	/* -EINVAL as 6.12 and mainline, which see a device that stops */
	if (!ublk_dev_recovery(ub))
		return -EINVAL;

	if (ublk_lock_ctrl(ub))
		return -EINTR;
	ret = ublk_check_recovering(ub);
	/* the old server has not finished closing /dev/ublkcN */
	if (!ret && test_bit(UB_STATE_OPEN, &ub->state))
		ret = -EBUSY;
	if (!ret)
		trace_ublk_dev_state(ub, UBLK_EV_RECOVERY_START);
	mutex_unlock(&ub->mutex);
	return ret;
}

int ublk_end_recovery(struct ublk_device *ub, int srv_pid)
{
	int ret;

	if (!ublk_dev_recovery(ub))
		return -EINVAL;

	ret = ublk_lock_when_ready(ub, ublk_check_recovering);
	if (ret)
		return ret;
	ret = ublk_go_live(ub, srv_pid);
	if (!ret)
		trace_ublk_dev_state(ub, UBLK_EV_RECOVERY_END);
	mutex_unlock(&ub->mutex);
	return ret;
}

/* open of /dev/ublkcN: there is one server at a time */
int ublk_server_open(struct ublk_device *ub)
{
	int ret = 0;

	mutex_lock(&ub->cancel_mutex);
	if (test_bit(UB_STATE_DELETED, &ub->state))
		ret = -ENODEV;
	else if (test_bit(UB_STATE_OPEN, &ub->state))
		ret = -EBUSY;
	else
		set_bit(UB_STATE_OPEN, &ub->state);
	mutex_unlock(&ub->cancel_mutex);
	if (ret)
		return ret;

	spin_lock(&ub->lock);
	ub->srv_tgid = get_pid(task_tgid(current));
	spin_unlock(&ub->lock);
	return 0;
}

/*
 * Stage 2, after the last command of the server is gone: nothing but
 * this touches the slots now, and only the one opener had the file.
 */
static void ublk_fail_owned(struct ublk_device *ub)
{
	unsigned int i, tag;

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];

		for (tag = 0; tag < ubq->q_depth; tag++) {
			struct ublk_io *io = &ubq->ios[tag];
			struct request *rq = NULL;

			spin_lock(&ubq->cancel_lock);
			if (io->flags & UBLK_IO_FLAG_OWNED_BY_SRV) {
				rq = io->req;
				WRITE_ONCE(io->req, NULL);
				WRITE_ONCE(io->flags, UBLK_IO_FLAG_CANCELED);
				/* no copier: the file is gone */
				refcount_set(&io->ref, 0);
			}
			spin_unlock(&ubq->cancel_lock);

			if (rq)
				ublk_abort_owned_rq(ubq, rq);
		}
		/* and those whose tags wait for a fetch command */
		if (ubq->batch)
			ublk_batch_drain(ubq);
	}

	mutex_lock(&ub->cancel_mutex);
	if (ub->ub_disk)
		blk_mq_kick_requeue_list(ub->ub_disk->queue);
	mutex_unlock(&ub->cancel_mutex);
}

/* forget the server: every slot idle again, ready for the next one */
static void ublk_reset_server(struct ublk_device *ub)
{
	unsigned int i, tag;

	lockdep_assert_held(&ub->mutex);

	for (i = 0; i < ub->dev_info.nr_hw_queues; i++) {
		struct ublk_queue *ubq = ub->queues[i];

		for (tag = 0; tag < ubq->q_depth; tag++) {
			struct ublk_io *io = &ubq->ios[tag];

			if (io->task)
				put_task_struct(io->task);
			io->task = NULL;
			io->cmd = NULL;
			WRITE_ONCE(io->req, NULL);
			io->addr = 0;
			io->res = 0;
			io->buf_index = 0;
			io->buf_flags = 0;
			io->buf_ctx = NULL;
			refcount_set(&io->ref, 0);
			WRITE_ONCE(io->flags, 0);
		}
		if (ubq->batch)
			ublk_batch_reset(ubq);
		if (ublk_q_iopoll(ubq))
			ublk_iopoll_reset(ubq);
	}
	atomic_set(&ub->nr_io_ready, 0);
	clear_bit(UB_STATE_UNPRIV_SERVER, &ub->state);

	spin_lock(&ub->lock);
	ub->mm = NULL;
	put_pid(ub->srv_tgid);
	ub->srv_tgid = NULL;
	ub->srv_killed = false;
	spin_unlock(&ub->lock);

	mutex_lock(&ub->cancel_mutex);
	ub->srv_aborted = false;
	clear_bit(UB_STATE_OPEN, &ub->state);
	mutex_unlock(&ub->cancel_mutex);
}

/* stage 2 of server exit, after the release of /dev/ublkcN */
static void ublk_server_release(struct ublk_device *ub)
{
	/* nothing more is delivered; parked requests wait or fail */
	ublk_start_cancel(ub);
	/* before ub->mutex: a STOP_DEV holding it may wait for these */
	ublk_fail_owned(ub);

	mutex_lock(&ub->mutex);
	if (ub->dev_info.state == UBLK_S_DEV_LIVE) {
		if (!ublk_dev_recovery(ub))
			ublk_stop_disk(ub);
		else if (ub->dev_info.flags & UBLK_F_USER_RECOVERY_FAIL_IO)
			ub->dev_info.state = UBLK_S_DEV_FAIL_IO;
		else
			ub->dev_info.state = UBLK_S_DEV_QUIESCED;
	}
	trace_ublk_dev_state(ub, UBLK_EV_SRV_EXIT2);
	ublk_reset_server(ub);
	mutex_unlock(&ub->mutex);
	wake_up_all(&ub->wait);
}

void ublk_server_release_work(struct work_struct *work)
{
	struct ublk_device *ub = container_of(to_delayed_work(work),
					      struct ublk_device, release_work);

	/*
	 * io_uring still holds buffers of requests (zero copy): their
	 * release completes or frees what the loops below would fail and
	 * reset, and it may come late, from a ring torn down after the
	 * server is gone (the exit of its last user).  Nothing signals it;
	 * look again shortly, keeping the reference.  Delivery stops at
	 * once, so a parked or failed request does not wait for this.
	 * (Pairs with the barrier before the decrement in
	 * ublk_io_release().)
	 */
	if (atomic_read_acquire(&ub->nr_kbufs)) {
		ublk_start_cancel(ub);
		queue_delayed_work(ublk_wq, &ub->release_work,
				   msecs_to_jiffies(5));
		return;
	}

	ublk_server_release(ub);
	/* the reference ublk_ch_release() took for this work */
	ublk_put_device(ub);
}
