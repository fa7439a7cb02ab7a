// SPDX-License-Identifier: GPL-2.0
/*
 * stripe target (RAID-0): 1 to 4 backing files, striped in chunks of
 * --chunk bytes (a power of two, 4k..1M, default 64k).
 *
 * The device is a sequence of units of nr_files * chunk bytes; unit u
 * holds chunk u of file 0, then chunk u of file 1, and so on.  For a
 * device offset pos:
 *
 *   unit            = pos / unit_size        (unit_size = nr_files * chunk,
 *   unit_off        = unit * unit_size        not always a power of two)
 *   file            = (pos - unit_off) / chunk
 *   offset in file  = unit_off / nr_files + (pos - unit_off) % chunk
 *
 * A request covers consecutive units, and the pieces it has in one file
 * are consecutive in that file (chunk u ends where chunk u + 1 starts),
 * so it becomes at most one readv/writev per file, whose iovecs point
 * at the pieces of the request's buffer:
 *
 *   nr_iov per file <= end / unit_size - start / unit_size + 1
 *
 * With zero copy there is no vectored fixed-buffer IO: every piece is a
 * READ_FIXED / WRITE_FIXED of its own, at its offset in the one
 * registered request buffer (tgt_data: which piece).
 *
 * FLUSH is an fdatasync of every file, DISCARD and WRITE_ZEROES one
 * punched hole per file over the same per-file ranges.  The request
 * completes when all its backing IOs have; any error or short transfer
 * fails it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "kublk.h"

#define STRIPE_OPT_CHUNK	0x320

struct stripe_tgt {
	unsigned long long chunk;
	int chunk_shift;
};

/* per slot: what was issued to each file, and the iovec arrays */
struct stripe_io {
	int nr_vec[KUBLK_MAX_FILES];
	unsigned long long off[KUBLK_MAX_FILES];	/* start in the file */
	unsigned int len[KUBLK_MAX_FILES];		/* bytes in the file */
	struct iovec vec[];	/* nr_files arrays of max_vec entries */
};

static const struct option stripe_opts[] = {
	{ "chunk", required_argument, NULL, STRIPE_OPT_CHUNK },
	{ }
};

static struct stripe_tgt *stripe_get(struct kublk_dev *dev)
{
	struct stripe_tgt *s = dev->tgt_data;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (s)
			s->chunk = 64 << 10;
		dev->tgt_data = s;
	}
	return s;
}

static int stripe_parse_opt(struct kublk_dev *dev, int opt, const char *arg)
{
	struct stripe_tgt *s = stripe_get(dev);

	if (!s)
		return -ENOMEM;
	switch (opt) {
	case STRIPE_OPT_CHUNK:
		if (kublk_parse_size(arg, &s->chunk) || s->chunk < 4096 ||
		    s->chunk > (1 << 20) || (s->chunk & (s->chunk - 1))) {
			kublk_err("stripe: --chunk %s: a power of two from 4k to 1M", arg);
			return -EINVAL;
		}
		return 0;
	case 0:
		if (dev->nr_files == KUBLK_MAX_FILES) {
			kublk_err("stripe: at most %d backing files", KUBLK_MAX_FILES);
			return -EINVAL;
		}
		dev->files[dev->nr_files++] = (char *)arg;
		return 0;
	}
	return -EINVAL;
}

static int stripe_max_vec(const struct kublk_dev *dev)
{
	const struct stripe_tgt *s = dev->tgt_data;

	return dev->info.max_io_buf_bytes / (dev->nr_files * s->chunk) + 2;
}

static size_t stripe_io_priv_size(const struct kublk_dev *dev)
{
	return sizeof(struct stripe_io) +
	       dev->nr_files * stripe_max_vec(dev) * sizeof(struct iovec);
}

static int stripe_init(struct kublk_dev *dev)
{
	struct stripe_tgt *s = stripe_get(dev);
	unsigned long long min = ~0ULL, size, unit;
	int i, ret;

	if (!s)
		return -ENOMEM;
	if (!dev->nr_files) {
		kublk_err("stripe: needs 1 to %d backing files", KUBLK_MAX_FILES);
		return -EINVAL;
	}
	for (i = 0; i < dev->nr_files; i++) {
		ret = kublk_backing_open(dev, i, &size);
		if (ret)
			return ret;
		if (size < min)
			min = size;
	}
	min -= min % s->chunk;
	if (!min) {
		kublk_err("stripe: backing files must hold at least one chunk (%llu bytes)",
			  s->chunk);
		return -EINVAL;
	}
	if (!dev->size || dev->size > min * dev->nr_files)
		dev->size = min * dev->nr_files;
	s->chunk_shift = __builtin_ctzll(s->chunk);
	kublk_backing_set_params(dev);
	dev->params.basic.io_min_shift = s->chunk_shift;
	unit = s->chunk * dev->nr_files;
	dev->params.basic.io_opt_shift = (unit & (unit - 1)) ? s->chunk_shift :
					 __builtin_ctzll(unit);
	return 0;
}

static void stripe_deinit(struct kublk_dev *dev)
{
	kublk_backing_close(dev);
	free(dev->tgt_data);
	dev->tgt_data = NULL;
}

static int stripe_sqes_per_io(const struct kublk_dev *dev)
{
	/* zero copy: one IO per piece */
	return kublk_dev_any_zc(dev) ? dev->nr_files * stripe_max_vec(dev) : dev->nr_files;
}

/*
 * Split [pos, pos + len) over the files: per file its range (off, len)
 * and, when @vecs, the iovecs of its pieces of the request's data,
 * starting at address @base (0 with zero copy: iov_base is then the
 * piece's offset in the registered buffer).
 */
static void stripe_map(const struct kublk_dev *dev, struct stripe_io *sio, bool vecs,
		       uintptr_t base, unsigned long long pos, unsigned int len)
{
	const struct stripe_tgt *s = dev->tgt_data;
	unsigned long long unit_size = s->chunk * dev->nr_files;
	unsigned long long end = pos + len;
	int max_vec = stripe_max_vec(dev);
	int f;

	for (f = 0; f < dev->nr_files; f++) {
		sio->nr_vec[f] = 0;
		sio->len[f] = 0;
	}
	while (pos < end) {
		unsigned long long unit_off = pos / unit_size * unit_size;
		unsigned long long in_chunk = (pos - unit_off) % s->chunk;
		unsigned int piece = s->chunk - in_chunk;

		f = (pos - unit_off) / s->chunk;
		if (piece > end - pos)
			piece = end - pos;
		if (!sio->len[f])
			sio->off[f] = unit_off / dev->nr_files + in_chunk;
		sio->len[f] += piece;
		if (vecs) {
			struct iovec *v = &sio->vec[f * max_vec + sio->nr_vec[f]++];

			v->iov_base = (void *)base;
			v->iov_len = piece;
			base += piece;
		}
		pos += piece;
	}
}

/* zero copy: each piece of the request on its own */
static void stripe_queue_zc(struct kublk_thread *t, struct kublk_queue *q, int tag,
			    unsigned int op)
{
	const struct kublk_dev *dev = q->dev;
	struct kublk_io *io = &q->ios[tag];
	struct stripe_io *sio = io->tgt_priv;
	int max_vec = stripe_max_vec(dev);
	int f, i;

	stripe_map(dev, sio, true, 0, kublk_io_off(q, tag), kublk_io_len(q, tag));
	for (f = 0; f < dev->nr_files; f++) {
		unsigned long long off = sio->off[f];

		for (i = 0; i < sio->nr_vec[f]; i++) {
			const struct iovec *v = &sio->vec[f * max_vec + i];

			kublk_backing_prep(t, q, tag, f, op, (uintptr_t)v->iov_base, v->iov_len,
					   off, f * max_vec + i);
			off += v->iov_len;
			io->tgt_pending++;
		}
	}
}

static int stripe_queue_io(struct kublk_thread *t, struct kublk_queue *q, int tag)
{
	const struct kublk_dev *dev = q->dev;
	const struct ublksrv_io_desc *iod = kublk_iod(q, tag);
	struct kublk_io *io = &q->ios[tag];
	struct stripe_io *sio = io->tgt_priv;
	unsigned int op = ublksrv_get_op(iod);
	int max_vec = stripe_max_vec(dev);
	int f;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (io->flags & KUBLK_IO_ZC) {
			stripe_queue_zc(t, q, tag, op);
			break;
		}
		stripe_map(dev, sio, true, (uintptr_t)io->buf, kublk_io_off(q, tag),
			   kublk_io_len(q, tag));
		for (f = 0; f < dev->nr_files; f++) {
			struct io_uring_sqe *sqe;

			if (!sio->nr_vec[f])
				continue;
			sqe = kublk_tgt_sqe(t);
			if (op == UBLK_IO_OP_READ)
				io_uring_prep_readv(sqe, f + 1, &sio->vec[f * max_vec],
						    sio->nr_vec[f], sio->off[f]);
			else
				io_uring_prep_writev(sqe, f + 1, &sio->vec[f * max_vec],
						     sio->nr_vec[f], sio->off[f]);
			sqe->flags |= IOSQE_FIXED_FILE;
			sqe->user_data = kublk_ud(q->q_id, tag, op, f, true);
			io->tgt_pending++;
		}
		break;
	case UBLK_IO_OP_FLUSH:
		for (f = 0; f < dev->nr_files; f++) {
			kublk_backing_prep(t, q, tag, f, op, 0, 0, 0, f);
			sio->len[f] = 0;
			io->tgt_pending++;
		}
		break;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		stripe_map(dev, sio, false, 0, kublk_io_off(q, tag), kublk_io_len(q, tag));
		for (f = 0; f < dev->nr_files; f++) {
			if (!sio->len[f])
				continue;
			kublk_backing_prep(t, q, tag, f, op, 0, sio->len[f], sio->off[f], f);
			sio->len[f] = 0;	/* fallocate returns 0, not bytes */
			io->tgt_pending++;
		}
		break;
	default:
		return -EOPNOTSUPP;
	}
	return KUBLK_QUEUED;
}

static void stripe_io_done(struct kublk_thread *t, struct kublk_queue *q, int tag,
			   const struct io_uring_cqe *cqe)
{
	struct kublk_io *io = &q->ios[tag];
	struct stripe_io *sio = io->tgt_priv;
	unsigned int f = ud_tgt_data(cqe->user_data);
	/* zero copy: f is the piece, vec[f] its length */
	unsigned int want = io->flags & KUBLK_IO_ZC ? sio->vec[f].iov_len : sio->len[f];
	int res = cqe->res;

	if (res >= 0 && (unsigned int)res != want)
		res = -EIO;
	if (io->tgt_res >= 0)
		io->tgt_res = res < 0 ? res : io->tgt_res + res;
	if (--io->tgt_pending)
		return;
	kublk_complete_io(t, q, tag, io->tgt_res);
}

static void stripe_describe(const struct kublk_dev *dev, FILE *f)
{
	const struct stripe_tgt *s = dev->tgt_data;
	int i;

	fprintf(f, " chunk=%llu files=", s ? s->chunk : 0);
	for (i = 0; i < dev->nr_files; i++)
		fprintf(f, "%s%s", i ? "," : "", dev->files[i]);
}

const struct kublk_tgt_ops tgt_stripe_ops = {
	.name = "stripe",
	.usage = "  stripe [--chunk SIZE] FILE...\n"
		 "      RAID-0 over 1 to 4 files in chunks of SIZE (power of two,\n"
		 "      4k..1M, default 64k); the size is nr_files * the smallest file\n",
	.opts = stripe_opts,
	.parse_opt = stripe_parse_opt,
	.init = stripe_init,
	.deinit = stripe_deinit,
	.sqes_per_io = stripe_sqes_per_io,
	.io_priv_size = stripe_io_priv_size,
	.queue_io = stripe_queue_io,
	.io_done = stripe_io_done,
	.describe = stripe_describe,
};
