// SPDX-License-Identifier: GPL-2.0
/*
 * loop target: one backing file (or block device), the same size as the
 * ublk device, accessed with O_DIRECT (unless the file system cannot, or
 * --buffered) through the serving thread's io_uring: READ and WRITE as
 * one read/write each, FLUSH as fdatasync, DISCARD and WRITE_ZEROES as
 * a punched hole.
 */
#include "kublk.h"

#define LOOP_OPT_BUFFERED	0x310

static const struct option loop_opts[] = {
	{ "buffered", no_argument, NULL, LOOP_OPT_BUFFERED },
	{ }
};

static int loop_parse_opt(struct kublk_dev *dev, int opt, const char *arg)
{
	switch (opt) {
	case LOOP_OPT_BUFFERED:
		dev->direct = false;
		return 0;
	case 0:
		if (dev->nr_files) {
			kublk_err("loop: takes one backing file ('%s' is a second)", arg);
			return -EINVAL;
		}
		dev->files[dev->nr_files++] = (char *)arg;
		return 0;
	}
	return -EINVAL;
}

static int loop_init(struct kublk_dev *dev)
{
	unsigned long long size;
	int ret;

	if (dev->nr_files != 1) {
		kublk_err("loop: needs a backing file");
		return -EINVAL;
	}
	if (dev->iopoll && !dev->direct) {
		kublk_err("--iopoll: loop --buffered: polled I/O is O_DIRECT only");
		return -EINVAL;
	}
	ret = kublk_backing_open(dev, 0, &size);
	if (ret)
		return ret;
	if (dev->size && dev->size > size) {
		kublk_err("loop: -s %llu is larger than %s (%llu bytes)", dev->size,
			  dev->files[0], size);
		return -EINVAL;
	}
	if (!dev->size)
		dev->size = size;
	kublk_backing_set_params(dev);
	return 0;
}

static void loop_deinit(struct kublk_dev *dev)
{
	kublk_backing_close(dev);
}

static int loop_sqes_per_io(const struct kublk_dev *dev)
{
	return 1;
}

static void loop_io_done(struct kublk_thread *t, struct kublk_queue *q, int tag,
			 const struct io_uring_cqe *cqe)
{
	/* a short read or write is passed on: the driver retries the rest */
	kublk_complete_io(t, q, tag, cqe->res);
}

static void loop_describe(const struct kublk_dev *dev, FILE *f)
{
	fprintf(f, " file=%s", dev->files[0]);
}

const struct kublk_tgt_ops tgt_loop_ops = {
	.name = "loop",
	.usage = "  loop [--buffered] FILE\n"
		 "      serves FILE (O_DIRECT unless --buffered); the size is FILE's\n",
	.opts = loop_opts,
	.parse_opt = loop_parse_opt,
	.init = loop_init,
	.deinit = loop_deinit,
	.sqes_per_io = loop_sqes_per_io,
	.queue_io = kublk_backing_queue_io,
	.io_done = loop_io_done,
	.describe = loop_describe,
};
