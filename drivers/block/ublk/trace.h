/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ublk tracepoints: a request's way through a slot, the server's
 * commands, zero-copy buffers and device state changes.
 *
 * Every event names its device by id (/dev/ublkbN), its queue and tag
 * by number; none records a kernel address.  The fields have plain C
 * types, not u32 and the like: tools that build the record's layout
 * from the tracefs format file alone (bpftrace without BTF or kernel
 * headers) know no others.  Request events:
 *
 *   ublk_rq_queued     ->queue_rq()/->queue_rqs() gave the request to
 *                      its slot (descriptor filled, delivery queued)
 *   ublk_rq_delivered  the slot's task work completed the slot's command
 *                      with it; @batch requests went out in that run
 *   ublk_rq_committed  COMMIT_AND_FETCH_REQ returned its result
 *   ublk_rq_completed  the driver ended the request, or gave it back to
 *                      blk-mq to issue again (@requeued)
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ublk

#if !defined(_UBLK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _UBLK_TRACE_H

#include <linux/blk-mq.h>
#include <linux/tracepoint.h>

#include "ublk.h"

#ifndef TRACE_HEADER_MULTI_READ
/* ublk_cmd_aborted: who completed the command with UBLK_IO_RES_ABORT */
#define UBLK_ABORT_CANCEL	0	/* io_uring's cancel callback */
#define UBLK_ABORT_STOP		1	/* STOP_DEV/QUIESCE_DEV's loop */
#define UBLK_ABORT_COMMIT	2	/* a commit after the server was sent away */
#define UBLK_ABORT_DYING	3	/* delivery found the slot's task dying */

/* ublk_dev_state: what happened */
#define UBLK_EV_START		0	/* START_DEV: the disk is live */
#define UBLK_EV_STOP		1	/* the disk was deleted */
#define UBLK_EV_QUIESCE		2	/* QUIESCE_DEV sent the server away */
#define UBLK_EV_RECOVERY_START	3	/* START_USER_RECOVERY accepted */
#define UBLK_EV_RECOVERY_END	4	/* END_USER_RECOVERY: live again */
#define UBLK_EV_SRV_EXIT1	5	/* server leaving: delivery stopped */
#define UBLK_EV_SRV_EXIT2	6	/* server gone: its requests failed */

#define ublk_trace_op_name(op)						\
	__print_symbolic(op,						\
			 { UBLK_IO_OP_READ,		"READ" },	\
			 { UBLK_IO_OP_WRITE,		"WRITE" },	\
			 { UBLK_IO_OP_FLUSH,		"FLUSH" },	\
			 { UBLK_IO_OP_DISCARD,		"DISCARD" },	\
			 { UBLK_IO_OP_WRITE_ZEROES,	"WRITE_ZEROES" }, \
			 { UBLK_IO_OP_ZONE_OPEN,	"ZONE_OPEN" },	\
			 { UBLK_IO_OP_ZONE_CLOSE,	"ZONE_CLOSE" },	\
			 { UBLK_IO_OP_ZONE_FINISH,	"ZONE_FINISH" }, \
			 { UBLK_IO_OP_ZONE_APPEND,	"ZONE_APPEND" }, \
			 { UBLK_IO_OP_ZONE_RESET_ALL,	"ZONE_RESET_ALL" }, \
			 { UBLK_IO_OP_ZONE_RESET,	"ZONE_RESET" },	\
			 { UBLK_IO_OP_REPORT_ZONES,	"REPORT_ZONES" })

#define ublk_trace_dev_state_name(s)					\
	__print_symbolic(s,						\
			 { UBLK_S_DEV_DEAD,		"DEAD" },	\
			 { UBLK_S_DEV_LIVE,		"LIVE" },	\
			 { UBLK_S_DEV_QUIESCED,		"QUIESCED" },	\
			 { UBLK_S_DEV_FAIL_IO,		"FAIL_IO" })
#endif

/* @op: the operation as the server reads it in the descriptor */
TRACE_EVENT(ublk_rq_queued,
	    TP_PROTO(const struct ublk_queue *ubq, const struct request *rq),
	    TP_ARGS(ubq, rq),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(unsigned char, op)
			     __field(unsigned int, sectors)
			     __field(unsigned long long, sector)
	    ),
	    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
			   __entry->q = ubq->q_id;
			   __entry->tag = rq->tag;
			   __entry->op = ublk_iod(ubq, rq->tag)->op_flags & 0xff;
			   __entry->sectors = blk_rq_sectors(rq);
			   __entry->sector = blk_rq_pos(rq);
	    ),
	    TP_printk("dev=%u q=%u tag=%u op=%s sector=%llu sectors=%u",
		      __entry->dev, __entry->q, __entry->tag,
		      ublk_trace_op_name(__entry->op),
		      __entry->sector, __entry->sectors)
);

/*
 * One event per request delivered; all the requests of one task work
 * run carry its size in @batch and their place in it in @pos (0 ..
 * batch - 1), so pos == 0 marks one event per batch.
 */
TRACE_EVENT(ublk_rq_delivered,
	    TP_PROTO(const struct ublk_queue *ubq, u16 tag, int res,
		     unsigned int batch, unsigned int pos),
	    TP_ARGS(ubq, tag, res, batch, pos),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(int, res)
			     __field(unsigned int, batch)
			     __field(unsigned int, pos)
	    ),
	    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
			   __entry->q = ubq->q_id;
			   __entry->tag = tag;
			   __entry->res = res;
			   __entry->batch = batch;
			   __entry->pos = pos;
	    ),
	    TP_printk("dev=%u q=%u tag=%u res=%s batch=%u pos=%u",
		      __entry->dev, __entry->q, __entry->tag,
		      __print_symbolic(__entry->res,
				       { UBLK_IO_RES_OK, "OK" },
				       { UBLK_IO_RES_NEED_GET_DATA, "NEED_GET_DATA" }),
		      __entry->batch, __entry->pos)
);

/* @res as the server sent it, @result what the request completes with */
TRACE_EVENT(ublk_rq_committed,
	    TP_PROTO(const struct ublk_queue *ubq, u16 tag, s32 res, int result),
	    TP_ARGS(ubq, tag, res, result),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(int, res)
			     __field(int, result)
	    ),
	    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
			   __entry->q = ubq->q_id;
			   __entry->tag = tag;
			   __entry->res = res;
			   __entry->result = result;
	    ),
	    TP_printk("dev=%u q=%u tag=%u res=%d result=%d",
		      __entry->dev, __entry->q, __entry->tag,
		      __entry->res, __entry->result)
);

/*
 * @error is 0 or a negative errno; @bytes are those completed (for an
 * error, those failed).  @requeued: the rest (a partial transfer) or all
 * of it (no server) goes through ->queue_rq() again.
 */
TRACE_EVENT(ublk_rq_completed,
	    TP_PROTO(const struct request *rq, blk_status_t status,
		     unsigned int bytes, bool requeued),
	    TP_ARGS(rq, status, bytes, requeued),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(int, error)
			     __field(unsigned int, bytes)
			     __field(unsigned char, requeued)
	    ),
	    TP_fast_assign(__entry->dev = ublk_rq_queue(rq)->dev->ub_number;
			   __entry->q = ublk_rq_queue(rq)->q_id;
			   __entry->tag = rq->tag;
			   __entry->error = blk_status_to_errno(status);
			   __entry->bytes = bytes;
			   __entry->requeued = requeued;
	    ),
	    TP_printk("dev=%u q=%u tag=%u error=%d bytes=%u requeued=%u",
		      __entry->dev, __entry->q, __entry->tag, __entry->error,
		      __entry->bytes, __entry->requeued)
);

DECLARE_EVENT_CLASS(ublk_slot_class,
		    TP_PROTO(const struct ublk_queue *ubq, u16 tag),
		    TP_ARGS(ubq, tag),
		    TP_STRUCT__entry(__field(unsigned int, dev)
				     __field(unsigned short, q)
				     __field(unsigned short, tag)
	    ),
		    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
				   __entry->q = ubq->q_id;
				   __entry->tag = tag;
	    ),
		    TP_printk("dev=%u q=%u tag=%u",
			      __entry->dev, __entry->q, __entry->tag)
);

/* FETCH_REQ armed the slot */
DEFINE_EVENT(ublk_slot_class, ublk_cmd_fetched,
	     TP_PROTO(const struct ublk_queue *ubq, u16 tag),
	     TP_ARGS(ubq, tag)
);

/*
 * io_uring is done with a request buffer table entry (zero copy) and its
 * slot reference is dropped.  io_uring gives back only the request, so
 * neither the entry's index nor how it was registered is known here.
 */
DEFINE_EVENT(ublk_slot_class, ublk_buf_released,
	     TP_PROTO(const struct ublk_queue *ubq, u16 tag),
	     TP_ARGS(ubq, tag)
);

TRACE_EVENT(ublk_cmd_aborted,
	    TP_PROTO(const struct ublk_queue *ubq, u16 tag, u8 who),
	    TP_ARGS(ubq, tag, who),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(unsigned char, who)
	    ),
	    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
			   __entry->q = ubq->q_id;
			   __entry->tag = tag;
			   __entry->who = who;
	    ),
	    TP_printk("dev=%u q=%u tag=%u by=%s",
		      __entry->dev, __entry->q, __entry->tag,
		      __print_symbolic(__entry->who,
				       { UBLK_ABORT_CANCEL, "cancel" },
				       { UBLK_ABORT_STOP, "abort_loop" },
				       { UBLK_ABORT_COMMIT, "commit" },
				       { UBLK_ABORT_DYING, "dying_task" }))
);

/* a request's pages went into an io_uring buffer table at @index */
TRACE_EVENT(ublk_buf_registered,
	    TP_PROTO(const struct ublk_queue *ubq, u16 tag, unsigned int index,
		     bool automatic),
	    TP_ARGS(ubq, tag, index, automatic),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned short, q)
			     __field(unsigned short, tag)
			     __field(unsigned int, index)
			     __field(unsigned char, automatic)
	    ),
	    TP_fast_assign(__entry->dev = ubq->dev->ub_number;
			   __entry->q = ubq->q_id;
			   __entry->tag = tag;
			   __entry->index = index;
			   __entry->automatic = automatic;
	    ),
	    TP_printk("dev=%u q=%u tag=%u index=%u %s",
		      __entry->dev, __entry->q, __entry->tag, __entry->index,
		      __entry->automatic ? "auto" : "explicit")
);

TRACE_EVENT(ublk_dev_state,
	    TP_PROTO(const struct ublk_device *ub, u8 what),
	    TP_ARGS(ub, what),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned char, what)
			     __field(unsigned short, state)
	    ),
	    TP_fast_assign(__entry->dev = ub->ub_number;
			   __entry->what = what;
			   __entry->state = READ_ONCE(ub->dev_info.state);
	    ),
	    TP_printk("dev=%u %s state=%s", __entry->dev,
		      __print_symbolic(__entry->what,
				       { UBLK_EV_START, "start" },
				       { UBLK_EV_STOP, "stop" },
				       { UBLK_EV_QUIESCE, "quiesce" },
				       { UBLK_EV_RECOVERY_START, "recovery_start" },
				       { UBLK_EV_RECOVERY_END, "recovery_end" },
				       { UBLK_EV_SRV_EXIT1, "server_exit_stage1" },
				       { UBLK_EV_SRV_EXIT2, "server_exit_stage2" }),
		      ublk_trace_dev_state_name(__entry->state))
);

#endif /* _UBLK_TRACE_H */

/* out of a kernel tree too: the Makefile adds -I$(src) for trace.o */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace

/* outside the guard: define_trace.h reads this file again */
#include <trace/define_trace.h>
