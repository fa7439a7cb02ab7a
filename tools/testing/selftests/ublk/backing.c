// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for targets that keep data in backing files (loop, stripe,
 * fault_inject): opening them, O_DIRECT when the file system allows it,
 * and preparing their IO on a thread's ring, where backing file i is
 * fixed file i + 1 (0 is /dev/ublkcN).
 *
 * With --iopoll the files must be O_DIRECT and pollable: one polled read
 * on a scratch IOPOLL ring when a file is opened says so (io_uring fails
 * it with -EOPNOTSUPP for a file without ->iopoll(), such as tmpfs, and
 * the block layer for a disk without poll queues), so that the error
 * comes at "add" rather than as failed I/O later.  FLUSH, DISCARD and
 * WRITE_ZEROES are then system calls, see kublk_backing_prep().
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include "kublk.h"

/* --iopoll: can @fd (O_DIRECT) be read with polling? One 4k read at 0. */
static int backing_probe_poll(const char *path, int fd)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	void *buf = NULL;
	int ret;

	ret = io_uring_queue_init(2, &ring, IORING_SETUP_IOPOLL);
	if (ret) {
		kublk_err("%s: an IOPOLL io_uring: %s", path, strerror(-ret));
		return ret;
	}
	if (posix_memalign(&buf, 4096, 4096)) {
		ret = -ENOMEM;
		goto out;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, buf, 4096, 0);
	ret = io_uring_submit(&ring);
	if (ret == 1)
		ret = io_uring_wait_cqe(&ring, &cqe);
	else if (ret >= 0)
		ret = -EIO;
	if (ret) {
		kublk_err("%s: probing a polled read: %s", path, strerror(-ret));
		goto out;
	}
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (ret == -EOPNOTSUPP)
		kublk_err("%s cannot be polled (--iopoll): a polled O_DIRECT read is not supported (a block device with poll queues is, e.g. null_blk poll_queues=N)",
			  path);
	else if (ret < 0)
		kublk_err("%s: a polled read: %s", path, strerror(-ret));
	ret = ret < 0 ? ret : 0;
out:
	free(buf);
	io_uring_queue_exit(&ring);
	return ret;
}

int kublk_backing_open(struct kublk_dev *dev, int i, unsigned long long *size)
{
	const char *path = dev->files[i];
	struct stat st;
	int fd = -1;

	if (dev->direct) {
		fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd < 0 && errno == EINVAL && dev->iopoll) {
			kublk_err("%s cannot be polled (--iopoll): it cannot be opened O_DIRECT",
				  path);
			return -EOPNOTSUPP;
		}
		if (fd < 0 && errno == EINVAL) {
			kublk_log("%s: no O_DIRECT here, using buffered IO", path);
			dev->direct = false;
		}
	}
	if (fd < 0 && !dev->direct)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kublk_err("%s: %m", path);
		return -errno;
	}
	dev->fds[i] = fd;
	if (fstat(fd, &st) < 0) {
		kublk_err("%s: %m", path);
		return -errno;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			kublk_err("%s: BLKGETSIZE64: %m", path);
			return -errno;
		}
	} else if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
	} else {
		kublk_err("%s: not a regular file or block device", path);
		return -EINVAL;
	}
	if (dev->iopoll)
		return backing_probe_poll(path, fd);
	return 0;
}

void kublk_backing_close(struct kublk_dev *dev)
{
	int i;

	for (i = 0; i < dev->nr_files; i++) {
		if (dev->fds[i] > 0)
			close(dev->fds[i]);
		dev->fds[i] = -1;
	}
}

/*
 * --iopoll: an IOPOLL ring takes no FSYNC or FALLOCATE (io_uring refuses
 * every op it cannot poll), so do them here, as system calls, and post
 * their result through a NOP: the target sees a CQE as for any other
 * backing IO (kublk_handle_cqe() puts the result in).
 */
static void backing_sync(struct kublk_thread *t, struct io_uring_sqe *sqe,
			 struct kublk_queue *q, int tag, int file, unsigned int op,
			 unsigned int len, unsigned long long off, unsigned int tgt_data)
{
	int fd = q->dev->fds[file], err = 0;

	switch (op) {
	case UBLK_IO_OP_FLUSH:
		if (fdatasync(fd))
			err = errno;
		break;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
			err = errno;
		break;
	default:
		break;
	}
	if (err > KUBLK_UD_SYNC_MAX)
		err = EIO;
	io_uring_prep_nop(sqe);
	sqe->user_data = kublk_ud(q->q_id, tag, op, tgt_data, true) | KUBLK_UD_SYNC |
			 ((__u64)err << KUBLK_UD_SYNC_SHIFT);
}

/*
 * One backing IO for request op @op.  DISCARD and WRITE_ZEROES both punch
 * a hole: a hole reads back as zeroes, and tmpfs has no ZERO_RANGE.
 * With zero copy, READ and WRITE go to the registered request buffer,
 * whose addresses start at 0: addr is the offset in the request.
 */
void kublk_backing_prep(struct kublk_thread *t, struct kublk_queue *q, int tag,
			int file, unsigned int op, unsigned int buf_off, unsigned int len,
			unsigned long long off, unsigned int tgt_data)
{
	struct io_uring_sqe *sqe = kublk_tgt_sqe(t);
	const struct kublk_io *io = &q->ios[tag];
	bool zc = io->flags & KUBLK_IO_ZC;
	void *buf = zc ? (void *)(uintptr_t)buf_off : (char *)io->buf + buf_off;
	int fd = file + 1;

	if (kublk_dev_iopoll(q->dev) && op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE) {
		backing_sync(t, sqe, q, tag, file, op, len, off, tgt_data);
		return;
	}

	switch (op) {
	case UBLK_IO_OP_READ:
		if (zc)
			io_uring_prep_read_fixed(sqe, fd, buf, len, off, io->zc_index);
		else
			io_uring_prep_read(sqe, fd, buf, len, off);
		break;
	case UBLK_IO_OP_WRITE:
		if (zc)
			io_uring_prep_write_fixed(sqe, fd, buf, len, off, io->zc_index);
		else
			io_uring_prep_write(sqe, fd, buf, len, off);
		break;
	case UBLK_IO_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					off, len);
		break;
	default:
		io_uring_prep_nop(sqe);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = kublk_ud(q->q_id, tag, op, tgt_data, true);
}

/* discard and write zeroes in 4k units, one range per request */
void kublk_set_discard(struct kublk_dev *dev)
{
	struct ublk_param_discard *d = &dev->params.discard;

	dev->params.types |= UBLK_PARAM_TYPE_DISCARD;
	d->discard_granularity = 4096;
	d->max_discard_sectors = UINT32_MAX >> 9;
	d->max_write_zeroes_sectors = UINT32_MAX >> 9;
	d->max_discard_segments = 1;
}

/*
 * What a request gets from a target that keeps no data: READ and WRITE
 * their length, FLUSH, DISCARD and WRITE_ZEROES 0, others -EOPNOTSUPP.
 */
int kublk_null_result(const struct kublk_queue *q, int tag)
{
	switch (ublksrv_get_op(kublk_iod(q, tag))) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		return kublk_io_len(q, tag);
	case UBLK_IO_OP_FLUSH:
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		return 0;
	}
	return -EOPNOTSUPP;
}

/* serve request (q, tag) with one IO on backing file 0 */
int kublk_backing_queue_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	int res = kublk_null_result(q, tag);

	if (res < 0)
		return res;
	kublk_backing_prep(t, q, tag, 0, ublksrv_get_op(kublk_iod(q, tag)), 0,
			   kublk_io_len(q, tag), kublk_io_off(q, tag), 0);
	return KUBLK_QUEUED;
}

/*
 * Parameters of a file-backed device: a volatile write cache (so that
 * flushes reach the backing files) and discard.
 */
void kublk_backing_set_params(struct kublk_dev *dev)
{
	dev->params.basic.attrs |= UBLK_ATTR_VOLATILE_CACHE;
	kublk_set_discard(dev);
}

/* a relative timeout of io->ts as target IO @op of (q, tag) */
int kublk_prep_timeout(struct kublk_thread *t, struct kublk_queue *q, int tag,
		       unsigned int op, struct __kernel_timespec *ts)
{
	struct io_uring_sqe *sqe = kublk_tgt_sqe(t);

	io_uring_prep_timeout(sqe, ts, 0, 0);
	sqe->user_data = kublk_ud(q->q_id, tag, op, 0, true);
	return 0;
}

/* io->ts = @us microseconds */
void kublk_set_ts(struct __kernel_timespec *ts, unsigned long long us)
{
	ts->tv_sec = us / 1000000;
	ts->tv_nsec = (us % 1000000) * 1000;
}
