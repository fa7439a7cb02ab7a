/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kublk needs from io_uring beyond Debian's liburing 2.3: helpers
 * for IORING_OP_URING_CMD (and its multishot flag), IORING_OP_READ_MULTISHOT
 * (kernel 6.7+) and provided-buffer rings.  Everything here is a thin wrapper over the
 * kernel ABI, so it also builds against a newer liburing.
 *
 * Zero copy needs nothing from here: 2.3 has io_uring_register_buffers_sparse()
 * and io_uring_register_buffers_tags() (IORING_REGISTER_BUFFERS2, whose
 * table may mix empty entries with real ones) and READ/WRITE_FIXED.
 */
#ifndef KUBLK_LIBURING_COMPAT_H
#define KUBLK_LIBURING_COMPAT_H

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <liburing.h>

/*
 * liburing 2.3's opcode enum ends with IORING_OP_SENDMSG_ZC (48); the
 * kernel's next opcode is IORING_OP_READ_MULTISHOT.  Being an enum, it
 * cannot be tested with #ifdef, hence our own name for the number.
 */
#define KUBLK_OP_READ_MULTISHOT	49
static_assert(IORING_OP_SENDMSG_ZC == 48, "io_uring opcode numbering changed");

/*
 * A multishot uring_cmd (sqe->uring_cmd_flags): it stays armed and posts
 * a CQE with IORING_CQE_F_MORE for every result, each in a buffer of the
 * group the SQE selects (IOSQE_BUFFER_SELECT); ublk's
 * UBLK_U_IO_FETCH_IO_CMDS is one.  liburing 2.3 only knows
 * IORING_URING_CMD_FIXED.
 */
#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT	(1U << 1)
#endif

/*
 * sqe->cmd holds 16 bytes in a 64-byte SQE, 80 in a 128-byte one.  The
 * compiler only knows the 64-byte struct, so go through an integer.
 */
static inline void *kublk_sqe_cmd(struct io_uring_sqe *sqe)
{
	return (void *)((uintptr_t)sqe + offsetof(struct io_uring_sqe, cmd));
}

/*
 * A uring_cmd with opcode @cmd_op on @fd (a fixed file index when
 * @fixed).  The caller fills the payload through kublk_sqe_cmd() after
 * this, since preparing clears it.
 */
static inline void kublk_prep_uring_cmd(struct io_uring_sqe *sqe, int fd,
					bool fixed, __u32 cmd_op, bool sqe128)
{
	memset((void *)(uintptr_t)sqe, 0, sqe128 ? 128 : 64);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd_op;
}

/*
 * Multishot read of @fd into buffers of provided-buffer group @bgid:
 * every time @fd becomes readable one CQE carries IORING_CQE_F_BUFFER
 * and, while the request stays armed, IORING_CQE_F_MORE.
 */
static inline void kublk_prep_read_multishot(struct io_uring_sqe *sqe, int fd,
					     bool fixed, int bgid)
{
	io_uring_prep_rw(KUBLK_OP_READ_MULTISHOT, sqe, fd, NULL, 0, 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
}

/*
 * A provided-buffer ring of @nr (a power of two) buffers of @size bytes
 * each, registered as group @bgid on @ring.  liburing 2.4 has
 * io_uring_setup_buf_ring(); 2.3 only the registration.
 */
struct kublk_buf_ring {
	struct io_uring_buf_ring *br;
	size_t ring_bytes;
	char *bufs;
	unsigned int nr;
	unsigned int size;
	int bgid;
};

static inline void kublk_buf_ring_recycle(struct kublk_buf_ring *r, unsigned int bid)
{
	io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * r->size, r->size, bid,
			      io_uring_buf_ring_mask(r->nr), 0);
	io_uring_buf_ring_advance(r->br, 1);
}

static inline int kublk_buf_ring_setup(struct io_uring *ring, struct kublk_buf_ring *r,
				       unsigned int nr, unsigned int size, int bgid)
{
	struct io_uring_buf_reg reg = { };
	unsigned int i;
	int ret;

	r->nr = nr;
	r->size = size;
	r->bgid = bgid;
	r->ring_bytes = nr * sizeof(struct io_uring_buf);
	r->br = mmap(NULL, r->ring_bytes, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (r->br == MAP_FAILED) {
		r->br = NULL;
		return -errno;
	}
	r->bufs = calloc(nr, size);
	if (!r->bufs) {
		munmap(r->br, r->ring_bytes);
		r->br = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = nr;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		free(r->bufs);
		munmap(r->br, r->ring_bytes);
		r->br = NULL;
		return ret;
	}
	io_uring_buf_ring_init(r->br);
	for (i = 0; i < nr; i++)
		io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * size, size, i,
				      io_uring_buf_ring_mask(nr), i);
	io_uring_buf_ring_advance(r->br, nr);
	return 0;
}

/* after the ring is gone (its exit unregistered the group) */
static inline void kublk_buf_ring_free(struct kublk_buf_ring *r)
{
	if (!r->br)
		return;
	free(r->bufs);
	munmap(r->br, r->ring_bytes);
	r->br = NULL;
}

#endif
