// SPDX-License-Identifier: GPL-2.0
/*
 * null target: no data movement.  READ and WRITE complete with their full
 * length (a READ returns whatever the slot's buffer holds), FLUSH,
 * DISCARD and WRITE_ZEROES with 0.  --latency_us N completes every
 * request N microseconds late, with an io_uring timeout.
 */
#include <stdlib.h>
#include "kublk.h"

#define NULL_OPT_LATENCY	0x300
#define NULL_OP_DELAY		1

struct null_tgt {
	unsigned int latency_us;
};

static const struct option null_opts[] = {
	{ "latency_us", required_argument, NULL, NULL_OPT_LATENCY },
	{ }
};

static struct null_tgt *null_get(struct kublk_dev *dev)
{
	if (!dev->tgt_data)
		dev->tgt_data = calloc(1, sizeof(struct null_tgt));
	return dev->tgt_data;
}

static int null_parse_opt(struct kublk_dev *dev, int opt, const char *arg)
{
	struct null_tgt *n = null_get(dev);

	if (!n)
		return -ENOMEM;
	switch (opt) {
	case NULL_OPT_LATENCY:
		if (kublk_parse_uint(arg, &n->latency_us)) {
			kublk_err("--latency_us: '%s' is not a number of microseconds", arg);
			return -EINVAL;
		}
		return 0;
	case 0:
		kublk_err("null: takes no files ('%s')", arg);
		return -EINVAL;
	}
	return -EINVAL;
}

static int null_init(struct kublk_dev *dev)
{
	if (!null_get(dev))
		return -ENOMEM;
	if (dev->iopoll && ((struct null_tgt *)dev->tgt_data)->latency_us) {
		kublk_err("--iopoll: null --latency_us delays with io_uring timeouts, which an IOPOLL ring cannot take");
		return -EINVAL;
	}
	if (!dev->size)
		dev->size = 1ULL << 30;
	kublk_set_discard(dev);
	return 0;
}

static void null_deinit(struct kublk_dev *dev)
{
	free(dev->tgt_data);
	dev->tgt_data = NULL;
}

static int null_sqes_per_io(const struct kublk_dev *dev)
{
	const struct null_tgt *n = dev->tgt_data;

	return n && n->latency_us ? 1 : 0;
}

static int null_queue_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	const struct null_tgt *n = q->dev->tgt_data;
	struct kublk_io *io = &q->ios[tag];
	int res = kublk_null_result(q, tag);

	if (res < 0 || !n->latency_us)
		return res;
	io->tgt_res = res;
	kublk_set_ts(&io->ts, n->latency_us);
	kublk_prep_timeout(t, q, tag, NULL_OP_DELAY, &io->ts);
	return KUBLK_QUEUED;
}

static void null_io_done(struct kublk_thread *t, struct kublk_queue *q, int tag,
			 const struct io_uring_cqe *cqe)
{
	/* the timeout expired (-ETIME): the request is done */
	kublk_complete_io(t, q, tag, q->ios[tag].tgt_res);
}

static void null_describe(const struct kublk_dev *dev, FILE *f)
{
	const struct null_tgt *n = dev->tgt_data;

	if (n && n->latency_us)
		fprintf(f, " latency_us=%u", n->latency_us);
}

const struct kublk_tgt_ops tgt_null_ops = {
	.name = "null",
	.usage = "  null [--latency_us N]\n"
		 "      no backing store; -s sets the size (default 1G);\n"
		 "      --latency_us completes each request N us late\n",
	.opts = null_opts,
	.parse_opt = null_parse_opt,
	.init = null_init,
	.deinit = null_deinit,
	.sqes_per_io = null_sqes_per_io,
	.queue_io = null_queue_io,
	.io_done = null_io_done,
	.describe = null_describe,
};
