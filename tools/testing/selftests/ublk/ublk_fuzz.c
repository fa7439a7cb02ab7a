// SPDX-License-Identifier: GPL-2.0
/*
 * ublk_fuzz: drive ublk_drv with seeded, structured random input.
 *
 *   ublk_fuzz [-s SEED] [-n OPS] [-T SECONDS] [-t SECONDS] [-x COMMAND]... [-d] [-u] [-v]
 *
 * Every operation draws from its own generator, seeded from SEED and the
 * operation's number: the same seed gives the same sequence of
 * operations, and operation N draws the same numbers whatever the ones
 * before it did (what it finds, devices and held requests, depends on
 * the kernel's timing).  The operations:
 *
 *  - control commands, every one of them, in the ioctl, legacy and
 *    wrongly sized encodings, with fields drawn from valid values,
 *    boundary values and random bits, wrong lengths and buffers,
 *    random dev_ids;
 *  - I/O commands on each device's ring (FETCH, COMMIT_AND_FETCH,
 *    NEED_GET_DATA, REGISTER/UNREGISTER_IO_BUF; the batch commands and
 *    UPDATE_CMD_PRIO, valid ones on devices that got UBLK_F_BATCH_IO);
 *    this process is the server of its devices and serves them;
 *  - mmap(), pread() and pwrite() of /dev/ublkcN at random offsets;
 *  - actions: close a device's ring or its char device, fork a child
 *    that serves a device and kill it with SIGKILL, read and write
 *    /dev/ublkbN from other threads, DEL_DEV while a thread reads.
 *
 * For a part of the run (-u: none) a child that dropped to nobody fuzzes
 * alongside, with /dev/ublk-control open to all: it may create and use
 * devices of its own (the parent chowns their char devices to it, as
 * udev would), and every command that reaches another device, root's
 * or another user's, must fail with a permission error.
 *
 * Everything is bounded: at most MAX_DEVS devices of MAX_Q queues are
 * tracked, MAX_SERVERS forked servers, MAX_BIO block I/O threads and
 * MAX_PENDING control commands in flight.
 *
 * Oracle: the kernel's reports (the guest harness fails the run on
 * them); a watchdog on every operation; results no command may get (an
 * I/O command beyond the device's queues or depth, or a batch command
 * on a device without batches, accepted; an mmap() made writable); and
 * at the end, with every ring and file closed and every child gone,
 * every control command still in flight must complete and every device
 * must be deleted.  On a failure or a watchdog expiry it prints the
 * seed and the last operations.
 *
 * Exit status: 0; 1 a check failed; 2 usage or setup error; 3 the
 * watchdog expired (an operation hung); 4 skip (no ublk_drv).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/ublk_cmd.h>
#include "liburing_compat.h"

/*
 * The batch priority extension is added to the uapi header on another
 * branch; until then, its numbers (ours, from the top of the spaces).
 */
#ifndef UBLK_U_IO_UPDATE_CMD_PRIO
#define UBLK_U_IO_UPDATE_CMD_PRIO	_IOWR('u', 0xff, struct ublk_batch_io)
#endif
#ifndef UBLK_F_BATCH_PRIO
#define UBLK_F_BATCH_PRIO		(1ULL << 63)
#endif
#ifndef UBLK_BATCH_F_PRIO
#define UBLK_BATCH_F_PRIO		(1 << 15)
#endif
/* io_uring's, after liburing 2.3 */
#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT	(1U << 1)
#endif

#define CTRL_DEV	"/dev/ublk-control"
#define CHAR_CLASS	"/sys/class/ublk-char"
#define NOBODY		65534
#define OTHER_UID	65533

#define MAX_DEVS	4
#define MAX_Q		2
#define MAX_TAGS	16		/* slots tracked and served per queue */
#define SLOT_BUF_MAX	(256 << 10)
#define IO_RING_SIZE	128
#define NR_SPARSE	32
#define MAX_PENDING	32
#define MAX_SERVERS	2
#define SERVER_MAX_SLOTS 128		/* a forked server's slots at most */
#define MAX_BIO		3
#define MAX_KNOWN	256
#define BATCH_BGID	7
#define BIO_MAX		(64 << 10)
#define BIO_SPAN	(32ULL << 20)

#define EXIT_FAIL	1
#define EXIT_SETUP	2
#define EXIT_WATCHDOG	3
#define EXIT_SKIP	4

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- run parameters and state ---- */

static __u64 seed, run_seed;	/* the generator's; the run's, as given */
static unsigned long nr_ops = 10000;
static unsigned long opno;
static unsigned int op_timeout = 60;
static __u64 stop_at_ms;
/* when run() began, for the progress lines and the summary */
static __u64 run_t0;
static bool verbose;
static bool no_unpriv;
static bool defer_taskrun;	/* -d */
static unsigned int excluded;	/* -x: control commands never sent (C_* bits) */
static bool unpriv;		/* this process is the unprivileged child */
static int failures;
static __u64 features;
static int ctrl_fd = -1;
static struct io_uring cring;	/* control commands, asynchronous */
static struct io_uring sring;	/* control commands waited for */
/* set by SIGINT/SIGTERM; lock-free, so the handler may store it */
static atomic_int stop_flag;
static int report_fd = -1;	/* unprivileged child: news to the parent */
static long page_size;
static char *ro_page;		/* a page the kernel cannot write to */
static char *guard_page;	/* a page nobody can touch */

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the generator: splitmix64, seeded per operation ---- */

static __u64 rng_state;

static __u64 rnd(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 below(__u64 n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

static void rng_for_op(unsigned long n)
{
	rng_state = seed ^ (0xa0761d6478bd642fULL * (n + 1));
	rnd();
}

/* a value from the boundaries, a random width, or random bits */
static __u64 any_u64(void)
{
	static const __u64 b[] = {
		0, 1, 2, 7, 8, 511, 512, 4095, 4096, 65535, 65536,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		1ULL << 63, ~0ULL, ~0ULL - 1,
	};

	switch (below(3)) {
	case 0:
		return b[below(ARRAY_SIZE(b))];
	case 1:
		return rnd() >> below(64);
	default:
		return rnd();
	}
}

/* ---- the log of recent operations ---- */

#define LOG_LINES	40
#define LOG_LEN		240

static char oplog[LOG_LINES][LOG_LEN];
static atomic_ulong oplog_next;

static void note(const char *fmt, ...)
{
	unsigned long n = atomic_fetch_add(&oplog_next, 1);
	char *l = oplog[n % LOG_LINES];
	va_list ap;
	int len;

	len = snprintf(l, LOG_LEN, "%s%lu: ", unpriv ? "nobody " : "", opno);
	va_start(ap, fmt);
	vsnprintf(l + len, LOG_LEN - len, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%s\n", l);
}

static void dump_log(void)
{
	unsigned long end = atomic_load(&oplog_next), i;

	dprintf(STDOUT_FILENO, "ublk_fuzz: %s-s %llu: the last operations:\n",
		unpriv ? "(unprivileged child) " : "", (unsigned long long)run_seed);
	for (i = end > LOG_LINES ? end - LOG_LINES : 0; i < end; i++)
		dprintf(STDOUT_FILENO, "  %s\n", oplog[i % LOG_LINES]);
}

static void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("ublk_fuzz: FAIL: %s%s (seed %llu, op %lu)\n",
	       unpriv ? "unprivileged: " : "", msg, (unsigned long long)run_seed, opno);
	note("FAIL: %s", msg);
	failures++;
}

static void die(const char *what)
{
	printf("ublk_fuzz: %s: %s\n", what, strerror(errno));
	exit(EXIT_SETUP);
}

/* ---- the watchdog ---- */

static atomic_ullong wd_deadline;	/* ms, CLOCK_MONOTONIC; 0: idle */
/* the operation being watched: a const char *, set before the deadline */
static atomic_uintptr_t wd_what;

static void wd_arm(unsigned int secs, const char *what)
{
	atomic_store(&wd_what, (uintptr_t)what);
	atomic_store(&wd_deadline, now_ms() + secs * 1000ULL);
}

static void wd_disarm(void)
{
	atomic_store(&wd_deadline, 0);
}

/* every thread's kernel stack, to see where it sleeps (root only) */
static void dump_stacks(void)
{
	char path[300], buf[4096];
	struct dirent *e;
	DIR *dir;
	int fd, n;

	dir = opendir("/proc/self/task");
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stack", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			dprintf(STDOUT_FILENO, "ublk_fuzz: task %s:\n%s", e->d_name, buf);
		}
	}
	closedir(dir);
}

/*
 * The kernel's view of the hang: blocked tasks and, with lockdep, the
 * locks held (sysrq w and d, or $UBLK_FUZZ_SYSRQ), on the console.
 */
static void show_blocked(void)
{
	const char *keys = getenv("UBLK_FUZZ_SYSRQ");
	int fd;

	if (geteuid())
		return;
	if (!keys)
		keys = "dw";
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd < 0)
		return;
	for (; *keys; keys++)
		if (write(fd, keys, 1) != 1)
			break;
	close(fd);
}

static void *watchdog_fn(void *arg)
{
	for (;;) {
		__u64 d;

		usleep(100 * 1000);
		d = atomic_load(&wd_deadline);
		if (!d || now_ms() < d)
			continue;
		dprintf(STDOUT_FILENO,
			"ublk_fuzz: WATCHDOG: %s%s (op %lu) did not finish within its deadline; seed %llu\n",
			unpriv ? "unprivileged child: " : "",
			(const char *)atomic_load(&wd_what), opno,
			(unsigned long long)run_seed);
		dump_log();
		dump_stacks();
		show_blocked();
		_exit(EXIT_WATCHDOG);
	}
	return NULL;
}

static void start_watchdog(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, watchdog_fn, NULL))
		die("watchdog thread");
	pthread_detach(t);
}

/* ---- devices ---- */

enum { S_NONE, S_ARMED, S_HELD, S_NEED, S_DEAD };

struct slot {
	__u8 st, prev;
	__u64 armed_ud;
	struct ublksrv_io_desc iod;	/* of the request held */
};

struct fdev {
	int used;			/* 0 free, 1 ADD_DEV in flight, 2 a device */
	__u32 id;
	struct ublksrv_ctrl_dev_info info;
	int nq, depth;			/* the slots tracked */
	int cdev;
	bool ring_up, bufring;
	struct io_uring ring;
	struct kublk_buf_ring br;
	void *iods[MAX_Q];
	size_t iods_len;
	char *bufs;
	size_t buf_sz, bufs_len;
	struct slot sl[MAX_Q][MAX_TAGS];
	pid_t server;
	__u64 elems[512];		/* batch element arrays */
};

static struct fdev devs[MAX_DEVS];
static __u16 io_seq;

/* every device id this process (or its unprivileged child) created */
static __u32 known[MAX_KNOWN];
static int nr_known;
/* unprivileged child: the ids it ever created */
static __u32 own_ever[MAX_KNOWN];
static int nr_own_ever;
/* the unprivileged phase */
static pid_t uchild;
static int upipe = -1;
static __u32 other_id = ~0U;
static __u32 uchild_ids[MAX_KNOWN];
static int nr_uchild_ids;
static mode_t ctrl_mode;

static void remember(__u32 *set, int *nr, __u32 id)
{
	int i;

	for (i = 0; i < *nr; i++)
		if (set[i] == id)
			return;
	if (*nr < MAX_KNOWN)
		set[(*nr)++] = id;
}

static bool in_set(const __u32 *set, int nr, __u32 id)
{
	int i;

	for (i = 0; i < nr; i++)
		if (set[i] == id)
			return true;
	return false;
}

static bool is_zc(const struct fdev *d)
{
	return d->info.flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG);
}

static bool takes_refs(const struct fdev *d)
{
	return (d->info.flags & UBLK_F_USER_COPY) || is_zc(d);
}

static bool is_batch(const struct fdev *d)
{
	return d->info.flags & UBLK_F_BATCH_IO;
}

static size_t iods_size(unsigned int depth, unsigned int desc)
{
	return ((size_t)depth * desc + page_size - 1) / page_size * page_size;
}

static off_t iods_offset(const struct fdev *d, int q)
{
	return UBLKSRV_CMD_BUF_OFFSET +
		(off_t)q * iods_size(UBLK_MAX_QUEUE_DEPTH, d->info.io_desc_size);
}

static __u64 slot_buf(const struct fdev *d, int q, int tag)
{
	return (__u64)(uintptr_t)(d->bufs + ((size_t)q * d->depth + tag) * d->buf_sz);
}

static struct fdev *dev_by_id(__u32 id)
{
	int i;

	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used == 2 && devs[i].id == id)
			return &devs[i];
	return NULL;
}

static struct fdev *pick_dev(void)
{
	int i, n = below(MAX_DEVS);

	for (i = 0; i < MAX_DEVS; i++) {
		struct fdev *d = &devs[(n + i) % MAX_DEVS];

		if (d->used == 2)
			return d;
	}
	return NULL;
}

static struct fdev *free_dev(void)
{
	int i;

	for (i = 0; i < MAX_DEVS; i++)
		if (!devs[i].used)
			return &devs[i];
	return NULL;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	/* a forked server or the unprivileged child has no use for it */
	madvise(p, len, MADV_DONTFORK);
	return p;
}

/* unprivileged child: a device was added ('A') or deleted ('D') */
static void tell_parent(char what, __u32 id)
{
	char msg[5] = { what };

	if (report_fd < 0)
		return;
	memcpy(msg + 1, &id, 4);
	if (write(report_fd, msg, 5) != 5)
		note("cannot tell the parent about device %u", id);
}

/* ADD_DEV succeeded: the device's entry, its buffers */
static void dev_register(struct fdev *d, const struct ublksrv_ctrl_dev_info *info)
{
	memset(d, 0, sizeof(*d));
	d->used = 2;
	d->cdev = -1;
	d->id = info->dev_id;
	d->info = *info;
	d->nq = info->nr_hw_queues < MAX_Q ? info->nr_hw_queues : MAX_Q;
	d->depth = info->queue_depth < MAX_TAGS ? info->queue_depth : MAX_TAGS;
	d->buf_sz = info->max_io_buf_bytes;
	if (d->buf_sz > SLOT_BUF_MAX)
		d->buf_sz = SLOT_BUF_MAX;
	if (d->buf_sz < (size_t)page_size)
		d->buf_sz = page_size;
	/* and a guard page */
	d->bufs_len = (size_t)d->nq * d->depth * d->buf_sz + page_size;
	d->bufs = map_anon(d->bufs_len);
	mprotect(d->bufs + d->bufs_len - page_size, page_size, PROT_NONE);
	remember(known, &nr_known, d->id);
	if (unpriv) {
		remember(own_ever, &nr_own_ever, d->id);
		tell_parent('A', d->id);
	}
}

static void close_ring(struct fdev *d)
{
	int q, t;

	if (!d->ring_up)
		return;
	io_uring_queue_exit(&d->ring);
	d->ring_up = false;
	if (d->bufring)
		kublk_buf_ring_free(&d->br);
	d->bufring = false;
	for (q = 0; q < MAX_Q; q++)
		for (t = 0; t < MAX_TAGS; t++)
			d->sl[q][t].st = d->cdev >= 0 ? S_DEAD : S_NONE;
}

static bool dev_mapped(struct fdev *d)
{
	int q;

	for (q = 0; q < MAX_Q; q++)
		if (d->iods[q])
			return true;
	return false;
}

static void unmap_iods(struct fdev *d)
{
	int q;

	for (q = 0; q < MAX_Q; q++) {
		if (d->iods[q])
			munmap(d->iods[q], d->iods_len);
		d->iods[q] = NULL;
	}
}

static void close_cdev(struct fdev *d)
{
	if (d->cdev >= 0)
		close(d->cdev);
	d->cdev = -1;
}

/* our side of the device goes: ring, mappings, char device */
static void dev_teardown(struct fdev *d)
{
	close_ring(d);
	unmap_iods(d);
	close_cdev(d);
}

static void dev_forget(struct fdev *d)
{
	dev_teardown(d);
	if (d->bufs)
		munmap(d->bufs, d->bufs_len);
	d->bufs = NULL;
	d->used = 0;
}

/* open /dev/ublkcN and map its queues' descriptors */
static int open_cdev(struct fdev *d)
{
	char path[64];
	int q, t;

	if (d->cdev >= 0)
		return 0;
	snprintf(path, sizeof(path), "/dev/ublkc%u", d->id);
	d->cdev = open(path, O_RDWR | O_CLOEXEC);
	if (d->cdev < 0)
		return -errno;
	d->iods_len = iods_size(d->info.queue_depth, d->info.io_desc_size);
	for (q = 0; q < d->nq; q++) {
		void *p = mmap(NULL, d->iods_len, PROT_READ, MAP_SHARED,
			       d->cdev, iods_offset(d, q));

		if (p == MAP_FAILED) {
			note("mmap of queue %d of device %u: %s", q, d->id,
			     strerror(errno));
			continue;
		}
		madvise(p, d->iods_len, MADV_DONTFORK);
		if (d->iods[q])
			munmap(d->iods[q], d->iods_len);
		d->iods[q] = p;
	}
	for (q = 0; q < MAX_Q; q++)
		for (t = 0; t < MAX_TAGS; t++)
			d->sl[q][t].st = S_NONE;
	return 0;
}

/*
 * A device's ring, set up as servers do.  DEFER_TASKRUN only with -d:
 * closing such a ring with commands armed while its task lives makes
 * 6.12's io_uring warn (io_lockdep_assert_cq_locked(), from the
 * cancellation in io_ring_exit_work()), whichever ublk driver it is.
 */
static int open_ring(struct fdev *d)
{
	static const unsigned int setups[] = {
		0, 0, IORING_SETUP_SQE128, IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	unsigned int flags = setups[below(ARRAY_SIZE(setups))];

	if ((flags & IORING_SETUP_DEFER_TASKRUN) && !defer_taskrun)
		flags = 0;
	int ret;

	if (d->ring_up)
		return 0;
	ret = io_uring_queue_init(IO_RING_SIZE, &d->ring, flags);
	if (ret && flags)
		ret = io_uring_queue_init(IO_RING_SIZE, &d->ring, 0);
	if (ret)
		return ret;
	io_uring_ring_dontfork(&d->ring);
	d->ring_up = true;
	if (d->cdev >= 0)
		io_uring_register_files(&d->ring, &d->cdev, 1);
	io_uring_register_buffers_sparse(&d->ring, NR_SPARSE);
	if (is_batch(d) &&
	    !kublk_buf_ring_setup(&d->ring, &d->br, 8, 2 * MAX_TAGS, BATCH_BGID))
		d->bufring = true;
	return 0;
}

/* ---- control commands ---- */

enum {
	C_AFFINITY, C_INFO, C_ADD, C_DEL, C_START, C_STOP, C_SET_PARAMS,
	C_GET_PARAMS, C_START_REC, C_END_REC, C_INFO2, C_FEATURES,
	C_DEL_ASYNC, C_UPDATE_SIZE, C_QUIESCE, C_TRY_STOP, C_REG_BUF,
	C_UNREG_BUF, NR_C,
};

static const struct {
	const char *name;
	__u32 op;
	bool dev;		/* about a device */
} ccmds[NR_C] = {
	[C_AFFINITY] = { "GET_QUEUE_AFFINITY", UBLK_U_CMD_GET_QUEUE_AFFINITY, true },
	[C_INFO] = { "GET_DEV_INFO", UBLK_U_CMD_GET_DEV_INFO, true },
	[C_ADD] = { "ADD_DEV", UBLK_U_CMD_ADD_DEV, false },
	[C_DEL] = { "DEL_DEV", UBLK_U_CMD_DEL_DEV, true },
	[C_START] = { "START_DEV", UBLK_U_CMD_START_DEV, true },
	[C_STOP] = { "STOP_DEV", UBLK_U_CMD_STOP_DEV, true },
	[C_SET_PARAMS] = { "SET_PARAMS", UBLK_U_CMD_SET_PARAMS, true },
	[C_GET_PARAMS] = { "GET_PARAMS", UBLK_U_CMD_GET_PARAMS, true },
	[C_START_REC] = { "START_USER_RECOVERY", UBLK_U_CMD_START_USER_RECOVERY, true },
	[C_END_REC] = { "END_USER_RECOVERY", UBLK_U_CMD_END_USER_RECOVERY, true },
	[C_INFO2] = { "GET_DEV_INFO2", UBLK_U_CMD_GET_DEV_INFO2, true },
	[C_FEATURES] = { "GET_FEATURES", UBLK_U_CMD_GET_FEATURES, false },
	[C_DEL_ASYNC] = { "DEL_DEV_ASYNC", UBLK_U_CMD_DEL_DEV_ASYNC, true },
	[C_UPDATE_SIZE] = { "UPDATE_SIZE", UBLK_U_CMD_UPDATE_SIZE, true },
	[C_QUIESCE] = { "QUIESCE_DEV", UBLK_U_CMD_QUIESCE_DEV, true },
	[C_TRY_STOP] = { "TRY_STOP_DEV", UBLK_U_CMD_TRY_STOP_DEV, true },
	[C_REG_BUF] = { "REG_BUF", UBLK_U_CMD_REG_BUF, true },
	[C_UNREG_BUF] = { "UNREG_BUF", UBLK_U_CMD_UNREG_BUF, true },
};

/* the command the driver takes @op for, as ublk_ctrl_find() does; -1 none */
static int ctrl_effective(__u32 op)
{
	int c;

	if (op == UBLK_U_CMD_GET_FEATURES)
		return C_FEATURES;
	for (c = 0; c < NR_C; c++) {
		if (c == C_FEATURES)
			continue;
		if (_IOC_TYPE(op) == 'u' ? _IOC_NR(op) == _IOC_NR(ccmds[c].op) :
		    op == _IOC_NR(ccmds[c].op))
			return c;
	}
	return -1;
}

/*
 * Room for whatever the driver may write for a command: a command with
 * a char device path (unprivileged devices) has its data after the
 * path, and the driver takes a dev_path_len of up to PATH_MAX, which a
 * fuzzed command may well have with a path that still resolves.  With
 * 1024 bytes the driver could write the answer, as told, past the
 * buffer into the next command's state or the device table, and
 * ublk_fuzz lose track of its own rings and char devices.
 */
#define CBUF	(PATH_MAX + 1024)

/* a control command in flight, and the buffer it points into */
struct cctx {
	bool busy;
	int c;			/* the command the driver takes it for, or -1 */
	__u32 cmd_op;
	__u32 dev_id;
	struct fdev *dev;	/* ADD_DEV: the entry held for it */
	unsigned long opno;
	size_t payload;		/* where in buf the command's struct starts */
	__u64 t0;
	char buf[CBUF] __attribute__((aligned(16)));
};

static struct cctx cctx[MAX_PENDING];
static int nr_pending;

static struct cctx *cctx_get(void)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		if (!cctx[i].busy) {
			memset(&cctx[i], 0, offsetof(struct cctx, buf));
			memset(cctx[i].buf, 0, sizeof(cctx[i].buf));
			cctx[i].busy = true;
			cctx[i].opno = opno;
			cctx[i].t0 = now_ms();
			nr_pending++;
			return &cctx[i];
		}
	}
	return NULL;
}

static void ctrl_submit(struct cctx *x, const struct ublksrv_ctrl_cmd *h)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&cring);

	if (!sqe) {
		io_uring_submit(&cring);
		sqe = io_uring_get_sqe(&cring);
		if (!sqe)
			die("no control SQE");
	}
	kublk_prep_uring_cmd(sqe, ctrl_fd, false, x->cmd_op, true);
	memcpy(kublk_sqe_cmd(sqe), h, sizeof(*h));
	if (chance(10))
		sqe->flags |= IOSQE_ASYNC;
	if (chance(3))
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->user_data = (__u64)(uintptr_t)x;
	io_uring_submit(&cring);
}

/* an unprivileged command about device @id that failed: with what */
static bool perm_errno(int res)
{
	switch (-res) {
	case EPERM: case EACCES: case EINVAL: case EFAULT: case ENOENT:
	case ENOTDIR: case ENAMETOOLONG: case ELOOP: case ENODEV:
	case EOPNOTSUPP: case ENOMEM:
		return true;
	}
	return false;
}

static void ctrl_done(struct cctx *x, int res)
{
	const char *name = x->c >= 0 ? ccmds[x->c].name : "(unknown)";
	struct ublksrv_ctrl_dev_info info;
	struct fdev *d;

	note("  <- op %lu %s %#x dev %d: %d%s%s%s", x->opno, name, x->cmd_op,
	     (int)x->dev_id, res, res < 0 ? " (" : "",
	     res < 0 ? strerror(-res) : "", res < 0 ? ")" : "");
	if (x->c < 0 && res >= 0 && _IOC_TYPE(x->cmd_op) != 'u' &&
	    _IOC_TYPE(x->cmd_op) != 0)
		fail("control opcode %#x, of another ioctl type, returned %d",
		     x->cmd_op, res);
	if (unpriv && x->c >= 0 && ccmds[x->c].dev &&
	    !in_set(own_ever, nr_own_ever, x->dev_id)) {
		if (res >= 0)
			fail("%s of device %u, not ours, succeeded (%d)", name,
			     x->dev_id, res);
		else if (!perm_errno(res))
			fail("%s of device %u, not ours, got %d (%s): past the permission check",
			     name, x->dev_id, res, strerror(-res));
	}

	switch (x->c) {
	case C_ADD:
		if (!x->dev)
			break;
		if (res == 0) {
			memcpy(&info, x->buf + x->payload, sizeof(info));
			dev_register(x->dev, &info);
			note("  device %u: %u queues of %u, %u-byte buffers, flags %#llx",
			     info.dev_id, info.nr_hw_queues, info.queue_depth,
			     info.max_io_buf_bytes, (unsigned long long)info.flags);
		} else {
			x->dev->used = 0;
		}
		break;
	case C_DEL:
	case C_DEL_ASYNC:
		if (res)
			break;
		d = dev_by_id(x->dev_id);
		if (d)
			dev_forget(d);
		if (unpriv)
			tell_parent('D', x->dev_id);
		break;
	case C_INFO:
	case C_INFO2:
		d = dev_by_id(x->dev_id);
		if (!res && d) {
			memcpy(&info, x->buf + x->payload, sizeof(info));
			note("  device %u: state %u pid %d", info.dev_id,
			     info.state, info.ublksrv_pid);
		}
		break;
	}
	x->busy = false;
	nr_pending--;
}

/* take every control completion there is, waiting up to @ms for one */
static void ctrl_reap(unsigned int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;

	if (ms && nr_pending &&
	    io_uring_wait_cqe_timeout(&cring, &cqe, &ts))
		return;
	while (!io_uring_peek_cqe(&cring, &cqe)) {
		struct cctx *x = (struct cctx *)(uintptr_t)cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&cring, cqe);
		if (x)
			ctrl_done(x, res);
	}
}

/* a control command on the synchronous ring; -ETIME if it took too long */
static int ctrl_sync(__u32 op, __u32 id, void *buf, __u16 len,
		     __u16 path_len, __u64 data, unsigned int secs)
{
	struct __kernel_timespec ts = { .tv_sec = secs };
	struct ublksrv_ctrl_cmd h = {
		.dev_id = id, .queue_id = (__u16)-1, .len = len,
		.addr = (__u64)(uintptr_t)buf, .dev_path_len = path_len,
		.data = { data },
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sring);
	static __u64 seq;
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	kublk_prep_uring_cmd(sqe, ctrl_fd, false, op, true);
	memcpy(kublk_sqe_cmd(sqe), &h, sizeof(h));
	sqe->user_data = ++seq;
	io_uring_submit(&sring);
	for (;;) {
		if (io_uring_wait_cqe_timeout(&sring, &cqe, &ts))
			return -ETIME;
		/* an earlier command that timed out may complete first */
		if (cqe->user_data == seq)
			break;
		io_uring_cqe_seen(&sring, cqe);
	}
	ret = cqe->res;
	io_uring_cqe_seen(&sring, cqe);
	return ret;
}

/* the path of /dev/ublkcN in @buf, for a command about device @id */
static int path_of(char *buf, __u32 id)
{
	return sprintf(buf, "/dev/ublkc%u", id);
}

/*
 * Control commands other than GET_FEATURES run in io-wq, and several
 * may rightly wait long (START_DEV for fetches, DEL_DEV for the close):
 * io-wq's default of 4 workers a CPU would leave the rest queued behind
 * them, never run, which is no driver's fault.  One worker for each
 * command that can be in flight.
 */
static void ctrl_workers(void)
{
	unsigned int max[2] = { MAX_PENDING + 8, MAX_PENDING + 8 };

	io_uring_register_iowq_max_workers(&cring, max);
}

/* ---- what control commands carry ---- */

static __u64 gen_flags(void)
{
	static const __u64 bits[] = {
		UBLK_F_SUPPORT_ZERO_COPY, UBLK_F_NEED_GET_DATA,
		UBLK_F_USER_RECOVERY, UBLK_F_USER_RECOVERY_REISSUE,
		UBLK_F_USER_RECOVERY_FAIL_IO, UBLK_F_UNPRIVILEGED_DEV,
		UBLK_F_USER_COPY, UBLK_F_ZONED, UBLK_F_UPDATE_SIZE,
		UBLK_F_AUTO_BUF_REG, UBLK_F_QUIESCE, UBLK_F_PER_IO_DAEMON,
		UBLK_F_BUF_REG_OFF_DAEMON, UBLK_F_BATCH_IO, UBLK_F_INTEGRITY,
		UBLK_F_SAFE_STOP_DEV, UBLK_F_NO_AUTO_PART_SCAN,
		UBLK_F_SHMEM_ZC, UBLK_F_IO_DESC_SIZE, UBLK_F_BATCH_PRIO,
	};
	__u64 f = 0;
	int n = below(4);

	while (n--)
		f |= bits[below(ARRAY_SIZE(bits))];
	if (chance(35))
		f |= UBLK_F_USER_RECOVERY;
	if (chance(5))
		f |= 1ULL << below(64);
	if (chance(3))
		f = rnd();
	/* what makes a device we can serve, more often than chance would */
	if ((features & UBLK_F_BATCH_IO) && chance(20))
		f |= UBLK_F_BATCH_IO | (chance(50) ? UBLK_F_BATCH_PRIO : 0);
	if (unpriv && chance(90))
		f |= UBLK_F_UNPRIVILEGED_DEV;
	return f;
}

/* the features of a device a server would ask for */
static __u64 good_flags(void)
{
	static const __u64 bits[] = {
		UBLK_F_NEED_GET_DATA, UBLK_F_USER_COPY, UBLK_F_AUTO_BUF_REG,
		UBLK_F_SUPPORT_ZERO_COPY, UBLK_F_NO_AUTO_PART_SCAN,
		UBLK_F_IO_DESC_SIZE, UBLK_F_UPDATE_SIZE,
	};
	__u64 f = 0;

	if (chance(50))
		f |= bits[below(ARRAY_SIZE(bits))];
	if (chance(40)) {
		f |= UBLK_F_USER_RECOVERY;
		if (chance(30))
			f |= UBLK_F_USER_RECOVERY_REISSUE;
		else if (chance(40))
			f |= UBLK_F_USER_RECOVERY_FAIL_IO;
		if (chance(30))
			f |= UBLK_F_QUIESCE;
	}
	if ((features & UBLK_F_BATCH_IO) && chance(25))
		f |= UBLK_F_BATCH_IO | (chance(50) ? UBLK_F_BATCH_PRIO : 0);
	if ((features & UBLK_F_ZONED) && (f & UBLK_F_USER_COPY) && chance(20))
		f |= UBLK_F_ZONED;
	if (unpriv)
		f = (f & ~(UBLK_F_USER_COPY | UBLK_F_AUTO_BUF_REG |
			   UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_ZONED)) |
			UBLK_F_UNPRIVILEGED_DEV;
	return f;
}

static void gen_add_info(struct ublksrv_ctrl_dev_info *i, bool valid)
{
	static const __u16 qs[] = { 0, 3, 64, 4096, 4097, 65535 };
	static const __u16 depths[] = { 0, 3, 64, 4096, 4097, 65535 };
	static const __u32 good_bufs[] = { 4096, 65536, 131072, 524288, 1 << 20 };
	static const __u32 bad_bufs[] = { 0, 1, 4095, 4097, 32 << 20, 64 << 20, ~0U };

	memset(i, 0, sizeof(*i));
	i->nr_hw_queues = chance(92) ? 1 + below(MAX_Q) :
			  chance(70) ? qs[below(ARRAY_SIZE(qs))] : rnd();
	i->queue_depth = chance(92) ? 1 + below(MAX_TAGS) :
			 chance(70) ? depths[below(ARRAY_SIZE(depths))] : rnd();
	i->max_io_buf_bytes = chance(90) ? good_bufs[below(ARRAY_SIZE(good_bufs))] :
			      chance(70) ? bad_bufs[below(ARRAY_SIZE(bad_bufs))] : rnd();
	i->dev_id = chance(80) ? ~0U : chance(70) ? below(16) : any_u64();
	i->flags = gen_flags();
	if (valid) {
		i->nr_hw_queues = 1 + below(MAX_Q);
		i->queue_depth = 1 + below(MAX_TAGS);
		i->max_io_buf_bytes = good_bufs[below(ARRAY_SIZE(good_bufs))];
		i->dev_id = ~0U;
		i->flags = good_flags();
	}
	if (i->flags & UBLK_F_IO_DESC_SIZE)
		i->io_desc_size = valid || chance(80) ? 24 + 8 * below(30) : any_u64();
	if (valid)
		return;
	if (chance(10))
		i->ublksrv_flags = rnd();
	if (chance(5)) {
		i->state = rnd();
		i->ublksrv_pid = rnd();
		i->pad1 = rnd();
		i->owner_uid = rnd();
		i->reserved1 = rnd();
		i->reserved2 = rnd();
	}
}

/* a parameter set for @d (or none known), mostly valid, maybe broken */
static __u16 gen_params(const struct fdev *d, struct ublk_params *p, bool valid)
{
	static const __u16 lens[] = { 0, 4, 8, 9, 12, 44, 45, 100 };
	__u32 buf = d ? d->info.max_io_buf_bytes : 1 << 20;
	bool zoned = d && (d->info.flags & UBLK_F_ZONED);
	struct ublk_param_basic *b = &p->basic;
	int n;

	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	b->logical_bs_shift = chance(80) ? 9 : 12;
	b->physical_bs_shift = 12;
	b->io_min_shift = b->logical_bs_shift;
	b->io_opt_shift = 12;
	b->max_sectors = (chance(70) ? buf : 4096U << below(5)) >> 9;
	if (b->max_sectors > buf >> 9)
		b->max_sectors = buf >> 9;
	b->dev_sectors = (__u64)(chance(80) ? 64 : 1 + below(1024)) << 11;
	if (chance(30))
		b->attrs = below(16);
	if (chance(20))
		b->chunk_sectors = 8 << below(8);
	if (chance(25)) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = 4096;
		p->discard.max_discard_sectors = 8 << below(10);
		p->discard.max_write_zeroes_sectors = chance(50) ? 8 << below(10) : 0;
		p->discard.max_discard_segments = 1;
	}
	if (chance(15)) {
		p->types |= UBLK_PARAM_TYPE_DMA_ALIGN;
		p->dma.alignment = (1U << below(12)) - 1;
	}
	if (chance(15)) {
		p->types |= UBLK_PARAM_TYPE_SEGMENT;
		p->seg.seg_boundary_mask = chance(50) ? 0xffffffff : (4096U << below(8)) - 1;
		p->seg.max_segment_size = chance(50) ? 65536 : ~0U;
		p->seg.max_segments = 1 + below(256);
	}
	if (zoned || chance(3)) {
		p->types |= UBLK_PARAM_TYPE_ZONED;
		b->chunk_sectors = 2048;
		b->dev_sectors = 16 * 2048;
		p->zoned.max_open_zones = chance(50) ? 0 : 4;
		p->zoned.max_active_zones = p->zoned.max_open_zones;
		p->zoned.max_zone_append_sectors = 256;
	}
	/* break a few fields: boundaries or random bits at random places */
	n = valid || chance(60) ? 0 : 1 + below(3);
	while (n--) {
		size_t off = 8 + below(sizeof(*p) - 8);
		__u64 v = any_u64();

		switch (below(4)) {
		case 0:
			((__u8 *)p)[off] = v;
			break;
		case 1:
			off &= ~1UL;
			memcpy((char *)p + off, &v, 2);
			break;
		case 2:
			off = off & ~3UL;
			if (off + 4 <= sizeof(*p))
				memcpy((char *)p + off, &v, 4);
			break;
		default:
			off = off & ~7UL;
			if (off + 8 <= sizeof(*p))
				memcpy((char *)p + off, &v, 8);
			break;
		}
	}
	if (valid)
		return sizeof(*p);
	if (chance(5))
		p->types |= 1U << below(32);
	if (chance(10))
		p->len = chance(70) ? lens[below(ARRAY_SIZE(lens))] : rnd();
	return p->len > sizeof(*p) ? sizeof(*p) : p->len;
}

/* a dev_id for a command: mostly a device of ours */
static __u32 gen_dev_id(const struct fdev *d)
{
	switch (below(20)) {
	case 0:
		return ~0U;
	case 1:
		return below(16);
	case 2:
		return any_u64();
	case 3:
		return 1 << 20;
	case 4:
		if (unpriv && other_id != ~0U)
			return other_id;
		if (!unpriv && nr_uchild_ids)
			return uchild_ids[below(nr_uchild_ids)];
		return below(8);
	default:
		return d ? d->id : below(8);
	}
}

/*
 * Build control command @c about device @d (may be NULL) in @x: its
 * buffer holds the char device path when one goes with it, then the
 * command's struct.  @valid: the fields a server would send.
 */
static void build_ctrl(struct cctx *x, int c, struct fdev *d, bool valid,
		       struct ublksrv_ctrl_cmd *h)
{
	bool want_path = c >= 0 && ccmds[c].dev &&
		(unpriv || c == C_INFO2 ||
		 (!d && in_set(uchild_ids, nr_uchild_ids, x->dev_id)) ||
		 (d && (d->info.flags & UBLK_F_UNPRIVILEGED_DEV)));
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	__u16 plen = 0, len = 0;
	char *pl;

	memset(h, 0, sizeof(*h));
	h->dev_id = x->dev_id;
	h->queue_id = (__u16)-1;

	/* the path */
	if (want_path || chance(5)) {
		switch (valid ? 0 : below(12)) {
		case 8:
			plen = sprintf(x->buf, "/dev/null");
			break;
		case 9:
			plen = path_of(x->buf, x->dev_id + 1);
			break;
		case 10:
			plen = sprintf(x->buf, "/nonexistent/ublkc%u", x->dev_id);
			break;
		case 11:
			plen = 100 + below(200);
			memset(x->buf, 'a', plen);
			break;
		default:
			plen = path_of(x->buf, x->dev_id);
			break;
		}
	}
	/* the driver takes the command's struct right after the path */
	x->payload = plen;
	if (!valid && chance(10))
		x->payload = plen + 1 + below(7);
	memset(x->buf + plen, 0, x->payload - plen);
	pl = x->buf + x->payload;

	switch (c) {
	case C_ADD:
		gen_add_info(&info, valid);
		h->dev_id = info.dev_id;
		memcpy(pl, &info, sizeof(info));
		len = sizeof(info);
		break;
	case C_SET_PARAMS:
		len = gen_params(d, &p, valid);
		memcpy(pl, &p, sizeof(p));
		if (!len)
			len = 8;
		break;
	case C_GET_PARAMS:
		memset(&p, 0, sizeof(p));
		p.len = chance(80) ? sizeof(p) : any_u64();
		memcpy(pl, &p, sizeof(p));
		len = sizeof(p);
		break;
	case C_INFO:
	case C_INFO2:
		len = sizeof(info);
		break;
	case C_FEATURES:
		len = 8;
		break;
	case C_AFFINITY:
		len = chance(80) ? 64 : 8 * below(65);
		h->data[0] = chance(80) ? below(d ? d->info.nr_hw_queues : 2) :
			     chance(50) ? (d ? d->info.nr_hw_queues : 2) : any_u64();
		break;
	case C_START:
	case C_END_REC:
		h->data[0] = chance(85) ? (__u64)getpid() :
			     chance(50) ? below(3) * 4194304ULL : any_u64();
		break;
	case C_UPDATE_SIZE:
		h->data[0] = chance(70) ? (__u64)(1 + below(128)) << 11 :
			     chance(50) ? below(4096) : any_u64();
		break;
	case C_QUIESCE:
		/* 0 waits until a signal: never, the end would wait for it */
		h->data[0] = 1 + below(chance(80) ? 200 : 2000);
		break;
	case C_REG_BUF:
		len = 16;
		break;
	default:
		if (chance(10))
			h->data[0] = any_u64();
		break;
	}
	if (!len && chance(10))
		len = below(128);

	/* the path, if any, then the command's struct */
	h->dev_path_len = plen;
	if (plen) {
		h->addr = (__u64)(uintptr_t)x->buf;
		h->len = x->payload + len;
	} else {
		h->addr = len || chance(30) ? (__u64)(uintptr_t)pl : 0;
		h->len = len;
	}
	if (!valid) {
		switch (below(16)) {
		case 0:
			h->len = h->len ? h->len - 1 : 1;
			break;
		case 1:
			h->len = any_u64();
			break;
		case 2:
			h->addr = 0;
			break;
		case 3:
			h->addr = 4096;
			break;
		case 4:
			h->addr = 0xffff888000000000ULL;
			break;
		case 5:
			/* the kernel reads fine but cannot write back */
			mprotect(ro_page, page_size, PROT_READ | PROT_WRITE);
			if (h->addr)
				memcpy(ro_page, (void *)(uintptr_t)h->addr,
				       h->len < page_size ? h->len : page_size);
			mprotect(ro_page, page_size, PROT_READ);
			h->addr = (__u64)(uintptr_t)ro_page;
			break;
		case 6:
			/* ends in the guard page */
			h->addr = (__u64)(uintptr_t)guard_page - below(h->len + 1);
			break;
		case 7:
			h->queue_id = any_u64();
			break;
		case 8:
			h->dev_path_len = chance(50) ? plen + 1 + below(8) : any_u64();
			break;
		case 9:
			h->pad = rnd();
			h->reserved = rnd();
			break;
		case 10:
			h->data[0] = any_u64();
			if (c == C_QUIESCE)
				h->data[0] = 1 + below(100);
			break;
		}
	}
}

/* an opcode for command @c: mostly as encoded, or broken */
static __u32 gen_ctrl_op(int c)
{
	__u32 op = ccmds[c].op;

	switch (below(20)) {
	case 0:
		return _IOC_NR(op);			/* legacy */
	case 1:
		return _IOC(below(4), 'u', _IOC_NR(op), below(1 << 14));
	case 2:
		return _IOC(_IOC_DIR(op), 'v', _IOC_NR(op), _IOC_SIZE(op));
	case 3:
		return _IOWR('u', below(0x40), struct ublksrv_ctrl_cmd);
	case 4:
		return chance(50) ? rnd() : below(0x40);
	default:
		return op;
	}
}

static void run_stuck_hook(void);

/*
 * Every slot for control commands has stayed taken for five operation
 * timeouts: from here on the run could only skip them.  Commands that
 * queue up so (a stop holding ub->mutex, all else behind it) are what
 * the end's check is for, but there they would have waited for the rest
 * of the run and been woken by the close of everything: say so while
 * they wait (the hook sees them), then end the run.
 */
static __u64 full_since;	/* ms: the slots all taken since; 0: not */

static void ctrl_full(void)
{
	__u64 now = now_ms();
	struct cctx *o = NULL;
	int i;

	if (!full_since) {
		full_since = now;
		return;
	}
	if (atomic_load(&stop_flag) || now - full_since < op_timeout * 5000ULL)
		return;
	for (i = 0; i < MAX_PENDING; i++)
		if (cctx[i].busy && (!o || cctx[i].t0 < o->t0))
			o = &cctx[i];
	run_stuck_hook();
	fail("all control command slots taken for %llu s, the oldest %s (op %#x, dev %d) of op %lu",
	     (unsigned long long)(now - full_since) / 1000,
	     o && o->c >= 0 ? ccmds[o->c].name : "?", o ? o->cmd_op : 0,
	     o ? (int)o->dev_id : -1, o ? o->opno : 0);
	atomic_store(&stop_flag, 1);
}

/*
 * Send control command @c about @d; @valid: with a server's fields.
 * Waits up to @ms for it (it may go on in the background).
 */
static struct cctx *send_ctrl(int c, struct fdev *d, bool valid, unsigned int ms)
{
	struct ublksrv_ctrl_cmd h;
	struct cctx *x;
	__u64 end;
	int eff;

	if (nr_pending >= MAX_PENDING - 2) {
		ctrl_reap(100);
		if (nr_pending >= MAX_PENDING - 2) {
			note("skip: %d control commands in flight", nr_pending);
			ctrl_full();
			return NULL;
		}
	}
	full_since = 0;
	x = cctx_get();
	x->cmd_op = valid ? ccmds[c].op : gen_ctrl_op(c);
	eff = ctrl_effective(x->cmd_op);
	if (eff >= 0 && (excluded & (1U << eff))) {
		note("skip: %s (-x)", ccmds[eff].name);
		x->busy = false;
		nr_pending--;
		return NULL;
	}
	x->c = eff;
	x->dev_id = valid ? (d ? d->id : 0) : gen_dev_id(d);
	build_ctrl(x, c, d, valid, &h);
	x->dev_id = h.dev_id;
	/* every ADD_DEV that may create a device holds an entry for it */
	if (eff == C_ADD) {
		/* where the driver writes the new device's description */
		if (h.addr >= (__u64)(uintptr_t)x->buf &&
		    h.addr + sizeof(struct ublksrv_ctrl_dev_info) <=
		    (__u64)(uintptr_t)x->buf + CBUF)
			x->payload = h.addr - (__u64)(uintptr_t)x->buf;
		x->dev = free_dev();
		if (!x->dev) {
			note("skip: ADD_DEV, %d devices already", MAX_DEVS);
			x->busy = false;
			nr_pending--;
			return NULL;
		}
		x->dev->used = 1;
	}
	if (eff == C_QUIESCE && (!h.data[0] || h.data[0] > 2000))
		h.data[0] = 1 + below(2000);
	note("%s%s op %#x dev %d q %d len %u addr %#llx data %#llx path %u",
	     valid ? "" : "fuzz ", eff >= 0 ? ccmds[eff].name : "(unknown)",
	     x->cmd_op, (int)h.dev_id, (__s16)h.queue_id, h.len,
	     (unsigned long long)h.addr, (unsigned long long)h.data[0],
	     h.dev_path_len);
	ctrl_submit(x, &h);
	end = now_ms() + ms;
	for (;;) {
		__u64 now = now_ms();

		ctrl_reap(x->busy && now < end ? end - now : 0);
		if (!x->busy || now_ms() >= end)
			break;
	}
	return x;
}

/* ---- I/O commands ---- */

enum {
	K_FETCH, K_COMMIT, K_NEED, K_REG, K_UNREG, K_BPREP, K_BCOMMIT,
	K_BFETCH, K_BPRIO, K_OTHER, NR_K,
};

static const char *const knames[NR_K] = {
	"FETCH_REQ", "COMMIT_AND_FETCH_REQ", "NEED_GET_DATA",
	"REGISTER_IO_BUF", "UNREGISTER_IO_BUF", "PREP_IO_CMDS",
	"COMMIT_IO_CMDS", "FETCH_IO_CMDS", "UPDATE_CMD_PRIO", "other",
};

static const __u32 kops[NR_K] = {
	UBLK_U_IO_FETCH_REQ, UBLK_U_IO_COMMIT_AND_FETCH_REQ,
	UBLK_U_IO_NEED_GET_DATA, UBLK_U_IO_REGISTER_IO_BUF,
	UBLK_U_IO_UNREGISTER_IO_BUF, UBLK_U_IO_PREP_IO_CMDS,
	UBLK_U_IO_COMMIT_IO_CMDS, UBLK_U_IO_FETCH_IO_CMDS,
	UBLK_U_IO_UPDATE_CMD_PRIO, 0,
};

/* the kind the driver takes @op for (the number counts, as for control) */
static int io_effective(__u32 op)
{
	int k;

	for (k = 0; k < K_OTHER; k++)
		if (_IOC_TYPE(op) == 'u' ? _IOC_NR(op) == _IOC_NR(kops[k]) :
		    op == _IOC_NR(kops[k]))
			return k;
	return K_OTHER;
}

static __u64 io_ud(int kind, int q, int tag)
{
	return ((__u64)kind << 56) | ((__u64)(++io_seq) << 32) |
		((__u64)(q & 0xffff) << 16) | (tag & 0xffff);
}

static struct io_uring_sqe *io_sqe(struct fdev *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
	}
	return sqe;
}

/* arm slot (q, tag) with command @ud: what it was comes back on a refusal */
static void arm(struct fdev *d, int q, int tag, __u64 ud)
{
	struct slot *s;

	if (q < 0 || q >= d->nq || tag < 0 || tag >= d->depth)
		return;
	s = &d->sl[q][tag];
	s->prev = s->st;
	s->st = S_ARMED;
	s->armed_ud = ud;
}

static void prep_io(struct fdev *d, struct io_uring_sqe *sqe, __u32 op,
		    int q, int tag, __s32 res, __u64 addr, __u64 ud)
{
	bool sqe128 = d->ring.flags & IORING_SETUP_SQE128;
	struct ublksrv_io_cmd *cmd;

	kublk_prep_uring_cmd(sqe, d->cdev, false, op, sqe128);
	cmd = kublk_sqe_cmd(sqe);
	cmd->q_id = q;
	cmd->tag = tag;
	cmd->result = res;
	cmd->addr = addr;
	sqe->user_data = ud;
	if ((d->info.flags & UBLK_F_AUTO_BUF_REG) &&
	    (_IOC_NR(op) == UBLK_IO_FETCH_REQ ||
	     _IOC_NR(op) == UBLK_IO_COMMIT_AND_FETCH_REQ)) {
		struct ublk_auto_buf_reg reg = {
			.index = (q * d->depth + tag) % NR_SPARSE,
			.flags = UBLK_AUTO_BUF_REG_FALLBACK,
		};

		sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
	}
}

/* the result a server gives a request it served */
static int good_result(const struct ublksrv_io_desc *iod)
{
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
	case UBLK_IO_OP_ZONE_APPEND:
		return iod->nr_sectors << 9;
	default:
		return 0;
	}
}

/* a valid FETCH_REQ of every slot that has no command */
static int fetch_all(struct fdev *d)
{
	int q, t, n = 0;

	if (is_batch(d))
		return 0;
	for (q = 0; q < d->nq; q++) {
		for (t = 0; t < d->depth; t++) {
			struct io_uring_sqe *sqe;
			__u64 ud;

			if (d->sl[q][t].st != S_NONE)
				continue;
			sqe = io_sqe(d);
			if (!sqe)
				return n;
			ud = io_ud(K_FETCH, q, t);
			prep_io(d, sqe, UBLK_U_IO_FETCH_REQ, q, t, 0,
				takes_refs(d) ? 0 : slot_buf(d, q, t), ud);
			arm(d, q, t, ud);
			n++;
		}
	}
	io_uring_submit(&d->ring);
	return n;
}

static int batch_elem_bytes(__u16 flags)
{
	return sizeof(struct ublk_elem_header) +
		(flags & UBLK_BATCH_F_HAS_BUF_ADDR ? 8 : 0) +
		(flags & UBLK_BATCH_F_HAS_ZONE_LBA ? 8 : 0);
}

/*
 * A batch command for queue @q: PREP or COMMIT of the slots in state
 * @want (all of them for PREP: S_NONE), FETCH with the provided buffers.
 */
static struct io_uring_sqe *prep_batch(struct fdev *d, int kind, int q, bool valid)
{
	struct io_uring_sqe *sqe = io_sqe(d);
	struct ublk_batch_io *b;
	__u16 flags = takes_refs(d) ? 0 : UBLK_BATCH_F_HAS_BUF_ADDR;
	int eb = batch_elem_bytes(flags), t, n = 0;
	char *e = (char *)d->elems;
	__u64 ud = io_ud(kind, q, 0);

	if (!sqe)
		return NULL;
	kublk_prep_uring_cmd(sqe, d->cdev, false, kops[kind],
			     d->ring.flags & IORING_SETUP_SQE128);
	b = kublk_sqe_cmd(sqe);
	b->q_id = q;
	if (kind == K_BPREP || kind == K_BCOMMIT) {
		int want = kind == K_BPREP ? S_NONE : S_HELD;

		for (t = 0; t < d->depth && q < d->nq; t++) {
			struct ublk_elem_header *h = (void *)(e + n * eb);

			if (valid && d->sl[q][t].st != want)
				continue;
			h->tag = t;
			h->buf_index = (q * d->depth + t) % NR_SPARSE;
			h->result = kind == K_BCOMMIT ? good_result(&d->sl[q][t].iod) : 0;
			if (flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
				__u64 a = slot_buf(d, q, t);

				memcpy(h + 1, &a, 8);
			}
			if (valid)
				arm(d, q, t, ud);
			n++;
		}
		if (!n && valid) {
			/* nothing to send: give the SQE a harmless NOP */
			io_uring_prep_nop(sqe);
			sqe->user_data = io_ud(K_OTHER, 0, 0);
			return sqe;
		}
		b->flags = flags;
		b->nr_elem = n;
		b->elem_bytes = eb;
		sqe->addr = (__u64)(uintptr_t)e;
		sqe->len = n * eb;
	} else if (kind == K_BFETCH) {
		b->elem_bytes = 2;
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BATCH_BGID;
		sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
		if ((features & UBLK_F_BATCH_PRIO) && chance(50)) {
			b->flags = UBLK_BATCH_F_PRIO;
			b->reserved = below(8);
		}
	} else {
		/* UPDATE_CMD_PRIO */
		b->flags = UBLK_BATCH_F_PRIO;
		b->reserved = below(9);
		b->reserved2 = chance(50) ? 0 : rnd();
	}
	if (!valid) {
		switch (below(8)) {
		case 0:
			b->flags = rnd();
			break;
		case 1:
			b->nr_elem = any_u64();
			break;
		case 2:
			b->elem_bytes = any_u64();
			break;
		case 3:
			b->q_id = any_u64();
			break;
		case 4:
			b->reserved2 = rnd();
			break;
		case 5:
			sqe->addr = chance(50) ? 4096 : any_u64();
			break;
		case 6:
			for (t = 0; t < 8; t++)
				d->elems[t] = rnd();
			break;
		}
	}
	sqe->user_data = ud;
	return sqe;
}

static void read_iod(struct fdev *d, int q, int tag)
{
	struct slot *s = &d->sl[q][tag];

	if (d->iods[q])
		memcpy(&s->iod, (char *)d->iods[q] + (size_t)tag * d->info.io_desc_size,
		       sizeof(s->iod));
	else
		memset(&s->iod, 0, sizeof(s->iod));
}

static void io_cqe(struct fdev *d, const struct io_uring_cqe *cqe)
{
	__u64 ud = cqe->user_data;
	int kind = ud >> 56, q = (ud >> 16) & 0xffff, tag = ud & 0xffff;
	int res = cqe->res, i, t;
	bool tracked = q < d->nq && tag < d->depth;
	bool beyond = q >= d->info.nr_hw_queues || tag >= d->info.queue_depth;
	struct slot *s;

	if (kind >= NR_K)
		return;
	if (res >= 0 && beyond && kind <= K_REG)
		fail("%s of q %d tag %d on device %u (%u queues of %u) got %d",
		     knames[kind], q, tag, d->id, d->info.nr_hw_queues,
		     d->info.queue_depth, res);
	if (res >= 0 && !is_batch(d) && kind >= K_BPREP && kind <= K_BPRIO)
		fail("%s on device %u without BATCH_IO got %d", knames[kind],
		     d->id, res);
	if (verbose)
		note("  <- %s q %d tag %d dev %u: %d", knames[kind], q, tag, d->id, res);

	if (kind == K_BFETCH && res > 0 && (cqe->flags & IORING_CQE_F_BUFFER) &&
	    d->bufring && q < d->nq) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		__u16 *tags = (__u16 *)(d->br.bufs + (size_t)bid * d->br.size);

		for (i = 0; i < res / 2 && i < (int)(d->br.size / 2); i++) {
			t = tags[i];
			if (t < d->depth) {
				d->sl[q][t].st = S_HELD;
				read_iod(d, q, t);
			}
		}
		kublk_buf_ring_recycle(&d->br, bid);
		return;
	}
	if (res < 0 && res != UBLK_IO_RES_ABORT) {
		/* refused: every slot it armed is as it was */
		for (q = 0; q < d->nq; q++)
			for (t = 0; t < d->depth; t++)
				if (d->sl[q][t].st == S_ARMED &&
				    d->sl[q][t].armed_ud == ud)
					d->sl[q][t].st = d->sl[q][t].prev;
		return;
	}
	if (!tracked)
		return;
	s = &d->sl[q][tag];
	switch (kind) {
	case K_FETCH:
	case K_COMMIT:
		if (res == UBLK_IO_RES_OK) {
			s->st = S_HELD;
			read_iod(d, q, tag);
		} else if (res == UBLK_IO_RES_NEED_GET_DATA) {
			s->st = S_NEED;
			read_iod(d, q, tag);
		} else if (res == UBLK_IO_RES_ABORT) {
			s->st = S_DEAD;
		}
		break;
	case K_NEED:
		if (res == UBLK_IO_RES_OK && s->st == S_NEED)
			s->st = S_HELD;
		break;
	}
}

static void reap_ring(struct fdev *d)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	if (!d->ring_up)
		return;
	io_uring_submit_and_get_events(&d->ring);
	while (d->ring_up && !io_uring_peek_cqe(&d->ring, &cqe)) {
		struct io_uring_cqe c = *cqe;

		io_uring_cqe_seen(&d->ring, cqe);
		io_cqe(d, &c);
		if (++n > 4 * IO_RING_SIZE)
			break;
	}
}

/* commit every request held, give NEED_GET_DATA its buffer */
static int serve(struct fdev *d)
{
	int q, t, n = 0;

	if (!d->ring_up || d->cdev < 0)
		return 0;
	if (is_batch(d)) {
		for (q = 0; q < d->nq; q++)
			prep_batch(d, K_BCOMMIT, q, true);
		io_uring_submit(&d->ring);
		return d->nq;
	}
	for (q = 0; q < d->nq; q++) {
		for (t = 0; t < d->depth; t++) {
			struct slot *s = &d->sl[q][t];
			struct io_uring_sqe *sqe;
			__u64 ud, addr;

			if (s->st != S_HELD && s->st != S_NEED)
				continue;
			sqe = io_sqe(d);
			if (!sqe)
				break;
			addr = takes_refs(d) ? 0 : slot_buf(d, q, t);
			if (s->st == S_NEED) {
				ud = io_ud(K_NEED, q, t);
				prep_io(d, sqe, UBLK_U_IO_NEED_GET_DATA, q, t, 0,
					slot_buf(d, q, t), ud);
			} else {
				if (ublksrv_get_op(&s->iod) == UBLK_IO_OP_ZONE_APPEND)
					addr = s->iod.start_sector;
				ud = io_ud(K_COMMIT, q, t);
				prep_io(d, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, q, t,
					good_result(&s->iod), addr, ud);
				arm(d, q, t, ud);
			}
			n++;
		}
	}
	io_uring_submit(&d->ring);
	return n;
}

/* ---- block I/O threads ---- */

struct bio_job {
	pthread_t thread;
	atomic_int state;	/* 0 free, 1 running, 2 done */
	__u32 id;
	__u64 seed;
	int nops;
	bool joined;
};

static struct bio_job bios[MAX_BIO];
static atomic_int bio_leaks;

static void *bio_fn(void *arg)
{
	struct bio_job *j = arg;
	__u64 s = j->seed;
	char path[64];
	void *buf;
	int fd, i, flags;

	s = s * 6364136223846793005ULL + 1;
	flags = (s >> 33) % 3 == 0 ? O_RDONLY : O_RDWR;
	if ((s >> 40) % 10 < 7)
		flags |= O_DIRECT;
	snprintf(path, sizeof(path), "/dev/ublkb%u", j->id);
	fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0 && unpriv && !in_set(own_ever, nr_own_ever, j->id))
		atomic_fetch_add(&bio_leaks, 1);
	if (fd >= 0 && !posix_memalign(&buf, 4096, BIO_MAX)) {
		for (i = 0; i < j->nops; i++) {
			size_t len;
			off_t off;

			s = s * 6364136223846793005ULL + 1;
			len = 512 << ((s >> 33) % 8);
			off = (off_t)((s >> 20) % (BIO_SPAN / 512)) * 512;
			if ((s >> 50) & 1 && (flags & O_RDWR))
				len = pwrite(fd, buf, len, off);
			else if ((s >> 51) % 16 == 0)
				len = fsync(fd);
			else
				len = pread(fd, buf, len, off);
			(void)len;
		}
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	atomic_store(&j->state, 2);
	return NULL;
}

static void bio_join_done(void)
{
	int i;

	for (i = 0; i < MAX_BIO; i++) {
		if (atomic_load(&bios[i].state) == 2) {
			pthread_join(bios[i].thread, NULL);
			atomic_store(&bios[i].state, 0);
		}
	}
}

static bool bio_start(__u32 id, int nops)
{
	int i;

	bio_join_done();
	for (i = 0; i < MAX_BIO; i++) {
		struct bio_job *j = &bios[i];

		if (atomic_load(&j->state))
			continue;
		j->id = id;
		j->nops = nops;
		j->seed = rnd();
		atomic_store(&j->state, 1);
		if (pthread_create(&j->thread, NULL, bio_fn, j)) {
			atomic_store(&j->state, 0);
			return false;
		}
		return true;
	}
	return false;
}

/* ---- forked servers ---- */

static struct {
	pid_t pid;
	__u32 id;
} servers[MAX_SERVERS];

/*
 * The child's side: serve device @d (a copy of the parent's entry) as a
 * null target until the driver aborts every slot; @mode 0 sends
 * START_DEV, 1 recovers (START_USER_RECOVERY first, END_USER_RECOVERY
 * once fetched), 2 neither.  Tells the parent the start's result on fd 3.
 */
static void server_child(const struct fdev *d, int mode)
{
	unsigned int nq = d->info.nr_hw_queues, depth = d->info.queue_depth;
	unsigned int desc = d->info.io_desc_size, q, t, live = 0;
	size_t bsz = d->buf_sz, ilen = iods_size(depth, desc);
	bool refs = takes_refs(d), autoreg = d->info.flags & UBLK_F_AUTO_BUF_REG;
	struct io_uring ring, ctl;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	char path[64], *bufs;
	char *iods[64];
	int cdev, ret = 0;
	__u32 id = d->id;

	if (io_uring_queue_init(8, &ctl, IORING_SETUP_SQE128))
		_exit(1);
	ctrl_fd = open(CTRL_DEV, O_RDWR);
	sring = ctl;
	if (mode == 1)
		ctrl_sync(UBLK_U_CMD_START_USER_RECOVERY, id, NULL, 0, 0, 0, 30);
	snprintf(path, sizeof(path), "/dev/ublkc%u", id);
	cdev = open(path, O_RDWR);
	if (cdev < 0 || nq > 64 || nq * depth > SERVER_MAX_SLOTS) {
		ret = cdev < 0 ? -errno : -E2BIG;
		goto out;
	}
	bufs = mmap(NULL, (size_t)nq * depth * bsz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bufs == MAP_FAILED || io_uring_queue_init(2 * nq * depth, &ring, 0)) {
		ret = -ENOMEM;
		goto out;
	}
	if (d->info.flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG))
		io_uring_register_buffers_sparse(&ring, nq * depth);
	for (q = 0; q < nq; q++) {
		iods[q] = mmap(NULL, ilen, PROT_READ, MAP_SHARED, cdev,
			       UBLKSRV_CMD_BUF_OFFSET +
			       (off_t)q * iods_size(UBLK_MAX_QUEUE_DEPTH, desc));
		if (iods[q] == MAP_FAILED) {
			ret = -errno;
			goto out;
		}
		for (t = 0; t < depth; t++) {
			struct ublksrv_io_cmd *cmd;

			sqe = io_uring_get_sqe(&ring);
			kublk_prep_uring_cmd(sqe, cdev, false, UBLK_U_IO_FETCH_REQ, false);
			cmd = kublk_sqe_cmd(sqe);
			cmd->q_id = q;
			cmd->tag = t;
			cmd->addr = refs ? 0 :
				(__u64)(uintptr_t)(bufs + ((size_t)q * depth + t) * bsz);
			if (autoreg) {
				struct ublk_auto_buf_reg reg = {
					.index = q * depth + t,
					.flags = UBLK_AUTO_BUF_REG_FALLBACK,
				};

				sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
			}
			sqe->user_data = (q << 16) | t;
			live++;
		}
	}
	io_uring_submit(&ring);
	if (mode == 0)
		ret = ctrl_sync(UBLK_U_CMD_START_DEV, id, NULL, 0, 0, getpid(), 3600);
	else if (mode == 1)
		ret = ctrl_sync(UBLK_U_CMD_END_USER_RECOVERY, id, NULL, 0, 0, getpid(), 3600);
	if (write(3, &ret, sizeof(ret)) != sizeof(ret))
		_exit(1);
	while (live && !io_uring_wait_cqe(&ring, &cqe)) {
		__u64 ud = cqe->user_data;
		const struct ublksrv_io_desc *iod;
		struct ublksrv_io_cmd *cmd;
		int res = cqe->res;

		io_uring_cqe_seen(&ring, cqe);
		if (ud & (1ULL << 32)) {
			/* NEED_GET_DATA answered: commit the write */
			ud &= ~(1ULL << 32);
			if (res)
				continue;
			res = UBLK_IO_RES_OK;
		}
		q = ud >> 16;
		t = ud & 0xffff;
		if (res != UBLK_IO_RES_OK && res != UBLK_IO_RES_NEED_GET_DATA) {
			live--;
			continue;
		}
		iod = (void *)(iods[q] + (size_t)t * desc);
		sqe = io_uring_get_sqe(&ring);
		cmd = kublk_sqe_cmd(sqe);
		if (res == UBLK_IO_RES_NEED_GET_DATA) {
			kublk_prep_uring_cmd(sqe, cdev, false, UBLK_U_IO_NEED_GET_DATA, false);
			cmd->addr = (__u64)(uintptr_t)(bufs + ((size_t)q * depth + t) * bsz);
			ud |= 1ULL << 32;
		} else {
			kublk_prep_uring_cmd(sqe, cdev, false,
					     UBLK_U_IO_COMMIT_AND_FETCH_REQ, false);
			cmd->result = good_result(iod);
			cmd->addr = refs ? 0 :
				(__u64)(uintptr_t)(bufs + ((size_t)q * depth + t) * bsz);
			if (ublksrv_get_op(iod) == UBLK_IO_OP_ZONE_APPEND)
				cmd->addr = iod->start_sector;
			if (autoreg) {
				struct ublk_auto_buf_reg reg = {
					.index = q * depth + t,
					.flags = UBLK_AUTO_BUF_REG_FALLBACK,
				};

				sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
			}
		}
		cmd->q_id = q;
		cmd->tag = t;
		sqe->user_data = ud;
		io_uring_submit(&ring);
	}
	_exit(0);
out:
	if (write(3, &ret, sizeof(ret)) != sizeof(ret))
		_exit(1);
	_exit(0);
}

static void fork_server(struct fdev *d, int mode)
{
	int i, p[2], ret = 0;
	struct pollfd pfd;
	pid_t pid;

	for (i = 0; i < MAX_SERVERS && servers[i].pid; i++)
		;
	if (i == MAX_SERVERS || d->server) {
		note("skip: a server for device %u (%d running)", d->id, MAX_SERVERS);
		return;
	}
	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		dup2(p[1], 3);
		close_range(4, ~0U, 0);
		server_child(d, mode);
	}
	close(p[1]);
	servers[i].pid = pid;
	servers[i].id = d->id;
	d->server = pid;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) == 1 && read(p[0], &ret, sizeof(ret)) == sizeof(ret))
		note("  server %d of device %u (mode %d): %d", pid, d->id, mode, ret);
	else
		note("  server %d of device %u (mode %d): no word within 2 s", pid,
		     d->id, mode);
	close(p[0]);
}

static void server_gone(int i)
{
	struct fdev *d = dev_by_id(servers[i].id);

	if (d && d->server == servers[i].pid)
		d->server = 0;
	servers[i].pid = 0;
}

/*
 * SIGKILL a forked server and reap it, serving our own devices all the
 * while.  A child can take a while to exit: an io-wq worker of its ring
 * may sleep on ub->mutex (START_USER_RECOVERY, say) held by a STOP_DEV or
 * DEL_DEV whose del_gendisk() waits for requests that we, the server of
 * that device, hold.  Waiting for the child without committing them
 * would close that circle for good.
 */
static bool holds_any(const struct fdev *d)
{
	int q, t;

	for (q = 0; q < d->nq; q++)
		for (t = 0; t < d->depth; t++)
			if (d->sl[q][t].st == S_HELD || d->sl[q][t].st == S_NEED)
				return true;
	return false;
}

/*
 * A device whose ring we closed while its char device stays open (or
 * mapped): requests it delivered to us before can never be committed,
 * and only the release of /dev/ublkcN ends them (stage 2 of a server's
 * exit).  Until then a del_gendisk() of that device waits, holding
 * ub->mutex, and a killed child's io-wq worker waiting for that mutex
 * keeps the child from exiting.
 */
static bool stranded(const struct fdev *d)
{
	int q;

	if (d->ring_up)
		return false;
	for (q = 0; q < MAX_Q; q++)
		if (d->iods[q])
			return true;
	return d->cdev >= 0;
}

static void kill_server(int i)
{
	__u64 give_up = now_ms() + 2000;
	bool let_go;
	int status, j;
	pid_t r;

	kill(servers[i].pid, SIGKILL);
	for (;;) {
		r = waitpid(servers[i].pid, &status, WNOHANG);
		if (r == servers[i].pid || (r < 0 && errno != EINTR))
			break;
		/*
		 * The child is slow to go: once, end what we cannot serve,
		 * as a server that gives up a device does.  One reading of
		 * the clock for the whole sweep, so no device is skipped.
		 */
		let_go = give_up && now_ms() >= give_up;
		for (j = 0; j < MAX_DEVS; j++) {
			if (devs[j].used != 2)
				continue;
			reap_ring(&devs[j]);
			if (holds_any(&devs[j]))
				serve(&devs[j]);
			if (let_go && stranded(&devs[j])) {
				note("  server %d slow to exit: let go of device %u",
				     servers[i].pid, devs[j].id);
				dev_teardown(&devs[j]);
			}
		}
		if (let_go)
			give_up = 0;
		ctrl_reap(0);
		usleep(5000);
	}
	note("  server %d of device %u killed", servers[i].pid, servers[i].id);
	server_gone(i);
}

/* ---- the unprivileged phase (parent's side) ---- */

static void become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		die("drop privileges");
}

/* another user's unprivileged device, its char device that user's only */
static __u32 make_other_dev(void)
{
	struct ublksrv_ctrl_dev_info info = {
		.nr_hw_queues = 1, .queue_depth = 2, .max_io_buf_bytes = 65536,
		.dev_id = ~0U, .flags = UBLK_F_UNPRIVILEGED_DEV,
	};
	char path[64];
	int p[2], status;
	__u32 id = ~0U;
	pid_t pid;

	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (!pid) {
		struct io_uring r;

		dup2(p[1], 3);
		close_range(4, ~0U, 0);
		become(OTHER_UID);
		ctrl_fd = open(CTRL_DEV, O_RDWR);
		if (ctrl_fd < 0 || io_uring_queue_init(4, &r, IORING_SETUP_SQE128))
			_exit(1);
		sring = r;
		if (!ctrl_sync(UBLK_U_CMD_ADD_DEV, ~0U, &info, sizeof(info), 0, 0, 30) &&
		    write(3, &info.dev_id, 4) != 4)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0) {
		if (read(p[0], &id, 4) != 4)
			id = ~0U;
		waitpid(pid, &status, 0);
	}
	close(p[0]);
	if (id == ~0U) {
		note("no device of user %d", OTHER_UID);
		return id;
	}
	snprintf(path, sizeof(path), "/dev/ublkc%u", id);
	if (chown(path, OTHER_UID, OTHER_UID) || chmod(path, 0600))
		note("chown %s: %s", path, strerror(errno));
	remember(known, &nr_known, id);
	remember(uchild_ids, &nr_uchild_ids, id);
	note("device %u belongs to user %d", id, OTHER_UID);
	return id;
}

static void run(void);
static void finish(void);

static void unpriv_start(unsigned long ops)
{
	struct stat st;
	int p[2];
	pid_t pid;

	if (stat(CTRL_DEV, &st))
		return;
	ctrl_mode = st.st_mode & 07777;
	if (chmod(CTRL_DEV, 0666)) {
		note("chmod %s: %s", CTRL_DEV, strerror(errno));
		return;
	}
	other_id = make_other_dev();
	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		/* a fresh start: nothing of the parent's is ours */
		dup2(p[1], 3);
		close_range(4, ~0U, 0);
		report_fd = 3;
		memset(devs, 0, sizeof(devs));
		memset(servers, 0, sizeof(servers));
		memset(bios, 0, sizeof(bios));
		memset(cctx, 0, sizeof(cctx));
		nr_pending = 0;
		nr_known = 0;
		nr_uchild_ids = 0;
		unpriv = true;
		become(NOBODY);
		ctrl_fd = open(CTRL_DEV, O_RDWR | O_CLOEXEC);
		if (ctrl_fd < 0 ||
		    io_uring_queue_init(2 * MAX_PENDING, &cring, IORING_SETUP_SQE128) ||
		    io_uring_queue_init(8, &sring, IORING_SETUP_SQE128))
			die("unprivileged control rings");
		ctrl_workers();
		seed ^= 0x6e6f626f6479ULL;
		nr_ops = ops;
		start_watchdog();
		run();
		finish();
		exit(failures ? EXIT_FAIL : 0);
	}
	close(p[1]);
	uchild = pid;
	upipe = p[0];
	fcntl(upipe, F_SETFL, O_NONBLOCK);
	note("unprivileged child %d: %lu operations", pid, ops);
}

/* the child added device @id: give it its char device, as udev would */
static void unpriv_added(__u32 id)
{
	struct ublksrv_ctrl_dev_info info;
	char buf[64 + sizeof(info)];
	int plen, ret;

	remember(known, &nr_known, id);
	remember(uchild_ids, &nr_uchild_ids, id);
	plen = path_of(buf, id);
	ret = ctrl_sync(UBLK_U_CMD_GET_DEV_INFO2, id, buf, plen + sizeof(info),
			plen, 0, 2);
	memcpy(&info, buf + plen, sizeof(info));
	if (ret || !(info.flags & UBLK_F_UNPRIVILEGED_DEV) ||
	    info.owner_uid != NOBODY) {
		note("device %u is not nobody's (%d): not chowned", id, ret);
		return;
	}
	buf[plen] = 0;
	if (chown(buf, NOBODY, NOBODY))
		note("chown %s: %s", buf, strerror(errno));
}

static void unpriv_end(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		note("the unprivileged child passed");
	else if (WIFEXITED(status))
		fail("the unprivileged child exited with %d", WEXITSTATUS(status));
	else if (WTERMSIG(status) == SIGKILL)
		/* the driver kills an unprivileged server that sits on a request */
		note("the unprivileged child was killed");
	else
		fail("the unprivileged child died of signal %d", WTERMSIG(status));
	uchild = 0;
	chmod(CTRL_DEV, ctrl_mode);
}

static void unpriv_poll(void)
{
	char msg[5];
	int status;
	__u32 id;

	/* one a step: each may wait a little for its GET_DEV_INFO2 */
	if (upipe >= 0 && read(upipe, msg, 5) == 5) {
		memcpy(&id, msg + 1, 4);
		if (msg[0] == 'A')
			unpriv_added(id);
	}
	if (uchild && waitpid(uchild, &status, WNOHANG) == uchild)
		unpriv_end(status);
}

/* ---- one step of housekeeping before every operation ---- */

/*
 * A stop waits for the requests the server holds, for as long as it
 * holds them, and this process is a server that may hold requests with
 * nothing left to complete them: its ring closed, or its char device
 * closed but still mapped (the mapping keeps the file, so the server's
 * exit never comes).  A real server told to stop lets go; so do we,
 * once a STOP_DEV, TRY_STOP_DEV or DEL_DEV of a device has waited half
 * an operation timeout: ring, mappings and char device, which ends our
 * part as a server.  What the stop still waits for after that is the
 * driver's (ctrl_full(), the end's check).
 */
static void let_go_of_stopped(void)
{
	__u64 now = now_ms();
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		struct cctx *x = &cctx[i];
		struct fdev *d;

		if (!x->busy || now - x->t0 < op_timeout * 500ULL ||
		    (x->c != C_STOP && x->c != C_TRY_STOP && x->c != C_DEL &&
		     x->c != C_DEL_ASYNC))
			continue;
		d = dev_by_id(x->dev_id);
		if (!d || (!d->ring_up && d->cdev < 0 && !dev_mapped(d)))
			continue;
		note("device %u: %s of op %lu waits: let go of it", d->id,
		     ccmds[x->c].name, x->opno);
		dev_teardown(d);
	}
}

static void poll_all(void)
{
	int i, status;

	ctrl_reap(0);
	let_go_of_stopped();
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used == 2)
			reap_ring(&devs[i]);
	for (i = 0; i < MAX_SERVERS; i++)
		if (servers[i].pid &&
		    waitpid(servers[i].pid, &status, WNOHANG) == servers[i].pid) {
			note("  server %d of device %u exited (%#x)", servers[i].pid,
			     servers[i].id, status);
			server_gone(i);
		}
	if (!unpriv)
		unpriv_poll();
	bio_join_done();
	if (atomic_load(&bio_leaks)) {
		fail("opened /dev/ublkbN of a device not ours");
		atomic_store(&bio_leaks, 0);
	}
}

/* ---- the operations ---- */

static void op_ctrl_fuzz(void)
{
	send_ctrl(below(NR_C), pick_dev(), false, 2);
}

static void op_ctrl64(void)
{
	struct io_uring r;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_sqe *sqe;
	struct ublksrv_ctrl_cmd *h;
	int c = below(NR_C), ret;

	/* a control command in a 64-byte SQE: refused at once */
	if (io_uring_queue_init(2, &r, 0))
		return;
	sqe = io_uring_get_sqe(&r);
	if (!sqe) {
		io_uring_queue_exit(&r);
		return;
	}
	kublk_prep_uring_cmd(sqe, ctrl_fd, false, ccmds[c].op, false);
	h = kublk_sqe_cmd(sqe);
	h->dev_id = gen_dev_id(pick_dev());
	h->queue_id = (__u16)-1;
	io_uring_submit(&r);
	ret = io_uring_wait_cqe_timeout(&r, &cqe, &ts);
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&r, cqe);
		if (ret >= 0)
			fail("%s in a 64-byte SQE got %d", ccmds[c].name, ret);
	}
	note("%s in a 64-byte SQE: %d", ccmds[c].name, ret);
	io_uring_queue_exit(&r);
}

static void op_add(void)
{
	send_ctrl(C_ADD, NULL, chance(70), 20);
}

static void op_set_params(void)
{
	struct fdev *d = pick_dev();

	if (d)
		send_ctrl(C_SET_PARAMS, d, chance(70), 20);
}

static void op_query(void)
{
	static const int q[] = { C_INFO, C_INFO2, C_GET_PARAMS, C_FEATURES, C_AFFINITY };

	send_ctrl(q[below(ARRAY_SIZE(q))], pick_dev(), true, 5);
}

/* what a server does to start: parameters, char device, fetches, START_DEV */
static void op_bringup(void)
{
	struct fdev *d = pick_dev();
	struct cctx *x;
	int ret, n;

	if (!d || d->server)
		return;
	if (chance(80)) {
		x = send_ctrl(C_SET_PARAMS, d, true, 300);
		if (x && x->busy)
			note("  SET_PARAMS still in flight");
	}
	ret = open_cdev(d);
	if (ret) {
		note("bringup %u: open: %s", d->id, strerror(-ret));
		return;
	}
	ret = open_ring(d);
	if (ret) {
		note("bringup %u: ring: %s", d->id, strerror(-ret));
		return;
	}
	n = fetch_all(d);
	if (is_batch(d)) {
		int q;

		for (q = 0; q < d->nq; q++) {
			prep_batch(d, K_BPREP, q, true);
			prep_batch(d, K_BFETCH, q, true);
		}
		io_uring_submit(&d->ring);
	}
	note("bringup %u: %d fetches", d->id, n);
	send_ctrl(chance(85) ? C_START : C_END_REC, d, true, 20);
}

static void op_serve(void)
{
	struct fdev *d = pick_dev();

	if (d)
		note("serve %u: %d commands", d->id, serve(d));
}

static void op_io_fuzz(void)
{
	struct fdev *d = pick_dev();
	struct io_uring_sqe *sqe;
	__u32 op;
	int kind, eff, q, tag, res;
	__u64 addr, ud;

	if (!d || d->cdev < 0 || open_ring(d))
		return;
	kind = below(NR_K);
	op = kind == K_OTHER ? (chance(50) ? _IOWR('u', 0x20 + below(0x20), struct ublksrv_io_cmd) :
				rnd()) : kops[kind];
	switch (below(12)) {
	case 0:
		op = _IOC_NR(op);		/* legacy */
		break;
	case 1:
		op = _IOC(below(4), 'u', _IOC_NR(op), below(1 << 14));
		break;
	case 2:
		op = _IOC(_IOC_DIR(op), 'v', _IOC_NR(op), _IOC_SIZE(op));
		break;
	}
	eff = io_effective(op);
	q = chance(85) ? (int)below(d->nq) : chance(50) ? d->info.nr_hw_queues : (int)any_u64();
	tag = chance(85) ? (int)below(d->depth) : chance(50) ? d->info.queue_depth : (int)any_u64();
	q &= 0xffff;
	tag &= 0xffff;
	switch (below(8)) {
	case 0:
		res = 0;
		break;
	case 1:
		res = -EIO;
		break;
	case 2:
		res = any_u64();
		break;
	default:
		res = q < d->nq && tag < d->depth ? good_result(&d->sl[q][tag].iod) : 4096;
		break;
	}
	switch (below(10)) {
	case 0:
		addr = 0;
		break;
	case 1:
		addr = 4096;
		break;
	case 2:
		addr = 0xffffffff81000000ULL;
		break;
	case 3:
		addr = any_u64();
		break;
	case 4:
		addr = below(NR_SPARSE + 2);
		break;
	default:
		addr = q < d->nq && tag < d->depth && !takes_refs(d) ?
			slot_buf(d, q, tag) + (chance(90) ? 0 : below(4096)) : 0;
		break;
	}
	ud = io_ud(eff, q, tag);
	if (eff >= K_BPREP && eff <= K_BPRIO) {
		sqe = prep_batch(d, eff, q, chance(50));
		if (!sqe)
			return;
		if (sqe->opcode == IORING_OP_URING_CMD)
			sqe->cmd_op = op;
		ud = sqe->user_data;
	} else {
		sqe = io_sqe(d);
		if (!sqe)
			return;
		prep_io(d, sqe, op, q, tag, res, addr, ud);
		if (chance(10))
			sqe->addr = any_u64();
	}
	if (chance(10))
		sqe->flags |= IOSQE_ASYNC;
	if (chance(10)) {
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->fd = 0;
	}
	if (chance(3))
		sqe->uring_cmd_flags |= 1U << below(8);
	if (eff == K_FETCH || eff == K_COMMIT)
		arm(d, q, tag, ud);
	note("fuzz %s op %#x dev %u q %d tag %d res %d addr %#llx sqe %#x", knames[eff],
	     op, d->id, q, tag, res, (unsigned long long)addr, sqe->flags);
	io_uring_submit(&d->ring);
}

static void op_batch(void)
{
	static const int k[] = { K_BPREP, K_BCOMMIT, K_BFETCH, K_BPRIO };
	struct fdev *d = pick_dev();
	int kind = k[below(ARRAY_SIZE(k))], q;

	if (!d || d->cdev < 0 || open_ring(d))
		return;
	q = below(d->nq);
	if (kind == K_BPRIO && !(d->info.flags & UBLK_F_BATCH_PRIO) && chance(50))
		kind = K_BFETCH;
	prep_batch(d, kind, q, chance(80));
	note("batch %s dev %u q %d", knames[kind], d->id, q);
	io_uring_submit(&d->ring);
}

static jmp_buf fault_jmp;
/* a fault now is the probe's: lock-free, read by the handler */
static atomic_int in_touch;

static void fault_handler(int sig)
{
	if (atomic_load(&in_touch))
		siglongjmp(fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void op_mmap(void)
{
	struct fdev *d = pick_dev();
	size_t len, stride;
	int prot, flags, sig;
	off_t off;
	void *p;

	if (!d || d->cdev < 0)
		return;
	stride = iods_size(UBLK_MAX_QUEUE_DEPTH, d->info.io_desc_size);
	len = iods_size(d->info.queue_depth, d->info.io_desc_size);
	switch (below(6)) {
	case 0:
		off = below(d->info.nr_hw_queues + 2) * stride;
		break;
	case 1:
		off = below(d->info.nr_hw_queues) * stride + below(stride / page_size) * page_size;
		break;
	case 2:
		off = (off_t)(any_u64() & ~(page_size - 1) & 0x7fffffffffffULL);
		break;
	case 3:
		off = UBLKSRV_IO_BUF_OFFSET;
		break;
	default:
		off = below(d->info.nr_hw_queues) * stride;
		break;
	}
	if (chance(30))
		len = chance(50) ? len * (1 + below(3)) : page_size * (1 + below(64));
	prot = chance(80) ? PROT_READ : chance(50) ? PROT_READ | PROT_WRITE : PROT_NONE;
	flags = chance(85) ? MAP_SHARED : MAP_PRIVATE;
	if (chance(20))
		flags |= MAP_POPULATE;
	p = mmap(NULL, len, prot, flags, d->cdev, off);
	note("mmap dev %u off %#llx len %zu prot %d flags %#x: %s", d->id,
	     (unsigned long long)off, len, prot, flags,
	     p == MAP_FAILED ? strerror(errno) : "mapped");
	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_DONTFORK);
	if (prot & PROT_WRITE)
		fail("a writable mmap of /dev/ublkc%u at %#llx succeeded", d->id,
		     (unsigned long long)off);
	if ((flags & MAP_SHARED) && !mprotect(p, len, PROT_READ | PROT_WRITE))
		fail("mprotect() made a mapping of /dev/ublkc%u writable", d->id);
	if (prot & PROT_READ) {
		atomic_store(&in_touch, 1);
		sig = sigsetjmp(fault_jmp, 1);
		if (!sig) {
			/* an atomic load: not optimized away */
			(void)__atomic_load_n((char *)p + below(len),
					      __ATOMIC_RELAXED);
		} else {
			note("  touching the mapping: signal %d", sig);
		}
		atomic_store(&in_touch, 0);
	}
	munmap(p, len);
}

static char ucbuf[BIO_MAX] __attribute__((aligned(4096)));

static void op_user_copy(void)
{
	struct fdev *d = pick_dev();
	int q, t, i;
	__u64 pos;
	size_t len;
	ssize_t ret;
	bool wr;

	if (!d || d->cdev < 0)
		return;
	q = below(d->nq);
	t = below(d->depth);
	/* a held slot, mostly */
	for (i = 0; i < d->nq * d->depth && chance(90); i++) {
		int qq = (q + i / d->depth) % d->nq, tt = (t + i) % d->depth;

		if (d->sl[qq][tt].st == S_HELD) {
			q = qq;
			t = tt;
			break;
		}
	}
	pos = UBLKSRV_IO_BUF_OFFSET + ((__u64)q << UBLK_QID_OFF) +
		((__u64)t << UBLK_TAG_OFF);
	switch (below(10)) {
	case 0:
		pos = any_u64() & 0x7fffffffffffffffULL;
		break;
	case 1:
		pos = below(UBLKSRV_IO_BUF_OFFSET);
		break;
	case 2:
		pos |= UBLKSRV_IO_INTEGRITY_FLAG;
		break;
	case 3:
		pos += (__u64)below(8) << UBLK_QID_OFF;
		break;
	case 4:
		pos += below(1 << 20);
		break;
	case 5:
		pos += below(8) * 512;
		break;
	}
	len = chance(80) ? (size_t)512 << below(8) : below(BIO_MAX + 1);
	wr = chance(50);
	if (wr)
		ret = pwrite(d->cdev, ucbuf, len, pos);
	else
		ret = pread(d->cdev, ucbuf, len, pos);
	note("%s dev %u pos %#llx len %zu: %zd%s%s", wr ? "pwrite" : "pread", d->id,
	     (unsigned long long)pos, len, ret, ret < 0 ? " " : "",
	     ret < 0 ? strerror(errno) : "");
}

static void op_close_ring(void)
{
	struct fdev *d = pick_dev();

	if (d && d->ring_up) {
		note("close the ring of device %u", d->id);
		close_ring(d);
	}
}

static void op_close_cdev(void)
{
	struct fdev *d = pick_dev();
	bool unmapped;

	if (!d || d->cdev < 0)
		return;
	unmapped = chance(60);
	note("close /dev/ublkc%u%s", d->id, unmapped ? ", unmapped" : ", still mapped");
	if (unmapped)
		unmap_iods(d);
	close_cdev(d);
}

static void op_open_cdev(void)
{
	struct fdev *d = pick_dev();
	int ret;

	if (!d || d->cdev >= 0)
		return;
	ret = open_cdev(d);
	note("open /dev/ublkc%u: %s", d->id, ret ? strerror(-ret) : "ok");
	if (!ret && d->ring_up && chance(50))
		io_uring_register_files_update(&d->ring, 0, &d->cdev, 1);
}

static void op_fork_server(void)
{
	struct fdev *d = pick_dev();
	int mode = below(10);

	if (!d || d->server)
		return;
	/* the device must be free of us for the child to open it */
	if (d->cdev >= 0 || d->ring_up) {
		if (chance(70))
			return;
		dev_teardown(d);
	}
	note("fork a server for device %u (mode %d)", d->id, mode < 6 ? 0 : mode < 9 ? 1 : 2);
	fork_server(d, mode < 6 ? 0 : mode < 9 ? 1 : 2);
}

static void op_kill_server(void)
{
	int i, n = below(MAX_SERVERS);

	for (i = 0; i < MAX_SERVERS; i++) {
		int j = (n + i) % MAX_SERVERS;

		if (servers[j].pid) {
			note("kill -9 server %d of device %u", servers[j].pid,
			     servers[j].id);
			kill_server(j);
			return;
		}
	}
}

static void op_block_io(void)
{
	struct fdev *d = pick_dev();
	__u32 id = d && chance(90) ? d->id : below(8);
	int n = 1 + below(16);

	note("block I/O on /dev/ublkb%u, %d ops: %s", id, n,
	     bio_start(id, n) ? "started" : "no thread free");
}

static void op_del_under_read(void)
{
	struct fdev *d = pick_dev();

	if (!d)
		return;
	note("DEL_DEV of %u under a reader: %s", d->id,
	     bio_start(d->id, 32) ? "reading" : "no thread free");
	usleep(below(20000));
	if (chance(50))
		dev_teardown(d);
	send_ctrl(chance(70) ? C_DEL : C_DEL_ASYNC, d, true, 10);
}

static void op_stop_del(void)
{
	static const int c[] = { C_STOP, C_TRY_STOP, C_DEL, C_DEL_ASYNC, C_STOP };
	struct fdev *d = pick_dev();

	if (!d)
		return;
	if (chance(30))
		dev_teardown(d);
	send_ctrl(c[below(ARRAY_SIZE(c))], d, true, 10);
}

static void op_recover(void)
{
	struct fdev *d = pick_dev();
	struct cctx *x;
	int n;

	if (!d || d->server)
		return;
	if (chance(80))
		dev_teardown(d);
	x = send_ctrl(C_START_REC, d, true, 200);
	note("recover %u: START_USER_RECOVERY %s", d->id, x && x->busy ? "in flight" : "done");
	if (open_cdev(d) || open_ring(d))
		return;
	n = fetch_all(d);
	note("recover %u: %d fetches", d->id, n);
	send_ctrl(C_END_REC, d, true, 20);
}

static void op_quiesce(void)
{
	struct fdev *d = pick_dev();

	if (d)
		send_ctrl(C_QUIESCE, d, true, 10);
}

static void op_update_size(void)
{
	struct fdev *d = pick_dev();

	if (d)
		send_ctrl(C_UPDATE_SIZE, d, chance(80), 10);
}

static void op_wait(void)
{
	int i;

	ctrl_reap(below(20));
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used == 2)
			reap_ring(&devs[i]);
}

/* unprivileged: open a device node of another, which must fail */
static void op_foreign_open(void)
{
	__u32 id = other_id != ~0U && chance(50) ? other_id : below(8);
	char path[64];
	int fd;

	if (in_set(own_ever, nr_own_ever, id))
		return;
	snprintf(path, sizeof(path), chance(50) ? "/dev/ublkc%u" : "/dev/ublkb%u", id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	note("open %s: %s", path, fd < 0 ? strerror(errno) : "opened");
	if (fd >= 0) {
		fail("opened %s, a device not ours", path);
		close(fd);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
	int weight;
} ops[] = {
	{ "ctrl_fuzz", op_ctrl_fuzz, 18 },
	{ "ctrl64", op_ctrl64, 1 },
	{ "add", op_add, 6 },
	{ "set_params", op_set_params, 4 },
	{ "query", op_query, 3 },
	{ "bringup", op_bringup, 7 },
	{ "serve", op_serve, 14 },
	{ "io_fuzz", op_io_fuzz, 14 },
	{ "batch", op_batch, 2 },
	{ "mmap", op_mmap, 3 },
	{ "user_copy", op_user_copy, 4 },
	{ "close_ring", op_close_ring, 2 },
	{ "close_cdev", op_close_cdev, 2 },
	{ "open_cdev", op_open_cdev, 2 },
	{ "fork_server", op_fork_server, 2 },
	{ "kill_server", op_kill_server, 2 },
	{ "block_io", op_block_io, 6 },
	{ "del_under_read", op_del_under_read, 1 },
	{ "stop_del", op_stop_del, 3 },
	{ "recover", op_recover, 2 },
	{ "quiesce", op_quiesce, 1 },
	{ "update_size", op_update_size, 1 },
	{ "wait", op_wait, 3 },
	{ "foreign_open", op_foreign_open, 0 },	/* unprivileged only */
};

static unsigned long counts[ARRAY_SIZE(ops)];

static unsigned int pick_op(void)
{
	unsigned int i, total = 0, r;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		total += ops[i].fn == op_foreign_open ? (unpriv ? 3 : 0) : ops[i].weight;
	r = below(total);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		unsigned int w = ops[i].fn == op_foreign_open ? (unpriv ? 3 : 0) :
				 ops[i].weight;

		if (r < w)
			return i;
		r -= w;
	}
	return 0;
}

/* a progress line every so many operations */
#define PROGRESS_OPS	50000

static void run(void)
{
	unsigned long uphase = no_unpriv || unpriv || nr_ops < 200 ? ~0UL : nr_ops / 4;

	for (opno = 0; opno < nr_ops; opno++) {
		unsigned int k;

		if (atomic_load(&stop_flag) || (stop_at_ms && now_ms() >= stop_at_ms))
			break;
		wd_arm(op_timeout, "housekeeping");
		poll_all();
		rng_for_op(opno);
		if (opno == uphase) {
			wd_arm(op_timeout, "unprivileged phase start");
			unpriv_start(nr_ops / 4 < 50000 ? nr_ops / 4 : 50000);
		}
		k = pick_op();
		wd_arm(op_timeout, ops[k].name);
		ops[k].fn();
		counts[k]++;
		/* a long run says how far it got, for whoever watches its log */
		if (!((opno + 1) % PROGRESS_OPS)) {
			printf("ublk_fuzz%s: %lu operations, %.0f s, %d devices created\n",
			       unpriv ? " (unprivileged child)" : "", opno + 1,
			       (now_ms() - run_t0) / 1000.0, nr_known);
			fflush(stdout);
		}
	}
	wd_disarm();
}

/* ---- the end: everything goes, every device can be deleted ---- */

static bool dev_exists(__u32 id)
{
	char path[64];

	snprintf(path, sizeof(path), CHAR_CLASS "/ublkc%u", id);
	return !access(path, F_OK);
}

/*
 * Commands that should have come back did not: while they still wait,
 * run $UBLK_FUZZ_STUCK_HOOK (make fuzz: the kernel stacks of the
 * waiters, the ublk and io_uring files each process holds, and the drgn
 * dump of every device, ublk_state.py), so that the report says what
 * they wait for.
 */
static void run_stuck_hook(void)
{
	const char *hook = getenv("UBLK_FUZZ_STUCK_HOOK");
	int ret;

	if (!hook || !*hook)
		return;
	wd_arm(op_timeout * 20, "the end: stuck-command hook");
	printf("ublk_fuzz: %d control command(s) still in flight: %s\n",
	       nr_pending, hook);
	ret = system(hook);
	if (ret)
		printf("ublk_fuzz: %s: exit status %#x\n", hook, ret);
}

/* one of the control rings' own mappings */
static bool ctrl_ring_map(unsigned long start)
{
	const struct io_uring *r[] = { &cring, &sring };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(r); i++)
		if (start == (uintptr_t)r[i]->sq.ring_ptr ||
		    start == (uintptr_t)r[i]->cq.ring_ptr ||
		    start == (uintptr_t)r[i]->sq.sqes)
			return true;
	return false;
}

/*
 * What this process still has of ublk char devices and io_uring once
 * every device it knows is torn down: its own bookkeeping lost them
 * (a ring, a char device or its mapping kept by no device entry).  They
 * keep devices from going, so the end's checks would blame the driver:
 * say what they are, and close and unmap them.  The control rings and
 * the block I/O threads' disks stay.  The number found.
 */
static int close_strays(void)
{
	char path[64], target[256], line[512];
	unsigned long start, end, range[256][2];
	int n = 0, nr = 0, fd, i;
	struct dirent *e;
	ssize_t len;
	FILE *maps;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	while (dir && (e = readdir(dir))) {
		fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(dir) || fd == ctrl_fd ||
		    fd == cring.ring_fd || fd == sring.ring_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strncmp(target, "/dev/ublkc", 10) && !strstr(target, "io_uring"))
			continue;
		printf("ublk_fuzz: a stray file at the end: fd %d, %s\n", fd, target);
		close(fd);
		n++;
	}
	if (dir)
		closedir(dir);
	/* unmapped once read: the file changes with every munmap() */
	maps = fopen("/proc/self/maps", "re");
	while (maps && fgets(line, sizeof(line), maps) && nr < (int)ARRAY_SIZE(range)) {
		if (sscanf(line, "%lx-%lx", &start, &end) != 2 ||
		    (!strstr(line, "/dev/ublkc") && !strstr(line, "io_uring")) ||
		    ctrl_ring_map(start))
			continue;
		line[strcspn(line, "\n")] = 0;
		printf("ublk_fuzz: a stray mapping at the end: %s\n", line);
		range[nr][0] = start;
		range[nr++][1] = end;
	}
	if (maps)
		fclose(maps);
	for (i = 0; i < nr; i++)
		munmap((void *)range[i][0], range[i][1] - range[i][0]);
	return n + nr;
}

static void finish(void)
{
	__u32 ids[MAX_KNOWN + 64];
	int nr = 0, i, status, ret, strays;
	struct dirent *e;
	__u64 end;
	DIR *dir;

	wd_arm(op_timeout * 4, "the end: children");
	note("the end: %lu operations", opno);
	if (uchild) {
		kill(uchild, SIGUSR1);
		while (uchild && waitpid(uchild, &status, 0) == uchild)
			unpriv_end(status);
		/* what it told us last */
		for (i = 0; i < 64; i++)
			unpriv_poll();
	}
	for (i = 0; i < MAX_SERVERS; i++)
		if (servers[i].pid)
			kill_server(i);

	wd_arm(op_timeout * 4, "the end: closing");
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used == 2)
			dev_teardown(&devs[i]);
	strays = close_strays();
	if (strays)
		note("the end: %d stray files and mappings closed", strays);

	/* nothing of ours holds a device: every command comes back */
	wd_arm(op_timeout * 4, "the end: control commands in flight");
	end = now_ms() + op_timeout * 2000ULL;
	while (nr_pending && now_ms() < end)
		ctrl_reap(200);
	if (nr_pending)
		run_stuck_hook();
	for (i = 0; i < MAX_PENDING; i++)
		if (cctx[i].busy)
			fail("%s (op %#x, dev %d) of op %lu still in flight %llu s %s",
			     cctx[i].c >= 0 ? ccmds[cctx[i].c].name : "?", cctx[i].cmd_op,
			     (int)cctx[i].dev_id, cctx[i].opno,
			     (unsigned long long)(now_ms() - cctx[i].t0) / 1000,
			     "after everything closed");

	/* every device we made, and any other there is (parent) */
	for (i = 0; i < nr_known; i++)
		ids[nr++] = known[i];
	dir = unpriv ? NULL : opendir(CHAR_CLASS);
	while (dir && (e = readdir(dir)) && nr < (int)ARRAY_SIZE(ids)) {
		unsigned int id;

		if (sscanf(e->d_name, "ublkc%u", &id) != 1 ||
		    in_set(ids, nr, id))
			continue;
		fail("device %u exists, but no ADD_DEV of ours created it", id);
		ids[nr++] = id;
	}
	if (dir)
		closedir(dir);

	wd_arm(op_timeout * 4, "the end: DEL_DEV");
	for (i = 0; i < nr; i++) {
		char path[64];
		int plen;

		if (!dev_exists(ids[i]))
			continue;
		plen = path_of(path, ids[i]);
		ret = ctrl_sync(UBLK_U_CMD_DEL_DEV, ids[i], path, plen, plen, 0,
				op_timeout);
		note("the end: DEL_DEV %u: %d", ids[i], ret);
		/*
		 * Not chowned to us yet, or the id went to root meanwhile:
		 * the parent deletes what is left.
		 */
		if (unpriv && (ret == -EACCES || ret == -EPERM))
			continue;
		if (ret && ret != -ENODEV)
			fail("DEL_DEV of device %u at the end: %d (%s)", ids[i], ret,
			     strerror(-ret));
		else if (dev_exists(ids[i]))
			fail("device %u still exists after DEL_DEV", ids[i]);
	}
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used == 2)
			dev_forget(&devs[i]);

	wd_arm(op_timeout * 4, "the end: block I/O threads");
	end = now_ms() + op_timeout * 1000ULL;
	for (i = 0; i < MAX_BIO; i++) {
		while (atomic_load(&bios[i].state) == 1 && now_ms() < end)
			usleep(10000);
		if (atomic_load(&bios[i].state) == 1)
			fail("a block I/O thread on /dev/ublkb%u still runs %s",
			     bios[i].id, "after every device went");
	}
	bio_join_done();
	wd_disarm();
}

static void on_stop(int sig)
{
	atomic_store(&stop_flag, 1);
}

static void print_usage(const char *prog)
{
	printf("usage: %s [-s SEED] [-n OPS] [-T SECONDS] [-t SECONDS]\n"
	       "       [-x COMMAND]... [-d] [-u] [-v]\n"
	       "  -s SEED     the run's seed (default: from the clock)\n"
	       "  -n OPS      operations (default 10000)\n"
	       "  -T SECONDS  stop after this long, whatever is left of OPS\n"
	       "  -t SECONDS  the watchdog's limit for one operation (default 60)\n"
	       "  -x COMMAND  never send this control command (e.g. TRY_STOP_DEV), to get\n"
	       "              past a bug found; repeatable\n"
	       "  -d          DEFER_TASKRUN rings too (6.12's io_uring warns on closing one)\n"
	       "  -u          no unprivileged child\n"
	       "  -v          print every operation\n", prog);
	exit(EXIT_SETUP);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = fault_handler };
	unsigned int run_time = 0;
	unsigned int i;
	int opt;

	seed = (__u64)time(NULL) ^ ((__u64)getpid() << 32);
	while ((opt = getopt(argc, argv, "s:n:T:t:x:duvh")) != -1) {
		switch (opt) {
		case 'x':
			for (i = 0; i < NR_C; i++)
				if (!strcmp(optarg, ccmds[i].name))
					break;
			if (i == NR_C)
				print_usage(argv[0]);
			excluded |= 1U << i;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			nr_ops = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			run_time = strtoul(optarg, NULL, 0);
			break;
		case 't':
			op_timeout = strtoul(optarg, NULL, 0);
			if (!op_timeout)
				print_usage(argv[0]);
			break;
		case 'd':
			defer_taskrun = true;
			break;
		case 'u':
			no_unpriv = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			print_usage(argv[0]);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGUSR1, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);

	/*
	 * Every hung task reported, not the first ten: the one that holds
	 * what the others wait for may come later in the list (as root;
	 * the stuck-command hook reads the stacks too).
	 */
	{
		int fd = open("/proc/sys/kernel/hung_task_warnings", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "-1\n", 3) != 3)
				note("hung_task_warnings: %s", strerror(errno));
			close(fd);
		}
	}

	ctrl_fd = open(CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (ctrl_fd < 0) {
		printf("ublk_fuzz: SKIP: %s: %s\n", CTRL_DEV, strerror(errno));
		return EXIT_SKIP;
	}
	if (io_uring_queue_init(2 * MAX_PENDING, &cring, IORING_SETUP_SQE128) ||
	    io_uring_queue_init(8, &sring, IORING_SETUP_SQE128))
		die("control rings");
	io_uring_ring_dontfork(&cring);
	io_uring_ring_dontfork(&sring);
	ctrl_workers();
	features = 0;
	{
		__u64 f;

		if (ctrl_sync(UBLK_U_CMD_GET_FEATURES, 0, &f, 8, 0, 0, 10) == 0)
			features = f;
	}
	/* not map_anon(): the unprivileged child uses them too */
	ro_page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_page == MAP_FAILED)
		die("mmap");
	guard_page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_page == MAP_FAILED)
		die("mmap");
	guard_page += page_size;
	mprotect(guard_page, page_size, PROT_NONE);

	printf("ublk_fuzz: -s %llu -n %lu%s%s%s: features %#llx%s%s\n",
	       (unsigned long long)seed, nr_ops, excluded ? " -x ..." : "",
	       defer_taskrun ? " -d" : "", no_unpriv ? " -u" : "",
	       (unsigned long long)features,
	       features & UBLK_F_BATCH_IO ? ", batches" : "",
	       features & UBLK_F_BATCH_PRIO ? ", batch priorities" : "");
	run_seed = seed;
	run_t0 = now_ms();
	if (run_time)
		stop_at_ms = run_t0 + run_time * 1000ULL;
	start_watchdog();
	run();
	finish();

	printf("ublk_fuzz: -s %llu: %lu operations in %.1f s, %d devices created, %d failure(s)\n",
	       (unsigned long long)seed, opno, (now_ms() - run_t0) / 1000.0, nr_known, failures);
	if (verbose || failures) {
		for (i = 0; i < ARRAY_SIZE(ops); i++)
			if (counts[i])
				printf("  %-16s %lu\n", ops[i].name, counts[i]);
	}
	if (failures)
		dump_log();
	return failures ? EXIT_FAIL : 0;
}
