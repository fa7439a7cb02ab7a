// SPDX-License-Identifier: GPL-2.0
/*
 * Malformed ublk commands, and the errno each must get.
 *
 * Sends every kind of bad control command (to /dev/ublk-control) and I/O
 * command (to /dev/ublkcN), bad mmap() and user-copy calls, bad zero-copy
 * buffer registrations and fixed-buffer IO (when the driver reports zero
 * copy), bad batch commands (when it reports UBLK_F_BATCH_IO), commands
 * in the wrong state, and unprivileged commands, and checks the error
 * against the one Documentation/block/ublk.rst gives.  A healthy device,
 * served by a small null server in this program, runs I/O the whole
 * time; it must not notice anything.
 *
 * "badcmd prio" instead runs the fetch priority test of
 * UBLK_F_BATCH_PRIO (check_prio_order()).
 *
 * Prints one "ok"/"FAIL" line per check and exits 0, 1 (a check
 * failed) or 4 (skip: the driver predates these checks).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/blkzoned.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/ublk_cmd.h>

#include "liburing_compat.h"

#define KSFT_SKIP	4
#define CTRL_DEV	"/dev/ublk-control"
#define BUF_SIZE	(512 << 10)
#define NOBODY		65534

/* what every ublk driver of this ABI reports, and what this one adds */
#define F_EXPECTED	(UBLK_F_URING_CMD_COMP_IN_TASK | UBLK_F_NEED_GET_DATA | \
			 UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | \
			 UBLK_F_UNPRIVILEGED_DEV | UBLK_F_CMD_IOCTL_ENCODE | \
			 UBLK_F_USER_COPY | UBLK_F_USER_RECOVERY_FAIL_IO | \
			 UBLK_F_PER_IO_DAEMON | UBLK_F_UPDATE_SIZE | \
			 UBLK_F_QUIESCE | UBLK_F_SAFE_STOP_DEV | \
			 UBLK_F_NO_AUTO_PART_SCAN | UBLK_F_IO_DESC_SIZE)
#define F_NOT_YET	(UBLK_F_INTEGRITY | UBLK_F_SHMEM_ZC)
/* this driver's own, from bit 63 down; checked by check_batch(), check_iopoll() */
#define F_OURS		(UBLK_F_BATCH_PRIO | UBLK_F_IOPOLL)
/* checked when reported (check_zero_copy(), check_auto_buf_reg()) */
#define F_ZC		(UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG)

static int failures;
static int ctrl_fd;
static struct io_uring ctrl_ring;
static __u64 features;

static void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "ok: " : "FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void expect(int got, int want, const char *what)
{
	if (got == want && want < 0)
		report(true, "%s: %s", what, strerror(-want));
	else if (got == want)
		/* 0, or the bytes an I/O moved */
		report(true, "%s: %d", what, want);
	else
		report(false, "%s: got %d (%s), want %d (%s)", what, got,
		       got < 0 ? strerror(-got) : "-", want,
		       want < 0 ? strerror(-want) : "-");
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		fprintf(stderr, "no free SQE\n");
		exit(1);
	}
	return sqe;
}

/* ---- control commands ---- */

struct ctrl {
	__u32 op;
	__u32 dev_id;
	__u16 queue_id;
	__u16 len;
	__u64 addr;
	__u64 data;
	__u16 dev_path_len;
};

static void prep_ctrl(struct io_uring_sqe *sqe, int fd, const struct ctrl *c)
{
	struct ublksrv_ctrl_cmd *cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;

	memset(sqe, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = c->op;
	cmd->dev_id = c->dev_id;
	cmd->queue_id = c->queue_id;
	cmd->len = c->len;
	cmd->addr = c->addr;
	cmd->data[0] = c->data;
	cmd->dev_path_len = c->dev_path_len;
}

static int wait_res(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static int ctrl_on(struct io_uring *ring, int fd, const struct ctrl *c)
{
	prep_ctrl(get_sqe(ring), fd, c);
	if (io_uring_submit(ring) != 1)
		die("io_uring_submit");
	return wait_res(ring);
}

static int ctrl(const struct ctrl *c)
{
	return ctrl_on(&ctrl_ring, ctrl_fd, c);
}

/*
 * @c on a ring of its own, waiting @secs at most: its result, or -ETIME.
 * A command that did not come back is left in flight with its ring, for
 * the exit of the process to end.
 */
static int ctrl_timed(const struct ctrl *c, unsigned int secs)
{
	struct __kernel_timespec ts = { .tv_sec = secs };
	struct io_uring_cqe *cqe;
	struct io_uring r;
	int ret;

	if (io_uring_queue_init(4, &r, IORING_SETUP_SQE128))
		die("io_uring_queue_init");
	prep_ctrl(get_sqe(&r), ctrl_fd, c);
	if (io_uring_submit(&r) != 1)
		die("io_uring_submit");
	ret = io_uring_wait_cqe_timeout(&r, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_queue_exit(&r);
	return ret;
}

static int ctrl_simple(__u32 op, __u32 id, __u64 data)
{
	return ctrl(&(struct ctrl){ .op = op, .dev_id = id, .queue_id = -1,
		    .data = data });
}

static int get_info(__u32 id, struct ublksrv_ctrl_dev_info *info)
{
	return ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_DEV_INFO, .dev_id = id,
		    .queue_id = -1, .len = sizeof(*info),
		    .addr = (__u64)(uintptr_t)info });
}

static int add_dev_info(struct ublksrv_ctrl_dev_info *info)
{
	return ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV,
		    .dev_id = info->dev_id, .queue_id = -1,
		    .len = sizeof(*info),
		    .addr = (__u64)(uintptr_t)info });
}

/* ADD_DEV of @info, which must succeed: the new id, or -1 */
static int add_dev_expect(struct ublksrv_ctrl_dev_info *info, const char *what)
{
	int ret = add_dev_info(info);

	expect(ret, 0, what);
	return ret ? -1 : (int)info->dev_id;
}

/* a new device; its id, or a negative errno */
static int add_dev(__u64 flags, int nr_queues, int depth,
		   struct ublksrv_ctrl_dev_info *out)
{
	struct ublksrv_ctrl_dev_info info = {
		.nr_hw_queues = nr_queues,
		.queue_depth = depth,
		.max_io_buf_bytes = BUF_SIZE,
		.dev_id = -1,
		.flags = flags,
	};
	int ret = add_dev_info(&info);

	if (out)
		*out = info;
	return ret < 0 ? ret : (int)info.dev_id;
}

static int set_params(__u32 id, struct ublk_params *p)
{
	return ctrl(&(struct ctrl){ .op = UBLK_U_CMD_SET_PARAMS, .dev_id = id,
		    .queue_id = -1, .len = sizeof(*p),
		    .addr = (__u64)(uintptr_t)p });
}

static void basic_params(struct ublk_params *p, __u64 sectors)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic.logical_bs_shift = 9;
	p->basic.physical_bs_shift = 12;
	p->basic.io_min_shift = 9;
	p->basic.io_opt_shift = 12;
	p->basic.max_sectors = BUF_SIZE >> 9;
	p->basic.dev_sectors = sectors;
}

static void del_dev(__u32 id)
{
	int ret = ctrl_simple(UBLK_U_CMD_DEL_DEV, id, 0);

	if (ret)
		report(false, "DEL_DEV %u: %d", id, ret);
}

/* ---- a small null server ---- */

#define MAX_QUEUES	4
#define MAX_WORKERS	4

struct server;

/* one thread with its own ring, serving the tags t % nr == idx of a queue */
struct worker {
	struct server *srv;
	pthread_t thread;
	struct io_uring ring;
	int q_id;
	int idx, nr;
	int ready;
	/*
	 * probes: a bad commit, a commit of a tag of another worker, a
	 * zone report with more bytes than asked for
	 */
	bool probe_bad_commit;
	bool probe_foreign;
	bool probe_report;
	int probe_res[3];
};

struct server {
	int id;
	int nr_queues, depth;
	__u64 flags;
	int cdev;
	struct ublksrv_io_desc *iods[MAX_QUEUES];
	char *bufs[MAX_QUEUES];
	int nr_workers;
	struct worker w[MAX_WORKERS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int nr_ready;
	/* a zoned null device: write pointers, in sectors */
	bool zoned;
	__u64 wp[64];
};

#define ZONE_SECTORS	2048
#define NR_ZONES	16

static size_t iods_size(int depth)
{
	size_t sz = depth * sizeof(struct ublksrv_io_desc);
	size_t pg = sysconf(_SC_PAGESIZE);

	return (sz + pg - 1) / pg * pg;
}

static off_t iods_offset(int q)
{
	return UBLKSRV_CMD_BUF_OFFSET + q * iods_size(UBLK_MAX_QUEUE_DEPTH);
}

#define UD_PROBE	(1ULL << 32)

static void prep_io(struct io_uring_sqe *sqe, int fd, __u32 op, int q, int tag,
		    int res, __u64 addr, __u64 ud)
{
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	cmd->q_id = q;
	cmd->tag = tag;
	cmd->result = res;
	cmd->addr = addr;
	sqe->user_data = ud;
}

static __u64 tag_buf(struct server *s, int q, int tag)
{
	if (s->flags & UBLK_F_USER_COPY)
		return 0;
	return (__u64)(uintptr_t)(s->bufs[q] + (size_t)tag * BUF_SIZE);
}

static int io_res(const struct ublksrv_io_desc *iod)
{
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		return iod->nr_sectors << 9;
	default:
		return 0;
	}
}

static __u64 uc_pos(int q, int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((__u64)q << UBLK_QID_OFF) +
		((__u64)tag << UBLK_TAG_OFF);
}

/* sequential zones whose data is discarded; reads return zeroes */
static void zoned_io(struct worker *w, int tag, const struct ublksrv_io_desc *iod)
{
	static char zeroes[BUF_SIZE];
	struct server *s = w->srv;
	struct blk_zone zones[NR_ZONES];
	__u64 start = iod->start_sector, z = start / ZONE_SECTORS, lba = 0;
	__u32 nr = iod->nr_sectors;
	int res = 0, i, n;

	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		res = nr << 9;
		if (pwrite(s->cdev, zeroes, res, uc_pos(w->q_id, tag)) != res)
			res = -EIO;
		break;
	case UBLK_IO_OP_WRITE:
		res = start == s->wp[z] ? (int)(nr << 9) : -EIO;
		if (res > 0)
			s->wp[z] += nr;
		break;
	case UBLK_IO_OP_ZONE_APPEND:
		lba = s->wp[z];
		s->wp[z] += nr;
		res = nr << 9;
		break;
	case UBLK_IO_OP_ZONE_RESET_ALL:
		for (i = 0; i < NR_ZONES; i++)
			s->wp[i] = (__u64)i * ZONE_SECTORS;
		break;
	case UBLK_IO_OP_ZONE_RESET:
		s->wp[z] = z * ZONE_SECTORS;
		break;
	case UBLK_IO_OP_ZONE_FINISH:
		s->wp[z] = (z + 1) * ZONE_SECTORS;
		break;
	case UBLK_IO_OP_REPORT_ZONES:
		n = NR_ZONES - z < iod->nr_zones ? NR_ZONES - z : iod->nr_zones;
		memset(zones, 0, sizeof(zones));
		for (i = 0; i < n; i++, z++) {
			struct blk_zone *zn = &zones[i];

			zn->start = z * ZONE_SECTORS;
			zn->len = ZONE_SECTORS;
			zn->capacity = ZONE_SECTORS;
			zn->wp = s->wp[z];
			zn->type = BLK_ZONE_TYPE_SEQWRITE_REQ;
			zn->cond = zn->wp == zn->start ? BLK_ZONE_COND_EMPTY :
				   zn->wp == zn->start + zn->len ?
				   BLK_ZONE_COND_FULL : BLK_ZONE_COND_IMP_OPEN;
		}
		res = n * sizeof(zones[0]);
		if (pwrite(s->cdev, zones, res, uc_pos(w->q_id, tag)) != res)
			res = -EIO;
		if (w->probe_report && res > 0) {
			/* more than the request can hold: counts as all */
			w->probe_report = false;
			res = iod->nr_zones * sizeof(zones[0]) + 64;
		}
		break;
	}
	prep_io(get_sqe(&w->ring), s->cdev, UBLK_U_IO_COMMIT_AND_FETCH_REQ,
		w->q_id, tag, res, lba, tag);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->srv;
	int q = w->q_id, live = 0, tag, res;

	if (io_uring_queue_init(s->depth + 4, &w->ring, 0))
		die("worker ring");
	for (tag = w->idx; tag < s->depth; tag += w->nr) {
		prep_io(get_sqe(&w->ring), s->cdev,
			UBLK_U_IO_FETCH_REQ, q, tag, 0, tag_buf(s, q, tag), tag);
		live++;
	}
	if (io_uring_submit(&w->ring) != live)
		die("submit fetch");

	pthread_mutex_lock(&s->lock);
	w->ready = 1;
	s->nr_ready++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);

	while (live) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		io_uring_submit_and_wait(&w->ring, 1);
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			const struct ublksrv_io_desc *iod;
			__u64 ud = cqe->user_data;

			seen++;
			if (ud & UD_PROBE) {
				w->probe_res[ud & 3] = cqe->res;
				continue;
			}
			tag = ud;
			if (cqe->res == UBLK_IO_RES_ABORT) {
				live--;
				continue;
			}
			if (cqe->res != UBLK_IO_RES_OK) {
				fprintf(stderr, "worker: tag %d res %d\n", tag,
					cqe->res);
				live--;
				continue;
			}
			iod = &s->iods[q][tag];
			if (s->zoned) {
				zoned_io(w, tag, iod);
				continue;
			}
			res = io_res(iod);
			if (w->probe_bad_commit && res > 0) {
				/* more than the request has: counts as all */
				w->probe_bad_commit = false;
				res += 512;
			}
			if (w->probe_foreign) {
				/* the next tag, the other worker's */
				w->probe_foreign = false;
				prep_io(get_sqe(&w->ring), s->cdev,
					UBLK_U_IO_COMMIT_AND_FETCH_REQ, q,
					(tag + 1) % s->depth, 0,
					tag_buf(s, q, tag), UD_PROBE | 1);
			}
			prep_io(get_sqe(&w->ring), s->cdev,
				UBLK_U_IO_COMMIT_AND_FETCH_REQ, q, tag,
				res, tag_buf(s, q, tag), tag);
		}
		io_uring_cq_advance(&w->ring, seen);
	}
	io_uring_queue_exit(&w->ring);
	return NULL;
}

/* open the device, map the descriptors, start @per_queue workers a queue */
static void server_start(struct server *s, int id, int per_queue)
{
	struct ublksrv_ctrl_dev_info info;
	char path[64];
	int q, i;

	if (get_info(id, &info))
		die("GET_DEV_INFO");
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->nr_queues = info.nr_hw_queues;
	s->depth = info.queue_depth;
	s->flags = info.flags;
	s->zoned = info.flags & UBLK_F_ZONED;
	for (i = 0; i < NR_ZONES; i++)
		s->wp[i] = (__u64)i * ZONE_SECTORS;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);

	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	s->cdev = open(path, O_RDWR);
	if (s->cdev < 0)
		die(path);
	for (q = 0; q < s->nr_queues; q++) {
		s->iods[q] = mmap(NULL, iods_size(s->depth), PROT_READ,
				  MAP_SHARED | MAP_POPULATE, s->cdev,
				  iods_offset(q));
		if (s->iods[q] == MAP_FAILED)
			die("mmap");
		if (posix_memalign((void **)&s->bufs[q], 4096,
				   (size_t)s->depth * BUF_SIZE))
			die("buffers");
		for (i = 0; i < per_queue; i++) {
			struct worker *w = &s->w[s->nr_workers++];

			w->srv = s;
			w->q_id = q;
			w->idx = i;
			w->nr = per_queue;
			pthread_create(&w->thread, NULL, worker_fn, w);
		}
	}
	pthread_mutex_lock(&s->lock);
	while (s->nr_ready < s->nr_workers)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void server_stop(struct server *s)
{
	int q, i;

	for (i = 0; i < s->nr_workers; i++)
		pthread_join(s->w[i].thread, NULL);
	for (q = 0; q < s->nr_queues; q++) {
		munmap(s->iods[q], iods_size(s->depth));
		free(s->bufs[q]);
	}
	close(s->cdev);
}

/* ---- the checks ---- */

/* the driver's own features, which GET_FEATURES leaves out */
static unsigned long long read_ext_features(void)
{
	unsigned long long ext = 0;
	FILE *f = fopen("/sys/module/ublk_drv/parameters/ext_features", "r");

	if (f) {
		if (fscanf(f, "%llu", &ext) != 1)
			ext = 0;
		fclose(f);
	}
	return ext;
}

static void check_features(void)
{
	__u64 f = 0;
	int ret;

	ret = ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_FEATURES,
		   .queue_id = -1, .len = 4,
		   .addr = (__u64)(uintptr_t)&f });
	expect(ret, -EINVAL, "GET_FEATURES with len 4");
	ret = ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_FEATURES,
		   .queue_id = -1, .len = 8 });
	expect(ret, -EINVAL, "GET_FEATURES without a buffer");
	ret = ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_FEATURES,
		   .queue_id = -1, .len = 8,
		   .addr = (__u64)(uintptr_t)&f });
	expect(ret, 0, "GET_FEATURES");
	report((f & F_EXPECTED) == F_EXPECTED,
	       "features %#llx include %#llx", (unsigned long long)f,
	       (unsigned long long)F_EXPECTED);
	report(!(f & F_NOT_YET), "features report nothing unimplemented");
	report(!(f & ~((1ULL << 21) - 1)), "GET_FEATURES reports mainline's bits only (%#llx)",
	       (unsigned long long)f);
	report(!(read_ext_features() & ~F_OURS), "ext_features lists our own bits only (%#llx)",
	       read_ext_features());
}

static void check_ctrl_opcodes(void)
{
	struct io_uring ring64;
	struct ublksrv_ctrl_dev_info info;

	expect(ctrl(&(struct ctrl){ .op = _IOWR('u', 0x30, struct ublksrv_ctrl_cmd),
		    .queue_id = -1 }),
	       -EOPNOTSUPP, "unknown control opcode");
	expect(ctrl(&(struct ctrl){ .op = _IOR('v', UBLK_CMD_GET_DEV_INFO,
					       struct ublksrv_ctrl_cmd),
		    .queue_id = -1 }),
	       -EOPNOTSUPP, "control opcode of another ioctl type");
	expect(ctrl(&(struct ctrl){ .op = 0x13, .queue_id = -1 }),
	       -EOPNOTSUPP, "GET_FEATURES as a bare number");
	/* as mainline: the number counts, not the size bits of the encoding */
	expect(ctrl(&(struct ctrl){ .op = _IOR('u', UBLK_CMD_GET_DEV_INFO, __u64),
		    .dev_id = 1000000, .queue_id = -1 }),
	       -ENODEV, "GET_DEV_INFO encoded with a wrong size (known)");
	expect(ctrl(&(struct ctrl){ .op = _IOR('u', 0x13, __u64),
		    .queue_id = -1 }),
	       -EOPNOTSUPP, "GET_FEATURES encoded with a wrong size");

	/* control commands need 128-byte SQEs */
	if (io_uring_queue_init(4, &ring64, 0))
		die("ring");
	expect(ctrl_on(&ring64, ctrl_fd,
		       &(struct ctrl){ .op = UBLK_U_CMD_GET_DEV_INFO,
				       .queue_id = -1, .len = sizeof(info),
				       .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "control command in a 64-byte SQE");
	io_uring_queue_exit(&ring64);

	expect(get_info(1000000, &info), -ENODEV, "GET_DEV_INFO of a dev_id that does not exist");
	expect(get_info(-1, &info), -ENODEV, "GET_DEV_INFO of dev_id -1");
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, 1000000, 0), -ENODEV,
	       "STOP_DEV of a dev_id that does not exist");
	expect(ctrl_simple(UBLK_U_CMD_DEL_DEV, 1000000, 0), -ENODEV,
	       "DEL_DEV of a dev_id that does not exist");
}

/* bad ADD_DEV payloads: a description each, and how to break a good one */
static const char *const add_cases[] = {
	"ADD_DEV with 0 queues",
	"ADD_DEV with 4097 queues",
	"ADD_DEV with depth 0",
	"ADD_DEV with depth 4097",
	"ADD_DEV with dev_id 2^20",
	"ADD_DEV with REISSUE but no RECOVERY",
	"ADD_DEV with FAIL_IO but no RECOVERY",
	"ADD_DEV with REISSUE and FAIL_IO",
	"ADD_DEV zoned without USER_COPY",
	"ADD_DEV with QUIESCE but no RECOVERY",
};

static void add_case(int n, struct ublksrv_ctrl_dev_info *i)
{
	switch (n) {
	case 0:
		i->nr_hw_queues = 0;
		break;
	case 1:
		i->nr_hw_queues = 4097;
		break;
	case 2:
		i->queue_depth = 0;
		break;
	case 3:
		i->queue_depth = 4097;
		break;
	case 4:
		i->dev_id = 1 << 20;
		break;
	case 5:
		i->flags = UBLK_F_USER_RECOVERY_REISSUE;
		break;
	case 6:
		i->flags = UBLK_F_USER_RECOVERY_FAIL_IO;
		break;
	case 7:
		i->flags = UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE |
			   UBLK_F_USER_RECOVERY_FAIL_IO;
		break;
	case 8:
		i->flags = UBLK_F_ZONED;
		break;
	case 9:
		i->flags = UBLK_F_QUIESCE;
		break;
	}
}

static void check_add_dev(void)
{
	struct ublksrv_ctrl_dev_info info, good = {
		.nr_hw_queues = 1, .queue_depth = 4,
		.max_io_buf_bytes = BUF_SIZE, .dev_id = -1,
	};
	unsigned int n;
	int id, id2, ret;

	for (n = 0; n < sizeof(add_cases) / sizeof(add_cases[0]); n++) {
		if (n == 8 && !(features & UBLK_F_ZONED))
			continue;
		info = good;
		add_case(n, &info);
		ret = add_dev_info(&info);
		if (ret >= 0)
			del_dev(info.dev_id);
		expect(ret, -EINVAL, add_cases[n]);
	}

	info = good;
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV, .dev_id = -1,
		    .queue_id = -1, .len = sizeof(info) - 1,
		    .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "ADD_DEV with a short buffer");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV, .dev_id = -1,
		    .queue_id = -1, .len = sizeof(info) }),
	       -EINVAL, "ADD_DEV without a buffer");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV, .dev_id = -1,
		    .queue_id = 0, .len = sizeof(info),
		    .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "ADD_DEV with a queue_id");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV, .dev_id = 5,
		    .queue_id = -1, .len = sizeof(info),
		    .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "ADD_DEV with dev_id unlike the info's");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_ADD_DEV, .dev_id = -1,
		    .queue_id = -1, .len = sizeof(info),
		    .addr = 4096 }),
	       -EFAULT, "ADD_DEV with an unmapped buffer");

	/* the always-on features are added, NEED_GET_DATA goes with USER_COPY */
	id = add_dev(UBLK_F_USER_COPY | UBLK_F_NEED_GET_DATA, 64, 8, &info);
	if (id < 0) {
		expect(id, 0, "ADD_DEV with USER_COPY and NEED_GET_DATA");
		return;
	}
	report((info.flags & (UBLK_F_CMD_IOCTL_ENCODE |
			      UBLK_F_URING_CMD_COMP_IN_TASK)) ==
	       (UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_URING_CMD_COMP_IN_TASK),
	       "ADD_DEV sets IOCTL_ENCODE and COMP_IN_TASK");
	report(!(info.flags & UBLK_F_NEED_GET_DATA),
	       "ADD_DEV drops NEED_GET_DATA with USER_COPY");
	report(info.state == UBLK_S_DEV_DEAD && info.ublksrv_pid == -1,
	       "a new device is DEAD with no server pid");
	report(info.nr_hw_queues >= 1 && info.nr_hw_queues <= 64 &&
	       info.nr_hw_queues <= sysconf(_SC_NPROCESSORS_CONF),
	       "ADD_DEV caps the queues at the CPUs (%u)", info.nr_hw_queues);
	del_dev(id);

	/*
	 * Zero copy, explicit or automatic: kept when the driver reports
	 * it, else dropped; kept, it takes NEED_GET_DATA's place (accepted,
	 * and cleared in the flags handed back).
	 */
	for (n = 0; n < 2; n++) {
		__u64 f = n ? UBLK_F_AUTO_BUF_REG : UBLK_F_SUPPORT_ZERO_COPY;
		const char *name = n ? "AUTO_BUF_REG" : "SUPPORT_ZERO_COPY";

		id = add_dev(f | UBLK_F_NEED_GET_DATA, 1, 8, &info);
		expect(id < 0 ? id : 0, 0, n ? "ADD_DEV with AUTO_BUF_REG and NEED_GET_DATA" :
		       "ADD_DEV with SUPPORT_ZERO_COPY and NEED_GET_DATA");
		if (id < 0)
			continue;
		report(!(info.flags & f) == !(features & f), "ADD_DEV %s %s (%#llx)",
		       features & f ? "keeps" : "drops the unreported", name,
		       (unsigned long long)info.flags);
		if (features & f)
			report(!(info.flags & UBLK_F_NEED_GET_DATA),
			       "ADD_DEV clears NEED_GET_DATA with %s", name);
		del_dev(id);
	}

	/*
	 * A flag this driver does not know is dropped, not refused: the
	 * flags handed back are how a newer server learns what it got.
	 */
	id = add_dev(UBLK_F_USER_COPY | (1ULL << 40) | (1ULL << 41), 1, 8, &info);
	expect(id < 0 ? id : 0, 0, "ADD_DEV with flags this driver does not know");
	if (id < 0)
		return;
	report((info.flags & UBLK_F_USER_COPY) &&
	       !(info.flags & ((1ULL << 40) | (1ULL << 41))),
	       "ADD_DEV drops the unknown flags, keeps the rest (%#llx)",
	       (unsigned long long)info.flags);
	del_dev(id);

	/* the fields the driver does not use come back as the server wrote them */
	info = good;
	info.ublksrv_flags = 0x1234567890ULL;
	info.pad1 = 5;
	info.reserved1 = 6;
	info.reserved2 = 7;
	id = add_dev_expect(&info, "ADD_DEV with ublksrv_flags and reserved fields set");
	if (id < 0)
		return;
	report(info.ublksrv_flags == 0x1234567890ULL && info.pad1 == 5 &&
	       info.reserved1 == 6 && info.reserved2 == 7,
	       "ADD_DEV hands ublksrv_flags, pad1, reserved1/2 back as written");
	memset(&info, 0, sizeof(info));
	get_info(id, &info);
	report(info.ublksrv_flags == 0x1234567890ULL && info.reserved2 == 7,
	       "GET_DEV_INFO reads them back");

	/* a buffer size above what user copy can address is cut down */
	del_dev(id);
	info = good;
	info.max_io_buf_bytes = 64 << 20;
	id = add_dev_expect(&info, "ADD_DEV with a 64 MiB buffer");
	if (id < 0)
		return;
	report(info.max_io_buf_bytes == 1U << UBLK_IO_BUF_BITS,
	       "ADD_DEV cuts a 64 MiB buffer to %u (got %u)",
	       1U << UBLK_IO_BUF_BITS, info.max_io_buf_bytes);

	/* a taken dev_id */
	info.dev_id = id;
	info.flags = 0;
	expect(add_dev_info(&info), -EEXIST, "ADD_DEV of a taken dev_id");
	id2 = add_dev(0, 1, 1, NULL);
	expect(id2 >= 0 && id2 != id ? 0 : id2, 0, "ADD_DEV of any dev_id");
	if (id2 >= 0)
		del_dev(id2);
	del_dev(id);
	expect(get_info(id, &info), -ENODEV, "GET_DEV_INFO after DEL_DEV");
	expect(ctrl_simple(UBLK_U_CMD_DEL_DEV, id, 0), -ENODEV,
	       "DEL_DEV twice");
}

/*
 * UBLK_F_IO_DESC_SIZE: the server picks the descriptor size (24 to 256
 * bytes, a multiple of 8), and every mmap size and offset scales with it;
 * without the flag the driver says 24, whatever the field held.
 */
static void check_io_desc_size(void)
{
	static const __u16 bad[] = { 0, 16, 20, 25, 28, 257, 264, 512 };
	struct ublksrv_ctrl_dev_info info = {
		.nr_hw_queues = 2, .queue_depth = 8,
		.max_io_buf_bytes = BUF_SIZE, .dev_id = -1,
	};
	size_t pg = sysconf(_SC_PAGESIZE), len, stride;
	char path[64], what[96];
	unsigned int n;
	void *iods;
	int id, cdev, ret;

	for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
		info.dev_id = -1;
		info.flags = UBLK_F_IO_DESC_SIZE;
		info.io_desc_size = bad[n];
		ret = add_dev_info(&info);
		if (ret >= 0)
			del_dev(info.dev_id);
		snprintf(what, sizeof(what), "ADD_DEV with io_desc_size %u", bad[n]);
		expect(ret, -EINVAL, what);
	}

	/* not asked for: the driver's size, whatever the field said */
	info.dev_id = -1;
	info.flags = 0;
	info.io_desc_size = 99;
	ret = add_dev_info(&info);
	expect(ret, 0, "ADD_DEV with io_desc_size 99 but no IO_DESC_SIZE");
	if (!ret) {
		report(info.io_desc_size == sizeof(struct ublksrv_io_desc),
		       "without IO_DESC_SIZE the driver reports %zu (got %u)",
		       sizeof(struct ublksrv_io_desc), info.io_desc_size);
		del_dev(info.dev_id);
	}

	info.dev_id = -1;
	info.flags = UBLK_F_IO_DESC_SIZE;
	info.io_desc_size = 64;
	id = add_dev_expect(&info, "ADD_DEV with io_desc_size 64");
	if (id < 0)
		return;
	report(info.io_desc_size == 64 && (info.flags & UBLK_F_IO_DESC_SIZE),
	       "ADD_DEV keeps io_desc_size 64 (got %u, flags %#llx)",
	       info.io_desc_size, (unsigned long long)info.flags);
	memset(&info, 0, sizeof(info));
	get_info(id, &info);
	report(info.io_desc_size == 64, "GET_DEV_INFO reads io_desc_size 64 back (got %u)",
	       info.io_desc_size);

	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	cdev = open(path, O_RDWR);
	if (cdev < 0)
		die(path);
	len = (8 * 64 + pg - 1) / pg * pg;
	stride = (UBLK_MAX_QUEUE_DEPTH * 64 + pg - 1) / pg * pg;
	iods = mmap(NULL, len, PROT_READ, MAP_SHARED, cdev, stride);
	expect(iods == MAP_FAILED ? -errno : 0, 0,
	       "an mmap of queue 1 at the 64-byte stride");
	if (iods != MAP_FAILED)
		munmap(iods, len);
	/* with the 24-byte stride that offset is queue 0 */
	iods = mmap(NULL, len, PROT_READ, MAP_SHARED, cdev, iods_offset(1));
	expect(iods == MAP_FAILED ? -errno : 0, 0,
	       "an mmap at the 24-byte stride maps queue 0");
	if (iods != MAP_FAILED)
		munmap(iods, len);
	iods = mmap(NULL, len, PROT_READ, MAP_SHARED, cdev, 2 * stride);
	expect(iods == MAP_FAILED ? -errno : 0, -EINVAL,
	       "an mmap of queue 2 of 2 at the 64-byte stride");
	close(cdev);
	del_dev(id);
}

static int params_op(__u32 op, __u32 id, struct ublk_params *p, __u16 len)
{
	return ctrl(&(struct ctrl){ .op = op, .dev_id = id, .queue_id = -1,
		    .len = len, .addr = (__u64)(uintptr_t)p });
}

/* bad parameter sets: a description each, and how to break a good one */
static const char *const param_cases[] = {
	"no types",
	"no BASIC",
	"only a type this driver does not know",
	"INTEGRITY",
	"DEVT (read-only)",
	"a 256-byte block",
	"a block larger than a page",
	"physical block below logical",
	"physical block of 2^40",
	"io_opt of 2^40",
	"max_sectors above the buffer",
	"max_sectors below a page",
	"io_min of 2^32",
	"a virt boundary of 0x1000",
	"a chunk of part of a block",
	"two discard segments",
	"discard granularity 0",
	"ZONED on a device that is not",
	"DMA alignment of a page",
	"DMA alignment 5",
	"segment boundary 0x7ff",
	"segments of 512 bytes",
	"a virt boundary and a segment size",
};

static void param_case(int n, struct ublk_params *p)
{
	switch (n) {
	case 0:
		p->types = 0;
		break;
	case 1:
		p->types = UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = 4096;
		break;
	case 2:
		p->types = 1 << 7;
		break;
	case 3:
		p->types |= UBLK_PARAM_TYPE_INTEGRITY;
		break;
	case 4:
		p->types |= UBLK_PARAM_TYPE_DEVT;
		break;
	case 5:
		p->basic.logical_bs_shift = 8;
		break;
	case 6:
		p->basic.logical_bs_shift = 20;
		p->basic.physical_bs_shift = 20;
		break;
	case 7:
		p->basic.physical_bs_shift = 8;
		break;
	case 8:
		p->basic.physical_bs_shift = 40;
		break;
	case 9:
		p->basic.io_opt_shift = 40;
		break;
	case 10:
		p->basic.max_sectors = (BUF_SIZE >> 9) + 8;
		break;
	case 11:
		p->basic.max_sectors = 4;
		break;
	case 12:
		p->basic.io_min_shift = 32;
		break;
	case 13:
		p->basic.virt_boundary_mask = 0x1000;
		break;
	case 14:
		p->basic.logical_bs_shift = 12;
		p->basic.chunk_sectors = 4;
		break;
	case 15:
	case 16:
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = n == 15 ? 4096 : 0;
		p->discard.max_discard_sectors = 8;
		p->discard.max_discard_segments = n == 15 ? 2 : 1;
		break;
	case 17:
		p->types |= UBLK_PARAM_TYPE_ZONED;
		p->zoned.max_zone_append_sectors = 8;
		break;
	case 18:
	case 19:
		p->types |= UBLK_PARAM_TYPE_DMA_ALIGN;
		p->dma.alignment = n == 18 ? 4096 : 5;
		break;
	case 20:
	case 21:
	case 22:
		p->types |= UBLK_PARAM_TYPE_SEGMENT;
		p->seg.seg_boundary_mask = n == 20 ? 0x7ff : 0xffffffff;
		p->seg.max_segment_size = n == 21 ? 512 : 65536;
		if (n == 22)
			p->basic.virt_boundary_mask = 4095;
		break;
	}
}

static void check_params(int id)
{
	struct ublk_params p, got;
	unsigned int n;
	char what[128];

	for (n = 0; n < sizeof(param_cases) / sizeof(param_cases[0]); n++) {
		basic_params(&p, 1 << 20);
		param_case(n, &p);
		snprintf(what, sizeof(what), "SET_PARAMS with %s",
			 param_cases[n]);
		expect(set_params(id, &p), -EINVAL, what);
	}

	/*
	 * What mainline ignores is ignored: types and attributes this driver
	 * does not know (dropped), pad and reserved bytes.  ublksrv's
	 * header puts its DMA alignment where dma.pad is.
	 */
	basic_params(&p, 1 << 20);
	p.types |= (1 << 7) | (1 << 12) | UBLK_PARAM_TYPE_DISCARD |
		   UBLK_PARAM_TYPE_DMA_ALIGN | UBLK_PARAM_TYPE_SEGMENT;
	p.basic.attrs = UBLK_ATTR_VOLATILE_CACHE | (1 << 5) | (1U << 31);
	p.discard.discard_granularity = 4096;
	p.discard.max_discard_sectors = 8388607;
	p.discard.max_discard_segments = 1;
	p.discard.reserved0 = 7;
	p.dma.alignment = 0;
	p.dma.pad[0] = 0xff;
	p.dma.pad[1] = 0x01;
	p.seg.seg_boundary_mask = 0xffffffff;
	p.seg.max_segment_size = 65536;
	p.seg.max_segments = 128;
	p.seg.pad[1] = 9;
	expect(set_params(id, &p), 0,
	       "SET_PARAMS with unknown types and attributes, pads set");
	memset(&got, 0, sizeof(got));
	got.len = sizeof(got);
	params_op(UBLK_U_CMD_GET_PARAMS, id, &got, sizeof(got));
	report(!(got.types & ((1 << 7) | (1 << 12))) &&
	       (got.types & UBLK_PARAM_TYPE_DMA_ALIGN) &&
	       got.seg.max_segments == 128,
	       "GET_PARAMS shows the unknown types dropped (types %#x)", got.types);
	/* an nvme-like set: a virtual boundary, unlimited segment size */
	basic_params(&p, 1 << 20);
	p.types |= UBLK_PARAM_TYPE_SEGMENT;
	p.basic.virt_boundary_mask = 4095;
	p.seg.seg_boundary_mask = 0xffffffff;
	p.seg.max_segment_size = 0xffffffff;
	p.seg.max_segments = 127;
	expect(set_params(id, &p), 0, "SET_PARAMS with a virt boundary and SEGMENT");

	basic_params(&p, 1 << 20);
	expect(params_op(UBLK_U_CMD_SET_PARAMS, id, &p, 8), -EINVAL,
	       "SET_PARAMS with a buffer of just the header");
	expect(params_op(UBLK_U_CMD_SET_PARAMS, id, &p, sizeof(p) - 4), -EINVAL,
	       "SET_PARAMS with params.len above the buffer");
	p.len = 0;
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS with params.len 0");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_SET_PARAMS, .dev_id = id,
		    .queue_id = -1, .len = sizeof(p),
		    .addr = 4096 }),
	       -EFAULT, "SET_PARAMS from an unmapped buffer");

	basic_params(&p, 1 << 20);
	p.types |= UBLK_PARAM_TYPE_DISCARD;
	p.discard.discard_granularity = 4096;
	p.discard.max_discard_sectors = 1 << 16;
	p.discard.max_discard_segments = 1;
	expect(set_params(id, &p), 0, "SET_PARAMS");
	/* a failing SET_PARAMS leaves the params alone */
	got = p;
	got.basic.logical_bs_shift = 3;
	expect(set_params(id, &got), -EINVAL, "SET_PARAMS with a bad block size");

	memset(&got, 0, sizeof(got));
	got.len = sizeof(got);
	expect(params_op(UBLK_U_CMD_GET_PARAMS, id, &got, 8), -EINVAL,
	       "GET_PARAMS with a buffer of just the header");
	got.len = 0;
	expect(params_op(UBLK_U_CMD_GET_PARAMS, id, &got, sizeof(got)), -EINVAL,
	       "GET_PARAMS with params.len 0");
	got.len = sizeof(got);
	expect(params_op(UBLK_U_CMD_GET_PARAMS, id, &got, sizeof(got)), 0,
	       "GET_PARAMS");
	report(got.basic.dev_sectors == p.basic.dev_sectors &&
	       got.basic.logical_bs_shift == 9 &&
	       got.discard.max_discard_sectors == p.discard.max_discard_sectors &&
	       (got.types & UBLK_PARAM_TYPE_DEVT) && got.devt.char_major,
	       "GET_PARAMS reads back what SET_PARAMS set, and the char devt");

	/* an older server's shorter struct: the rest is not written */
	memset(&got, 0xaa, sizeof(got));
	got.len = offsetof(struct ublk_params, dma);
	expect(params_op(UBLK_U_CMD_GET_PARAMS, id, &got, sizeof(got)), 0,
	       "GET_PARAMS with an old, shorter struct");
	report(((unsigned char *)&got.dma)[0] == 0xaa &&
	       got.len == offsetof(struct ublk_params, dma),
	       "GET_PARAMS writes no more than params.len");
}

static void check_affinity(int id, int nr_queues)
{
	unsigned long mask[64];

	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_QUEUE_AFFINITY,
		    .dev_id = id, .queue_id = -1,
		    .len = sizeof(mask),
		    .addr = (__u64)(uintptr_t)mask,
		    .data = nr_queues }),
	       -EINVAL, "GET_QUEUE_AFFINITY of a queue that does not exist");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_QUEUE_AFFINITY,
		    .dev_id = id, .queue_id = -1, .len = 4,
		    .addr = (__u64)(uintptr_t)mask }),
	       -EINVAL, "GET_QUEUE_AFFINITY with a 4-byte buffer");
	memset(mask, 0, sizeof(mask));
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_QUEUE_AFFINITY,
		    .dev_id = id, .queue_id = -1,
		    .len = sizeof(mask),
		    .addr = (__u64)(uintptr_t)mask }),
	       0, "GET_QUEUE_AFFINITY");
	report(mask[0] != 0, "queue 0 has CPUs (%#lx)", mask[0]);
}

static void check_dead_dev_cmds(int id, int rec_id)
{
	struct ublksrv_ctrl_dev_info info;

	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_DEV_INFO, .dev_id = id,
		    .queue_id = -1, .len = sizeof(info) - 1,
		    .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "GET_DEV_INFO with a short buffer");
	expect(ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_DEV_INFO2, .dev_id = id,
		    .queue_id = -1, .len = sizeof(info),
		    .addr = (__u64)(uintptr_t)&info }),
	       -EINVAL, "GET_DEV_INFO2 without the char device path");
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, 0), -EINVAL,
	       "START_DEV with server pid 0");
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, getpid()), -EBUSY,
	       "START_DEV with no server");
	expect(ctrl_simple(UBLK_U_CMD_START_USER_RECOVERY, id, 0), -EINVAL,
	       "START_USER_RECOVERY without USER_RECOVERY");
	expect(ctrl_simple(UBLK_U_CMD_END_USER_RECOVERY, id, getpid()),
	       -EINVAL, "END_USER_RECOVERY without USER_RECOVERY");
	expect(ctrl_simple(UBLK_U_CMD_START_USER_RECOVERY, rec_id, 0), -EBUSY,
	       "START_USER_RECOVERY of a device never started");
	expect(ctrl_simple(UBLK_U_CMD_END_USER_RECOVERY, rec_id, 0), -EINVAL,
	       "END_USER_RECOVERY with server pid 0");
	expect(ctrl_simple(UBLK_U_CMD_QUIESCE_DEV, id, 0), -EOPNOTSUPP,
	       "QUIESCE_DEV without QUIESCE");
	expect(ctrl_simple(UBLK_U_CMD_QUIESCE_DEV, rec_id, 0), -ENODEV,
	       "QUIESCE_DEV of a device never started");
	expect(ctrl_simple(UBLK_U_CMD_UPDATE_SIZE, id, 2048), -EBUSY,
	       "UPDATE_SIZE of a device not started");
	expect(ctrl_simple(UBLK_U_CMD_UPDATE_SIZE, 1000000, 2048), -ENODEV,
	       "UPDATE_SIZE of a dev_id that does not exist");
	expect(ctrl_simple(UBLK_U_CMD_TRY_STOP_DEV, id, 0), -ENODEV,
	       "TRY_STOP_DEV of a device not started");
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, id, 0), 0,
	       "STOP_DEV of a device not started");
	expect(get_info(id, &info), 0, "GET_DEV_INFO");
	report(info.state == UBLK_S_DEV_DEAD, "it is still DEAD");
}

/* UPDATE_SIZE and TRY_STOP_DEV on a live device that must stay live */
static void check_live_lifecycle(int id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char path[64];
	__u64 size = 0;
	int fd;

	/* (0 sectors is allowed, as mainline; a reader is busy on this one) */
	expect(ctrl_simple(UBLK_U_CMD_UPDATE_SIZE, id, ~0ULL), -EINVAL,
	       "UPDATE_SIZE to 2^64 - 1 sectors");
	expect(ctrl_simple(UBLK_U_CMD_UPDATE_SIZE, id, 1 << 19), 0,
	       "UPDATE_SIZE to half the size");
	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	ioctl(fd, BLKGETSIZE64, &size);
	report(size == 256ULL << 20, "the disk shrank to %llu bytes",
	       (unsigned long long)size);
	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_PARAMS, .dev_id = id,
	     .queue_id = -1, .len = sizeof(p),
	     .addr = (__u64)(uintptr_t)&p });
	report(p.basic.dev_sectors == 1 << 19, "GET_PARAMS shows %llu sectors",
	       (unsigned long long)p.basic.dev_sectors);
	expect(ctrl_simple(UBLK_U_CMD_UPDATE_SIZE, id, 1 << 20), 0,
	       "UPDATE_SIZE back to the full size");

	/* the disk is open: it stays */
	expect(ctrl_simple(UBLK_U_CMD_TRY_STOP_DEV, id, 0), -EBUSY,
	       "TRY_STOP_DEV with the disk open");
	close(fd);
	expect(get_info(id, &info), 0, "GET_DEV_INFO");
	report(info.state == UBLK_S_DEV_LIVE, "the device is still LIVE");
	expect(ctrl_simple(UBLK_U_CMD_QUIESCE_DEV, id, 100), -EOPNOTSUPP,
	       "QUIESCE_DEV without QUIESCE on a live device");
}

/* START_DEV waits for a server that opened the device, until it goes */
static void check_start_not_ready(int id)
{
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	struct __kernel_timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
	struct ctrl start = { .op = UBLK_U_CMD_START_DEV, .dev_id = id,
			      .queue_id = -1, .data = getpid() };
	void *iods;
	char path[64], buf[4096];
	int cdev, cdev2, ret;

	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	cdev = open(path, O_RDWR);
	if (cdev < 0)
		die(path);
	cdev2 = open(path, O_RDWR);
	expect(cdev2 < 0 ? -errno : 0, -EBUSY, "a second open of /dev/ublkcN");

	/* mmap: only whole queue arrays, read-only */
	iods = mmap(NULL, iods_size(2), PROT_READ | PROT_WRITE, MAP_SHARED,
		    cdev, 0);
	expect(iods == MAP_FAILED ? -errno : 0, -EPERM, "a writable mmap");
	iods = mmap(NULL, iods_size(2) * 2, PROT_READ, MAP_SHARED, cdev, 0);
	expect(iods == MAP_FAILED ? -errno : 0, -EINVAL, "an mmap too long");
	iods = mmap(NULL, iods_size(2), PROT_READ, MAP_SHARED, cdev,
		    iods_offset(1));
	expect(iods == MAP_FAILED ? -errno : 0, -EINVAL,
	       "an mmap of a queue that does not exist");
	/* the queue is the offset divided by the stride, as mainline has it */
	iods = mmap(NULL, iods_size(2), PROT_READ, MAP_SHARED, cdev, 4096);
	expect(iods == MAP_FAILED ? -errno : 0, 0,
	       "an mmap inside queue 0's stride");
	if (iods != MAP_FAILED)
		munmap(iods, iods_size(2));
	iods = mmap(NULL, iods_size(2), PROT_READ, MAP_SHARED, cdev, 0);
	expect(iods == MAP_FAILED ? -errno : 0, 0, "an mmap of queue 0");
	if (iods != MAP_FAILED) {
		ret = mprotect(iods, iods_size(2), PROT_READ | PROT_WRITE);
		expect(ret ? -errno : 0, -EACCES, "mprotect() it writable");
	}

	/* user copy on a device without it */
	ret = pread(cdev, buf, sizeof(buf), UBLKSRV_IO_BUF_OFFSET);
	expect(ret < 0 ? -errno : ret, -EACCES,
	       "pread() of a device without USER_COPY");

	if (io_uring_queue_init(8, &ring, 0))
		die("ring");
#define IO(op, q, tag, addr) ({						\
	prep_io(get_sqe(&ring), cdev, op, q, tag, 0, addr, 0);	\
	io_uring_submit(&ring);						\
	wait_res(&ring); })
	expect(IO(_IOWR('u', 0x2f, struct ublksrv_io_cmd), 0, 0, (uintptr_t)buf),
	       -EINVAL, "unknown I/O opcode");
	expect(IO(_IOWR('v', 0x20, struct ublksrv_io_cmd), 0, 0, (uintptr_t)buf),
	       -EOPNOTSUPP, "I/O opcode of another ioctl type");
	expect(IO(UBLK_U_IO_FETCH_REQ, 1, 0, (uintptr_t)buf), -EINVAL,
	       "FETCH_REQ of a queue that does not exist");
	expect(IO(UBLK_U_IO_FETCH_REQ, 0, 2, (uintptr_t)buf), -EINVAL,
	       "FETCH_REQ of a tag beyond the depth");
	expect(IO(UBLK_U_IO_FETCH_REQ, 0, 0, 0), -EINVAL,
	       "FETCH_REQ without a buffer");
	expect(IO(UBLK_U_IO_FETCH_REQ, 0, 0, -4096ULL), -EFAULT,
	       "FETCH_REQ with a kernel address");
	expect(IO(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, 0, (uintptr_t)buf), -EINVAL,
	       "COMMIT_AND_FETCH_REQ of a tag never fetched");
	expect(IO(UBLK_U_IO_NEED_GET_DATA, 0, 0, (uintptr_t)buf), -EINVAL,
	       "NEED_GET_DATA of a tag never fetched");
	expect(IO(UBLK_U_IO_REGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "REGISTER_IO_BUF on a device without SUPPORT_ZERO_COPY");
	expect(IO(UBLK_U_IO_UNREGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "UNREGISTER_IO_BUF on a device without SUPPORT_ZERO_COPY");

	/* fetch one tag of two: not ready */
	prep_io(get_sqe(&ring), cdev, UBLK_U_IO_FETCH_REQ, 0, 0, 0,
		(uintptr_t)buf, 100);
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	expect(ret, -ETIME, "FETCH_REQ waits for a request");
	expect(IO(UBLK_U_IO_FETCH_REQ, 0, 0, (uintptr_t)buf), -EBUSY,
	       "FETCH_REQ of a tag twice");
	expect(IO(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, 0, (uintptr_t)buf), -EBUSY,
	       "COMMIT_AND_FETCH_REQ of a tag the server does not own");
#undef IO

	prep_ctrl(get_sqe(&ctrl_ring), ctrl_fd, &start);
	io_uring_submit(&ctrl_ring);
	ret = io_uring_wait_cqe_timeout(&ctrl_ring, &cqe, &ts);
	expect(ret, -ETIME, "START_DEV waits while a queue is not ready");
	if (!ret)
		io_uring_cqe_seen(&ctrl_ring, cqe);

	/* the server goes away: the fetched command is aborted ... */
	io_uring_queue_exit(&ring);
	/* ... and START_DEV fails */
	if (ret == -ETIME)
		expect(wait_res(&ctrl_ring), -EBUSY,
		       "START_DEV once the server exited");
	if (iods != MAP_FAILED)
		munmap(iods, iods_size(2));
	close(cdev);
}

/* O_DIRECT reads of the healthy device, until told to stop */
struct reader {
	pthread_t thread;
	int id;
	atomic_int stop;
	long reads, errors;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	char path[64];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", r->id);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		r->errors++;
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		if (pread(fd, buf, 4096, (r->reads % 256) * 4096) != 4096)
			r->errors++;
		r->reads++;
	}
	close(fd);
	free(buf);
	return NULL;
}

static void check_live_dev(int id, struct server *s)
{
	struct ublk_params p;
	char path[64], buf[4096];
	int fd, ret;

	basic_params(&p, 1 << 20);
	expect(set_params(id, &p), -EACCES, "SET_PARAMS of a live device");
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, getpid()), -EEXIST,
	       "START_DEV of a live device");

	/* the first request gets a commit with too large a result */
	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	s->w[0].probe_bad_commit = true;
	s->w[0].probe_foreign = true;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	ret = sizeof(buf);
	for (int i = 0; i < 64 && ret == sizeof(buf); i++)
		ret = pread(fd, buf, sizeof(buf), i * 4096 * 17);
	close(fd);
	/* the first read's commit said 512 bytes more than it had */
	expect(ret < 0 ? -errno : ret == sizeof(buf) ? 0 : ret, 0,
	       "whole reads through the device, one committed too large");
	report(!s->w[0].probe_bad_commit,
	       "COMMIT_AND_FETCH_REQ with a result above the request size completes it");
	expect(s->w[0].probe_res[1], -EINVAL,
	       "COMMIT_AND_FETCH_REQ of a tag another task fetched");
}

static void check_user_copy(void)
{
	struct ublk_params p;
	struct server s;
	char buf[4096];
	__u64 pos;
	int id, ret;

	id = add_dev(UBLK_F_USER_COPY, 1, 2, NULL);
	if (id < 0) {
		expect(id, 0, "ADD_DEV with USER_COPY");
		return;
	}
	basic_params(&p, 1 << 20);
	set_params(id, &p);
	server_start(&s, id, 1);

	pos = UBLKSRV_IO_BUF_OFFSET;
	ret = pread(s.cdev, buf, sizeof(buf), 4096);
	expect(ret < 0 ? -errno : ret, -EINVAL, "pread() below the buffer offset");
	ret = pread(s.cdev, buf, sizeof(buf), pos);
	expect(ret < 0 ? -errno : ret, -EINVAL,
	       "pread() of a tag the server does not own");
	ret = pread(s.cdev, buf, sizeof(buf), pos + (1ULL << UBLK_QID_OFF));
	expect(ret < 0 ? -errno : ret, -EINVAL,
	       "pread() of a queue that does not exist");
	ret = pread(s.cdev, buf, sizeof(buf), pos + (5ULL << UBLK_TAG_OFF));
	expect(ret < 0 ? -errno : ret, -EINVAL,
	       "pread() of a tag beyond the depth");
	ret = pwrite(s.cdev, buf, sizeof(buf), pos | UBLKSRV_IO_INTEGRITY_FLAG);
	expect(ret < 0 ? -errno : ret, -EINVAL, "pwrite() of integrity data");

	/* the server gets the aborts, exits, and DEL_DEV finds it gone */
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, id, 0), 0,
	       "STOP_DEV of a device whose server waits");
	server_stop(&s);
	del_dev(id);
}

static void zoned_params(struct ublk_params *p)
{
	basic_params(p, NR_ZONES * ZONE_SECTORS);
	p->types |= UBLK_PARAM_TYPE_ZONED;
	p->basic.chunk_sectors = ZONE_SECTORS;
	p->zoned.max_open_zones = 4;
	p->zoned.max_active_zones = 4;
	p->zoned.max_zone_append_sectors = 256;
}

/* a zone of the device as BLKREPORTZONE tells it */
static int report_zone(int fd, int z, struct blk_zone *zone)
{
	struct {
		struct blk_zone_report rep;
		struct blk_zone zone;
	} r = { .rep = { .sector = (__u64)z * ZONE_SECTORS, .nr_zones = 1 } };

	if (ioctl(fd, BLKREPORTZONE, &r) || r.rep.nr_zones != 1)
		return -1;
	*zone = r.zone;
	return 0;
}

static void check_zoned(void)
{
	struct ublk_params p;
	struct blk_zone zone;
	struct blk_zone_range range;
	struct server s;
	char path[64], sys[64], buf[64];
	void *data;
	int id, fd, ok, z, n;

	if (!(features & UBLK_F_ZONED)) {
		printf("ok: zoned checks skipped: no UBLK_F_ZONED\n");
		return;
	}
	id = add_dev(UBLK_F_USER_COPY | UBLK_F_ZONED, 1, 4, NULL);
	if (id < 0) {
		expect(id, 0, "ADD_DEV zoned");
		return;
	}

	basic_params(&p, NR_ZONES * ZONE_SECTORS);
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS of a zoned device without ZONED");
	zoned_params(&p);
	p.basic.chunk_sectors = 3072;
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS with zones of 3072 sectors");
	zoned_params(&p);
	p.zoned.max_open_zones = 5;
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS with more open than active zones");
	zoned_params(&p);
	p.zoned.max_active_zones = NR_ZONES + 1;
	p.zoned.max_open_zones = 0;
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS with more active zones than zones");
	zoned_params(&p);
	p.zoned.max_zone_append_sectors = 0;
	expect(set_params(id, &p), -EINVAL, "SET_PARAMS with no zone append");
	zoned_params(&p);
	p.zoned.reserved[3] = 1;
	expect(set_params(id, &p), 0,
	       "SET_PARAMS with a reserved zoned byte set (ignored, as mainline)");
	zoned_params(&p);
	expect(set_params(id, &p), 0, "SET_PARAMS zoned");

	server_start(&s, id, 1);
	s.w[0].probe_report = true;
	/* START_DEV reads the zones through the server */
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, getpid()), 0,
	       "START_DEV of a zoned device");
	report(!s.w[0].probe_report,
	       "a zone report committed larger than asked for completed");

	snprintf(sys, sizeof(sys), "/sys/block/ublkb%d/queue/nr_zones", id);
	fd = open(sys, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	report(atoi(buf) == NR_ZONES, "the disk has %d zones (%d)", NR_ZONES,
	       atoi(buf));

	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || posix_memalign(&data, 4096, 4096)) {
		report(false, "open %s", path);
		goto out;
	}
	for (ok = 1, z = 0; z < NR_ZONES; z++)
		ok &= !report_zone(fd, z, &zone) &&
		      zone.start == (__u64)z * ZONE_SECTORS &&
		      zone.len == ZONE_SECTORS && zone.wp == zone.start &&
		      zone.cond == BLK_ZONE_COND_EMPTY;
	report(ok, "BLKREPORTZONE: %d empty zones of %d sectors", NR_ZONES,
	       ZONE_SECTORS);

	memset(data, 0x5a, 4096);
	expect(pwrite(fd, data, 4096, ZONE_SECTORS * 512ULL) == 4096 ? 0 : -errno,
	       0, "a write at zone 1's write pointer");
	n = report_zone(fd, 1, &zone);
	report(!n && zone.wp == ZONE_SECTORS + 8,
	       "zone 1's write pointer moved (%llu)", (unsigned long long)zone.wp);
	range = (struct blk_zone_range){ ZONE_SECTORS, ZONE_SECTORS };
	expect(ioctl(fd, BLKRESETZONE, &range) ? -errno : 0, 0, "BLKRESETZONE");
	report(!report_zone(fd, 1, &zone) && zone.wp == ZONE_SECTORS,
	       "zone 1 is empty again");
	range = (struct blk_zone_range){ 2 * ZONE_SECTORS, ZONE_SECTORS };
	expect(ioctl(fd, BLKFINISHZONE, &range) ? -errno : 0, 0, "BLKFINISHZONE");
	report(!report_zone(fd, 2, &zone) && zone.cond == BLK_ZONE_COND_FULL,
	       "zone 2 is full");
	expect(pread(fd, data, 4096, 0) == 4096 ? 0 : -errno, 0,
	       "a read of zone 0");
	close(fd);
	free(data);
out:
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, id, 0), 0,
	       "STOP_DEV of the zoned device");
	server_stop(&s);
	del_dev(id);
}

/* ---- zero copy ---- */

/*
 * A zero-copy device of one queue of depth 2 (no partition scan: no
 * request but ours), served by hand from this thread: FETCH and COMMIT
 * on one ring ("srv"), REGISTER/UNREGISTER_IO_BUF and the fixed-buffer
 * IO on another whose buffer table is entries 0-2 empty and entry 3 a
 * normal user buffer ("buf").  A client thread makes one request at a
 * time.
 */
#define ZC_DEPTH	2
#define ZC_TABLE	4
#define ZC_USER_IDX	3

struct zc_dev {
	int id, cdev, file;
	struct ublksrv_io_desc *iods;
	struct io_uring srv, buf;
	void *user_buf;
};

struct zc_client {
	pthread_t thread;
	int id;
	bool write;
	char *data;
	int res;
};

static void *zc_client_fn(void *arg)
{
	struct zc_client *c = arg;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", c->id);
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		c->res = -errno;
		return NULL;
	}
	c->res = c->write ? pwrite(fd, c->data, 4096, 8192) : pread(fd, c->data, 4096, 8192);
	if (c->res < 0)
		c->res = -errno;
	close(fd);
	return NULL;
}

/* the next CQE's result; -ETIME if none comes within 5 s (a hang) */
static int wait_res_5s(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* an I/O command on the buffer ring, its result */
static int zc_buf_cmd(struct zc_dev *z, __u32 op, int q, int tag, __u64 addr)
{
	prep_io(get_sqe(&z->buf), z->cdev, op, q, tag, 0, addr, 0);
	io_uring_submit(&z->buf);
	return wait_res_5s(&z->buf);
}

static int zc_fixed(struct zc_dev *z, bool write, __u64 off, unsigned int len, int index)
{
	struct io_uring_sqe *sqe = get_sqe(&z->buf);

	if (write)
		io_uring_prep_write_fixed(sqe, z->file, (void *)(uintptr_t)off, len, 0, index);
	else
		io_uring_prep_read_fixed(sqe, z->file, (void *)(uintptr_t)off, len, 0, index);
	io_uring_submit(&z->buf);
	return wait_res_5s(&z->buf);
}

/* a device with @flags, its slots fetched and started; false on failure */
static bool zc_start(struct zc_dev *z, __u64 flags)
{
	struct iovec iov[ZC_TABLE] = { };
	struct ublk_params p;
	char path[64], data[4096];
	int tag;

	memset(z, 0, sizeof(*z));
	z->id = add_dev(flags | UBLK_F_NO_AUTO_PART_SCAN, 1, ZC_DEPTH, NULL);
	if (z->id < 0) {
		expect(z->id, 0, "ADD_DEV of a zero-copy device");
		return false;
	}
	basic_params(&p, 1 << 20);
	if (set_params(z->id, &p))
		die("SET_PARAMS");
	snprintf(path, sizeof(path), "/dev/ublkc%d", z->id);
	z->cdev = open(path, O_RDWR);
	if (z->cdev < 0)
		die(path);
	z->iods = mmap(NULL, iods_size(ZC_DEPTH), PROT_READ, MAP_SHARED | MAP_POPULATE,
		       z->cdev, iods_offset(0));
	if (z->iods == MAP_FAILED)
		die("mmap");
	if (io_uring_queue_init(8, &z->srv, 0) || io_uring_queue_init(8, &z->buf, 0))
		die("zero-copy rings");
	if (posix_memalign(&z->user_buf, 4096, 4096))
		die("buffer");
	iov[ZC_USER_IDX].iov_base = z->user_buf;
	iov[ZC_USER_IDX].iov_len = 4096;
	if (io_uring_register_buffers_tags(&z->buf, iov, NULL, ZC_TABLE))
		die("buffer table");
	/* the file fixed-buffer IO reads and writes: 4k of 0x5a */
	snprintf(path, sizeof(path), "/tmp/badcmd-zc.XXXXXX");
	z->file = mkstemp(path);
	if (z->file < 0)
		die("mkstemp");
	unlink(path);
	memset(data, 0x5a, sizeof(data));
	if (pwrite(z->file, data, sizeof(data), 0) != sizeof(data))
		die("pwrite");
	for (tag = 0; tag < ZC_DEPTH; tag++)
		prep_io(get_sqe(&z->srv), z->cdev, UBLK_U_IO_FETCH_REQ, 0, tag, 0, 0, tag);
	if (io_uring_submit(&z->srv) != ZC_DEPTH)
		die("submit fetch");
	return true;
}

static void zc_stop(struct zc_dev *z)
{
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, z->id, 0), 0, "STOP_DEV of the zero-copy device");
	io_uring_queue_exit(&z->srv);
	io_uring_queue_exit(&z->buf);
	munmap(z->iods, iods_size(ZC_DEPTH));
	close(z->cdev);
	close(z->file);
	free(z->user_buf);
	del_dev(z->id);
}

/* start client @c's request and wait for its delivery: the tag, or -1 */
static int zc_deliver(struct zc_dev *z, struct zc_client *c, bool write)
{
	struct __kernel_timespec ts = { .tv_sec = 20 };
	struct io_uring_cqe *cqe;
	int tag;

	c->id = z->id;
	c->write = write;
	if (posix_memalign((void **)&c->data, 4096, 4096))
		die("buffer");
	memset(c->data, write ? 0xc3 : 0, 4096);
	pthread_create(&c->thread, NULL, zc_client_fn, c);
	if (io_uring_wait_cqe_timeout(&z->srv, &cqe, &ts)) {
		report(false, "no request delivered within 20 s");
		return -1;
	}
	tag = cqe->user_data;
	expect(cqe->res, 0, write ? "a WRITE delivered" : "a READ delivered");
	io_uring_cqe_seen(&z->srv, cqe);
	report(ublksrv_get_op(&z->iods[tag]) == (write ? UBLK_IO_OP_WRITE : UBLK_IO_OP_READ) &&
	       z->iods[tag].nr_sectors == 8,
	       "it is a 4k %s (op %u, %u sectors)", write ? "WRITE" : "READ",
	       ublksrv_get_op(&z->iods[tag]), z->iods[tag].nr_sectors);
	return tag;
}

/* commit (q 0, @tag) with @res and collect the client */
static void zc_commit(struct zc_dev *z, struct zc_client *c, int tag, int res)
{
	prep_io(get_sqe(&z->srv), z->cdev, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, tag, res, 0, tag);
	io_uring_submit(&z->srv);
	pthread_join(c->thread, NULL);
}

/*
 * UBLK_F_SUPPORT_ZERO_COPY: REGISTER_IO_BUF only of a request the server
 * holds, only into the issuing ring's table, never over an occupied
 * entry; UNREGISTER_IO_BUF only of a request buffer; the registered
 * buffer only in the request's direction and within its length.
 */
static void check_zero_copy(void)
{
	struct zc_client c = { };
	struct zc_dev z;
	char want[4096];
	int tag;

	if (!(features & UBLK_F_SUPPORT_ZERO_COPY)) {
		printf("ok: zero-copy checks skipped: no UBLK_F_SUPPORT_ZERO_COPY\n");
		return;
	}
	if (!zc_start(&z, UBLK_F_SUPPORT_ZERO_COPY))
		return;
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, z.id, getpid()), 0,
	       "START_DEV of a zero-copy device");

	/* no request delivered yet: both slots are the driver's */
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "REGISTER_IO_BUF of a slot without a request");
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 1, 0, 0), -EINVAL,
	       "REGISTER_IO_BUF of a queue that does not exist");
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, ZC_DEPTH, 0), -EINVAL,
	       "REGISTER_IO_BUF of a tag beyond the depth");
	expect(zc_buf_cmd(&z, UBLK_U_IO_UNREGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "UNREGISTER_IO_BUF of an empty entry");
	/* as mainline's io_uring: not an error of the index, but of its use */
	expect(zc_buf_cmd(&z, UBLK_U_IO_UNREGISTER_IO_BUF, 0, 0, ZC_USER_IDX), -EBUSY,
	       "UNREGISTER_IO_BUF of an entry holding a user buffer");

	/* a READ: the file's data goes into it, nothing comes out of it */
	tag = zc_deliver(&z, &c, false);
	if (tag < 0)
		goto out;
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, tag, ZC_TABLE), -EINVAL,
	       "REGISTER_IO_BUF at an index beyond the table");
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, tag, ZC_USER_IDX), -EBUSY,
	       "REGISTER_IO_BUF at an occupied index");
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, tag, 0), 0,
	       "REGISTER_IO_BUF of the READ at index 0");
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, tag ^ 1, 1), -EINVAL,
	       "REGISTER_IO_BUF of the other slot, still without a request");
	expect(zc_fixed(&z, true, 0, 4096, 0), -EFAULT,
	       "WRITE_FIXED from a READ request's buffer");
	expect(zc_fixed(&z, false, 2048, 4096, 0), -EFAULT,
	       "READ_FIXED beyond the end of the request's buffer");
	expect(zc_fixed(&z, false, 0, 4096, 0), 4096,
	       "READ_FIXED into the READ request's buffer");
	expect(zc_buf_cmd(&z, UBLK_U_IO_UNREGISTER_IO_BUF, 0, tag, 0), 0,
	       "UNREGISTER_IO_BUF of the READ");
	expect(zc_buf_cmd(&z, UBLK_U_IO_UNREGISTER_IO_BUF, 0, tag, 0), -EINVAL,
	       "UNREGISTER_IO_BUF of it again");
	zc_commit(&z, &c, tag, 4096);
	memset(want, 0x5a, sizeof(want));
	expect(c.res, 4096, "the client's read");
	report(!memcmp(c.data, want, sizeof(want)),
	       "it got the file's data, put straight into its pages");
	free(c.data);

	/* a WRITE: the other way round */
	tag = zc_deliver(&z, &c, true);
	if (tag < 0)
		goto out;
	expect(zc_buf_cmd(&z, UBLK_U_IO_REGISTER_IO_BUF, 0, tag, 2), 0,
	       "REGISTER_IO_BUF of the WRITE at index 2");
	expect(zc_fixed(&z, false, 0, 4096, 2), -EFAULT,
	       "READ_FIXED into a WRITE request's buffer");
	expect(zc_fixed(&z, true, 0, 4096, 2), 4096,
	       "WRITE_FIXED from the WRITE request's buffer");
	expect(zc_buf_cmd(&z, UBLK_U_IO_UNREGISTER_IO_BUF, 0, tag, 2), 0,
	       "UNREGISTER_IO_BUF of the WRITE");
	zc_commit(&z, &c, tag, 4096);
	expect(c.res, 4096, "the client's write");
	memset(want, 0xc3, sizeof(want));
	report(pread(z.file, c.data, 4096, 0) == 4096 && !memcmp(c.data, want, sizeof(want)),
	       "its data reached the file straight from its pages");
	free(c.data);
out:
	zc_stop(&z);
}

/* UBLK_F_AUTO_BUF_REG: the struct ublk_auto_buf_reg in sqe->addr is checked */
static void check_auto_buf_reg(void)
{
	static const struct {
		struct ublk_auto_buf_reg reg;
		const char *what;
	} bad[] = {
		{ { .index = 0, .reserved0 = 1 }, "FETCH_REQ with auto_buf_reg.reserved0 set" },
		{ { .index = 0, .reserved1 = 1 }, "FETCH_REQ with auto_buf_reg.reserved1 set" },
		{ { .index = 0, .flags = 1 << 1 }, "FETCH_REQ with an unknown auto_buf_reg flag" },
		{ { .index = 0, .flags = 0x80 | UBLK_AUTO_BUF_REG_FALLBACK },
		  "FETCH_REQ with FALLBACK and an unknown auto_buf_reg flag" },
	};
	struct io_uring_sqe *sqe;
	struct ublk_params p;
	struct io_uring ring;
	char path[64];
	unsigned int n;
	int id, cdev;

	if (!(features & UBLK_F_AUTO_BUF_REG)) {
		printf("ok: auto buffer registration checks skipped: no UBLK_F_AUTO_BUF_REG\n");
		return;
	}
	id = add_dev(UBLK_F_AUTO_BUF_REG, 1, 2, NULL);
	if (id < 0) {
		expect(id, 0, "ADD_DEV with AUTO_BUF_REG");
		return;
	}
	basic_params(&p, 1 << 20);
	set_params(id, &p);
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	cdev = open(path, O_RDWR);
	if (cdev < 0)
		die(path);
	if (io_uring_queue_init(4, &ring, 0) || io_uring_register_buffers_sparse(&ring, 2))
		die("ring");
	for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
		sqe = get_sqe(&ring);
		prep_io(sqe, cdev, UBLK_U_IO_FETCH_REQ, 0, 0, 0, 0, 0);
		sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&bad[n].reg);
		io_uring_submit(&ring);
		/* accepted, it would wait for a request: -ETIME */
		expect(wait_res_5s(&ring), -EINVAL, bad[n].what);
	}
	io_uring_queue_exit(&ring);
	close(cdev);
	del_dev(id);
}

/* ---- batched delivery (UBLK_F_BATCH_IO) ---- */

/* liburing 2.3 predates multishot uring_cmds */
#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT	(1U << 1)
#endif

/*
 * A batch server of one queue: one ring (bsrv.ring) holding up to two
 * FETCH_IO_CMDS commands, each with its own provided-buffer group, that
 * serves reads as a null device whose data is a pattern of the sector
 * (pattern_fill()).  It runs either in a thread of its own (bs_start(),
 * the live checks of check_batch()) or in the caller, which then polls
 * it (bs_poll(), the priority test).  Deliveries run as task work of the
 * task that submitted the fetch command, so that task must be the one
 * waiting on the ring: never one blocked in a read of the device.
 */
#define BS_MAX_DEPTH	8
#define BS_MAX_FETCH	2
/* provided buffers per fetch command (a power of two) */
#define BS_NR_BUFS	4
/* user_data: a fetch command | its index, a commit | the bytes it must take */
#define UD_FETCH	(1ULL << 40)
#define UD_COMMIT	(1ULL << 41)
#define UD_UPDATE	(1ULL << 42)
/* an element as large as any: header, buffer address, zone LBA */
#define ELEM_MAX	24

struct bfetch {
	struct kublk_buf_ring br;
	__u64 ud;
	/* -1: sent without UBLK_BATCH_F_PRIO */
	int prio;
	/* give each buffer back once its tags are read */
	bool recycle;
	/* no final CQE yet; the final CQE's result */
	bool live;
	int final_res;
	long cqes, tags;
};

struct bheld {
	int tag, res;
};

struct bsrv {
	int id, depth, cdev, seed;
	bool user_copy;
	struct ublksrv_io_desc *iods;
	char *bufs;
	struct io_uring ring;
	int nr_fetch;
	struct bfetch f[BS_MAX_FETCH];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/*
	 * Under @lock: the thread armed its fetch command; the tags of the
	 * next @hold requests go to @held, filled but not committed, for
	 * the caller to commit.
	 */
	bool armed;
	int hold, nr_held;
	struct bheld held[BS_MAX_DEPTH];
	/* read by others once it stopped */
	long served, errors;
	/* the CQE of an UPDATE_CMD_PRIO sent on @ring */
	bool update_done;
	int update_res;
};

/* the data of every batch device: sector @sector, word @i, device @seed */
static __u64 pattern_word(int seed, __u64 sector, unsigned int i)
{
	return ((__u64)seed << 56) ^ (sector << 8) ^ i ^ 0xa5a5000000000000ULL;
}

static void pattern_fill(void *buf, __u64 sector, unsigned int bytes, int seed)
{
	__u64 *w = buf;
	unsigned int i;

	for (i = 0; i < bytes / 8; i++)
		w[i] = pattern_word(seed, sector + i / 64, i % 64);
}

static bool pattern_ok(const void *buf, __u64 sector, unsigned int bytes,
		       int seed)
{
	const __u64 *w = buf;
	unsigned int i;

	for (i = 0; i < bytes / 8; i++)
		if (w[i] != pattern_word(seed, sector + i / 64, i % 64))
			return false;
	return true;
}

/* element @i of an array of @size-byte elements */
static void put_elem(void *arr, int i, unsigned int size, int tag, int res,
		     __u64 addr)
{
	char *e = (char *)arr + (size_t)i * size;
	struct ublk_elem_header h = { .tag = tag, .result = res };

	memset(e, 0, size);
	memcpy(e, &h, sizeof(h));
	if (size > sizeof(h))
		memcpy(e + sizeof(h), &addr, sizeof(addr));
}

static void prep_batch(struct io_uring_sqe *sqe, int fd, __u32 op,
		       const struct ublk_batch_io *b, const void *elems,
		       __u64 ud)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	sqe->addr = (__u64)(uintptr_t)elems;
	sqe->user_data = ud;
	memcpy(kublk_sqe_cmd(sqe), b, sizeof(*b));
}

/* FETCH_IO_CMDS of queue 0 into group @bgid; @prio < 0: no priority */
static void prep_fetch(struct io_uring_sqe *sqe, int fd, int bgid, int prio,
		       __u64 ud)
{
	struct ublk_batch_io b = { .elem_bytes = sizeof(__u16) };

	if (prio >= 0) {
		b.flags = UBLK_BATCH_F_PRIO;
		b.prio = prio;
	}
	prep_batch(sqe, fd, UBLK_U_IO_FETCH_IO_CMDS, &b, NULL, ud);
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
}

/* a batch command with header @b: its result (-ETIME: it waits) */
static int batch_cmd(struct io_uring *ring, int fd, __u32 op,
		     struct ublk_batch_io b, const void *elems)
{
	prep_batch(get_sqe(ring), fd, op, &b, elems, 0);
	io_uring_submit(ring);
	return wait_res_5s(ring);
}

/* PREP_IO_CMDS or COMMIT_IO_CMDS of queue @q */
static int elems_cmd(struct io_uring *ring, int fd, __u32 op, int q,
		     int flags, int nr, int size, const void *elems)
{
	return batch_cmd(ring, fd, op,
			 (struct ublk_batch_io){ .q_id = q, .flags = flags,
						 .nr_elem = nr,
						 .elem_bytes = size },
			 elems);
}

/* UPDATE_CMD_PRIO of queue 0 to @prio, for fetch @ud (0: all of the ring) */
static int prio_cmd(struct io_uring *ring, int fd, int flags, int prio,
		    __u64 ud)
{
	return batch_cmd(ring, fd, UBLK_U_IO_UPDATE_CMD_PRIO,
			 (struct ublk_batch_io){ .flags = flags, .prio = prio,
						 .reserved2 = ud },
			 NULL);
}

/*
 * A FETCH_IO_CMDS with header @b and @uflags in uring_cmd_flags, with
 * buffer select of group @bgid if @bsel: its first CQE's result, -ETIME
 * if it waits.
 */
static int fetch_once(struct io_uring *ring, int fd, struct ublk_batch_io b,
		      __u32 uflags, bool bsel, int bgid)
{
	struct io_uring_sqe *sqe = get_sqe(ring);

	prep_batch(sqe, fd, UBLK_U_IO_FETCH_IO_CMDS, &b, NULL, UD_FETCH);
	sqe->uring_cmd_flags = uflags;
	if (bsel)
		sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
	io_uring_submit(ring);
	return wait_res_5s(ring);
}

/* a correct FETCH_IO_CMDS on a ring of its own: its first result */
static int fetch_new_ring(int fd)
{
	struct io_uring ring;
	int ret;

	if (io_uring_queue_init(4, &ring, 0))
		die("ring");
	ret = fetch_once(&ring, fd,
			 (struct ublk_batch_io){ .elem_bytes = sizeof(__u16) },
			 IORING_URING_CMD_MULTISHOT, true, 1);
	io_uring_queue_exit(&ring);
	return ret;
}

/* the next CQE within 5 s into @out; -ETIME if none */
static int wait_cqe_5s(struct io_uring *ring, struct io_uring_cqe *out)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	*out = *cqe;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* group @bgid of @ring: registered, and never given a buffer */
static void *empty_buf_ring(struct io_uring *ring, int bgid)
{
	struct io_uring_buf_reg reg = { .ring_entries = 8, .bgid = bgid };
	void *br;
	int ret;

	br = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		die("mmap");
	reg.ring_addr = (__u64)(uintptr_t)br;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		errno = -ret;
		die("io_uring_register_buf_ring");
	}
	io_uring_buf_ring_init(br);
	return br;
}

static __u64 bs_buf(const struct bsrv *s, int tag)
{
	return (__u64)(uintptr_t)(s->bufs + (size_t)tag * BUF_SIZE);
}

/* the elements of this server's PREP and COMMIT */
static int bs_eflags(const struct bsrv *s)
{
	return s->user_copy ? 0 : UBLK_BATCH_F_HAS_BUF_ADDR;
}

static unsigned int bs_esize(const struct bsrv *s)
{
	return sizeof(struct ublk_elem_header) + (s->user_copy ? 0 : 8);
}

static void bs_open(struct bsrv *s, int id)
{
	struct ublksrv_ctrl_dev_info info;
	char path[64];

	if (get_info(id, &info))
		die("GET_DEV_INFO");
	if (info.queue_depth > BS_MAX_DEPTH || info.nr_hw_queues != 1) {
		fprintf(stderr, "batch server: %u queues of %u\n",
			info.nr_hw_queues, info.queue_depth);
		exit(1);
	}
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->seed = id + 1;
	s->depth = info.queue_depth;
	s->user_copy = info.flags & UBLK_F_USER_COPY;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	s->cdev = open(path, O_RDWR);
	if (s->cdev < 0)
		die(path);
	s->iods = mmap(NULL, iods_size(s->depth), PROT_READ,
		       MAP_SHARED | MAP_POPULATE, s->cdev, iods_offset(0));
	if (s->iods == MAP_FAILED)
		die("mmap");
	if (posix_memalign((void **)&s->bufs, 4096, (size_t)s->depth * BUF_SIZE))
		die("buffers");
	/* room for the CQEs of every fetch, commit and request at once */
	if (io_uring_queue_init(32, &s->ring, 0))
		die("batch server ring");
}

/* PREP_IO_CMDS of every tag, on @ring */
static int bs_prep(struct bsrv *s, struct io_uring *ring)
{
	char el[BS_MAX_DEPTH * ELEM_MAX];
	int tag;

	for (tag = 0; tag < s->depth; tag++)
		put_elem(el, tag, bs_esize(s), tag, 0, bs_buf(s, tag));
	return elems_cmd(ring, s->cdev, UBLK_U_IO_PREP_IO_CMDS, 0,
			 bs_eflags(s), s->depth, bs_esize(s), el);
}

/* arm fetch command @i (buffer group i + 1) at @prio, from this task */
static void bs_fetch(struct bsrv *s, int i, int prio)
{
	struct bfetch *f = &s->f[i];
	int ret;

	ret = kublk_buf_ring_setup(&s->ring, &f->br, BS_NR_BUFS,
				   s->depth * sizeof(__u16), i + 1);
	if (ret) {
		errno = -ret;
		die("buffer ring");
	}
	f->ud = UD_FETCH | i;
	f->prio = prio;
	f->recycle = true;
	f->live = true;
	prep_fetch(get_sqe(&s->ring), s->cdev, i + 1, prio, f->ud);
	if (io_uring_submit(&s->ring) != 1)
		die("submit fetch");
	if (i >= s->nr_fetch)
		s->nr_fetch = i + 1;
}

/* serve slot @tag's request: the result to commit */
static int bs_serve(struct bsrv *s, int tag)
{
	const struct ublksrv_io_desc *iod = &s->iods[tag];
	char *buf = s->bufs + (size_t)tag * BUF_SIZE;
	int res = io_res(iod);

	if (ublksrv_get_op(iod) != UBLK_IO_OP_READ || res <= 0)
		return res;
	if (!s->user_copy && iod->addr != bs_buf(s, tag)) {
		fprintf(stderr, "batch server %d: tag %d has buffer %#llx, not the one given\n",
			s->id, tag, (unsigned long long)iod->addr);
		s->errors++;
	}
	pattern_fill(buf, iod->start_sector, res, s->seed);
	if (s->user_copy && pwrite(s->cdev, buf, res, uc_pos(0, tag)) != res) {
		fprintf(stderr, "batch server %d: user copy of tag %d: %s\n",
			s->id, tag, strerror(errno));
		s->errors++;
		return -EIO;
	}
	return res;
}

/* one CQE of fetch command @f carrying tags */
static void bs_deliver(struct bsrv *s, struct bfetch *f,
		       const struct io_uring_cqe *cqe)
{
	unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	const __u16 *tags = (const __u16 *)(f->br.bufs + (size_t)bid * f->br.size);
	unsigned int size = bs_esize(s);
	char el[BS_MAX_DEPTH * ELEM_MAX];
	int i, n = 0, nr = cqe->res / sizeof(__u16);

	f->cqes++;
	if (!(cqe->flags & IORING_CQE_F_BUFFER) || bid >= BS_NR_BUFS ||
	    nr > s->depth) {
		fprintf(stderr, "batch server %d: a delivery of %d bytes, flags %#x\n",
			s->id, cqe->res, cqe->flags);
		s->errors++;
		return;
	}
	for (i = 0; i < nr; i++) {
		int tag = tags[i], res;

		if (tag >= s->depth) {
			fprintf(stderr, "batch server %d: tag %d delivered\n",
				s->id, tag);
			s->errors++;
			continue;
		}
		res = bs_serve(s, tag);
		f->tags++;
		s->served++;
		pthread_mutex_lock(&s->lock);
		if (s->hold > 0 && s->nr_held < BS_MAX_DEPTH) {
			s->hold--;
			s->held[s->nr_held++] = (struct bheld){ tag, res };
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		put_elem(el, n++, size, tag, res, bs_buf(s, tag));
	}
	if (f->recycle)
		kublk_buf_ring_recycle(&f->br, bid);
	if (!n)
		return;
	prep_batch(get_sqe(&s->ring), s->cdev, UBLK_U_IO_COMMIT_IO_CMDS,
		   &(struct ublk_batch_io){ .flags = bs_eflags(s), .nr_elem = n,
					    .elem_bytes = size },
		   el, UD_COMMIT | (n * size));
	/* issued inline: the driver has read @el when this returns */
	io_uring_submit(&s->ring);
}

static void bs_cqe(struct bsrv *s, const struct io_uring_cqe *cqe)
{
	__u64 ud = cqe->user_data;

	if (ud & UD_FETCH) {
		struct bfetch *f = &s->f[(ud & 0xff) % BS_MAX_FETCH];

		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			f->live = false;
			f->final_res = cqe->res;
		} else if (cqe->res > 0) {
			bs_deliver(s, f, cqe);
		} else if (cqe->flags & IORING_CQE_F_BUFFER) {
			/* a buffer back without tags */
			kublk_buf_ring_recycle(&f->br,
					       cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		}
	} else if (ud & UD_COMMIT) {
		if (cqe->res != (int)(ud & 0xffff)) {
			fprintf(stderr, "batch server %d: COMMIT_IO_CMDS: %d, want %d\n",
				s->id, cqe->res, (int)(ud & 0xffff));
			s->errors++;
		}
	} else if (ud & UD_UPDATE) {
		s->update_res = cqe->res;
		s->update_done = true;
	}
}

/* handle the CQEs that come within @ms milliseconds: how many */
static int bs_poll(struct bsrv *s, int ms)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts))
		return 0;
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		bs_cqe(s, cqe);
		n++;
	}
	io_uring_cq_advance(&s->ring, n);
	return n;
}

static bool bs_live(const struct bsrv *s)
{
	int i;

	for (i = 0; i < s->nr_fetch; i++)
		if (s->f[i].live)
			return true;
	return false;
}

/* the thread of a server with one fetch command, until it ends */
static void *bs_thread_fn(void *arg)
{
	struct bsrv *s = arg;

	bs_fetch(s, 0, -1);
	pthread_mutex_lock(&s->lock);
	s->armed = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	while (bs_live(s))
		bs_poll(s, 200);
	/* commits completed with the final CQE */
	while (bs_poll(s, 0))
		;
	return NULL;
}

static void bs_start(struct bsrv *s)
{
	pthread_create(&s->thread, NULL, bs_thread_fn, s);
	pthread_mutex_lock(&s->lock);
	while (!s->armed)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void bs_join(struct bsrv *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (pthread_timedjoin_np(s->thread, NULL, &ts)) {
		report(false, "the batch server of device %d did not end within 30 s",
		       s->id);
		exit(1);
	}
}

static void bs_close(struct bsrv *s)
{
	int i;

	io_uring_queue_exit(&s->ring);
	for (i = 0; i < s->nr_fetch; i++)
		kublk_buf_ring_free(&s->f[i].br);
	munmap(s->iods, iods_size(s->depth));
	free(s->bufs);
	close(s->cdev);
}

/* the next @n requests' tags go to the caller, filled, uncommitted */
static void bs_hold(struct bsrv *s, int n)
{
	pthread_mutex_lock(&s->lock);
	s->hold = n;
	s->nr_held = 0;
	pthread_mutex_unlock(&s->lock);
}

static bool bs_wait_held(struct bsrv *s, int n)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->nr_held < n &&
	       !pthread_cond_timedwait(&s->cond, &s->lock, &ts))
		;
	ok = s->nr_held >= n;
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		report(false, "%d request(s) delivered to the batch server within 10 s",
		       n);
	return ok;
}

/* one O_DIRECT read of a batch device, its data checked */
struct bclient {
	pthread_t thread;
	int fd, seed;
	__u64 off;
	unsigned int len;
	int res;
	bool data_ok;
	atomic_int done;
};

static void *bclient_fn(void *arg)
{
	struct bclient *c = arg;
	void *buf;

	if (posix_memalign(&buf, 4096, c->len)) {
		c->res = -ENOMEM;
	} else {
		c->res = pread(c->fd, buf, c->len, c->off);
		if (c->res < 0)
			c->res = -errno;
		c->data_ok = c->res == (int)c->len &&
			     pattern_ok(buf, c->off >> 9, c->len, c->seed);
		free(buf);
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static void bc_start(struct bclient *c, int fd, int seed, __u64 off,
		     unsigned int len)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->seed = seed;
	c->off = off;
	c->len = len;
	pthread_create(&c->thread, NULL, bclient_fn, c);
}

/* true if the read is done (within 20 s), with all the data it wanted */
static bool bc_join(struct bclient *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	if (pthread_timedjoin_np(c->thread, NULL, &ts)) {
		report(false, "a read of a batch device did not end within 20 s");
		exit(1);
	}
	return c->data_ok;
}

static int open_bdev(int id)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		die(path);
	return fd;
}

/* a batch device of one queue of @depth, with @flags and parameters */
static int batch_dev(__u64 flags, int depth, const char *what)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int id;

	id = add_dev(UBLK_F_BATCH_IO | UBLK_F_NO_AUTO_PART_SCAN | flags, 1,
		     depth, &info);
	if (id < 0) {
		expect(id, 0, what);
		return id;
	}
	report(info.flags & UBLK_F_BATCH_IO, "%s (flags %#llx)", what,
	       (unsigned long long)info.flags);
	basic_params(&p, 1 << 20);
	if (set_params(id, &p))
		die("SET_PARAMS");
	return id;
}

/* @n reads of the device @s serves, the last one of 128k: all must match */
static void batch_reads(struct bsrv *s, int n, const char *what)
{
	int fd = open_bdev(s->id), i, good = 0;
	unsigned int len;
	void *buf;

	if (posix_memalign(&buf, 4096, 128 << 10))
		die("buffer");
	for (i = 0; i < n; i++) {
		__u64 off = (__u64)(i * 37 + 3) * 4096;

		len = i == n - 1 ? 128 << 10 : 4096;
		memset(buf, 0, len);
		if (pread(fd, buf, len, off) == (ssize_t)len &&
		    pattern_ok(buf, off >> 9, len, s->seed))
			good++;
	}
	report(good == n, "%s: %d of %d reads of /dev/ublkb%d got the server's data",
	       what, good, n, s->id);
	free(buf);
	close(fd);
}

/* STOP_DEV of a live batch device: its server's fetch gets the abort */
static void batch_stop(struct bsrv *s)
{
	char what[96];

	snprintf(what, sizeof(what), "STOP_DEV of batch device %d", s->id);
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, s->id, 0), 0, what);
	bs_join(s);
	expect(s->f[0].final_res, UBLK_IO_RES_ABORT,
	       "the waiting FETCH_IO_CMDS ends with UBLK_IO_RES_ABORT");
	expect(fetch_new_ring(s->cdev), -ENODEV,
	       "FETCH_IO_CMDS after STOP_DEV");
	report(!s->errors, "batch device %d: %ld requests served, %ld bad deliveries or commits",
	       s->id, s->served, s->errors);
	bs_close(s);
	del_dev(s->id);
}

/*
 * ADD_DEV: batch slots belong to no task and commit without a buffer
 * only where none is needed, so BATCH_IO drops PER_IO_DAEMON and
 * NEED_GET_DATA; BATCH_PRIO is an option of BATCH_IO.
 */
static void check_batch_add_dev(void)
{
	struct ublksrv_ctrl_dev_info info;
	__u64 prio = UBLK_F_BATCH_IO | UBLK_F_BATCH_PRIO;
	int id;

	report(!(features & UBLK_F_BATCH_PRIO) || (features & UBLK_F_BATCH_IO),
	       "BATCH_PRIO is reported only with BATCH_IO");
	id = add_dev(UBLK_F_BATCH_IO | UBLK_F_PER_IO_DAEMON |
		     UBLK_F_NEED_GET_DATA, 1, 4, &info);
	expect(id < 0 ? id : 0, 0,
	       "ADD_DEV with BATCH_IO, PER_IO_DAEMON and NEED_GET_DATA");
	if (id >= 0) {
		report((info.flags & UBLK_F_BATCH_IO) &&
		       !(info.flags & (UBLK_F_PER_IO_DAEMON | UBLK_F_NEED_GET_DATA)),
		       "ADD_DEV keeps BATCH_IO, drops PER_IO_DAEMON and NEED_GET_DATA (%#llx)",
		       (unsigned long long)info.flags);
		del_dev(id);
	}
	id = add_dev(UBLK_F_BATCH_PRIO, 1, 4, &info);
	expect(id < 0 ? id : 0, 0, "ADD_DEV with BATCH_PRIO but no BATCH_IO");
	if (id >= 0) {
		report(!(info.flags & prio), "ADD_DEV drops BATCH_PRIO without BATCH_IO (%#llx)",
		       (unsigned long long)info.flags);
		del_dev(id);
	}
	id = add_dev(prio, 1, 4, &info);
	expect(id < 0 ? id : 0, 0, "ADD_DEV with BATCH_IO and BATCH_PRIO");
	if (id >= 0) {
		report((info.flags & prio) ==
		       (UBLK_F_BATCH_IO | (features & UBLK_F_BATCH_PRIO)),
		       "ADD_DEV %s BATCH_PRIO with BATCH_IO (%#llx)",
		       features & UBLK_F_BATCH_PRIO ? "keeps" : "drops the unreported",
		       (unsigned long long)info.flags);
		del_dev(id);
	}
}

/* the batch commands on a device without BATCH_IO: unknown, -EINVAL */
static void check_batch_on_per_io(struct io_uring *r)
{
	char el[ELEM_MAX], path[64], buf[4096];
	int id, cdev;

	id = add_dev(0, 1, 2, NULL);
	if (id < 0) {
		expect(id, 0, "ADD_DEV");
		return;
	}
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	cdev = open(path, O_RDWR);
	if (cdev < 0)
		die(path);
	put_elem(el, 0, 16, 0, 0, (uintptr_t)buf);
	expect(elems_cmd(r, cdev, UBLK_U_IO_PREP_IO_CMDS, 0,
			 UBLK_BATCH_F_HAS_BUF_ADDR, 1, 16, el),
	       -EINVAL, "PREP_IO_CMDS on a device without BATCH_IO");
	expect(elems_cmd(r, cdev, UBLK_U_IO_COMMIT_IO_CMDS, 0,
			 UBLK_BATCH_F_HAS_BUF_ADDR, 1, 16, el),
	       -EINVAL, "COMMIT_IO_CMDS on a device without BATCH_IO");
	expect(fetch_once(r, cdev, (struct ublk_batch_io){ .elem_bytes = 2 },
			  IORING_URING_CMD_MULTISHOT, true, 7),
	       -EINVAL, "FETCH_IO_CMDS on a device without BATCH_IO");
	expect(prio_cmd(r, cdev, UBLK_BATCH_F_PRIO, 1, 0), -EINVAL,
	       "UPDATE_CMD_PRIO on a device without BATCH_IO");
	close(cdev);
	del_dev(id);
}

/*
 * PREP_IO_CMDS on copy-mode device @s (depth 4), not started: the
 * header as mainline checks it, then the elements; a PREP that fails
 * takes no slot, one of a prepared slot fails, and once every slot is
 * prepared PREP is -EBUSY.
 */
static void check_batch_prep(struct bsrv *s, struct io_uring *r)
{
	const int buf = UBLK_BATCH_F_HAS_BUF_ADDR, prep = UBLK_U_IO_PREP_IO_CMDS;
	char el[BS_MAX_DEPTH * ELEM_MAX];
	int fd = s->cdev, i;

	for (i = 0; i < 5; i++)
		put_elem(el, i, 16, i % 4, 0, bs_buf(s, i % 4));
	expect(elems_cmd(r, fd, prep, 1, buf, 1, 16, el), -EINVAL,
	       "PREP_IO_CMDS of a queue that does not exist");
	expect(elems_cmd(r, fd, prep, 0, buf, 5, 16, el), -E2BIG,
	       "PREP_IO_CMDS of 5 elements on a queue of depth 4");
	expect(elems_cmd(r, fd, prep, 0, buf | (1 << 3), 1, 16, el), -EINVAL,
	       "PREP_IO_CMDS with an unknown flag");
	expect(elems_cmd(r, fd, prep, 0, buf | UBLK_BATCH_F_PRIO, 1, 16, el),
	       -EINVAL, "PREP_IO_CMDS with UBLK_BATCH_F_PRIO");
	expect(elems_cmd(r, fd, prep, 0, buf, 1, 8, el), -EINVAL,
	       "PREP_IO_CMDS with HAS_BUF_ADDR and 8-byte elements");
	expect(elems_cmd(r, fd, prep, 0, buf, 1, 24, el), -EINVAL,
	       "PREP_IO_CMDS with HAS_BUF_ADDR and 24-byte elements");
	expect(elems_cmd(r, fd, prep, 0, buf | UBLK_BATCH_F_HAS_ZONE_LBA, 1, 24, el),
	       -EINVAL, "PREP_IO_CMDS with HAS_ZONE_LBA on a device not zoned");
	expect(elems_cmd(r, fd, prep, 0, buf | UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK,
			 1, 16, el),
	       -EINVAL, "PREP_IO_CMDS with AUTO_BUF_REG_FALLBACK without AUTO_BUF_REG");
	put_elem(el + 64, 0, 8, 0, 0, 0);
	expect(elems_cmd(r, fd, prep, 0, 0, 1, 8, el + 64), -EINVAL,
	       "PREP_IO_CMDS without a buffer on a copy-mode device");
	expect(batch_cmd(r, fd, prep, (struct ublk_batch_io){ .flags = buf,
			 .nr_elem = 1, .elem_bytes = 16 }, (void *)4096),
	       -EFAULT, "PREP_IO_CMDS with its elements at an unmapped address");
	expect(elems_cmd(r, fd, prep, 0, buf, 0, 16, el), 0,
	       "PREP_IO_CMDS of no element (as mainline)");

	/* tags 0-2 valid, then a bad one: none of them may stay prepared */
	put_elem(el, 3, 16, 4, 0, bs_buf(s, 3));
	expect(elems_cmd(r, fd, prep, 0, buf, 4, 16, el), -EINVAL,
	       "PREP_IO_CMDS of tags 0, 1, 2 and 4 (the depth)");
	put_elem(el, 3, 16, 1, 0, bs_buf(s, 1));
	expect(elems_cmd(r, fd, prep, 0, buf, 4, 16, el), -EINVAL,
	       "PREP_IO_CMDS of tags 0, 1, 2 and 1 again");
	put_elem(el, 3, 16, 3, 0, -4096ULL);
	expect(elems_cmd(r, fd, prep, 0, buf, 4, 16, el), -EFAULT,
	       "PREP_IO_CMDS of tags 0-3, tag 3 with a kernel buffer address");

	/* 0 and 1, then 1 and 2 (1 is taken), then 2 and 3 */
	for (i = 0; i < 4; i++)
		put_elem(el, i, 16, i, 0, bs_buf(s, i));
	expect(elems_cmd(r, fd, prep, 0, buf, 2, 16, el), 0,
	       "PREP_IO_CMDS of tags 0 and 1, after the failed ones");
	expect(elems_cmd(r, fd, prep, 0, buf, 2, 16, el + 16), -EINVAL,
	       "PREP_IO_CMDS of tags 1 (prepared) and 2");
	expect(elems_cmd(r, fd, prep, 0, buf, 2, 16, el + 32), 0,
	       "PREP_IO_CMDS of tags 2 and 3: the failed one left 2 free");
	expect(elems_cmd(r, fd, prep, 0, buf, 1, 16, el + 48), -EBUSY,
	       "PREP_IO_CMDS once every slot is prepared");
}

/*
 * FETCH_IO_CMDS: multishot with buffer select, io_uring's rules first
 * (at prep), then the driver's; none of these may wait.
 */
static void check_batch_fetch(struct bsrv *s, struct io_uring *r)
{
	const __u32 ms = IORING_URING_CMD_MULTISHOT;
	const struct ublk_batch_io good = { .elem_bytes = sizeof(__u16) };
	struct ublk_batch_io b;
	int fd = s->cdev;

	b = good;
	b.q_id = 1;
	expect(fetch_once(r, fd, b, ms, true, 1), -EINVAL,
	       "FETCH_IO_CMDS of a queue that does not exist");
	expect(fetch_once(r, fd, good, 0, false, 1), -EINVAL,
	       "FETCH_IO_CMDS without IORING_URING_CMD_MULTISHOT");
	expect(fetch_once(r, fd, good, ms, false, 1), -EINVAL,
	       "FETCH_IO_CMDS multishot without IOSQE_BUFFER_SELECT (io_uring)");
	expect(fetch_once(r, fd, good, 0, true, 1), -EINVAL,
	       "FETCH_IO_CMDS with IOSQE_BUFFER_SELECT, not multishot (io_uring)");
	expect(fetch_once(r, fd, good, ms | IORING_URING_CMD_FIXED, true, 1),
	       -EINVAL, "FETCH_IO_CMDS multishot with IORING_URING_CMD_FIXED (io_uring)");
	b = good;
	b.elem_bytes = 8;
	expect(fetch_once(r, fd, b, ms, true, 1), -EINVAL,
	       "FETCH_IO_CMDS with elem_bytes 8");
	b = good;
	b.flags = UBLK_BATCH_F_HAS_BUF_ADDR;
	expect(fetch_once(r, fd, b, ms, true, 1), -EINVAL,
	       "FETCH_IO_CMDS with a flag");
	b = good;
	b.flags = UBLK_BATCH_F_PRIO;
	b.prio = 7;
	expect(fetch_once(r, fd, b, ms, true, 1), -EINVAL,
	       "FETCH_IO_CMDS with UBLK_BATCH_F_PRIO on a device without BATCH_PRIO");
}

/* the commands that are not batch commands, on a batch device */
static void check_batch_other_cmds(struct bsrv *s, struct io_uring *r)
{
	__u64 addr = bs_buf(s, 0);
	int fd = s->cdev;

#define IO(op, q, tag, addr) ({						\
	prep_io(get_sqe(r), fd, op, q, tag, 0, addr, 0);		\
	io_uring_submit(r);						\
	wait_res_5s(r); })
	expect(IO(UBLK_U_IO_FETCH_REQ, 0, 0, addr), -EOPNOTSUPP,
	       "FETCH_REQ on a batch device");
	expect(IO(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, 0, addr), -EOPNOTSUPP,
	       "COMMIT_AND_FETCH_REQ on a batch device");
	expect(IO(UBLK_U_IO_NEED_GET_DATA, 0, 0, addr), -EOPNOTSUPP,
	       "NEED_GET_DATA on a batch device");
	/* q_id and tag are checked first, as mainline */
	expect(IO(UBLK_U_IO_FETCH_REQ, 1, 0, addr), -EINVAL,
	       "FETCH_REQ of a queue that does not exist, on a batch device");
	expect(IO(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, 4, addr), -EINVAL,
	       "COMMIT_AND_FETCH_REQ of a tag beyond the depth, on a batch device");
	expect(IO(_IOWR('u', 0x2f, struct ublksrv_io_cmd), 0, 0, addr),
	       -EOPNOTSUPP, "an unknown I/O opcode on a batch device (mainline's errno)");
	expect(IO(_IOWR('v', 0x25, struct ublk_batch_io), 0, 0, addr),
	       -EOPNOTSUPP, "a batch opcode of another ioctl type");
	expect(IO(UBLK_U_IO_REGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "REGISTER_IO_BUF on a batch device without zero copy");
	expect(IO(UBLK_U_IO_UNREGISTER_IO_BUF, 0, 0, 0), -EINVAL,
	       "UNREGISTER_IO_BUF on a batch device without zero copy");
#undef IO
	/* ours: refused plainly on a device without the feature */
	expect(prio_cmd(r, fd, UBLK_BATCH_F_PRIO, 1, 0), -EOPNOTSUPP,
	       "UPDATE_CMD_PRIO without BATCH_PRIO");
	expect(prio_cmd(r, fd, 0, 1, 0), -EOPNOTSUPP,
	       "UPDATE_CMD_PRIO without BATCH_PRIO, flags 0");
}

/*
 * COMMIT_IO_CMDS on live device @s: the requests of @n reads handed
 * over by its server instead of committed; the caller commits them.
 */
static bool batch_held(struct bsrv *s, int fd, struct bclient *c, int n,
		       __u64 off)
{
	int i;

	bs_hold(s, n);
	for (i = 0; i < n; i++)
		bc_start(&c[i], fd, s->seed, off + i * 8192, 4096);
	return bs_wait_held(s, n);
}

static void check_batch_commit(struct bsrv *s, struct io_uring *r)
{
	const int commit = UBLK_U_IO_COMMIT_IO_CMDS;
	const int flags = bs_eflags(s), size = bs_esize(s);
	char el[BS_MAX_DEPTH * ELEM_MAX], what[128];
	struct bclient c[2];
	int fd = open_bdev(s->id), cdev = s->cdev, t, u;

	if (!batch_held(s, fd, c, 1, 1 << 20))
		goto out;
	t = s->held[0].tag;
	u = (t + 1) % s->depth;
	put_elem(el, 0, size, t, s->held[0].res, bs_buf(s, t));
	put_elem(el + size, 0, size, u, 4096, bs_buf(s, u));
	expect(elems_cmd(r, cdev, commit, 0, flags, 1, size, el + size), -EBUSY,
	       "COMMIT_IO_CMDS of a tag the server does not own");
	put_elem(el + 2 * size, 0, size, s->depth, 4096, bs_buf(s, 0));
	expect(elems_cmd(r, cdev, commit, 0, flags, 1, size, el + 2 * size),
	       -EINVAL, "COMMIT_IO_CMDS of a tag beyond the depth");
	expect(elems_cmd(r, cdev, commit, 1, flags, 1, size, el), -EINVAL,
	       "COMMIT_IO_CMDS of a queue that does not exist");
	expect(elems_cmd(r, cdev, commit, 0, flags, s->depth + 1, size, el),
	       -E2BIG, "COMMIT_IO_CMDS of more elements than the depth");
	expect(batch_cmd(r, cdev, commit, (struct ublk_batch_io){ .flags = flags,
			 .nr_elem = 1, .elem_bytes = size }, (void *)4096),
	       -EFAULT, "COMMIT_IO_CMDS with its elements at an unmapped address");
	if (!s->user_copy) {
		put_elem(el + 2 * size, 0, 8, t, 4096, 0);
		expect(elems_cmd(r, cdev, commit, 0, 0, 1, 8, el + 2 * size),
		       -EINVAL, "COMMIT_IO_CMDS of an owned tag without a buffer (copy mode)");
		put_elem(el + 2 * size, 0, size, t, 4096, -4096ULL);
		expect(elems_cmd(r, cdev, commit, 0, flags, 1, size, el + 2 * size),
		       -EFAULT, "COMMIT_IO_CMDS of an owned tag with a kernel buffer address");
	}
	snprintf(what, sizeof(what),
		 "COMMIT_IO_CMDS of an owned tag, then one not: the first element's %d bytes",
		 size);
	expect(elems_cmd(r, cdev, commit, 0, flags, 2, size, el), size, what);
	report(bc_join(&c[0]), "that read got the server's data");
	expect(elems_cmd(r, cdev, commit, 0, flags, 1, size, el), -EBUSY,
	       "COMMIT_IO_CMDS of that tag again");

	if (!batch_held(s, fd, c, 1, 2 << 20))
		goto out;
	t = s->held[0].tag;
	put_elem(el, 0, size, t, s->held[0].res, bs_buf(s, t));
	put_elem(el + size, 0, size, t, s->held[0].res, bs_buf(s, t));
	snprintf(what, sizeof(what),
		 "COMMIT_IO_CMDS of a tag twice: the bytes up to the second (%d)",
		 size);
	expect(elems_cmd(r, cdev, commit, 0, flags, 2, size, el), size, what);
	report(bc_join(&c[0]), "that read got the server's data");

	if (!batch_held(s, fd, c, 2, 3 << 20))
		goto out;
	for (u = 0; u < 2; u++) {
		t = s->held[u].tag;
		put_elem(el, u, size, t, s->held[u].res, bs_buf(s, t));
	}
	snprintf(what, sizeof(what),
		 "COMMIT_IO_CMDS of two owned tags: nr_elem * elem_bytes (%d)",
		 2 * size);
	expect(elems_cmd(r, cdev, commit, 0, flags, 2, size, el), 2 * size, what);
	report(bc_join(&c[0]) && bc_join(&c[1]), "both reads got the server's data");
out:
	close(fd);
}

/*
 * A user-copy batch device: the element rules of user copy; a PREP of
 * every tag after a failed one; a fetch command whose buffer group is
 * empty ends with -ENOBUFS once a request comes, and the request waits
 * for the next fetch command.  @s is served by its thread afterwards.
 */
static void check_batch_user_copy(struct bsrv *s, struct io_uring *r)
{
	const int prep = UBLK_U_IO_PREP_IO_CMDS;
	struct io_uring_cqe cqe = { };
	char el[BS_MAX_DEPTH * ELEM_MAX];
	struct bclient c;
	int fd, i, ret;

	for (i = 0; i < 4; i++)
		put_elem(el, i, 8, i, 0, 0);
	put_elem(el + 64, 0, 16, 0, 0, bs_buf(s, 0));
	expect(elems_cmd(r, s->cdev, prep, 0, UBLK_BATCH_F_HAS_BUF_ADDR, 1, 16,
			 el + 64),
	       -EINVAL, "PREP_IO_CMDS with HAS_BUF_ADDR on a user-copy device");
	expect(elems_cmd(r, s->cdev, prep, 0, UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK,
			 1, 8, el),
	       -EINVAL, "PREP_IO_CMDS with AUTO_BUF_REG_FALLBACK without AUTO_BUF_REG");
	put_elem(el, 3, 8, 4, 0, 0);
	expect(elems_cmd(r, s->cdev, prep, 0, 0, 4, 8, el), -EINVAL,
	       "PREP_IO_CMDS of tags 0, 1, 2 and 4 (the depth), user copy");
	expect(bs_prep(s, r), 0, "then a PREP_IO_CMDS of all 4 tags");

	/* group 7 of @r is registered and empty */
	prep_fetch(get_sqe(r), s->cdev, 7, -1, UD_FETCH);
	io_uring_submit(r);
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, s->id, getpid()), 0,
	       "START_DEV of a batch device whose slots one PREP took");
	fd = open_bdev(s->id);
	bc_start(&c, fd, s->seed, 5 << 20, 4096);
	ret = wait_cqe_5s(r, &cqe);
	expect(ret ? ret : cqe.res, -ENOBUFS,
	       "a FETCH_IO_CMDS with an empty buffer group, once a request comes");
	report(!ret && !(cqe.flags & IORING_CQE_F_MORE),
	       "that CQE is its last (flags %#x)", cqe.flags);
	/* the server's fetch command finds the request waiting */
	bs_start(s);
	report(bc_join(&c), "the request is served by the next FETCH_IO_CMDS, with its data");
	close(fd);
}

/* UBLK_F_BATCH_PRIO: FETCH priorities, UPDATE_CMD_PRIO (not started) */
static void check_batch_prio(struct io_uring *r)
{
	const int fp = UBLK_BATCH_F_PRIO;
	struct __kernel_timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
	struct ublk_batch_io b = { .flags = fp, .elem_bytes = 2, .prio = 8 };
	struct io_uring_cqe *cqe, got;
	struct io_uring other;
	char el[ELEM_MAX], path[64];
	int id, fd, i, ret;

	if (!(features & UBLK_F_BATCH_PRIO)) {
		printf("ok: batch priority checks skipped: no UBLK_F_BATCH_PRIO\n");
		return;
	}
	id = batch_dev(UBLK_F_BATCH_PRIO | UBLK_F_USER_COPY, 4,
		       "ADD_DEV with BATCH_IO, BATCH_PRIO and USER_COPY");
	if (id < 0)
		return;
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	fd = open(path, O_RDWR);
	if (fd < 0 || io_uring_queue_init(4, &other, 0))
		die(path);

	expect(prio_cmd(r, fd, fp, 3, 0), 0,
	       "UPDATE_CMD_PRIO with no fetch command of this ring waiting");
	expect(fetch_once(r, fd, b, IORING_URING_CMD_MULTISHOT, true, 7),
	       -EINVAL, "FETCH_IO_CMDS at priority 8 (UBLK_BATCH_PRIO_MAX + 1)");
	b.prio = 7;
	b.flags = fp | UBLK_BATCH_F_HAS_BUF_ADDR;
	expect(fetch_once(r, fd, b, IORING_URING_CMD_MULTISHOT, true, 7),
	       -EINVAL, "FETCH_IO_CMDS with UBLK_BATCH_F_PRIO and another flag");
	put_elem(el, 0, 8, 0, 0, 0);
	expect(elems_cmd(r, fd, UBLK_U_IO_PREP_IO_CMDS, 0, fp, 1, 8, el),
	       -EINVAL, "PREP_IO_CMDS with UBLK_BATCH_F_PRIO on a BATCH_PRIO device");

	/* two fetch commands that wait: priority 7, and none given */
	prep_fetch(get_sqe(r), fd, 7, 7, UD_FETCH | 1);
	prep_fetch(get_sqe(r), fd, 7, -1, UD_FETCH | 2);
	io_uring_submit(r);
	ret = io_uring_wait_cqe_timeout(r, &cqe, &ts);
	expect(ret, -ETIME, "FETCH_IO_CMDS at priority 7 and at the default wait");
	if (!ret)
		io_uring_cqe_seen(r, cqe);

	expect(prio_cmd(r, fd, fp, 3, 0), 2,
	       "UPDATE_CMD_PRIO of every fetch command of the ring");
	expect(prio_cmd(r, fd, fp, 5, UD_FETCH | 1), 1,
	       "UPDATE_CMD_PRIO of one, by its user_data");
	/* the count is of the commands named, moved or not */
	expect(prio_cmd(r, fd, fp, 5, UD_FETCH | 1), 1,
	       "UPDATE_CMD_PRIO of it to the level it has");
	expect(prio_cmd(r, fd, fp, 5, 0xdead), 0,
	       "UPDATE_CMD_PRIO of a user_data no fetch command has");
	expect(prio_cmd(&other, fd, fp, 5, 0), 0,
	       "UPDATE_CMD_PRIO from another ring");
	expect(prio_cmd(r, fd, 0, 5, 0), -EINVAL,
	       "UPDATE_CMD_PRIO without UBLK_BATCH_F_PRIO");
	expect(prio_cmd(r, fd, fp | UBLK_BATCH_F_HAS_BUF_ADDR, 5, 0), -EINVAL,
	       "UPDATE_CMD_PRIO with another flag");
	expect(prio_cmd(r, fd, fp, 8, 0), -EINVAL, "UPDATE_CMD_PRIO to priority 8");
	expect(batch_cmd(r, fd, UBLK_U_IO_UPDATE_CMD_PRIO,
			 (struct ublk_batch_io){ .flags = fp, .nr_elem = 1 }, NULL),
	       -EINVAL, "UPDATE_CMD_PRIO with nr_elem 1");
	expect(batch_cmd(r, fd, UBLK_U_IO_UPDATE_CMD_PRIO,
			 (struct ublk_batch_io){ .flags = fp, .elem_bytes = 2 }, NULL),
	       -EINVAL, "UPDATE_CMD_PRIO with elem_bytes 2");
	expect(batch_cmd(r, fd, UBLK_U_IO_UPDATE_CMD_PRIO,
			 (struct ublk_batch_io){ .q_id = 1, .flags = fp }, NULL),
	       -EINVAL, "UPDATE_CMD_PRIO of a queue that does not exist");

	/* the server is sent away: both fetch commands end */
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, id, 0), 0,
	       "STOP_DEV of the batch device, never started, two fetches waiting");
	for (i = 0; i < 2; i++) {
		ret = wait_cqe_5s(r, &got);
		expect(ret ? ret : got.res, UBLK_IO_RES_ABORT,
		       "a waiting FETCH_IO_CMDS ends with UBLK_IO_RES_ABORT");
		report(!ret && !(got.flags & IORING_CQE_F_MORE),
		       "as its last CQE (flags %#x)", got.flags);
	}
	b = (struct ublk_batch_io){ .flags = fp, .elem_bytes = 2, .prio = 1 };
	expect(fetch_once(r, fd, b, IORING_URING_CMD_MULTISHOT, true, 7),
	       -ENODEV, "FETCH_IO_CMDS after STOP_DEV");
	io_uring_queue_exit(&other);
	close(fd);
	del_dev(id);
}

/*
 * UBLK_F_BATCH_IO: every errno of PREP/COMMIT/FETCH_IO_CMDS and
 * UPDATE_CMD_PRIO, on live and idle devices, while two batch devices
 * and the healthy one keep serving; they must not notice.
 */
static void check_batch(void)
{
	struct bsrv s1, s2;
	struct io_uring r;
	void *empty;
	int id1, id2;

	if (!(features & UBLK_F_BATCH_IO)) {
		printf("ok: batch checks skipped: no UBLK_F_BATCH_IO\n");
		return;
	}
	check_batch_add_dev();
	if (io_uring_queue_init(8, &r, 0))
		die("ring");
	empty = empty_buf_ring(&r, 7);
	check_batch_on_per_io(&r);

	id2 = batch_dev(UBLK_F_USER_COPY, 4, "ADD_DEV with BATCH_IO and USER_COPY");
	id1 = batch_dev(0, 4, "ADD_DEV with BATCH_IO");
	if (id1 < 0 || id2 < 0)
		die("ADD_DEV");
	bs_open(&s2, id2);
	check_batch_user_copy(&s2, &r);

	bs_open(&s1, id1);
	check_batch_prep(&s1, &r);
	check_batch_fetch(&s1, &r);
	check_batch_other_cmds(&s1, &r);
	bs_start(&s1);
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id1, getpid()), 0,
	       "START_DEV of the batch device after all those");
	batch_reads(&s1, 8, "the batch device");
	check_batch_commit(&s1, &r);
	check_batch_commit(&s2, &r);
	batch_reads(&s1, 16, "the batch device after the bad commands");
	batch_reads(&s2, 16, "the other batch device (user copy)");
	batch_stop(&s1);
	batch_stop(&s2);

	check_batch_prio(&r);
	io_uring_queue_exit(&r);
	munmap(empty, 4096);
}

/* ---- fetch priorities, deterministically ("badcmd prio") ---- */

/*
 * @n reads of 4k, one at a time, at @base + 12k steps, served by @s from
 * this thread while each waits: how many did not get the pattern.
 */
static int prio_reads(struct bsrv *s, int fd, int n, __u64 base)
{
	struct bclient c;
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		struct timespec t0, t;

		bc_start(&c, fd, s->seed, base + (__u64)i * 12288, 4096);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!atomic_load(&c.done)) {
			bs_poll(s, 10);
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec > 10) {
				report(false, "read %d of /dev/ublkb%d not served within 10 s",
				       i, s->id);
				exit(1);
			}
		}
		pthread_join(c.thread, NULL);
		bad += !c.data_ok;
	}
	return bad;
}

static void prio_zero(struct bsrv *s)
{
	int i;

	for (i = 0; i < s->nr_fetch; i++) {
		s->f[i].tags = 0;
		s->f[i].cqes = 0;
	}
}

/*
 * One queue of depth 8, served from this thread by one ring holding two
 * fetch commands: A at priority 6 (buffer group 1) and B at priority 2
 * (group 2).  Requests come one at a time, so each is one delivery:
 *
 *   1. all of them go to A, the higher level;
 *   2. UPDATE_CMD_PRIO moves A (named by its user_data) to level 1: now
 *      all go to B;
 *   3. B stops giving its buffers back: it takes BS_NR_BUFS requests,
 *      ends with -ENOBUFS at the next one, and that one and all after
 *      it go to A.
 *
 * Every read checks its data.  Exit 0, 1 (a check failed) or 4 (skip).
 */
static int check_prio_order(void)
{
	const int n = 16, extra = 8;
	struct bfetch *a, *b;
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	struct bsrv s;
	int id, fd, bad;

	if (!(features & UBLK_F_BATCH_IO) || !(features & UBLK_F_BATCH_PRIO)) {
		printf("%s (features %#llx)\n",
		       "SKIP: the driver does not report BATCH_IO and BATCH_PRIO",
		       (unsigned long long)features);
		return KSFT_SKIP;
	}
	id = add_dev(UBLK_F_BATCH_IO | UBLK_F_BATCH_PRIO |
		     UBLK_F_NO_AUTO_PART_SCAN, 1, 8, &info);
	if (id < 0)
		die("ADD_DEV");
	report((info.flags & (UBLK_F_BATCH_IO | UBLK_F_BATCH_PRIO)) ==
	       (UBLK_F_BATCH_IO | UBLK_F_BATCH_PRIO),
	       "ADD_DEV with BATCH_IO and BATCH_PRIO, 1 queue of depth 8 (flags %#llx)",
	       (unsigned long long)info.flags);
	basic_params(&p, 1 << 20);
	if (set_params(id, &p))
		die("SET_PARAMS");
	bs_open(&s, id);
	a = &s.f[0];
	b = &s.f[1];
	expect(bs_prep(&s, &s.ring), 0, "PREP_IO_CMDS of all 8 tags");
	bs_fetch(&s, 0, 6);
	bs_fetch(&s, 1, 2);
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, getpid()), 0,
	       "START_DEV with fetch commands at priorities 6 (A) and 2 (B)");
	fd = open_bdev(id);

	bad = prio_reads(&s, fd, n, 0);
	report(!bad, "phase 1: %d reads, one at a time, %d with the server's data",
	       n, n - bad);
	printf("phase 1: A (prio 6): %ld tags in %ld CQEs, B (prio 2): %ld tags in %ld CQEs\n",
	       a->tags, a->cqes, b->tags, b->cqes);
	report(a->tags == n && !b->tags,
	       "phase 1: every request goes to A, the higher priority");

	prio_zero(&s);
	prep_batch(get_sqe(&s.ring), s.cdev, UBLK_U_IO_UPDATE_CMD_PRIO,
		   &(struct ublk_batch_io){ .flags = UBLK_BATCH_F_PRIO, .prio = 1,
					    .reserved2 = a->ud },
		   NULL, UD_UPDATE);
	io_uring_submit(&s.ring);
	while (!s.update_done && bs_poll(&s, 5000))
		;
	expect(s.update_done ? s.update_res : -ETIME, 1,
	       "UPDATE_CMD_PRIO of A (by its user_data) to priority 1");
	bad = prio_reads(&s, fd, n, 64 << 20);
	report(!bad, "phase 2: %d reads, %d with the server's data", n, n - bad);
	printf("phase 2: A (prio 1): %ld tags in %ld CQEs, B (prio 2): %ld tags in %ld CQEs\n",
	       a->tags, a->cqes, b->tags, b->cqes);
	report(b->tags == n && !a->tags,
	       "phase 2: every request goes to B, now the higher priority");

	prio_zero(&s);
	b->recycle = false;
	bad = prio_reads(&s, fd, BS_NR_BUFS + extra, 128 << 20);
	report(!bad, "phase 3: %d reads, %d with the server's data",
	       BS_NR_BUFS + extra, BS_NR_BUFS + extra - bad);
	printf("phase 3: A (prio 1): %ld tags in %ld CQEs, B (prio 2, no recycling): %ld in %ld\n",
	       a->tags, a->cqes, b->tags, b->cqes);
	report(b->tags == BS_NR_BUFS && b->cqes == BS_NR_BUFS,
	       "phase 3: B takes one request per buffer, %d", BS_NR_BUFS);
	expect(b->live ? 0 : b->final_res, -ENOBUFS,
	       "phase 3: then B ends, its buffer group empty");
	report(a->tags == extra,
	       "phase 3: the request B could not take and all after it go to A (%d)",
	       extra);
	report(a->live, "A still waits");

	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, id, 0), 0, "STOP_DEV");
	while (a->live && bs_poll(&s, 5000))
		;
	expect(a->live ? -ETIME : a->final_res, UBLK_IO_RES_ABORT,
	       "A ends with UBLK_IO_RES_ABORT");
	report(!s.errors, "%ld requests served, %ld bad deliveries or commits",
	       s.served, s.errors);
	close(fd);
	bs_close(&s);
	del_dev(id);
	printf("badcmd prio: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

/* ---- unprivileged ---- */

static int pipe_up[2], pipe_down[2];

/* tell the parent @val, and wait until it has done its part */
static void child_sync(int val)
{
	if (write(pipe_up[1], &val, sizeof(val)) != sizeof(val) ||
	    read(pipe_down[0], &val, sizeof(val)) != sizeof(val))
		exit(1);
}

/* the child's next value, or -1 once it has exited */
static int parent_wait(void)
{
	int val;

	return read(pipe_up[0], &val, sizeof(val)) == sizeof(val) ? val : -1;
}

static void parent_done(void)
{
	int val = 0;

	if (write(pipe_down[1], &val, sizeof(val)) != sizeof(val))
		die("pipe");
}

/* an unprivileged device's command: the char device path leads @buf */
static int unpriv_cmd(__u32 op, __u32 id, const char *path, void *buf,
		      size_t len)
{
	size_t plen = path ? strlen(path) : 0;
	char tmp[256 + 4096];
	int ret;

	memcpy(tmp, path ? path : "", plen);
	if (buf)
		memcpy(tmp + plen, buf, len);
	ret = ctrl(&(struct ctrl){ .op = op, .dev_id = id, .queue_id = -1,
		   .len = plen + len,
		   .addr = (__u64)(uintptr_t)tmp,
		   .dev_path_len = plen });
	if (buf)
		memcpy(buf, tmp + plen, len);
	return ret;
}

/* a forked child: drop to nobody, with a control ring opened as nobody */
static void become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		die("drop privileges");
	io_uring_queue_exit(&ctrl_ring);
	close(ctrl_fd);
	ctrl_fd = open(CTRL_DEV, O_RDWR);
	if (ctrl_fd < 0 || io_uring_queue_init(4, &ctrl_ring, IORING_SETUP_SQE128))
		die("unprivileged control ring");
}

/*
 * Fork a child that will become nobody: /dev/ublk-control open to all
 * and the two pipes of child_sync() set up.  Like fork(), 0 in the
 * child; the caller restores the control device's mode.
 */
static pid_t fork_unpriv_child(void)
{
	pid_t pid;

	if (chmod(CTRL_DEV, 0666) || pipe(pipe_up) || pipe(pipe_down))
		die("setup");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid) {
		close(pipe_up[1]);
		close(pipe_down[0]);
	}
	return pid;
}

static void unprivileged_child(int priv_id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char path[64];
	int id;

	/* the parent's failures are the parent's to report */
	failures = 0;
	become_nobody();

	expect(add_dev(0, 1, 2, NULL), -EPERM,
	       "unprivileged ADD_DEV without UNPRIVILEGED_DEV");
	expect(add_dev(UBLK_F_UNPRIVILEGED_DEV | UBLK_F_USER_COPY, 1, 2, NULL),
	       -EINVAL, "unprivileged ADD_DEV with USER_COPY");
	if (features & UBLK_F_SUPPORT_ZERO_COPY)
		expect(add_dev(UBLK_F_UNPRIVILEGED_DEV | UBLK_F_SUPPORT_ZERO_COPY, 1, 2, NULL),
		       -EINVAL, "unprivileged ADD_DEV with SUPPORT_ZERO_COPY");
	if (features & UBLK_F_AUTO_BUF_REG)
		expect(add_dev(UBLK_F_UNPRIVILEGED_DEV | UBLK_F_AUTO_BUF_REG, 1, 2, NULL),
		       -EINVAL, "unprivileged ADD_DEV with AUTO_BUF_REG");
	expect(get_info(priv_id, &info), -EPERM,
	       "unprivileged GET_DEV_INFO of a privileged device");
	expect(ctrl_simple(UBLK_U_CMD_DEL_DEV, priv_id, 0), -EPERM,
	       "unprivileged DEL_DEV of a privileged device");

	child_sync(0);	/* parent: ublks_max = 0 */
	expect(add_dev(UBLK_F_UNPRIVILEGED_DEV, 1, 2, NULL), -EACCES,
	       "unprivileged ADD_DEV beyond ublks_max");
	child_sync(0);	/* parent: ublks_max back */

	id = add_dev(UBLK_F_UNPRIVILEGED_DEV | UBLK_F_USER_RECOVERY, 1, 2, &info);
	expect(id < 0 ? id : 0, 0, "unprivileged ADD_DEV");
	if (id < 0)
		exit(1);
	report((info.flags & UBLK_F_UNPRIVILEGED_DEV) &&
	       !(info.flags & UBLK_F_USER_RECOVERY) &&
	       info.owner_uid == NOBODY && info.owner_gid == NOBODY,
	       "an unprivileged device has no recovery and its owner is the caller");
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);

	expect(unpriv_cmd(UBLK_U_CMD_GET_DEV_INFO, id, NULL, &info, sizeof(info)),
	       -EINVAL, "unprivileged command without the device path");
	expect(unpriv_cmd(UBLK_U_CMD_GET_DEV_INFO, id, "/dev/null", &info,
			  sizeof(info)),
	       -EPERM, "unprivileged command with another device's path");
	expect(unpriv_cmd(UBLK_U_CMD_GET_DEV_INFO, id, path, &info, sizeof(info)),
	       -EACCES, "unprivileged command without access to the device");

	child_sync(id);	/* parent: chown /dev/ublkcN to nobody */
	expect(unpriv_cmd(UBLK_U_CMD_GET_DEV_INFO2, id, path, &info,
			  sizeof(info)),
	       0, "unprivileged GET_DEV_INFO2 with the device path");
	report(info.dev_id == (__u32)id, "it describes the device");
	basic_params(&p, 1 << 20);
	expect(unpriv_cmd(UBLK_U_CMD_SET_PARAMS, id, path, &p, sizeof(p)), 0,
	       "unprivileged SET_PARAMS");
	expect(unpriv_cmd(UBLK_U_CMD_DEL_DEV_ASYNC, id, path, NULL, 0), 0,
	       "unprivileged DEL_DEV_ASYNC");
	exit(failures ? 1 : 0);
}

static void write_param(const char *val)
{
	int fd = open("/sys/module/ublk_drv/parameters/ublks_max", O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		die("ublks_max");
	close(fd);
}

static void check_unprivileged(int priv_id)
{
	struct ublksrv_ctrl_dev_info info;
	char path[64], old[16] = "64";
	int status, fd, id, n;
	pid_t pid;

	fd = open("/sys/module/ublk_drv/parameters/ublks_max", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, old, sizeof(old) - 1);
		old[n > 0 ? n : 0] = 0;
		close(fd);
	}
	pid = fork_unpriv_child();
	if (!pid)
		unprivileged_child(priv_id);

	id = -1;
	if (parent_wait() == 0) {
		write_param("0");
		parent_done();
		if (parent_wait() == 0) {
			write_param(old);
			parent_done();
			id = parent_wait();
		}
	}
	if (id >= 0) {
		snprintf(path, sizeof(path), "/dev/ublkc%d", id);
		if (chown(path, NOBODY, NOBODY))
			report(false, "chown %s", path);
		parent_done();
	}
	waitpid(pid, &status, 0);
	chmod(CTRL_DEV, 0600);
	write_param(old);
	close(pipe_up[0]);
	close(pipe_down[1]);
	report(WIFEXITED(status) && !WEXITSTATUS(status),
	       "the unprivileged checks passed");
	if (id >= 0) {
		/* DEL_DEV_ASYNC: the id goes soon */
		for (n = 0; n < 200 && !get_info(id, &info); n++)
			usleep(10000);
		expect(get_info(id, &info), -ENODEV,
		       "the unprivileged device is gone");
	}
}

/* an unprivileged device's DEL_DEV, as root: the path is still needed */
static void del_unpriv(int id, const char *path)
{
	expect(unpriv_cmd(UBLK_U_CMD_DEL_DEV, id, path, NULL, 0), 0,
	       "DEL_DEV of the unprivileged device");
}

/*
 * "badcmd timeout": an unprivileged server that sits on a request is
 * killed by the driver once the request times out (the block layer's
 * default, 30 s); the request then fails with EIO and the device, which
 * cannot have recovery, ends DEAD.  A privileged server may take as long
 * as it likes, so this is the unprivileged case only.
 */
static void timeout_child(void)
{
	struct ublksrv_io_desc *iods;
	struct ublk_params p;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct ctrl start;
	char path[64];
	void *bufs;
	int id, cdev, tag, plen;

	become_nobody();

	id = add_dev(UBLK_F_UNPRIVILEGED_DEV, 1, 2, NULL);
	if (id < 0) {
		fprintf(stderr, "unprivileged ADD_DEV: %s\n", strerror(-id));
		exit(1);
	}
	child_sync(id);	/* parent: chown /dev/ublkcN to nobody */
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	plen = strlen(path);
	basic_params(&p, 1 << 20);
	if (unpriv_cmd(UBLK_U_CMD_SET_PARAMS, id, path, &p, sizeof(p)))
		die("unprivileged SET_PARAMS");

	cdev = open(path, O_RDWR);
	if (cdev < 0)
		die(path);
	iods = mmap(NULL, iods_size(2), PROT_READ, MAP_SHARED | MAP_POPULATE,
		    cdev, iods_offset(0));
	if (iods == MAP_FAILED || posix_memalign(&bufs, 4096, 2 * BUF_SIZE) ||
	    io_uring_queue_init(4, &ring, 0))
		die("server setup");
	for (tag = 0; tag < 2; tag++)
		prep_io(get_sqe(&ring), cdev, UBLK_U_IO_FETCH_REQ, 0, tag, 0,
			(__u64)(uintptr_t)bufs + (__u64)tag * BUF_SIZE, tag);
	if (io_uring_submit(&ring) != 2)
		die("submit fetch");
	start = (struct ctrl){ .op = UBLK_U_CMD_START_DEV, .dev_id = id,
			       .queue_id = -1, .len = plen,
			       .addr = (__u64)(uintptr_t)path,
			       .dev_path_len = plen, .data = getpid() };
	if (ctrl(&start))
		die("unprivileged START_DEV");
	child_sync(0);	/* parent: read the disk */

	/* take the request, never answer it, wait to be killed */
	if (io_uring_wait_cqe(&ring, &cqe) == 0)
		printf("server: holding tag %llu (res %d)\n",
		       (unsigned long long)cqe->user_data, cqe->res);
	for (;;)
		pause();
}

static void *timeout_reader(void *arg)
{
	int *err = arg;
	char path[64];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", *err);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		*err = -1;
		return NULL;
	}
	*err = pread(fd, buf, 4096, 0) < 0 ? errno : 0;
	close(fd);
	free(buf);
	return NULL;
}

static int check_unpriv_timeout(void)
{
	struct ublksrv_ctrl_dev_info info;
	struct timespec t0, t1;
	pthread_t reader;
	char path[64];
	int status, id, err = -1, i;
	double secs;
	pid_t pid;

	if (!(features & UBLK_F_UNPRIVILEGED_DEV)) {
		printf("SKIP: the driver does not report UNPRIVILEGED_DEV\n");
		return KSFT_SKIP;
	}
	pid = fork_unpriv_child();
	if (!pid)
		timeout_child();

	id = parent_wait();
	chmod(CTRL_DEV, 0600);
	if (id < 0) {
		report(false, "the unprivileged server could not add a device");
		waitpid(pid, &status, 0);
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	if (chown(path, NOBODY, NOBODY))
		die("chown");
	parent_done();
	if (parent_wait() != 0) {
		report(false, "the unprivileged server could not start its device");
		waitpid(pid, &status, 0);
		del_unpriv(id, path);
		return 1;
	}
	parent_done();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = id;
	pthread_create(&reader, NULL, timeout_reader, &err);
	/* the driver's kill comes after 30 s; give up (and kill) at 180 */
	for (i = 0; i < 1800 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (i == 1800) {
		report(false, "the server holding a request still runs after %.0f s",
		       secs);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	} else {
		report(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		       "the server holding a request was killed after %.0f s (status %#x)",
		       secs, status);
		report(secs >= 25, "not before the request timed out");
	}
	pthread_join(reader, NULL);
	report(err == EIO, "the held read failed: %s", err > 0 ? strerror(err) : "no error");

	/* stage 2 runs after the exit: let it finish */
	for (i = 0; i < 100; i++) {
		if (unpriv_cmd(UBLK_U_CMD_GET_DEV_INFO2, id, path, &info,
			       sizeof(info)) == 0 && info.state == UBLK_S_DEV_DEAD)
			break;
		usleep(100000);
	}
	report(i < 100, "the device is DEAD (state %d)", info.state);
	del_unpriv(id, path);
	close(pipe_up[0]);
	close(pipe_down[1]);
	return failures ? 1 : 0;
}

/* ---- UBLK_F_IOPOLL ---- */

#define IP_DEPTH	2

/*
 * The next CQE of @ring, polling it when it is an IOPOLL ring (where a
 * wait would spin in the kernel until a completion, with no timeout);
 * -ETIME after @ms.  *@ud gets its user_data.
 */
static int ip_cqe(struct io_uring *ring, int ms, __u64 *ud)
{
	struct timespec ts = { 0, 1000 * 1000 };
	struct io_uring_cqe *cqe;
	int i, ret;

	for (i = 0; i < ms; i++) {
		if (!io_uring_peek_cqe(ring, &cqe)) {
			ret = cqe->res;
			if (ud)
				*ud = cqe->user_data;
			io_uring_cqe_seen(ring, cqe);
			return ret;
		}
		if (ring->flags & IORING_SETUP_IOPOLL)
			io_uring_enter(ring->ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL);
		nanosleep(&ts, NULL);
	}
	return -ETIME;
}

/* I/O command @op of (q, tag) on @ring, and its result within 2 s */
static int ip_cmd(struct io_uring *ring, int cdev, __u32 op, int q, int tag, int res,
		  __u64 addr)
{
	prep_io(get_sqe(ring), cdev, op, q, tag, res, addr, 0);
	if (io_uring_submit(ring) != 1)
		die("io_uring_submit");
	return ip_cqe(ring, 2000, NULL);
}

static int ip_open_cdev(int id)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path);
	return fd;
}

/* a one-queue device of @flags with its parameters, or -1 */
static int ip_dev(__u64 flags, const char *what)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int id = add_dev(flags | UBLK_F_NO_AUTO_PART_SCAN, 1, IP_DEPTH, &info);

	if (id < 0) {
		expect(id, 0, what);
		return -1;
	}
	report((info.flags & UBLK_F_IOPOLL) == (flags & UBLK_F_IOPOLL),
	       "%s: flags %#llx", what, (unsigned long long)info.flags);
	basic_params(&p, 1 << 20);
	if (set_params(id, &p))
		die("SET_PARAMS");
	return id;
}

struct ip_thread {
	pthread_t thread;
	struct io_uring *ring;
	int cdev, efd, res;
	int id;			/* ip_stop_fn(): the device to stop */
};

/* IOPOLL_SLEEP on the poller's ring, from a task that is not the poller */
static void *ip_foreign_fn(void *arg)
{
	struct ip_thread *t = arg;

	t->res = ip_cmd(t->ring, t->cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, t->efd);
	return NULL;
}

static void *ip_stop_fn(void *arg)
{
	struct ip_thread *t = arg;

	t->res = ctrl_simple(UBLK_U_CMD_STOP_DEV, t->id, 0);
	return NULL;
}

/* the eventfd was signalled within @ms */
static bool ip_signalled(int efd, int ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	__u64 v;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

/*
 * A polled batch device (IOPOLL | BATCH_IO, one queue): its batch
 * commands come from one IOPOLL ring and task, the first PREP binds
 * them; a request written by a client reaches the FETCH_IO_CMDS through
 * polling with the data in the slot's buffer, its COMMIT completes it,
 * the armed eventfd is signalled by STOP_DEV and polling then reaps the
 * aborted fetch.  A batch device without IOPOLL refuses a fetch from an
 * IOPOLL ring.
 */
static void check_iopoll_batch(struct io_uring *ring, struct io_uring *poll1,
			       struct io_uring *poll2, char *buf, int efd)
{
	const int esz = sizeof(struct ublk_elem_header) + sizeof(__u64);
	struct ublk_batch_io fb = { .elem_bytes = sizeof(__u16) };
	struct ublksrv_ctrl_dev_info info;
	struct kublk_buf_ring br = { };
	struct io_uring_cqe *cqe;
	struct zc_client c = { };
	struct ip_thread th = { };
	char elems[IP_DEPTH * 16];
	int id, cdev, i, ret, tag = -1, n;
	bool more = false;
	__u64 ud;

	id = add_dev(UBLK_F_BATCH_IO | UBLK_F_NO_AUTO_PART_SCAN, 1, IP_DEPTH, &info);
	if (id >= 0) {
		cdev = ip_open_cdev(id);
		expect(fetch_once(poll1, cdev, fb, IORING_URING_CMD_MULTISHOT, true, 1),
		       -EINVAL, "FETCH_IO_CMDS of a batch device without IOPOLL on an IOPOLL ring");
		close(cdev);
		del_dev(id);
	}

	id = add_dev(UBLK_F_IOPOLL | UBLK_F_BATCH_IO | UBLK_F_NO_AUTO_PART_SCAN, 1, IP_DEPTH,
		     &info);
	expect(id < 0 ? id : 0, 0, "ADD_DEV with IOPOLL and BATCH_IO");
	if (id < 0)
		return;
	report((info.flags & (UBLK_F_IOPOLL | UBLK_F_BATCH_IO)) ==
	       (UBLK_F_IOPOLL | UBLK_F_BATCH_IO),
	       "IOPOLL kept with BATCH_IO: flags %#llx", (unsigned long long)info.flags);
	if (!(info.flags & UBLK_F_IOPOLL))
		goto del;
	{
		struct ublk_params p;

		basic_params(&p, 1 << 20);
		if (set_params(id, &p))
			die("SET_PARAMS");
	}
	cdev = ip_open_cdev(id);
	for (i = 0; i < IP_DEPTH; i++)
		put_elem(elems, i, esz, i, 0, (__u64)(uintptr_t)(buf + (size_t)i * BUF_SIZE));

	expect(elems_cmd(ring, cdev, UBLK_U_IO_PREP_IO_CMDS, 0, UBLK_BATCH_F_HAS_BUF_ADDR,
			 IP_DEPTH, esz, elems), -EINVAL,
	       "PREP_IO_CMDS of a polled batch device on a ring without IOPOLL");
	expect(fetch_once(ring, cdev, fb, IORING_URING_CMD_MULTISHOT, true, 1), -EINVAL,
	       "FETCH_IO_CMDS of a polled batch device on a ring without IOPOLL");
	/* completes at once: a wait on an IOPOLL ring may spin, it does not here */
	expect(elems_cmd(poll1, cdev, UBLK_U_IO_PREP_IO_CMDS, 0, UBLK_BATCH_F_HAS_BUF_ADDR,
			 IP_DEPTH, esz, elems), 0,
	       "PREP_IO_CMDS of a polled batch device on an IOPOLL ring");
	expect(fetch_once(poll2, cdev, fb, IORING_URING_CMD_MULTISHOT, true, 1), -EINVAL,
	       "FETCH_IO_CMDS from a second IOPOLL ring (the queue is bound to the first)");
	put_elem(elems, 0, esz, 0, 0, (__u64)(uintptr_t)buf);
	expect(elems_cmd(poll2, cdev, UBLK_U_IO_COMMIT_IO_CMDS, 0, UBLK_BATCH_F_HAS_BUF_ADDR,
			 1, esz, elems), -EINVAL,
	       "COMMIT_IO_CMDS from another ring than the poller's");
	expect(elems_cmd(ring, cdev, UBLK_U_IO_COMMIT_IO_CMDS, 0, UBLK_BATCH_F_HAS_BUF_ADDR,
			 1, esz, elems), -EINVAL,
	       "COMMIT_IO_CMDS on a ring without IOPOLL");

	if (kublk_buf_ring_setup(poll1, &br, 2, 2 * IP_DEPTH, 1))
		die("buffer ring");
	prep_fetch(get_sqe(poll1), cdev, 1, -1, UD_FETCH);
	if (io_uring_submit(poll1) != 1)
		die("io_uring_submit");
	expect(ip_cqe(poll1, 100, NULL), -ETIME, "FETCH_IO_CMDS on an IOPOLL ring waits");
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, id, getpid()), 0,
	       "START_DEV of a polled batch device");
	expect(ip_cmd(poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), 0,
	       "IOPOLL_SLEEP of an idle polled batch queue: armed");
	th.ring = poll1;
	th.cdev = cdev;
	th.efd = efd;
	pthread_create(&th.thread, NULL, ip_foreign_fn, &th);
	pthread_join(th.thread, NULL);
	expect(th.res, -EINVAL, "IOPOLL_SLEEP of a batch queue from another task than the poller");

	c.id = id;
	c.write = true;
	if (posix_memalign((void **)&c.data, 4096, 4096))
		die("buffer");
	memset(c.data, 0x5a, 4096);
	pthread_create(&c.thread, NULL, zc_client_fn, &c);
	report(ip_signalled(efd, 5000), "a request signals the batch queue's armed eventfd");
	/* the CQE carries the tag in a buffer, and the fetch goes on */
	for (i = 0; i < 5000 && tag < 0; i++) {
		if (!io_uring_peek_cqe(poll1, &cqe)) {
			more = cqe->flags & IORING_CQE_F_MORE;
			if (cqe->res == 2 && (cqe->flags & IORING_CQE_F_BUFFER)) {
				unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

				tag = *(__u16 *)(br.bufs + (size_t)bid * br.size);
			} else {
				report(false, "fetch CQE: res %d flags %#x", cqe->res, cqe->flags);
				io_uring_cqe_seen(poll1, cqe);
				break;
			}
			io_uring_cqe_seen(poll1, cqe);
			break;
		}
		io_uring_enter(poll1->ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL);
		usleep(1000);
	}
	report(tag >= 0 && tag < IP_DEPTH && more,
	       "the request's tag reaches FETCH_IO_CMDS by polling (tag %d, more %d)", tag, more);
	if (tag >= 0 && tag < IP_DEPTH) {
		report(buf[(size_t)tag * BUF_SIZE] == 0x5a &&
		       buf[(size_t)tag * BUF_SIZE + 4095] == 0x5a,
		       "the polled batch WRITE's data is in the slot's buffer");
		put_elem(elems, 0, esz, tag, 4096,
			 (__u64)(uintptr_t)(buf + (size_t)tag * BUF_SIZE));
		ret = elems_cmd(poll1, cdev, UBLK_U_IO_COMMIT_IO_CMDS, 0, UBLK_BATCH_F_HAS_BUF_ADDR,
				1, esz, elems);
		expect(ret, esz, "COMMIT_IO_CMDS on the poller's ring");
	}
	pthread_join(c.thread, NULL);
	expect(c.res, 4096, "the polled batch WRITE completes");
	free(c.data);

	/* stopping wakes the sleeper, and polling reaps the aborted fetch */
	expect(ip_cmd(poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), 0,
	       "IOPOLL_SLEEP of a polled batch queue before STOP_DEV: armed");
	th.id = id;
	pthread_create(&th.thread, NULL, ip_stop_fn, &th);
	report(ip_signalled(efd, 10000), "STOP_DEV signals the batch queue's armed eventfd");
	n = ip_cqe(poll1, 10000, &ud);
	expect(n, UBLK_IO_RES_ABORT, "polling after STOP_DEV reaps the aborted FETCH_IO_CMDS");
	pthread_join(th.thread, NULL);
	expect(th.res, 0, "STOP_DEV of the polled batch device");
	close(cdev);
	kublk_buf_ring_free(&br);
del:
	del_dev(id);
}

static void check_iopoll(void)
{
	struct io_uring ring, poll1, poll2;
	struct zc_client c = { };
	struct ip_thread th = { };
	int plain, polled, cdev, efd, pfd[2], tag, n, ret;
	__u64 ud;
	char *buf;

	if (!(features & UBLK_F_IOPOLL)) {
		printf("ok: UBLK_F_IOPOLL not reported: polled-queue checks skipped\n");
		return;
	}
	if (io_uring_queue_init(8, &ring, 0) ||
	    io_uring_queue_init(8, &poll1, IORING_SETUP_IOPOLL) ||
	    io_uring_queue_init(8, &poll2, IORING_SETUP_IOPOLL))
		die("IOPOLL rings");
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || pipe(pfd))
		die("eventfd");
	if (posix_memalign((void **)&buf, 4096, IP_DEPTH * BUF_SIZE))
		die("buffer");

	/* IOPOLL with BATCH_IO: polled batch queues */
	if (features & UBLK_F_BATCH_IO)
		check_iopoll_batch(&ring, &poll1, &poll2, buf, efd);

	/* a device without the feature: no polled commands, no sleeping */
	plain = ip_dev(0, "ADD_DEV without IOPOLL");
	if (plain >= 0) {
		cdev = ip_open_cdev(plain);
		expect(ip_cmd(&poll1, cdev, UBLK_U_IO_FETCH_REQ, 0, 0, 0,
			      (__u64)(uintptr_t)buf), -EINVAL,
		       "FETCH_REQ of a device without IOPOLL on an IOPOLL ring");
		expect(ip_cmd(&ring, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), -EINVAL,
		       "IOPOLL_SLEEP on a device without IOPOLL");
		expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), -EINVAL,
		       "IOPOLL_SLEEP on a device without IOPOLL, from an IOPOLL ring");
		close(cdev);
		del_dev(plain);
	}

	polled = ip_dev(UBLK_F_IOPOLL, "ADD_DEV with IOPOLL");
	if (polled < 0)
		goto out;
	cdev = ip_open_cdev(polled);
	expect(ip_cmd(&ring, cdev, UBLK_U_IO_FETCH_REQ, 0, 0, 0, (__u64)(uintptr_t)buf),
	       -EINVAL, "FETCH_REQ of an IOPOLL device on a ring without IOPOLL");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), -EINVAL,
	       "IOPOLL_SLEEP before any FETCH_REQ (no poller yet)");

	/* poll1 fetches tag 0: the queue is its ring's and this task's */
	prep_io(get_sqe(&poll1), cdev, UBLK_U_IO_FETCH_REQ, 0, 0, 0, (__u64)(uintptr_t)buf, 0);
	if (io_uring_submit(&poll1) != 1)
		die("io_uring_submit");
	expect(ip_cqe(&poll1, 100, NULL), -ETIME, "FETCH_REQ on an IOPOLL ring waits");
	expect(ip_cmd(&poll2, cdev, UBLK_U_IO_FETCH_REQ, 0, 1, 0,
		      (__u64)(uintptr_t)(buf + BUF_SIZE)), -EINVAL,
	       "FETCH_REQ of the same queue from a second IOPOLL ring");

	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 1, 0, 0, efd), -EINVAL,
	       "IOPOLL_SLEEP of a queue the device does not have");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, IP_DEPTH, 0, efd), -EINVAL,
	       "IOPOLL_SLEEP with a tag beyond the depth");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 1, 0, efd), -EINVAL,
	       "IOPOLL_SLEEP with tag 1");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 1, efd), -EINVAL,
	       "IOPOLL_SLEEP with a result");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, pfd[0]), -EBADF,
	       "IOPOLL_SLEEP with a pipe, not an eventfd");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, 1U << 20), -EBADF,
	       "IOPOLL_SLEEP with a descriptor that is not open");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, 1ULL << 40), -EINVAL,
	       "IOPOLL_SLEEP with an addr beyond any descriptor");
	expect(ip_cmd(&ring, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), -EINVAL,
	       "IOPOLL_SLEEP from another ring than the poller's");
	th.ring = &poll1;
	th.cdev = cdev;
	th.efd = efd;
	pthread_create(&th.thread, NULL, ip_foreign_fn, &th);
	pthread_join(th.thread, NULL);
	expect(th.res, -EINVAL, "IOPOLL_SLEEP from another task than the poller");

	/* the rest of the slots, then a request: the armed eventfd wakes us */
	prep_io(get_sqe(&poll1), cdev, UBLK_U_IO_FETCH_REQ, 0, 1, 0,
		(__u64)(uintptr_t)(buf + BUF_SIZE), 1);
	if (io_uring_submit(&poll1) != 1)
		die("io_uring_submit");
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, polled, getpid()), 0,
	       "START_DEV of an IOPOLL device");
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), 0,
	       "IOPOLL_SLEEP of an idle queue: armed");
	c.id = polled;
	c.write = true;
	if (posix_memalign((void **)&c.data, 4096, 4096))
		die("buffer");
	memset(c.data, 0xa5, 4096);
	pthread_create(&c.thread, NULL, zc_client_fn, &c);
	report(ip_signalled(efd, 5000), "a request signals the armed eventfd");
	report(!ip_signalled(efd, 100), "... once");
	ret = ip_cqe(&poll1, 5000, &ud);
	tag = ud & 0xffff;
	expect(ret, UBLK_IO_RES_OK, "the request reaches its FETCH_REQ by polling");
	if (ret == UBLK_IO_RES_OK) {
		report(buf[(size_t)tag * BUF_SIZE] == (char)0xa5 &&
		       buf[(size_t)tag * BUF_SIZE + 4095] == (char)0xa5,
		       "the polled WRITE's data is in the server buffer");
		expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), 0,
		       "IOPOLL_SLEEP while the server holds the only request: armed");
		prep_io(get_sqe(&poll1), cdev, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, tag, 4096,
			(__u64)(uintptr_t)(buf + (size_t)tag * BUF_SIZE), tag);
		if (io_uring_submit(&poll1) != 1)
			die("io_uring_submit");
		pthread_join(c.thread, NULL);
		expect(c.res, 4096, "the polled WRITE completes");
	} else {
		pthread_join(c.thread, NULL);
	}
	free(c.data);

	/* stopping wakes the sleeper, and polling reaps the aborted fetches */
	expect(ip_cmd(&poll1, cdev, UBLK_U_IO_IOPOLL_SLEEP, 0, 0, 0, efd), 0,
	       "IOPOLL_SLEEP before STOP_DEV: armed");
	th.id = polled;
	pthread_create(&th.thread, NULL, ip_stop_fn, &th);
	report(ip_signalled(efd, 10000), "STOP_DEV signals the armed eventfd");
	for (n = 0; n < IP_DEPTH; n++)
		if (ip_cqe(&poll1, 10000, NULL) != UBLK_IO_RES_ABORT)
			break;
	report(n == IP_DEPTH, "polling after STOP_DEV reaps %d of %d aborted fetches", n,
	       IP_DEPTH);
	pthread_join(th.thread, NULL);
	expect(th.res, 0, "STOP_DEV of the IOPOLL device");
	close(cdev);
	del_dev(polled);
out:
	io_uring_queue_exit(&ring);
	io_uring_queue_exit(&poll1);
	io_uring_queue_exit(&poll2);
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
}

/*
 * "badcmd selfdel": a server that deletes (or stops) its own device
 * while it holds a request it has not committed, then exits or is
 * killed.  Its DEL_DEV runs in its own io-wq, and waits for the request
 * the server holds; the server's exit waits for its io-wq.  The exit
 * must finish anyway: the held request fails, and the device goes.  A
 * server that commits instead sees its DEL_DEV finish normally, with
 * the request served.
 */
enum selfdel_end { SD_EXIT, SD_KILL, SD_COMMIT };

static const char *const selfdel_ends[] = {
	[SD_EXIT] = "exits", [SD_KILL] = "is killed", [SD_COMMIT] = "commits",
};

/* the server's /dev/ublkcN and queue 0's descriptors */
static int selfdel_open(int id, int depth, struct ublksrv_io_desc **iods)
{
	int cdev = ip_open_cdev(id);

	*iods = mmap(NULL, iods_size(depth), PROT_READ,
		     MAP_SHARED | MAP_POPULATE, cdev, iods_offset(0));
	if (*iods == MAP_FAILED)
		die("mmap");
	return cdev;
}

/*
 * The server of a selfdel case: /dev/ublkcN, its rings (@ring for I/O,
 * @cring for control commands), every slot fetched, START_DEV; then the
 * parent starts its reader, and the server gets that request.  Its tag.
 */
static int selfdel_serve(int id, int depth, struct ublksrv_io_desc **iods,
			 int *cdev, void **bufs, struct io_uring *ring,
			 struct io_uring *cring)
{
	struct io_uring_cqe *cqe;
	struct ctrl start;
	int tag;

	*cdev = selfdel_open(id, depth, iods);
	if (posix_memalign(bufs, 4096, (size_t)depth * BUF_SIZE) ||
	    io_uring_queue_init(4, ring, 0) ||
	    io_uring_queue_init(4, cring, IORING_SETUP_SQE128))
		die("server setup");
	for (tag = 0; tag < depth; tag++)
		prep_io(get_sqe(ring), *cdev, UBLK_U_IO_FETCH_REQ, 0, tag, 0,
			(__u64)(uintptr_t)*bufs + (__u64)tag * BUF_SIZE, tag);
	if (io_uring_submit(ring) != depth)
		die("submit fetch");
	start = (struct ctrl){ .op = UBLK_U_CMD_START_DEV, .dev_id = id,
			       .queue_id = -1, .data = getpid() };
	if (ctrl_on(cring, ctrl_fd, &start))
		die("START_DEV");
	child_sync(0);	/* parent: start the reader */

	if (io_uring_wait_cqe(ring, &cqe) || cqe->res != UBLK_IO_RES_OK)
		die("no request");
	tag = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return tag;
}

static void selfdel_child(int id, int depth, __u32 op, enum selfdel_end end)
{
	struct ublksrv_io_desc *iods;
	struct io_uring ring, cring;
	struct io_uring_cqe *cqe;
	int cdev, tag, ret;
	void *bufs;

	tag = selfdel_serve(id, depth, &iods, &cdev, &bufs, &ring, &cring);

	/* the server's own DEL_DEV (STOP_DEV), not waited for */
	prep_ctrl(get_sqe(&cring), ctrl_fd, &(struct ctrl){ .op = op,
		  .dev_id = id, .queue_id = -1 });
	if (io_uring_submit(&cring) != 1)
		die("submit DEL_DEV");
	/* let it reach the wait for the held request */
	usleep(500000);
	if (io_uring_peek_cqe(&cring, &cqe) == 0) {
		fprintf(stderr, "server: command %#x done (%d) with a request held\n",
			op, cqe->res);
		exit(2);
	}

	switch (end) {
	case SD_EXIT:
		exit(0);
	case SD_KILL:
		child_sync(0);	/* parent: kill -9 */
		for (;;)
			pause();
	case SD_COMMIT:
		prep_io(get_sqe(&ring), cdev, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0,
			tag, iods[tag].nr_sectors << 9,
			(__u64)(uintptr_t)bufs + (__u64)tag * BUF_SIZE, tag);
		if (io_uring_submit(&ring) != 1)
			die("submit commit");
		/*
		 * The stop aborts the commit's new command (and the other
		 * slots'); DEL_DEV then waits for the device to be freed,
		 * so the server closes /dev/ublkcN first.
		 */
		for (ret = 0; ret < depth; ret++)
			if (wait_res(&ring) != UBLK_IO_RES_ABORT)
				exit(4);
		io_uring_queue_exit(&ring);
		munmap(iods, iods_size(depth));
		close(cdev);
		ret = wait_res(&cring);
		exit(ret ? 3 : 0);
	}
	exit(1);
}

/* a forked reader of the disk's first block: exits with the errno */
static pid_t selfdel_reader(int id)
{
	char path[64];
	void *buf;
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid)
		return pid;
	snprintf(path, sizeof(path), "/dev/ublkb%d", id);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096))
		_exit(100);
	_exit(pread(fd, buf, 4096, 0) == 4096 ? 0 : errno ? errno : 101);
}

/* wait up to @secs for @pid; its status, or -1 if it still runs */
static int wait_secs(pid_t pid, int secs)
{
	int status, i;

	for (i = 0; i < secs * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(100000);
	}
	return -1;
}

/* fork the server of a selfdel case, with the pipes between; 0 in it */
static pid_t selfdel_fork(void)
{
	pid_t pid;

	if (pipe(pipe_up) || pipe(pipe_down))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(pipe_up[0]);
		close(pipe_down[1]);
		return 0;
	}
	close(pipe_up[1]);
	close(pipe_down[0]);
	return pid;
}

/* kill the server if the case says so; wait_secs() for it */
static int selfdel_end(pid_t pid, enum selfdel_end end)
{
	if (end == SD_KILL && parent_wait() == 0) {
		kill(pid, SIGKILL);
		parent_done();
	}
	return wait_secs(pid, 30);
}

/* the server ended as @end says it should */
static bool selfdel_ended(int status, enum selfdel_end end)
{
	if (status == -1)
		return false;
	return end == SD_KILL ? WIFSIGNALED(status) :
	       WIFEXITED(status) && !WEXITSTATUS(status);
}

/* after wait_secs() on the server: a server still there hangs for good */
static void selfdel_reaped(pid_t pid, int status)
{
	close(pipe_up[0]);
	close(pipe_down[1]);
	if (status == -1) {
		/* the driver's deadlock: nothing below can end */
		printf("badcmd selfdel: server %d hangs, giving up\n", pid);
		exit(1);
	}
}

/* a one-queue device of @depth with @flags and basic parameters: its id */
static int selfdel_dev(__u64 flags, int depth)
{
	struct ublk_params p;
	int id;

	id = add_dev(flags, 1, depth, NULL);
	if (id < 0)
		die("ADD_DEV");
	basic_params(&p, 1 << 20);
	if (set_params(id, &p))
		die("SET_PARAMS");
	return id;
}

/*
 * With @scan, the device's partition scan (which holds the disk's
 * open_mutex, wanted by DEL_DEV and by the reader's open) may be the
 * request held; without, UBLK_F_NO_AUTO_PART_SCAN, it is the reader's.
 */
static bool selfdel_case(bool scan, int depth, __u32 op, enum selfdel_end end)
{
	const char *cmd = op == UBLK_U_CMD_DEL_DEV ? "DEL_DEV" : "STOP_DEV";
	struct ublksrv_ctrl_dev_info info;
	int id, status, rstatus, i;
	pid_t pid, reader = -1;

	id = selfdel_dev(scan ? 0 : UBLK_F_NO_AUTO_PART_SCAN, depth);
	pid = selfdel_fork();
	if (!pid)
		selfdel_child(id, depth, op, end);

	if (parent_wait() == 0) {
		reader = selfdel_reader(id);
		parent_done();
	}
	status = selfdel_end(pid, end);
	report(selfdel_ended(status, end),
	       "depth %d%s: the server %s after its own %s with a request held (status %#x)",
	       depth, scan ? ", partition scan" : "", selfdel_ends[end], cmd,
	       status);
	selfdel_reaped(pid, status);

	rstatus = reader < 0 ? -1 : wait_secs(reader, 30);
	if (scan)
		/* the scan's read, or the reader's: its open may fail too */
		report(rstatus != -1, "the reader finished (status %#x)",
		       rstatus);
	else if (end == SD_COMMIT)
		report(rstatus == 0, "depth %d: the held read was served (status %#x)",
		       depth, rstatus);
	else
		report(WIFEXITED(rstatus) && WEXITSTATUS(rstatus) == EIO,
		       "depth %d: the held read failed with EIO (status %#x)",
		       depth, rstatus);

	if (op == UBLK_U_CMD_DEL_DEV) {
		for (i = 0; i < 100 && !get_info(id, &info); i++)
			usleep(100000);
		expect(get_info(id, &info), -ENODEV, "the device is gone");
	} else {
		for (i = 0; i < 100; i++) {
			if (get_info(id, &info) || info.state == UBLK_S_DEV_DEAD)
				break;
			usleep(100000);
		}
		report(info.state == UBLK_S_DEV_DEAD, "the device is DEAD (%d)",
		       info.state);
		del_dev(id);
	}
	return status != -1;
}

/*
 * The same for START_DEV of a zoned device: START_DEV, in the server's
 * io-wq, waits for the zone report it sent the server, and the server
 * holds the report and exits or is killed.  The exit must finish, the
 * start fail (the device DEAD, no disk) and the device go with DEL_DEV.
 * With UBLK_F_USER_RECOVERY_REISSUE in @flags, the exit's stage 2 used
 * to reissue the held report into the requeue list of the disk START_DEV
 * had already given up, where nothing ever kicked it: the revalidation
 * waited for it for good, and so did DEL_DEV (ublk_fuzz found it).
 */
static void selfstart_child(int id, int depth, enum selfdel_end end)
{
	struct ublksrv_io_desc *iods;
	struct io_uring ring, cring;
	struct io_uring_cqe *cqe;
	int cdev, tag;

	cdev = selfdel_open(id, depth, &iods);
	if (io_uring_queue_init(depth, &ring, 0) ||
	    io_uring_queue_init(4, &cring, IORING_SETUP_SQE128))
		die("server setup");
	/* user copy: no buffers */
	for (tag = 0; tag < depth; tag++)
		prep_io(get_sqe(&ring), cdev, UBLK_U_IO_FETCH_REQ, 0, tag, 0, 0,
			tag);
	if (io_uring_submit(&ring) != depth)
		die("submit fetch");
	/* the server's own START_DEV, not waited for */
	prep_ctrl(get_sqe(&cring), ctrl_fd, &(struct ctrl){
		  .op = UBLK_U_CMD_START_DEV, .dev_id = id, .queue_id = -1,
		  .data = getpid() });
	if (io_uring_submit(&cring) != 1)
		die("submit START_DEV");

	if (io_uring_wait_cqe(&ring, &cqe) || cqe->res != UBLK_IO_RES_OK)
		die("no request");
	tag = cqe->user_data;
	io_uring_cqe_seen(&ring, cqe);
	if ((iods[tag].op_flags & 0xff) != UBLK_IO_OP_REPORT_ZONES) {
		fprintf(stderr, "server: request %#x, not the zone report\n",
			iods[tag].op_flags);
		exit(5);
	}
	/* let START_DEV sit in its wait for the report */
	usleep(500000);
	if (io_uring_peek_cqe(&cring, &cqe) == 0) {
		fprintf(stderr, "server: START_DEV done (%d) with the report held\n",
			cqe->res);
		exit(2);
	}
	if (end == SD_EXIT)
		exit(0);
	child_sync(0);	/* parent: kill -9 */
	for (;;)
		pause();
}

static void selfstart_case(int depth, enum selfdel_end end, __u64 flags)
{
	const char *reissue = flags & UBLK_F_USER_RECOVERY_REISSUE ? ", reissue" : "";
	struct ctrl del = { .op = UBLK_U_CMD_DEL_DEV, .queue_id = -1 };
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char sys[64];
	int id, status;
	pid_t pid;

	id = add_dev(UBLK_F_USER_COPY | UBLK_F_ZONED | flags, 1, depth, NULL);
	if (id < 0)
		die("ADD_DEV zoned");
	zoned_params(&p);
	if (set_params(id, &p))
		die("SET_PARAMS zoned");
	pid = selfdel_fork();
	if (!pid)
		selfstart_child(id, depth, end);

	status = selfdel_end(pid, end);
	report(selfdel_ended(status, end),
	       "depth %d, zoned%s: the server %s while its START_DEV waits for a report (status %#x)",
	       depth, reissue, selfdel_ends[end], status);
	selfdel_reaped(pid, status);

	expect(get_info(id, &info), 0, "GET_DEV_INFO after the failed START_DEV");
	report(info.state == UBLK_S_DEV_DEAD && info.ublksrv_pid == -1,
	       "the device is DEAD with no server (state %d, pid %d)", info.state,
	       info.ublksrv_pid);
	snprintf(sys, sizeof(sys), "/sys/block/ublkb%d", id);
	report(access(sys, F_OK) && errno == ENOENT, "no disk %s", sys);
	del.dev_id = id;
	expect(ctrl_timed(&del, 30), 0, "DEL_DEV of the zoned device completes");
	expect(get_info(id, &info), -ENODEV, "the zoned device is gone");
}

/*
 * A DEL_DEV that waits for a server holding a request must hold up
 * nothing but its own device.  ublk_fuzz found thirty control commands
 * queued behind one such DEL_DEV, all in D state: it held the driver's
 * global lock across the stop, and the commands waiting for the
 * device's own lock could not be killed.  While it waits here: ADD_DEV
 * and DEL_DEV of another device complete, and a GET_PARAMS of the
 * waiting device, which waits for the stop, ends with its task at
 * SIGKILL.  Then the server is killed, and the DEL_DEV completes.
 */
static void heldstop_server(int id)
{
	struct ublksrv_io_desc *iods;
	struct io_uring ring, cring;
	void *buf;
	int cdev;

	selfdel_serve(id, 1, &iods, &cdev, &buf, &ring, &cring);
	child_sync(0);	/* parent: the request is held */
	for (;;)
		pause();
}

/* a child with a control ring of its own; 0 in it */
static pid_t heldstop_fork(struct io_uring *r)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid && io_uring_queue_init(4, r, IORING_SETUP_SQE128))
		_exit(100);
	return pid;
}

static void heldstop_case(void)
{
	struct ublksrv_ctrl_dev_info info;
	struct __kernel_timespec ts = { .tv_sec = 30 };
	struct io_uring dr, r;
	struct io_uring_cqe *cqe;
	pid_t pid, reader = -1, other, asker;
	int id, status, ret;

	id = selfdel_dev(UBLK_F_NO_AUTO_PART_SCAN, 1);
	pid = selfdel_fork();
	if (!pid)
		heldstop_server(id);
	if (parent_wait() == 0) {
		reader = selfdel_reader(id);
		parent_done();
	}
	if (parent_wait() != 0)
		die("the server got no request");
	parent_done();

	/* DEL_DEV on a ring of its own, not waited for */
	if (io_uring_queue_init(4, &dr, IORING_SETUP_SQE128))
		die("io_uring_queue_init");
	prep_ctrl(get_sqe(&dr), ctrl_fd, &(struct ctrl){ .op = UBLK_U_CMD_DEL_DEV,
		  .dev_id = id, .queue_id = -1 });
	if (io_uring_submit(&dr) != 1)
		die("submit DEL_DEV");
	usleep(500000);
	report(io_uring_peek_cqe(&dr, &cqe) != 0,
	       "DEL_DEV waits for the request its server holds");

	other = heldstop_fork(&r);
	if (!other) {
		struct ublksrv_ctrl_dev_info oi = {
			.nr_hw_queues = 1, .queue_depth = 2,
			.max_io_buf_bytes = BUF_SIZE, .dev_id = -1,
		};
		struct ctrl add = { .op = UBLK_U_CMD_ADD_DEV, .dev_id = -1,
				    .queue_id = -1, .len = sizeof(oi),
				    .addr = (__u64)(uintptr_t)&oi };
		struct ctrl del = { .op = UBLK_U_CMD_DEL_DEV, .queue_id = -1 };

		if (ctrl_on(&r, ctrl_fd, &add))
			_exit(101);
		del.dev_id = oi.dev_id;
		_exit(ctrl_on(&r, ctrl_fd, &del) ? 102 : 0);
	}
	status = wait_secs(other, 10);
	report(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status),
	       "meanwhile ADD_DEV and DEL_DEV of another device (status %#x)", status);
	if (status != -1)
		other = -1;

	asker = heldstop_fork(&r);
	if (!asker) {
		struct ublk_params gp = { .len = sizeof(gp) };
		struct ctrl get = { .op = UBLK_U_CMD_GET_PARAMS, .dev_id = id,
				    .queue_id = -1, .len = sizeof(gp),
				    .addr = (__u64)(uintptr_t)&gp };

		_exit(ctrl_on(&r, ctrl_fd, &get) == -EINTR ? 0 : 103);
	}
	usleep(500000);
	report(waitpid(asker, &status, WNOHANG) == 0,
	       "GET_PARAMS of the device waits for the stop");
	kill(asker, SIGKILL);
	status = wait_secs(asker, 10);
	report(status != -1 && WIFSIGNALED(status),
	       "its task goes at SIGKILL (status %#x)", status);
	if (status != -1)
		asker = -1;

	kill(pid, SIGKILL);
	status = wait_secs(pid, 30);
	report(status != -1 && WIFSIGNALED(status),
	       "the server is killed (status %#x)", status);
	selfdel_reaped(pid, status);
	ret = io_uring_wait_cqe_timeout(&dr, &cqe, &ts);
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&dr, cqe);
	}
	expect(ret, 0, "then DEL_DEV of the device completes");
	status = reader < 0 ? -1 : wait_secs(reader, 30);
	report(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == EIO,
	       "the held read failed with EIO (status %#x)", status);
	expect(get_info(id, &info), -ENODEV, "the device is gone");
	/* whatever waited behind the DEL_DEV has ended by now */
	if ((other > 0 && wait_secs(other, 30) == -1) ||
	    (asker > 0 && wait_secs(asker, 30) == -1))
		report(false, "the other commands' tasks end");
	io_uring_queue_exit(&dr);
}

static int check_selfdel(void)
{
	selfdel_case(false, 1, UBLK_U_CMD_DEL_DEV, SD_EXIT);
	selfdel_case(false, 2, UBLK_U_CMD_DEL_DEV, SD_EXIT);
	selfdel_case(false, 1, UBLK_U_CMD_DEL_DEV, SD_KILL);
	selfdel_case(false, 2, UBLK_U_CMD_STOP_DEV, SD_KILL);
	selfdel_case(false, 1, UBLK_U_CMD_DEL_DEV, SD_COMMIT);
	selfdel_case(true, 1, UBLK_U_CMD_DEL_DEV, SD_EXIT);
	if (features & UBLK_F_ZONED) {
		selfstart_case(1, SD_KILL, 0);
		selfstart_case(2, SD_EXIT, 0);
		selfstart_case(1, SD_KILL, UBLK_F_USER_RECOVERY |
			       UBLK_F_USER_RECOVERY_REISSUE);
		selfstart_case(2, SD_EXIT, UBLK_F_USER_RECOVERY |
			       UBLK_F_USER_RECOVERY_REISSUE);
	} else {
		printf("ok: zoned START_DEV cases skipped: no UBLK_F_ZONED\n");
	}
	heldstop_case();
	printf("badcmd selfdel: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct reader reader;
	int healthy, id, rec_id, ret;
	struct server srv;
	struct ublk_params p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ctrl_fd = open(CTRL_DEV, O_RDWR);
	if (ctrl_fd < 0)
		die(CTRL_DEV);
	if (io_uring_queue_init(8, &ctrl_ring, IORING_SETUP_SQE128))
		die("io_uring_queue_init");
	ret = ctrl(&(struct ctrl){ .op = UBLK_U_CMD_GET_FEATURES, .queue_id = -1,
		   .len = 8, .addr = (__u64)(uintptr_t)&features });
	if (ret)
		die("GET_FEATURES");
	features |= read_ext_features();
	if (argc > 1 && !strcmp(argv[1], "timeout"))
		return check_unpriv_timeout();
	if (argc > 1 && !strcmp(argv[1], "prio"))
		return check_prio_order();
	if (argc > 1 && !strcmp(argv[1], "selfdel"))
		return check_selfdel();
	/*
	 * The errnos checked here are Documentation/block/ublk.rst's.
	 * Drivers without USER_RECOVERY_FAIL_IO (6.12's) accept much of
	 * this input and can hang on some of it: not checked.
	 */
	if (!(features & UBLK_F_USER_RECOVERY_FAIL_IO)) {
		printf("%s (features %#llx)\n",
		       "SKIP: the driver does not report USER_RECOVERY_FAIL_IO, its validation predates these checks",
		       (unsigned long long)features);
		return KSFT_SKIP;
	}

	/*
	 * A healthy, recoverable device with a per-I/O-task server, reading
	 * all along.
	 */
	healthy = add_dev(UBLK_F_PER_IO_DAEMON | UBLK_F_USER_RECOVERY, 1, 8,
			  NULL);
	if (healthy < 0)
		die("ADD_DEV");
	basic_params(&p, 1 << 20);
	if (set_params(healthy, &p))
		die("SET_PARAMS");
	server_start(&srv, healthy, 2);
	expect(ctrl_simple(UBLK_U_CMD_START_DEV, healthy, getpid()), 0,
	       "START_DEV with two tasks serving one queue");
	reader.id = healthy;
	pthread_create(&reader.thread, NULL, reader_fn, &reader);

	check_features();
	check_ctrl_opcodes();
	check_add_dev();
	check_io_desc_size();

	id = add_dev(0, 1, 2, NULL);
	rec_id = add_dev(UBLK_F_USER_RECOVERY | UBLK_F_QUIESCE, 1, 2, NULL);
	if (id < 0 || rec_id < 0)
		die("ADD_DEV");
	check_params(id);
	check_affinity(id, 1);
	check_dead_dev_cmds(id, rec_id);
	check_start_not_ready(id);
	check_live_dev(healthy, &srv);
	expect(ctrl_simple(UBLK_U_CMD_START_USER_RECOVERY, healthy, 0),
	       -EBUSY, "START_USER_RECOVERY of a live device");
	expect(ctrl_simple(UBLK_U_CMD_END_USER_RECOVERY, healthy, getpid()),
	       -EBUSY, "END_USER_RECOVERY of a live device");
	check_live_lifecycle(healthy);
	check_user_copy();
	check_zero_copy();
	check_auto_buf_reg();
	check_batch();
	check_iopoll();
	check_zoned();
	check_unprivileged(healthy);
	del_dev(id);
	del_dev(rec_id);

	atomic_store(&reader.stop, 1);
	pthread_join(reader.thread, NULL);
	report(reader.reads > 0 && !reader.errors,
	       "the healthy device served %ld reads meanwhile, %ld failed",
	       reader.reads, reader.errors);
	expect(ctrl_simple(UBLK_U_CMD_STOP_DEV, healthy, 0), 0,
	       "STOP_DEV of the healthy device");
	server_stop(&srv);
	del_dev(healthy);

	printf("%s: %d failure(s)\n", argv[0], failures);
	return failures ? 1 : 0;
}
