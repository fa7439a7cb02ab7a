/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ublk: userspace block device, user/kernel interface.
 *
 * A ublk server creates and controls devices by sending io_uring
 * IORING_OP_URING_CMD commands (SQE128) to /dev/ublk-control, each
 * carrying a struct ublksrv_ctrl_cmd.  It then serves the block device
 * /dev/ublkbN through the char device /dev/ublkcN: every I/O slot
 * (queue, tag) has one uring_cmd outstanding in the kernel, which the
 * driver completes when a block request arrives for that slot; the
 * request's description sits in a read-only per-queue array mapped from
 * /dev/ublkcN; the server handles it and commits the result with the next
 * command for that slot.
 *
 * Every number and structure layout in this file is ABI shared with the
 * upstream ublk driver, so existing servers work unchanged.  Definitions
 * of features this driver does not implement are kept for completeness;
 * UBLK_U_CMD_GET_FEATURES reports what a running driver supports.
 */
#ifndef _UAPI_USER_BLK_DRV_CMD_INC_H
#define _UAPI_USER_BLK_DRV_CMD_INC_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Control command opcodes, plain encoding.  Only accepted when the driver
 * is built with CONFIG_BLKDEV_UBLK_LEGACY_OPCODES; new servers use the
 * ioctl-style UBLK_U_CMD_* numbers below.
 */
#define UBLK_CMD_GET_QUEUE_AFFINITY	0x01
#define UBLK_CMD_GET_DEV_INFO		0x02
#define UBLK_CMD_ADD_DEV		0x04
#define UBLK_CMD_DEL_DEV		0x05
#define UBLK_CMD_START_DEV		0x06
#define UBLK_CMD_STOP_DEV		0x07
#define UBLK_CMD_SET_PARAMS		0x08
#define UBLK_CMD_GET_PARAMS		0x09
#define UBLK_CMD_START_USER_RECOVERY	0x10
#define UBLK_CMD_END_USER_RECOVERY	0x11
#define UBLK_CMD_GET_DEV_INFO2		0x12

/*
 * Control commands, ioctl encoding ('u', nr, struct ublksrv_ctrl_cmd).
 * The direction bits are historical and not meaningful: several
 * "read" commands change state, and DEL_DEV_ASYNC is _IOR.
 */
#define UBLK_U_CMD_GET_QUEUE_AFFINITY	\
	_IOR('u', UBLK_CMD_GET_QUEUE_AFFINITY, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_DEV_INFO		\
	_IOR('u', UBLK_CMD_GET_DEV_INFO, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_ADD_DEV		\
	_IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV		\
	_IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV		\
	_IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV		\
	_IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS		\
	_IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_PARAMS		\
	_IOR('u', UBLK_CMD_GET_PARAMS, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_USER_RECOVERY	\
	_IOWR('u', UBLK_CMD_START_USER_RECOVERY, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_END_USER_RECOVERY	\
	_IOWR('u', UBLK_CMD_END_USER_RECOVERY, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_DEV_INFO2	\
	_IOR('u', UBLK_CMD_GET_DEV_INFO2, struct ublksrv_ctrl_cmd)
/* the feature mask (u64) is written to addr; len must be at least 8 */
#define UBLK_U_CMD_GET_FEATURES		\
	_IOR('u', 0x13, struct ublksrv_ctrl_cmd)
/* like DEL_DEV, but returns without waiting for the device to go away */
#define UBLK_U_CMD_DEL_DEV_ASYNC	\
	_IOR('u', 0x14, struct ublksrv_ctrl_cmd)
/* set the capacity to data[0] sectors (UBLK_F_UPDATE_SIZE) */
#define UBLK_U_CMD_UPDATE_SIZE		\
	_IOWR('u', 0x15, struct ublksrv_ctrl_cmd)
/*
 * Stop dispatching I/O and abort every fetch command so the server can
 * exit, leaving the device QUIESCED for a new server (UBLK_F_QUIESCE).
 * data[0] is the time limit in milliseconds, 0 meaning none.
 */
#define UBLK_U_CMD_QUIESCE_DEV		\
	_IOWR('u', 0x16, struct ublksrv_ctrl_cmd)
/* stop the device unless its block device is open (UBLK_F_SAFE_STOP_DEV) */
#define UBLK_U_CMD_TRY_STOP_DEV		\
	_IOWR('u', 0x17, struct ublksrv_ctrl_cmd)
/*
 * Register (addr points to a struct ublk_shmem_buf_reg; returns the
 * buffer index) or unregister (data[0] = index) server memory for
 * UBLK_F_SHMEM_ZC.
 */
#define UBLK_U_CMD_REG_BUF		\
	_IOWR('u', 0x18, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_UNREG_BUF		\
	_IOWR('u', 0x19, struct ublksrv_ctrl_cmd)

/* size in bytes of the feature mask UBLK_U_CMD_GET_FEATURES returns */
#define UBLK_FEATURES_LEN	8

/*
 * I/O command opcodes, sent to /dev/ublkcN with a struct ublksrv_io_cmd
 * in the SQE (legacy plain encoding first).
 */
#define UBLK_IO_FETCH_REQ		0x20
#define UBLK_IO_COMMIT_AND_FETCH_REQ	0x21
#define UBLK_IO_NEED_GET_DATA		0x22

/* hand the slot's uring_cmd to the driver; completes when a request comes */
#define UBLK_U_IO_FETCH_REQ		\
	_IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
/* complete the slot's request with result, and wait for the next one */
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ	\
	_IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
/* UBLK_F_NEED_GET_DATA: give the buffer a WRITE's data is copied into */
#define UBLK_U_IO_NEED_GET_DATA		\
	_IOWR('u', UBLK_IO_NEED_GET_DATA, struct ublksrv_io_cmd)
/*
 * UBLK_F_SUPPORT_ZERO_COPY: install the pages of slot (q_id, tag)'s
 * request in the issuing ring's fixed buffer table at index addr, and
 * remove them again.
 */
#define UBLK_U_IO_REGISTER_IO_BUF	\
	_IOWR('u', 0x23, struct ublksrv_io_cmd)
#define UBLK_U_IO_UNREGISTER_IO_BUF	\
	_IOWR('u', 0x24, struct ublksrv_io_cmd)

/*
 * UBLK_F_BATCH_IO commands.  Each carries a struct ublk_batch_io in the
 * SQE; PREP and COMMIT find an array of nr_elem elements of elem_bytes
 * each at sqe->addr.
 *
 * PREP_IO_CMDS:   register slots with the driver (replaces FETCH_REQ);
 *                 returns 0 or an error.
 * COMMIT_IO_CMDS: complete the requests of the listed slots; returns the
 *                 number of bytes of the element array it consumed.
 * FETCH_IO_CMDS:  multishot (IORING_URING_CMD_MULTISHOT) with a provided
 *                 buffer group in sqe->buf_index: every CQE delivers an
 *                 array of __u16 tags of new requests in one buffer.
 */
#define UBLK_U_IO_PREP_IO_CMDS		\
	_IOWR('u', 0x25, struct ublk_batch_io)
#define UBLK_U_IO_COMMIT_IO_CMDS	\
	_IOWR('u', 0x26, struct ublk_batch_io)
#define UBLK_U_IO_FETCH_IO_CMDS		\
	_IOWR('u', 0x27, struct ublk_batch_io)

/*
 * Not mainline's: this driver's own extensions take I/O command numbers
 * from 0xff down (mainline allocates upwards from 0x20) and feature bits
 * from 63 down (mainline allocates upwards from 0), so that the two can
 * never meet.  A server that never sets them sees mainline's behaviour:
 * UBLK_U_CMD_GET_FEATURES reports mainline's bits only; ADD_DEV grants
 * ours to a server that asks for them, and the driver lists them in
 * /sys/module/ublk_drv/parameters/ext_features.
 *
 * UBLK_F_BATCH_PRIO, UPDATE_CMD_PRIO: change the priority of FETCH_IO_CMDS
 * commands of the calling ring waiting on queue q_id.  struct
 * ublk_batch_io: flags must be UBLK_BATCH_F_PRIO, prio the new level,
 * nr_elem and elem_bytes 0; reserved2 is the user_data of the one fetch
 * command to change, or 0 for all of them.  Returns how many it found
 * (moved, or at that level already); -EOPNOTSUPP without the feature.
 */
#define UBLK_U_IO_UPDATE_CMD_PRIO	\
	_IOWR('u', 0xff, struct ublk_batch_io)

/*
 * Not mainline's.  UBLK_F_IOPOLL, IOPOLL_SLEEP: the poller of queue q_id
 * (the task whose IORING_SETUP_IOPOLL ring fetched the queue's slots,
 * or with UBLK_F_BATCH_IO sent its first PREP_IO_CMDS or FETCH_IO_CMDS)
 * is about to sleep: the driver signals the eventfd whose descriptor is
 * in addr when the next request for the queue arrives, once; the server
 * arms it again each time it sleeps.  tag and result must be 0.
 * Returns 0 when armed, -EBUSY when requests are already waiting for
 * the poller (poll again instead of sleeping), -EBADF when addr is not
 * an eventfd, -EINVAL for another queue's task or ring, or a device
 * without UBLK_F_IOPOLL.  Stopping, quiescing or recovering the device
 * and the server's exit signal it too, so that the server polls and
 * finds its aborted commands.
 */
#define UBLK_U_IO_IOPOLL_SLEEP		\
	_IOWR('u', 0xfe, struct ublksrv_io_cmd)

/* results a completed FETCH / COMMIT_AND_FETCH command carries */
#define UBLK_IO_RES_OK			0
#define UBLK_IO_RES_NEED_GET_DATA	1
#define UBLK_IO_RES_ABORT		(-ENODEV)

/*
 * mmap offset of queue q's descriptor array: UBLKSRV_CMD_BUF_OFFSET plus
 * q times the size of an array of UBLK_MAX_QUEUE_DEPTH descriptors
 * (of io_desc_size bytes each), rounded up to a page, whatever the
 * device's queue depth.  The mapping is the queue's queue_depth
 * descriptors, rounded up to a page.
 */
#define UBLKSRV_CMD_BUF_OFFSET	0
#define UBLKSRV_IO_BUF_OFFSET	0x80000000

/* largest queue depth a device may have */
#define UBLK_MAX_QUEUE_DEPTH	4096

/*
 * UBLK_F_USER_COPY: the file offset of pread()/pwrite() on /dev/ublkcN
 * selects what is copied, as UBLKSRV_IO_BUF_OFFSET plus
 *
 *   bits  0-24: byte offset into the request's data
 *   bits 25-40: tag
 *   bits 41-52: queue id
 *   bit     62: the request's integrity data instead (UBLK_F_INTEGRITY)
 */
#define UBLK_IO_BUF_OFF		0
#define UBLK_IO_BUF_BITS	25
#define UBLK_IO_BUF_BITS_MASK	((1ULL << UBLK_IO_BUF_BITS) - 1)

#define UBLK_TAG_OFF		UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS		16
#define UBLK_TAG_BITS_MASK	((1ULL << UBLK_TAG_BITS) - 1)

#define UBLK_QID_OFF		(UBLK_TAG_OFF + UBLK_TAG_BITS)
#define UBLK_QID_BITS		12
#define UBLK_QID_BITS_MASK	((1ULL << UBLK_QID_BITS) - 1)

#define UBLK_MAX_NR_QUEUES	(1U << UBLK_QID_BITS)

#define UBLKSRV_IO_BUF_TOTAL_BITS	(UBLK_QID_OFF + UBLK_QID_BITS)
#define UBLKSRV_IO_BUF_TOTAL_SIZE	(1ULL << UBLKSRV_IO_BUF_TOTAL_BITS)

#define UBLK_INTEGRITY_FLAG_OFF		62
#define UBLKSRV_IO_INTEGRITY_FLAG	(1ULL << UBLK_INTEGRITY_FLAG_OFF)

/*
 * Device features, in ublksrv_ctrl_dev_info.flags.  ADD_DEV takes the
 * ones the server asks for; GET_FEATURES returns the ones the driver has.
 */

/*
 * Zero copy: the server does I/O straight on the request's pages after
 * UBLK_U_IO_REGISTER_IO_BUF put them in its ring's buffer table.  Not
 * for unprivileged devices.
 */
#define UBLK_F_SUPPORT_ZERO_COPY	(1ULL << 0)

/* io commands are completed from task work; always set by the driver */
#define UBLK_F_URING_CMD_COMP_IN_TASK	(1ULL << 1)

/*
 * A WRITE is first delivered without data (UBLK_IO_RES_NEED_GET_DATA);
 * the server then names the buffer with UBLK_U_IO_NEED_GET_DATA, so it
 * need not keep a buffer per slot.
 */
#define UBLK_F_NEED_GET_DATA		(1UL << 2)

/*
 * The device outlives its server: when the server exits, requests it
 * held fail, new ones wait, and START/END_USER_RECOVERY attach a new
 * server.
 */
#define UBLK_F_USER_RECOVERY		(1UL << 3)

/* with USER_RECOVERY: requests the old server held are issued again */
#define UBLK_F_USER_RECOVERY_REISSUE	(1UL << 4)

/*
 * Unprivileged device: created and controlled without CAP_SYS_ADMIN by
 * its owner.  Control commands then carry the char device path
 * ("/dev/ublkcN", dev_path_len bytes) in front of their payload at addr,
 * and the caller's access to that path is checked.  Excludes user copy
 * and zero copy; the device is killed rather than waiting forever on a
 * stuck server.
 */
#define UBLK_F_UNPRIVILEGED_DEV		(1UL << 5)

/* the ioctl-encoded opcodes are accepted; always set by the driver */
#define UBLK_F_CMD_IOCTL_ENCODE		(1UL << 6)

/*
 * Request data is copied with pread()/pwrite() on /dev/ublkcN (offsets
 * as described above) instead of through a buffer named in the command.
 */
#define UBLK_F_USER_COPY		(1UL << 7)

/* zoned device; needs USER_COPY or zero copy and UBLK_PARAM_TYPE_ZONED */
#define UBLK_F_ZONED			(1ULL << 8)

/* with USER_RECOVERY: while no server runs, all I/O fails at once */
#define UBLK_F_USER_RECOVERY_FAIL_IO	(1ULL << 9)

/* UBLK_U_CMD_UPDATE_SIZE is supported */
#define UBLK_F_UPDATE_SIZE		(1ULL << 10)

/*
 * Before a request is delivered, its buffer is registered in the fixed
 * buffer table of the ring the fetch command came from, at the index the
 * command's struct ublk_auto_buf_reg gave; committing unregisters it.
 */
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)

/* UBLK_U_CMD_QUIESCE_DEV is supported; needs USER_RECOVERY */
#define UBLK_F_QUIESCE			(1ULL << 12)

/*
 * Each slot belongs to the task that fetched it rather than to one task
 * per queue, so a queue can be served by several threads.
 */
#define UBLK_F_PER_IO_DAEMON		(1ULL << 13)

/*
 * REGISTER/UNREGISTER_IO_BUF may be sent from any task, not only the
 * one owning the slot; UNREGISTER ignores q_id and tag.
 */
#define UBLK_F_BUF_REG_OFF_DAEMON	(1ULL << 14)

/*
 * Slots are prepared, committed and fetched in batches per queue with
 * UBLK_U_IO_PREP/COMMIT/FETCH_IO_CMDS; FETCH_REQ, COMMIT_AND_FETCH_REQ
 * and NEED_GET_DATA are refused.
 */
#define UBLK_F_BATCH_IO			(1ULL << 15)

/*
 * Requests may carry integrity (metadata) data, flagged with
 * UBLK_IO_F_INTEGRITY and copied with UBLKSRV_IO_INTEGRITY_FLAG in the
 * user copy offset.  Needs USER_COPY.
 */
#define UBLK_F_INTEGRITY		(1ULL << 16)

/* UBLK_U_CMD_TRY_STOP_DEV is supported */
#define UBLK_F_SAFE_STOP_DEV		(1ULL << 17)

/* START_DEV does not scan the new disk for partitions */
#define UBLK_F_NO_AUTO_PART_SCAN	(1ULL << 18)

/*
 * Shared-memory zero copy: server memory registered with
 * UBLK_U_CMD_REG_BUF is recognised in requests, which are then
 * delivered with UBLK_IO_F_SHMEM_ZC and an (index, offset) address.
 */
#define UBLK_F_SHMEM_ZC			(1ULL << 19)

/*
 * The server chooses the size of a descriptor (struct ublksrv_io_desc
 * and padding after it) in ublksrv_ctrl_dev_info.io_desc_size at
 * ADD_DEV: at least sizeof(struct ublksrv_io_desc), a multiple of 8, at
 * most 256.  Descriptor t of a queue is then t * io_desc_size bytes into
 * the queue's array, and every size and offset of the descriptor mmap
 * (see UBLKSRV_CMD_BUF_OFFSET) scales with it.  The padding reads as
 * zero.  Without this flag a descriptor is sizeof(struct
 * ublksrv_io_desc) bytes and ADD_DEV reports that size in io_desc_size.
 */
#define UBLK_F_IO_DESC_SIZE		(1ULL << 20)

/*
 * Not mainline's (bits from 63 down are this driver's, see
 * UBLK_U_IO_UPDATE_CMD_PRIO).  With UBLK_F_BATCH_IO: every
 * FETCH_IO_CMDS command may carry a priority level
 * (UBLK_BATCH_F_PRIO, struct ublk_batch_io.prio), 0 to
 * UBLK_BATCH_PRIO_MAX; new requests always go to a waiting fetch
 * command of the highest level that has one, first come first served
 * within a level.  A command without UBLK_BATCH_F_PRIO gets
 * UBLK_BATCH_PRIO_DEFAULT.  UBLK_U_IO_UPDATE_CMD_PRIO changes the level
 * of waiting commands, so that a server can move load between its
 * threads without moving slots.
 */
#define UBLK_F_BATCH_PRIO		(1ULL << 63)

/*
 * Not mainline's.  The slots' commands (FETCH_REQ, COMMIT_AND_FETCH_REQ)
 * come from an IORING_SETUP_IOPOLL ring, one ring and one task per
 * queue, which may also carry the server's polled backing I/O: a new
 * request is handed to its command from the ring's own poll loop
 * (io_uring_enter() with IORING_ENTER_GETEVENTS), not from task work,
 * so the path from ->queue_rq() to the server has no task work, IPI or
 * wakeup while the server polls.  A server whose queue is idle sleeps
 * with UBLK_U_IO_IOPOLL_SLEEP.  NEED_GET_DATA, REGISTER_IO_BUF and
 * UNREGISTER_IO_BUF complete at once and may be issued on the same
 * ring.  PER_IO_DAEMON is dropped.  FETCH_REQ and COMMIT_AND_FETCH_REQ
 * of such a device on a ring without IORING_SETUP_IOPOLL, and of any
 * other device on an IOPOLL ring, fail with -EINVAL.  With
 * UBLK_F_BATCH_IO, the same holds for FETCH_IO_CMDS, whose CQEs the
 * driver posts from the poll loop; PREP_IO_CMDS, COMMIT_IO_CMDS and
 * UPDATE_CMD_PRIO of such a device come from the queue's IOPOLL ring
 * too (the first PREP or FETCH binds it), else -EINVAL.  A driver
 * whose io_uring cannot post CQEs from a poll drops UBLK_F_IOPOLL
 * with UBLK_F_BATCH_IO.
 */
#define UBLK_F_IOPOLL			(1ULL << 62)

/* device states, in ublksrv_ctrl_dev_info.state */
#define UBLK_S_DEV_DEAD		0
#define UBLK_S_DEV_LIVE		1
#define UBLK_S_DEV_QUIESCED	2
#define UBLK_S_DEV_FAIL_IO	3

/* payload of every control command: the SQE128's command area */
struct ublksrv_ctrl_cmd {
	/* device id; -1 in ADD_DEV lets the driver choose */
	__u32	dev_id;

	/* -1 (ADD_DEV checks it); GET_QUEUE_AFFINITY takes data[0] */
	__u16	queue_id;

	/* size of the user buffer at addr, and the buffer */
	__u16	len;
	__u64	addr;

	/*
	 * inline argument: the server's pid for START_DEV and
	 * END_USER_RECOVERY, the queue for GET_QUEUE_AFFINITY
	 */
	__u64	data[1];

	/*
	 * UNPRIVILEGED_DEV: the first dev_path_len bytes at addr hold the
	 * char device path; len counts them too.
	 */
	__u16	dev_path_len;
	__u16	pad;
	__u32	reserved;
};

struct ublksrv_ctrl_dev_info {
	__u16	nr_hw_queues;
	__u16	queue_depth;
	__u16	state;
	/* bytes per descriptor in the mmapped arrays, see UBLK_F_IO_DESC_SIZE */
	__u16	io_desc_size;

	__u32	max_io_buf_bytes;
	__u32	dev_id;

	__s32	ublksrv_pid;
	__u32	pad1;

	/* UBLK_F_* */
	__u64	flags;

	/* opaque to the driver: stored and returned for the server */
	__u64	ublksrv_flags;

	/* filled in by the driver */
	__u32	owner_uid;
	__u32	owner_gid;
	__u64	reserved1;
	__u64	reserved2;
};

/* request operations, bits 0-7 of ublksrv_io_desc.op_flags */
#define UBLK_IO_OP_READ			0
#define UBLK_IO_OP_WRITE		1
#define UBLK_IO_OP_FLUSH		2
#define UBLK_IO_OP_DISCARD		3
#define UBLK_IO_OP_WRITE_SAME		4
#define UBLK_IO_OP_WRITE_ZEROES		5
#define UBLK_IO_OP_ZONE_OPEN		10
#define UBLK_IO_OP_ZONE_CLOSE		11
#define UBLK_IO_OP_ZONE_FINISH		12
#define UBLK_IO_OP_ZONE_APPEND		13
#define UBLK_IO_OP_ZONE_RESET_ALL	14
#define UBLK_IO_OP_ZONE_RESET		15
/*
 * Zone report: report up to nr_zones zones from start_sector on, as an
 * array of struct blk_zone written to the request's buffer; the result
 * is the number of bytes written (fewer zones when the device ends).
 */
#define UBLK_IO_OP_REPORT_ZONES		18

/* request flags, bits 8-31 of ublksrv_io_desc.op_flags */
#define UBLK_IO_F_FAILFAST_DEV		(1U << 8)
#define UBLK_IO_F_FAILFAST_TRANSPORT	(1U << 9)
#define UBLK_IO_F_FAILFAST_DRIVER	(1U << 10)
#define UBLK_IO_F_META			(1U << 11)
#define UBLK_IO_F_FUA			(1U << 13)
#define UBLK_IO_F_NOUNMAP		(1U << 15)
#define UBLK_IO_F_SWAP			(1U << 16)
/*
 * AUTO_BUF_REG with UBLK_AUTO_BUF_REG_FALLBACK: registering the buffer
 * failed, the server must register it itself.
 */
#define UBLK_IO_F_NEED_REG_BUF		(1U << 17)
/* the request has integrity data (UBLK_F_INTEGRITY) */
#define UBLK_IO_F_INTEGRITY		(1U << 18)
/* addr is a UBLK_F_SHMEM_ZC (index, offset) pair, see below */
#define UBLK_IO_F_SHMEM_ZC		(1U << 19)

/*
 * One request, as the server finds it at index tag of its queue's
 * read-only array, mmapped from /dev/ublkcN (see UBLKSRV_CMD_BUF_OFFSET
 * for the offset of each queue's array).
 */
struct ublksrv_io_desc {
	/* operation in bits 0-7, UBLK_IO_F_* flags above */
	__u32		op_flags;

	union {
		__u32		nr_sectors;
		/* UBLK_IO_OP_REPORT_ZONES */
		__u32		nr_zones;
	};

	__u64		start_sector;

	/* the server's buffer for this slot, as it gave it */
	__u64		addr;
};

static inline __u8 ublksrv_get_op(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags & 0xff;
}

static inline __u32 ublksrv_get_flags(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags >> 8;
}

/* payload of FETCH_REQ, COMMIT_AND_FETCH_REQ, NEED_GET_DATA, *_IO_BUF */
struct ublksrv_io_cmd {
	__u16	q_id;
	__u16	tag;

	/* COMMIT_AND_FETCH_REQ: bytes done, or a negative errno */
	__s32	result;

	union {
		/*
		 * The slot's data buffer (copy mode), or the buffer table
		 * index (REGISTER/UNREGISTER_IO_BUF); with AUTO_BUF_REG a
		 * struct ublk_auto_buf_reg travels in sqe->addr instead.
		 */
		__u64	addr;
		/* ZONE_APPEND commit: where the data was written */
		__u64	zone_append_lba;
	};
};

/*
 * UBLK_F_AUTO_BUF_REG: where the driver registers a request's buffer,
 * passed in sqe->addr of FETCH_REQ and COMMIT_AND_FETCH_REQ as
 * bits 0-15 index, 16-23 flags, 24-31 reserved0, 32-63 reserved1.
 */
/* on failure deliver the request anyway, with UBLK_IO_F_NEED_REG_BUF */
#define UBLK_AUTO_BUF_REG_FALLBACK	(1 << 0)
#define UBLK_AUTO_BUF_REG_F_MASK	UBLK_AUTO_BUF_REG_FALLBACK

struct ublk_auto_buf_reg {
	/* fixed buffer table index */
	__u16	index;
	__u8	flags;
	/* must be zero */
	__u8	reserved0;
	__u32	reserved1;
};

static inline struct ublk_auto_buf_reg ublk_sqe_addr_to_auto_buf_reg(__u64 sqe_addr)
{
	struct ublk_auto_buf_reg reg;

	reg.index = sqe_addr & 0xffff;
	reg.flags = (sqe_addr >> 16) & 0xff;
	reg.reserved0 = (sqe_addr >> 24) & 0xff;
	reg.reserved1 = sqe_addr >> 32;
	return reg;
}

static inline __u64 ublk_auto_buf_reg_to_sqe_addr(const struct ublk_auto_buf_reg *reg)
{
	return (__u64)reg->index | ((__u64)reg->flags << 16) |
		((__u64)reg->reserved0 << 24) | ((__u64)reg->reserved1 << 32);
}

/*
 * UBLK_F_BATCH_IO element: this header, then a __u64 buffer address if
 * UBLK_BATCH_F_HAS_BUF_ADDR, then a __u64 zone append LBA if
 * UBLK_BATCH_F_HAS_ZONE_LBA.
 */
struct ublk_elem_header {
	__u16	tag;
	/* fixed buffer index, AUTO_BUF_REG only */
	__u16	buf_index;
	/* COMMIT_IO_CMDS only */
	__s32	result;
};

/* in the SQE's command area of the UBLK_F_BATCH_IO commands */
struct ublk_batch_io {
	__u16	q_id;
#define UBLK_BATCH_F_HAS_ZONE_LBA		(1 << 0)
#define UBLK_BATCH_F_HAS_BUF_ADDR		(1 << 1)
#define UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK	(1 << 2)
/* not mainline's: UBLK_F_BATCH_PRIO, @prio is set (FETCH, UPDATE_CMD_PRIO) */
#define UBLK_BATCH_F_PRIO			(1 << 15)
	__u16	flags;
	__u16	nr_elem;
	/* size of one element; 2 (a bare tag) for FETCH_IO_CMDS */
	__u8	elem_bytes;
	union {
		__u8	reserved;
		/* UBLK_BATCH_F_PRIO: 0 (lowest) to UBLK_BATCH_PRIO_MAX */
		__u8	prio;
	};
	__u64	reserved2;
};

/* UBLK_F_BATCH_PRIO levels */
#define UBLK_BATCH_PRIO_MAX			7
#define UBLK_BATCH_PRIO_DEFAULT			4

/*
 * UBLK_F_SHMEM_ZC: memory UBLK_U_CMD_REG_BUF registers; a request whose
 * pages lie in it is delivered with UBLK_IO_F_SHMEM_ZC and
 * addr = (buffer index << 32) | byte offset in that buffer.
 */
#define UBLK_SHMEM_BUF_READ_ONLY	(1U << 0)

struct ublk_shmem_buf_reg {
	__u64	addr;
	__u32	len;
	__u32	flags;
};

#define UBLK_SHMEM_ZC_OFF_MASK		0xffffffffULL
#define UBLK_SHMEM_ZC_IDX_OFF		32
#define UBLK_SHMEM_ZC_IDX_MASK		0xffff

static inline __u64 ublk_shmem_zc_addr(__u16 index, __u32 offset)
{
	return ((__u64)index << UBLK_SHMEM_ZC_IDX_OFF) | offset;
}

static inline __u16 ublk_shmem_zc_index(__u64 addr)
{
	return (addr >> UBLK_SHMEM_ZC_IDX_OFF) & UBLK_SHMEM_ZC_IDX_MASK;
}

static inline __u32 ublk_shmem_zc_offset(__u64 addr)
{
	return addr & UBLK_SHMEM_ZC_OFF_MASK;
}

/* Device parameters, set with SET_PARAMS before START_DEV. */
struct ublk_param_basic {
#define UBLK_ATTR_READ_ONLY		(1 << 0)
#define UBLK_ATTR_ROTATIONAL		(1 << 1)
#define UBLK_ATTR_VOLATILE_CACHE	(1 << 2)
#define UBLK_ATTR_FUA			(1 << 3)
	__u32	attrs;
	/* log2 of the sizes in bytes */
	__u8	logical_bs_shift;
	__u8	physical_bs_shift;
	__u8	io_opt_shift;
	__u8	io_min_shift;

	/* in 512-byte sectors */
	__u32	max_sectors;
	__u32	chunk_sectors;

	__u64	dev_sectors;
	__u64	virt_boundary_mask;
};

struct ublk_param_discard {
	__u32	discard_alignment;

	__u32	discard_granularity;
	__u32	max_discard_sectors;

	__u32	max_write_zeroes_sectors;
	__u16	max_discard_segments;
	__u16	reserved0;
};

/* read-only: GET_PARAMS reports the device numbers here */
struct ublk_param_devt {
	__u32	char_major;
	__u32	char_minor;
	__u32	disk_major;
	__u32	disk_minor;
};

struct ublk_param_zoned {
	__u32	max_open_zones;
	__u32	max_active_zones;
	__u32	max_zone_append_sectors;
	__u8	reserved[20];
};

/* alignment + 1 is the required buffer alignment in bytes */
struct ublk_param_dma_align {
	__u32	alignment;
	__u8	pad[4];
};

#define UBLK_MIN_SEGMENT_SIZE	4096

struct ublk_param_segment {
	/* seg_boundary_mask + 1 is a power of two, at least 4096 */
	__u64	seg_boundary_mask;
	/* at least UBLK_MIN_SEGMENT_SIZE */
	__u32	max_segment_size;
	__u16	max_segments;
	__u8	pad[2];
};

/* UBLK_F_INTEGRITY; flags and csum_type take the LBMD_PI_* values */
struct ublk_param_integrity {
	__u32	flags;
	__u16	max_integrity_segments;
	__u8	interval_exp;
	__u8	metadata_size;
	__u8	pi_offset;
	__u8	csum_type;
	__u8	tag_size;
	__u8	pad[5];
};

struct ublk_params {
	/*
	 * Size of this structure as the server knows it.  Newer parameter
	 * types are appended, so an old server passes a smaller len.
	 */
	__u32	len;
#define UBLK_PARAM_TYPE_BASIC		(1 << 0)
#define UBLK_PARAM_TYPE_DISCARD		(1 << 1)
#define UBLK_PARAM_TYPE_DEVT		(1 << 2)
#define UBLK_PARAM_TYPE_ZONED		(1 << 3)
#define UBLK_PARAM_TYPE_DMA_ALIGN	(1 << 4)
#define UBLK_PARAM_TYPE_SEGMENT		(1 << 5)
#define UBLK_PARAM_TYPE_INTEGRITY	(1 << 6)
	/* which of the parameter groups below are valid */
	__u32	types;

	struct ublk_param_basic		basic;
	struct ublk_param_discard	discard;
	struct ublk_param_devt		devt;
	struct ublk_param_zoned		zoned;
	struct ublk_param_dma_align	dma;
	struct ublk_param_segment	seg;
	struct ublk_param_integrity	integrity;
};

#endif
