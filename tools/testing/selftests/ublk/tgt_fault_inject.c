// SPDX-License-Identifier: GPL-2.0
/*
 * fault_inject target: a loop target over an optional FILE (without one,
 * no data is kept, as with null) that misbehaves on request:
 *
 *   --delay_us N       every request waits N us (an io_uring timeout)
 *                      before it is served
 *   --error_op OPS     requests of these ops (comma list of read, write,
 *                      flush, discard, write_zeroes, any) ...
 *   --error_off B --error_len B
 *                      ... that touch this byte range (default: all)
 *                      fail with -errno ...
 *   --errno N          ... N (default EIO)
 *   --die_at POINT     the server kills itself (SIGKILL) at POINT:
 *       fetch          while starting: after fetch --die_after of each
 *                      server thread was issued, or by default once all
 *                      fetches are issued but before START_DEV
 *       inflight       on receiving request number --die_after
 *                      (default 1), which is thus in flight
 *       recovery       as "fetch", but in the server that "kublk recover"
 *                      starts: before END_USER_RECOVERY
 *
 * "fetch" and "inflight" only apply to the server "add" starts, so that a
 * recovered server does not die the same way again.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kublk.h"

enum {
	FI_OPT_DELAY = 0x330,
	FI_OPT_ERR_OP,
	FI_OPT_ERR_OFF,
	FI_OPT_ERR_LEN,
	FI_OPT_ERRNO,
	FI_OPT_DIE_AT,
	FI_OPT_DIE_AFTER,
};

enum fi_die { FI_DIE_NONE, FI_DIE_FETCH, FI_DIE_INFLIGHT, FI_DIE_RECOVERY };

/* fault_inject's own io ops, in user_data: the delay, then the real IO */
#define FI_OP_DELAY	0x80

struct fi_tgt {
	unsigned int delay_us;
	unsigned int error_ops;		/* 1 << UBLK_IO_OP_* */
	unsigned long long error_off, error_len;
	unsigned int error_errno;
	enum fi_die die_at;
	unsigned int die_after;
	unsigned long seen;		/* requests received, atomic */
};

static const struct option fi_opts[] = {
	{ "delay_us", required_argument, NULL, FI_OPT_DELAY },
	{ "error_op", required_argument, NULL, FI_OPT_ERR_OP },
	{ "error_off", required_argument, NULL, FI_OPT_ERR_OFF },
	{ "error_len", required_argument, NULL, FI_OPT_ERR_LEN },
	{ "errno", required_argument, NULL, FI_OPT_ERRNO },
	{ "die_at", required_argument, NULL, FI_OPT_DIE_AT },
	{ "die_after", required_argument, NULL, FI_OPT_DIE_AFTER },
	{ }
};

static const struct {
	const char *name;
	unsigned int mask;
} fi_op_names[] = {
	{ "read", 1U << UBLK_IO_OP_READ },
	{ "write", 1U << UBLK_IO_OP_WRITE },
	{ "flush", 1U << UBLK_IO_OP_FLUSH },
	{ "discard", 1U << UBLK_IO_OP_DISCARD },
	{ "write_zeroes", 1U << UBLK_IO_OP_WRITE_ZEROES },
	{ "any", ~0U },
};

static struct fi_tgt *fi_get(struct kublk_dev *dev)
{
	struct fi_tgt *fi = dev->tgt_data;

	if (!fi) {
		fi = calloc(1, sizeof(*fi));
		if (fi)
			fi->error_errno = EIO;
		dev->tgt_data = fi;
	}
	return fi;
}

static int fi_parse_ops(struct fi_tgt *fi, const char *arg)
{
	char *s = strdup(arg), *tok, *save = NULL;
	unsigned int i;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < ARRAY_SIZE(fi_op_names); i++)
			if (!strcmp(tok, fi_op_names[i].name))
				break;
		if (i == ARRAY_SIZE(fi_op_names)) {
			kublk_err("fault_inject: --error_op: unknown op '%s' (read, write, flush, discard, write_zeroes, any)",
				  tok);
			ret = -EINVAL;
			break;
		}
		fi->error_ops |= fi_op_names[i].mask;
	}
	free(s);
	return ret;
}

static int fi_parse_opt(struct kublk_dev *dev, int opt, const char *arg)
{
	struct fi_tgt *fi = fi_get(dev);

	if (!fi)
		return -ENOMEM;
	switch (opt) {
	case FI_OPT_DELAY:
		if (!kublk_parse_uint(arg, &fi->delay_us))
			return 0;
		break;
	case FI_OPT_ERR_OP:
		return fi_parse_ops(fi, arg);
	case FI_OPT_ERR_OFF:
		if (!kublk_parse_size(arg, &fi->error_off))
			return 0;
		break;
	case FI_OPT_ERR_LEN:
		if (!kublk_parse_size(arg, &fi->error_len))
			return 0;
		break;
	case FI_OPT_ERRNO:
		if (!kublk_parse_uint(arg, &fi->error_errno) && fi->error_errno &&
		    fi->error_errno < 4096)
			return 0;
		break;
	case FI_OPT_DIE_AT:
		if (!strcmp(arg, "fetch"))
			fi->die_at = FI_DIE_FETCH;
		else if (!strcmp(arg, "inflight"))
			fi->die_at = FI_DIE_INFLIGHT;
		else if (!strcmp(arg, "recovery"))
			fi->die_at = FI_DIE_RECOVERY;
		else
			break;
		return 0;
	case FI_OPT_DIE_AFTER:
		if (!kublk_parse_uint(arg, &fi->die_after))
			return 0;
		break;
	case 0:
		if (dev->nr_files) {
			kublk_err("fault_inject: takes at most one backing file ('%s' is a second)",
				  arg);
			return -EINVAL;
		}
		dev->files[dev->nr_files++] = (char *)arg;
		return 0;
	default:
		return -EINVAL;
	}
	kublk_err("fault_inject: bad value '%s' for --%s", arg, fi_opts[opt - FI_OPT_DELAY].name);
	return -EINVAL;
}

static int fi_init(struct kublk_dev *dev)
{
	struct fi_tgt *fi = fi_get(dev);
	unsigned long long size;
	int ret;

	if (!fi)
		return -ENOMEM;
	if (dev->iopoll) {
		kublk_err("--iopoll: fault_inject delays with io_uring timeouts, which an IOPOLL ring cannot take");
		return -EINVAL;
	}
	if (fi->die_at == FI_DIE_INFLIGHT && !fi->die_after)
		fi->die_after = 1;
	if (!dev->nr_files) {
		if (!dev->size)
			dev->size = 1ULL << 30;
		kublk_set_discard(dev);
		return 0;
	}
	ret = kublk_backing_open(dev, 0, &size);
	if (ret)
		return ret;
	if (!dev->size || dev->size > size)
		dev->size = size;
	kublk_backing_set_params(dev);
	return 0;
}

static void fi_deinit(struct kublk_dev *dev)
{
	kublk_backing_close(dev);
	free(dev->tgt_data);
	dev->tgt_data = NULL;
}

static int fi_sqes_per_io(const struct kublk_dev *dev)
{
	/* a timeout, then the backing IO: never both on the ring at once */
	return 1;
}

static __attribute__((noreturn)) void fi_die(const char *where)
{
	kublk_log("fault_inject: dying %s", where);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static void fi_hook(struct kublk_thread *t, enum kublk_hook h, int n)
{
	struct kublk_dev *dev = t->dev;
	const struct fi_tgt *fi = dev->tgt_data;
	bool armed = (fi->die_at == FI_DIE_FETCH && !dev->recovering) ||
		     (fi->die_at == FI_DIE_RECOVERY && dev->recovering);

	if (!armed)
		return;
	if (h == KUBLK_HOOK_FETCH && fi->die_after && n == (int)fi->die_after) {
		/* issue the fetches prepared so far, then die */
		io_uring_submit(&t->ring);
		fi_die("during fetch");
	}
	if (h == KUBLK_HOOK_FETCHED && !fi->die_after)
		fi_die(dev->recovering ? "before END_USER_RECOVERY" : "before START_DEV");
}

/* the request's result if it is to fail, else 0 */
static int fi_error(const struct fi_tgt *fi, const struct kublk_queue *q, int tag)
{
	unsigned int op = ublksrv_get_op(kublk_iod(q, tag));
	unsigned long long off = kublk_io_off(q, tag), len = kublk_io_len(q, tag);
	unsigned long long end = fi->error_len ? fi->error_off + fi->error_len : ~0ULL;

	if (!(fi->error_ops & (1U << op)))
		return 0;
	if (off + len <= fi->error_off || off >= end)
		return 0;
	return -(int)fi->error_errno;
}

/* serve the request for real (after its delay) */
static int fi_serve(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	int res = fi_error(q->dev->tgt_data, q, tag);

	if (res)
		return res;
	if (!q->dev->nr_files)
		return kublk_null_result(q, tag);
	return kublk_backing_queue_io(t, q, tag);
}

static int fi_queue_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	struct kublk_dev *dev = q->dev;
	struct fi_tgt *fi = dev->tgt_data;
	struct kublk_io *io = &q->ios[tag];

	if (fi->die_at == FI_DIE_INFLIGHT && !dev->recovering &&
	    __atomic_add_fetch(&fi->seen, 1, __ATOMIC_SEQ_CST) == fi->die_after)
		fi_die("with a request in flight");
	if (fi->delay_us) {
		kublk_set_ts(&io->ts, fi->delay_us);
		kublk_prep_timeout(t, q, tag, FI_OP_DELAY, &io->ts);
		return KUBLK_QUEUED;
	}
	return fi_serve(t, q, tag);
}

static void fi_io_done(struct kublk_thread *t, struct kublk_queue *q, int tag,
		       const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (ud_op(cqe->user_data) == FI_OP_DELAY) {
		res = fi_serve(t, q, tag);
		if (res == KUBLK_QUEUED)
			return;
	}
	kublk_complete_io(t, q, tag, res);
}

static void fi_describe(const struct kublk_dev *dev, FILE *f)
{
	static const char *const die[] = { "none", "fetch", "inflight", "recovery" };
	const struct fi_tgt *fi = dev->tgt_data;

	if (dev->nr_files)
		fprintf(f, " file=%s", dev->files[0]);
	if (!fi)
		return;
	if (fi->delay_us)
		fprintf(f, " delay_us=%u", fi->delay_us);
	if (fi->error_ops)
		fprintf(f, " error_ops=0x%x error_off=%llu error_len=%llu errno=%u",
			fi->error_ops, fi->error_off, fi->error_len, fi->error_errno);
	if (fi->die_at)
		fprintf(f, " die_at=%s die_after=%u", die[fi->die_at], fi->die_after);
}

const struct kublk_tgt_ops tgt_fault_inject_ops = {
	.name = "fault_inject",
	.usage = "  fault_inject [FILE] [--delay_us N] [--error_op OPS [--error_off B]\n"
		 "               [--error_len B] [--errno N]] [--die_at fetch|inflight|recovery\n"
		 "               [--die_after N]]\n"
		 "      a loop target over FILE (or null without one) with injected delays,\n"
		 "      errors for the ops OPS (read,write,flush,discard,write_zeroes,any)\n"
		 "      in a byte range, and server death at a chosen point\n",
	.opts = fi_opts,
	.parse_opt = fi_parse_opt,
	.init = fi_init,
	.deinit = fi_deinit,
	.sqes_per_io = fi_sqes_per_io,
	.queue_io = fi_queue_io,
	.io_done = fi_io_done,
	.hook = fi_hook,
	.describe = fi_describe,
};
