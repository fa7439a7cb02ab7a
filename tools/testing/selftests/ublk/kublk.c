// SPDX-License-Identifier: GPL-2.0
/*
 * kublk: command line and device life cycle.
 *
 * "kublk add" checks its arguments and opens the target's files, then
 * forks the server (daemon), which creates the device (ADD_DEV,
 * SET_PARAMS), starts its threads, issues START_DEV and, once the device
 * is LIVE, reports its id through a pipe; "add" prints it and exits.
 * "kublk recover" does the same for a device whose server died, with
 * START_USER_RECOVERY / END_USER_RECOVERY instead.  The server then
 * waits: when all its threads have exited (the device was stopped or
 * deleted) it exits too; SIGTERM, SIGINT and SIGHUP stop the device.
 *
 * The arguments "add" was given are kept in $KUBLK_RUN_DIR/ublkN.args
 * (default /run/kublk), so that "recover" can start the same server
 * again and "list" can show the target.
 */
#include <assert.h>
#include <dirent.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kublk.h"

static const struct kublk_tgt_ops *const targets[] = {
	&tgt_null_ops,
	&tgt_loop_ops,
	&tgt_stripe_ops,
	&tgt_fault_inject_ops,
};

static const char *cmd_name = "kublk";
static bool verbose;
static bool quiet;		/* kublk_err() prints nothing */

static void vmsg(const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "kublk: %s%s%s\n", cmd_name, *cmd_name ? ": " : "", buf);
}

void kublk_err(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void kublk_log(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* a size in bytes with an optional k, m, g or t (powers of 1024) */
int kublk_parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift && end[1])
		return -EINVAL;
	if (v > (~0ULL >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int kublk_parse_uint(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > UINT_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *run_dir(void)
{
	const char *d = getenv("KUBLK_RUN_DIR");

	return d && *d ? d : KUBLK_DEF_RUN_DIR;
}

static void args_path(int id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/ublk%d.args", run_dir(), id);
}

/* ---- device configuration from the command line ---- */

enum {
	OPT_MAX_IO = 0x100,
	OPT_LBS,
	OPT_PBS,
	OPT_ROTATIONAL,
	OPT_READ_ONLY,
	OPT_REISSUE,
	OPT_FAIL_IO,
	OPT_AUTO_ZC,
	OPT_PRIO,
	OPT_IOPOLL,
	OPT_NTHREADS,
	OPT_OFFLOAD,
	OPT_FOREGROUND,
	OPT_LOG,
	OPT_QUIESCE,
	OPT_NO_PART_SCAN,
	OPT_PER_IO_TASKS,
	OPT_IO_DESC_SIZE,
	OPT_COMPAT,
	OPT_AUTO_ZC_FALLBACK,
	OPT_AUTO_ZC_FORCE_FALLBACK,
	OPT_ZC_NO_UNREGISTER,
	OPT_BALANCE,
};

static const struct option core_opts[] = {
	{ "type", required_argument, NULL, 't' },
	{ "dev_id", required_argument, NULL, 'n' },
	{ "queues", required_argument, NULL, 'q' },
	{ "depth", required_argument, NULL, 'd' },
	{ "size", required_argument, NULL, 's' },
	{ "max_io", required_argument, NULL, OPT_MAX_IO },
	{ "lbs", required_argument, NULL, OPT_LBS },
	{ "pbs", required_argument, NULL, OPT_PBS },
	{ "rotational", no_argument, NULL, OPT_ROTATIONAL },
	{ "read_only", no_argument, NULL, OPT_READ_ONLY },
	{ "recovery", required_argument, NULL, 'r' },
	{ "recovery_reissue", required_argument, NULL, OPT_REISSUE },
	{ "recovery_fail_io", required_argument, NULL, OPT_FAIL_IO },
	{ "get_data", no_argument, NULL, 'g' },
	{ "user_copy", no_argument, NULL, 'u' },
	{ "zero_copy", no_argument, NULL, 'z' },
	{ "auto_zc", no_argument, NULL, OPT_AUTO_ZC },
	{ "auto_zc_fallback", no_argument, NULL, OPT_AUTO_ZC_FALLBACK },
	/* test-only, not in mainline's kublk: see zc.c */
	{ "auto_zc_force_fallback", no_argument, NULL, OPT_AUTO_ZC_FORCE_FALLBACK },
	{ "zc_no_unregister", no_argument, NULL, OPT_ZC_NO_UNREGISTER },
	{ "batch", no_argument, NULL, 'b' },
	{ "prio", required_argument, NULL, OPT_PRIO },
	{ "balance", no_argument, NULL, OPT_BALANCE },
	{ "iopoll", no_argument, NULL, OPT_IOPOLL },
	{ "nthreads", required_argument, NULL, OPT_NTHREADS },
	{ "offload", required_argument, NULL, OPT_OFFLOAD },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "quiesce", no_argument, NULL, OPT_QUIESCE },
	{ "no_auto_part_scan", no_argument, NULL, OPT_NO_PART_SCAN },
	{ "per_io_tasks", no_argument, NULL, OPT_PER_IO_TASKS },
	{ "io_desc_size", required_argument, NULL, OPT_IO_DESC_SIZE },
	{ "compat", required_argument, NULL, OPT_COMPAT },
	{ "verbose", no_argument, NULL, 'v' },
};

#define CORE_SHORT	"t:n:q:d:s:r:guzbv"

static struct kublk_dev *dev_alloc(void)
{
	struct kublk_dev *dev = calloc(1, sizeof(*dev));
	int i;

	if (!dev) {
		kublk_err("out of memory");
		exit(1);
	}
	dev->dev_id = -1;
	dev->nr_queues = 1;
	dev->depth = KUBLK_DEF_DEPTH;
	dev->max_io = KUBLK_DEF_MAX_IO;
	dev->lbs = 512;
	dev->pbs = 4096;
	dev->direct = true;
	dev->cdev_fd = -1;
	for (i = 0; i < KUBLK_MAX_FILES; i++)
		dev->fds[i] = -1;
	dev->log = getenv("KUBLK_LOG");
	return dev;
}

static const struct kublk_tgt_ops *find_target(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(targets); i++)
		if (!strcmp(targets[i]->name, name))
			return targets[i];
	return NULL;
}

/* the value of -t / --type in argv, before getopt sees the rest */
static const char *scan_type(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--type")) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--type=", 7))
			return argv[i] + 7;
		if (!strncmp(argv[i], "-t", 2) && argv[i][2])
			return argv[i] + 2;
	}
	return NULL;
}

static int parse_bool(const char *opt, const char *arg, bool *out)
{
	if (!strcmp(arg, "0") || !strcmp(arg, "1")) {
		*out = *arg == '1';
		return 0;
	}
	kublk_err("%s: 0 or 1, not '%s'", opt, arg);
	return -EINVAL;
}

static int parse_block_size(const char *opt, const char *arg, unsigned int *out)
{
	unsigned long long v;

	if (kublk_parse_size(arg, &v) || v < 512 || v > 65536 || (v & (v - 1))) {
		kublk_err("%s: a power of two from 512 to 64k, not '%s'", opt, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* one core option of add/recover */
static int parse_core_opt(struct kublk_dev *dev, int opt, const char *arg)
{
	unsigned long long v;
	unsigned int u;
	bool b;

	switch (opt) {
	case 't':
		return 0;	/* found by scan_type() */
	case 'n':
		if (kublk_parse_uint(arg, &u) || u > INT_MAX) {
			kublk_err("-n: '%s' is not a device id", arg);
			return -EINVAL;
		}
		dev->dev_id = u;
		return 0;
	case 'q':
		if (kublk_parse_uint(arg, &u) || !u || u > KUBLK_MAX_QUEUES) {
			kublk_err("-q: 1 to %d queues, not '%s'", KUBLK_MAX_QUEUES, arg);
			return -EINVAL;
		}
		dev->nr_queues = u;
		return 0;
	case 'd':
		if (kublk_parse_uint(arg, &u) || !u || u > KUBLK_MAX_DEPTH) {
			kublk_err("-d: a depth from 1 to %d, not '%s'", KUBLK_MAX_DEPTH, arg);
			return -EINVAL;
		}
		dev->depth = u;
		return 0;
	case 's':
		if (kublk_parse_size(arg, &dev->size) || !dev->size) {
			kublk_err("-s: '%s' is not a size", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MAX_IO:
		if (kublk_parse_size(arg, &v) || v < 4096 || v > (1U << UBLK_IO_BUF_BITS) ||
		    v % 4096) {
			kublk_err("--max_io: a multiple of 4k up to %uM, not '%s'",
				  (1U << UBLK_IO_BUF_BITS) >> 20, arg);
			return -EINVAL;
		}
		dev->max_io = v;
		return 0;
	case OPT_LBS:
		return parse_block_size("--lbs", arg, &dev->lbs);
	case OPT_PBS:
		return parse_block_size("--pbs", arg, &dev->pbs);
	case OPT_ROTATIONAL:
		dev->rotational = true;
		return 0;
	case OPT_READ_ONLY:
		dev->read_only = true;
		return 0;
	case 'r':
	case OPT_REISSUE:
	case OPT_FAIL_IO:
		if (parse_bool(opt == 'r' ? "--recovery" : opt == OPT_REISSUE ?
			       "--recovery_reissue" : "--recovery_fail_io", arg, &b))
			return -EINVAL;
		if (!b)
			return 0;
		dev->flags |= UBLK_F_USER_RECOVERY;
		if (opt == OPT_REISSUE)
			dev->flags |= UBLK_F_USER_RECOVERY_REISSUE;
		if (opt == OPT_FAIL_IO)
			dev->flags |= UBLK_F_USER_RECOVERY_FAIL_IO;
		return 0;
	case 'g':
		dev->flags |= UBLK_F_NEED_GET_DATA;
		return 0;
	case 'u':
		dev->flags |= UBLK_F_USER_COPY;
		return 0;
	case 'z':
		dev->zero_copy = true;
		return 0;
	case OPT_AUTO_ZC:
		dev->auto_zc = true;
		return 0;
	case OPT_AUTO_ZC_FALLBACK:
		dev->auto_zc_fallback = true;
		return 0;
	case OPT_AUTO_ZC_FORCE_FALLBACK:
		dev->auto_zc_force_fallback = true;
		return 0;
	case OPT_ZC_NO_UNREGISTER:
		dev->zc_no_unregister = true;
		return 0;
	case 'b':
		dev->batch = true;
		return 0;
	case OPT_PRIO:
		if (kublk_parse_uint(arg, &u) || u > UBLK_BATCH_PRIO_MAX) {
			kublk_err("--prio: a priority from 0 to %d, not '%s'", UBLK_BATCH_PRIO_MAX,
				  arg);
			return -EINVAL;
		}
		dev->prio = u + 1;
		return 0;
	case OPT_BALANCE:
		dev->balance = true;
		return 0;
	case OPT_IOPOLL:
		dev->iopoll = true;
		return 0;
	case OPT_NTHREADS:
		if (kublk_parse_uint(arg, &u) || !u || u > KUBLK_MAX_THREADS) {
			kublk_err("--nthreads: 1 to %d, not '%s'", KUBLK_MAX_THREADS, arg);
			return -EINVAL;
		}
		dev->nthreads = u;
		return 0;
	case OPT_OFFLOAD:
		if (kublk_parse_uint(arg, &u) || u > KUBLK_MAX_THREADS) {
			kublk_err("--offload: 0 to %d threads, not '%s'", KUBLK_MAX_THREADS, arg);
			return -EINVAL;
		}
		dev->nr_offload = u;
		return 0;
	case OPT_FOREGROUND:
		dev->foreground = true;
		return 0;
	case OPT_LOG:
		dev->log = arg;
		return 0;
	case OPT_QUIESCE:
		dev->flags |= UBLK_F_QUIESCE;
		return 0;
	case OPT_NO_PART_SCAN:
		dev->flags |= UBLK_F_NO_AUTO_PART_SCAN;
		return 0;
	case OPT_PER_IO_TASKS:
		dev->per_io_tasks = true;
		return 0;
	case OPT_IO_DESC_SIZE:
		/* checked by the driver: what it refuses is the test */
		if (kublk_parse_uint(arg, &u) || u > 0xffff) {
			kublk_err("--io_desc_size: a size in bytes, not '%s'", arg);
			return -EINVAL;
		}
		dev->io_desc_size = u;
		dev->flags |= UBLK_F_IO_DESC_SIZE;
		return 0;
	case OPT_COMPAT:
		if (!strcmp(arg, "ublksrv")) {
			dev->compat = KUBLK_COMPAT_UBLKSRV;
		} else if (!strcmp(arg, "kublk")) {
			dev->compat = KUBLK_COMPAT_KUBLK;
		} else if (!strcmp(arg, "nvme")) {
			dev->compat = KUBLK_COMPAT_NVME;
		} else {
			kublk_err("--compat: ublksrv, kublk or nvme, not '%s'", arg);
			return -EINVAL;
		}
		return 0;
	case 'v':
		verbose = true;
		return 0;
	}
	return -EINVAL;
}

/*
 * Parse the arguments of add (or recover) into @dev: core options, the
 * target's options and its positional arguments (files, made absolute
 * so that a later "recover" finds them from anywhere).
 */
static int parse_dev_args(struct kublk_dev *dev, int argc, char **argv)
{
	struct option opts[ARRAY_SIZE(core_opts) + 16];
	const char *type = scan_type(argc, argv);
	const struct option *o;
	int n = 0, opt, i;

	if (!type) {
		kublk_err("-t TARGET is required (null, loop, stripe, fault_inject)");
		return -EINVAL;
	}
	dev->tgt = find_target(type);
	if (!dev->tgt) {
		kublk_err("unknown target '%s' (null, loop, stripe, fault_inject)", type);
		return -EINVAL;
	}
	memcpy(opts, core_opts, sizeof(core_opts));
	n = ARRAY_SIZE(core_opts);
	for (o = dev->tgt->opts; o && o->name; o++)
		opts[n++] = *o;
	memset(&opts[n], 0, sizeof(opts[n]));

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CORE_SHORT, opts, NULL)) != -1 ||
	       optind < argc) {
		if (opt == -1) {
			/* a positional argument; options may follow it */
			char *arg = argv[optind++], *abs;

			if (!strcmp(arg, "--"))
				continue;
			abs = realpath(arg, NULL);
			if (dev->tgt->parse_opt(dev, 0, abs ? abs : arg))
				return -EINVAL;
			continue;
		}
		if (opt == '?' || opt == ':') {
			if (optopt)
				kublk_err("bad or missing argument for option -%c", optopt);
			else
				kublk_err("unknown option '%s' (target %s)", argv[optind - 1],
					  dev->tgt->name);
			return -EINVAL;
		}
		if (opt >= 0x300) {
			if (dev->tgt->parse_opt(dev, opt, optarg))
				return -EINVAL;
			continue;
		}
		if (parse_core_opt(dev, opt, optarg))
			return -EINVAL;
	}
	if (dev->size % dev->lbs) {
		kublk_err("-s: the size must be a multiple of the block size (%u)", dev->lbs);
		return -EINVAL;
	}
	if (dev->lbs > dev->pbs) {
		kublk_err("--lbs %u is larger than --pbs %u", dev->lbs, dev->pbs);
		return -EINVAL;
	}
	if ((dev->flags & UBLK_F_USER_COPY) && (dev->flags & UBLK_F_NEED_GET_DATA)) {
		kublk_err("-u (user copy) and -g (need get data) exclude each other");
		return -EINVAL;
	}
	if ((dev->flags & UBLK_F_USER_RECOVERY_REISSUE) &&
	    (dev->flags & UBLK_F_USER_RECOVERY_FAIL_IO)) {
		kublk_err("--recovery_reissue and --recovery_fail_io exclude each other");
		return -EINVAL;
	}
	if ((dev->zero_copy || dev->auto_zc) &&
	    (dev->flags & (UBLK_F_USER_COPY | UBLK_F_NEED_GET_DATA))) {
		kublk_err("%s: zero copy moves no data through server buffers; it excludes %s",
			  dev->zero_copy ? "-z" : "--auto_zc",
			  dev->flags & UBLK_F_USER_COPY ? "-u (user copy)" : "-g (need get data)");
		return -EINVAL;
	}
	if (dev->auto_zc_fallback && !(dev->zero_copy && dev->auto_zc)) {
		kublk_err("--auto_zc_fallback needs both -z and --auto_zc (a request whose automatic registration failed is registered by the server)");
		return -EINVAL;
	}
	if (dev->auto_zc_force_fallback && !dev->auto_zc_fallback) {
		kublk_err("--auto_zc_force_fallback needs --auto_zc_fallback");
		return -EINVAL;
	}
	if (dev->zc_no_unregister && !dev->zero_copy) {
		kublk_err("--zc_no_unregister needs -z");
		return -EINVAL;
	}
	if (dev->batch && (dev->flags & UBLK_F_NEED_GET_DATA)) {
		kublk_err("-b and -g exclude each other: batch mode has no NEED_GET_DATA command");
		return -EINVAL;
	}
	if (dev->batch && dev->per_io_tasks) {
		kublk_err("-b and --per_io_tasks exclude each other: in batch mode no tag belongs to a thread (--nthreads N serves each queue by several)");
		return -EINVAL;
	}
	if (dev->batch && dev->nr_offload) {
		kublk_err("-b and --offload exclude each other: batch mode serves requests on its server threads");
		return -EINVAL;
	}
	if ((dev->prio || dev->balance) && !dev->batch) {
		kublk_err("%s needs -b: only batch fetch commands have a priority",
			  dev->prio ? "--prio" : "--balance");
		return -EINVAL;
	}
	if (dev->balance && dev->nthreads < 2 * (int)dev->nr_queues) {
		kublk_err("--balance needs at least two threads per queue (--nthreads %u or more)",
			  2 * dev->nr_queues);
		return -EINVAL;
	}
	if (dev->auto_zc && dev->nr_offload) {
		kublk_err("--auto_zc and --offload exclude each other: the driver registers the buffer in the server thread's ring, offload threads do the IO on theirs");
		return -EINVAL;
	}
	if (dev->iopoll && (dev->per_io_tasks ||
			    (dev->nthreads && dev->nthreads != (int)dev->nr_queues))) {
		kublk_err("--iopoll serves each queue from one ring and one thread: it excludes %s",
			  dev->per_io_tasks ? "--per_io_tasks" : "--nthreads other than -q");
		return -EINVAL;
	}
	if (dev->iopoll && dev->nr_offload) {
		kublk_err("--iopoll and --offload exclude each other: offload threads hand results back through an eventfd read on the server's ring, which an IOPOLL ring cannot do");
		return -EINVAL;
	}
	if (dev->iopoll)
		dev->flags |= UBLK_F_IOPOLL;
	if (dev->zero_copy)
		dev->flags |= UBLK_F_SUPPORT_ZERO_COPY;
	if (dev->auto_zc)
		dev->flags |= UBLK_F_AUTO_BUF_REG;
	if (dev->batch)
		dev->flags |= UBLK_F_BATCH_IO;
	/* fetch commands carrying a priority need the device to have them */
	if (dev->prio || dev->balance)
		dev->flags |= UBLK_F_BATCH_PRIO;
	/* the driver refuses it too (-EINVAL); say why before asking */
	if ((dev->flags & UBLK_F_QUIESCE) && !(dev->flags & UBLK_F_USER_RECOVERY)) {
		kublk_err("--quiesce needs a recovery mode (-r 1, --recovery_reissue 1 or --recovery_fail_io 1)");
		return -EINVAL;
	}
	dev->argc = argc;
	dev->argv = argv;
	for (i = 0; i < argc; i++)
		if (!argv[i])
			return -EINVAL;
	return 0;
}

static void features_err(int ret)
{
	if (ret == -ENOENT)
		kublk_err("%s: %s (is ublk_drv loaded?)", KUBLK_CTRL_DEV, strerror(-ret));
	else
		kublk_err("GET_FEATURES: %s", strerror(-ret));
}

static int need_feature(const struct kublk_dev *dev, __u64 flag, const char *opt)
{
	if (dev->features & flag)
		return 0;
	kublk_err("%s needs %s, which this ublk driver does not report (features 0x%llx)",
		  opt, kublk_feature_name(__builtin_ctzll(flag)),
		  (unsigned long long)dev->features);
	return -EOPNOTSUPP;
}

/* refuse what the driver or kublk cannot do, with the reason */
static int check_features(struct kublk_dev *dev)
{
	static const struct {
		__u64 flag;
		const char *opt;
	} wanted[] = {
		{ UBLK_F_USER_COPY, "-u" },
		{ UBLK_F_NEED_GET_DATA, "-g" },
		{ UBLK_F_USER_RECOVERY, "--recovery" },
		{ UBLK_F_USER_RECOVERY_REISSUE, "--recovery_reissue" },
		{ UBLK_F_USER_RECOVERY_FAIL_IO, "--recovery_fail_io" },
		{ UBLK_F_QUIESCE, "--quiesce" },
		{ UBLK_F_NO_AUTO_PART_SCAN, "--no_auto_part_scan" },
		{ UBLK_F_IO_DESC_SIZE, "--io_desc_size" },
		{ UBLK_F_SUPPORT_ZERO_COPY, "-z" },
		{ UBLK_F_AUTO_BUF_REG, "--auto_zc" },
		{ UBLK_F_BATCH_IO, "-b" },
	};
	unsigned int i;
	int ret;

	ret = kublk_get_features(&dev->features);
	if (ret < 0) {
		features_err(ret);
		return ret;
	}
	for (i = 0; i < ARRAY_SIZE(wanted); i++)
		if ((dev->flags & wanted[i].flag) &&
		    need_feature(dev, wanted[i].flag, wanted[i].opt))
			return -EOPNOTSUPP;

	/* offload threads register the buffers in their own rings */
	if (dev->zero_copy && dev->nr_offload &&
	    need_feature(dev, UBLK_F_BUF_REG_OFF_DAEMON, "-z with --offload"))
		return -EOPNOTSUPP;

	/* fetch priorities are this driver's extension of batch mode */
	if (dev->prio && need_feature(dev, UBLK_F_BATCH_PRIO, "--prio"))
		return -EOPNOTSUPP;
	if (dev->balance && need_feature(dev, UBLK_F_BATCH_PRIO, "--balance"))
		return -EOPNOTSUPP;
	/* this driver's own too, listed in ext_features */
	if (dev->iopoll && need_feature(dev, UBLK_F_IOPOLL, "--iopoll"))
		return -EOPNOTSUPP;
	/* batch mode ties no slot to a thread: any count will do */
	if (!dev->batch && dev->nthreads && dev->nthreads != (int)dev->nr_queues &&
	    need_feature(dev, UBLK_F_PER_IO_DAEMON, "--nthreads other than -q"))
		return -EOPNOTSUPP;
	if (dev->per_io_tasks && need_feature(dev, UBLK_F_PER_IO_DAEMON, "--per_io_tasks"))
		return -EOPNOTSUPP;
	/* any device may be resized when the driver can do it */
	dev->flags |= dev->features & UBLK_F_UPDATE_SIZE;
	return 0;
}

/*
 * --compat: the parameters of other servers' targets (loop-like when the
 * target has backing files, null-like otherwise), as they send them.
 */
static void compat_params(struct kublk_dev *dev)
{
	struct ublk_params *p = &dev->params;
	struct ublk_param_basic *b = &p->basic;
	bool files = dev->nr_files > 0;
	__u32 align;

	switch (dev->compat) {
	case KUBLK_COMPAT_UBLKSRV:
		/*
		 * ublksrv's copy of ublk_cmd.h makes ublk_param_zoned 8-byte
		 * aligned: zoned starts at byte 80 and dma at byte 112 of
		 * its buffer, 4 bytes later than in the kernel's struct.  Its
		 * loop target's DMA alignment of 511 thus lands in dma.pad,
		 * and the kernel reads an alignment of 0.
		 */
		static_assert(offsetof(struct ublk_params, dma) == 108 &&
			      offsetof(struct ublk_params, seg) == 120,
			      "mainline's layout of struct ublk_params");
		p->types = UBLK_PARAM_TYPE_BASIC;
		b->attrs = UBLK_ATTR_VOLATILE_CACHE;
		b->io_opt_shift = 12;
		b->io_min_shift = 9;
		if (!files)
			break;
		p->types |= UBLK_PARAM_TYPE_DISCARD | UBLK_PARAM_TYPE_DMA_ALIGN;
		b->attrs |= UBLK_ATTR_FUA;
		memset(&p->discard, 0, sizeof(p->discard));
		p->discard.discard_granularity = 4096;
		p->discard.max_discard_sectors = UINT32_MAX >> 9;
		p->discard.max_discard_segments = 1;
		p->dma.alignment = 0;
		align = 511;
		memcpy((char *)p + 112, &align, sizeof(align));
		break;
	case KUBLK_COMPAT_KUBLK:
		/* tools/testing/selftests/ublk of Linux 7.x: null.c, file_backed.c */
		p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DMA_ALIGN;
		memset(&p->discard, 0, sizeof(p->discard));
		b->io_opt_shift = 12;
		b->io_min_shift = 9;
		if (files) {
			b->attrs = UBLK_ATTR_VOLATILE_CACHE;
			p->dma.alignment = 511;
			break;
		}
		b->attrs = 0;
		p->types |= UBLK_PARAM_TYPE_SEGMENT;
		p->dma.alignment = 4095;
		p->seg.seg_boundary_mask = 4095;
		p->seg.max_segment_size = 32 << 10;
		p->seg.max_segments = 32;
		break;
	case KUBLK_COMPAT_NVME:
		/* PRP lists: a 4k virtual boundary, any segment size */
		p->types |= UBLK_PARAM_TYPE_SEGMENT;
		b->virt_boundary_mask = 4095;
		p->seg.seg_boundary_mask = 0xffffffff;
		p->seg.max_segment_size = UINT32_MAX;
		p->seg.max_segments = 127;
		break;
	}
}

static void set_params(struct kublk_dev *dev)
{
	struct ublk_param_basic *b = &dev->params.basic;

	dev->params.len = sizeof(dev->params);
	dev->params.types |= UBLK_PARAM_TYPE_BASIC;
	if (dev->rotational)
		b->attrs |= UBLK_ATTR_ROTATIONAL;
	if (dev->read_only)
		b->attrs |= UBLK_ATTR_READ_ONLY;
	b->logical_bs_shift = __builtin_ctz(dev->lbs);
	b->physical_bs_shift = __builtin_ctz(dev->pbs);
	if (!b->io_min_shift)
		b->io_min_shift = b->logical_bs_shift;
	if (!b->io_opt_shift)
		b->io_opt_shift = b->physical_bs_shift;
	b->max_sectors = dev->info.max_io_buf_bytes >> 9;
	b->dev_sectors = (dev->size - dev->size % dev->lbs) >> 9;
	compat_params(dev);
}

/* ---- the server ---- */

static int ctrl_simple(__u32 op, int id, __u64 data)
{
	return kublk_ctrl_cmd(op, id, NULL, 0, data);
}

/* ADD_DEV and SET_PARAMS; *added tells whether the device exists now */
static int add_dev(struct kublk_dev *dev, bool *added)
{
	struct ublksrv_ctrl_dev_info *info = &dev->info;
	__u64 want = dev->flags;
	int ret;

	memset(info, 0, sizeof(*info));
	info->nr_hw_queues = dev->nr_queues;
	info->queue_depth = dev->depth;
	info->max_io_buf_bytes = dev->max_io;
	info->dev_id = dev->dev_id;
	info->flags = dev->flags;
	/* the size we map with; the driver answers with the one it uses */
	info->io_desc_size = dev->io_desc_size ? dev->io_desc_size :
		sizeof(struct ublksrv_io_desc);
	ret = kublk_ctrl_cmd(UBLK_U_CMD_ADD_DEV, dev->dev_id, info, sizeof(*info), 0);
	if (ret < 0) {
		if (ret == -EEXIST)
			kublk_err("device %d already exists", dev->dev_id);
		else
			kublk_err("ADD_DEV: %s", strerror(-ret));
		return ret;
	}
	*added = true;
	dev->dev_id = info->dev_id;
	if ((info->flags & want) != want) {
		kublk_err("ADD_DEV dropped flags 0x%llx",
			  (unsigned long long)(want & ~info->flags));
		return -EOPNOTSUPP;
	}
	set_params(dev);
	ret = kublk_ctrl_cmd(UBLK_U_CMD_SET_PARAMS, dev->dev_id, &dev->params,
			     sizeof(dev->params), 0);
	if (ret < 0)
		kublk_err("SET_PARAMS: %s", strerror(-ret));
	return ret;
}

/*
 * START_USER_RECOVERY: the old server may still be on its way out (the
 * device is not QUIESCED yet, or its char device still open): retry.
 */
static int start_recovery(struct kublk_dev *dev)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int ret, i;

	ret = kublk_get_info(dev->dev_id, &dev->info);
	if (ret < 0) {
		kublk_err("device %d: %s", dev->dev_id, strerror(-ret));
		return ret;
	}
	if (!(dev->info.flags & UBLK_F_USER_RECOVERY)) {
		kublk_err("device %d was not created with --recovery", dev->dev_id);
		return -EINVAL;
	}
	for (i = 0; i < 1200; i++) {
		ret = ctrl_simple(UBLK_U_CMD_START_USER_RECOVERY, dev->dev_id, 0);
		if (ret != -EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	if (ret < 0) {
		struct ublksrv_ctrl_dev_info info;

		kublk_get_info(dev->dev_id, &info);
		kublk_err("START_USER_RECOVERY: %s (device %d is %s, server pid %d)",
			  strerror(-ret), dev->dev_id, kublk_state_name(info.state),
			  info.ublksrv_pid);
	}
	return ret;
}

static int open_cdev(struct kublk_dev *dev)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/dev/ublkc%d", dev->dev_id);
	/*
	 * devtmpfs may not have the node yet; a server that is still
	 * exiting may still hold it (-EBUSY: one opener at a time).
	 */
	for (i = 0; i < 500; i++) {
		dev->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (dev->cdev_fd >= 0 || (errno != ENOENT && errno != EBUSY))
			break;
		nanosleep(&ts, NULL);
	}
	if (dev->cdev_fd < 0) {
		kublk_err("%s: %m", path);
		return -errno;
	}
	return 0;
}

static void save_args(const struct kublk_dev *dev)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], id[16];
	FILE *f;
	int i;

	if (mkdir(run_dir(), 0755) && errno != EEXIST) {
		kublk_log("%s: %m; \"recover\" will need the arguments again", run_dir());
		return;
	}
	args_path(dev->dev_id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		kublk_log("%s: %m", tmp);
		return;
	}
	/* NUL-separated argv, the device id pinned */
	for (i = 1; i < dev->argc; i++)
		fwrite(dev->argv[i], strlen(dev->argv[i]) + 1, 1, f);
	snprintf(id, sizeof(id), "%d", dev->dev_id);
	fwrite("-n", 3, 1, f);
	fwrite(id, strlen(id) + 1, 1, f);
	if (fclose(f) || rename(tmp, path))
		kublk_log("%s: %m", path);
}

/* load the saved arguments of device @id as an argv (argv[0] = "add") */
static int load_args(int id, int *argc, char ***argv)
{
	char path[PATH_MAX], *buf, *p, **v;
	size_t len = 0, cap = 4096;
	int n = 1, i;
	FILE *f;

	args_path(id, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf && !feof(f)) {
		len += fread(buf + len, 1, cap - len, f);
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf)
		return -ENOMEM;
	for (p = buf; p < buf + len; p += strlen(p) + 1)
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[0] = "add";
	for (p = buf, i = 1; p < buf + len; p += strlen(p) + 1)
		v[i++] = p;
	*argc = n;
	*argv = v;
	return 0;
}

static void redirect_stderr(const struct kublk_dev *dev)
{
	int fd = -1;

	if (dev->log)
		fd = open(dev->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		verbose = true;
	} else {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		verbose = false;
	}
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

static void report(int fd, const char *msg)
{
	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0)
			kublk_err("reporting to the parent: %m");
		close(fd);
	}
}

/*
 * The server's main thread.  @notify_fd gets "<id>\n" once the device is
 * LIVE (or "E" after a reported failure); -1 in the foreground, where the
 * id goes to stdout.
 */
static int serve(struct kublk_dev *dev, int notify_fd)
{
	sigset_t set;
	char msg[32];
	bool added = false;
	int ret, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	dev->main_tid = pthread_self();

	if (dev->recovering)
		ret = start_recovery(dev);
	else
		ret = add_dev(dev, &added);
	if (ret < 0)
		goto fail;
	ret = open_cdev(dev);
	if (ret)
		goto fail;
	ret = kublk_start_threads(dev);
	if (ret) {
		kublk_err("starting the server threads: %s", strerror(-ret));
		goto fail;
	}
	if (dev->recovering)
		ret = ctrl_simple(UBLK_U_CMD_END_USER_RECOVERY, dev->dev_id, getpid());
	else
		ret = ctrl_simple(UBLK_U_CMD_START_DEV, dev->dev_id, getpid());
	if (ret < 0) {
		kublk_err("%s: %s", dev->recovering ? "END_USER_RECOVERY" : "START_DEV",
			  strerror(-ret));
		goto fail;
	}
	if (!dev->recovering)
		save_args(dev);

	if (notify_fd >= 0) {
		redirect_stderr(dev);
		snprintf(msg, sizeof(msg), "%d\n", dev->dev_id);
		report(notify_fd, msg);
	} else {
		printf("%d\n", dev->dev_id);
		fflush(stdout);
	}
	kublk_log("device %d is live, pid %d", dev->dev_id, getpid());

	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGUSR1) {
			if (!__atomic_load_n(&dev->threads_running, __ATOMIC_SEQ_CST))
				break;
			continue;
		}
		if (sig > 0) {
			kublk_log("signal %d: stopping device %d", sig, dev->dev_id);
			ret = ctrl_simple(UBLK_U_CMD_STOP_DEV, dev->dev_id, 0);
			if (ret < 0)
				kublk_err("STOP_DEV: %s", strerror(-ret));
		}
	}
	kublk_join_threads(dev);
	dev->tgt->deinit(dev);
	close(dev->cdev_fd);
	kublk_log("device %d: server exits", dev->dev_id);
	return 0;

fail:
	if (dev->recovering || !added) {
		/* leave the device to the next server; exiting cancels all */
		report(notify_fd, "E");
		return 1;
	}
	/* cancel the fetches, collect the threads, remove the device */
	if (dev->threads_running)
		ctrl_simple(UBLK_U_CMD_STOP_DEV, dev->dev_id, 0);
	kublk_join_threads(dev);
	if (dev->cdev_fd >= 0)
		close(dev->cdev_fd);
	ctrl_simple(UBLK_U_CMD_DEL_DEV, dev->dev_id, 0);
	report(notify_fd, "E");
	return 1;
}

/*
 * Fork the server and wait until it has the device LIVE: print its id
 * and succeed, or fail with the reason it printed (or this one, if it
 * died without a word).
 */
static int daemonize(struct kublk_dev *dev)
{
	char buf[32];
	ssize_t n, len = 0;
	int p[2], fd;
	pid_t pid;

	if (dev->foreground)
		return serve(dev, -1);
	if (pipe2(p, O_CLOEXEC)) {
		kublk_err("pipe: %m");
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		kublk_err("fork: %m");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		/* never hold the caller's stdout: "$(kublk add ...)" waits for it */
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
		exit(serve(dev, p[1]));
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(p[0]);
	buf[len] = '\0';
	if (len && buf[0] >= '0' && buf[0] <= '9') {
		fputs(buf, stdout);
		return 0;
	}
	if (!len)
		kublk_err("the server (pid %d) exited before the device was live", pid);
	/* the server may still be finishing its clean-up: reap it if ours */
	waitpid(pid, NULL, WNOHANG);
	return 1;
}

/* ---- commands ---- */

static int parse_id(const char *arg, int *id)
{
	unsigned int u;

	if (kublk_parse_uint(arg, &u) || u > INT_MAX) {
		kublk_err("-n: '%s' is not a device id", arg);
		return -EINVAL;
	}
	*id = u;
	return 0;
}

static int cmd_add(int argc, char **argv)
{
	struct kublk_dev *dev = dev_alloc();

	if (parse_dev_args(dev, argc, argv))
		return 1;
	if (check_features(dev))
		return 1;
	if (dev->tgt->init(dev))
		return 1;
	return daemonize(dev);
}

/*
 * recover -n ID [-t TARGET ...]: with -t, the given arguments replace the
 * saved ones (the device's queues, depth and flags come from the driver
 * either way).
 */
static int cmd_recover(int argc, char **argv)
{
	struct kublk_dev *dev = dev_alloc();
	char **v = argv;
	int id = -1, n = argc, i, ret;

	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--dev_id")) && i + 1 < argc) {
			if (parse_id(argv[i + 1], &id))
				return 1;
		} else if (!strncmp(argv[i], "--dev_id=", 9)) {
			if (parse_id(argv[i] + 9, &id))
				return 1;
		}
	}
	if (id < 0) {
		kublk_err("-n ID is required");
		return 1;
	}
	if (!scan_type(argc, argv)) {
		ret = load_args(id, &n, &v);
		if (ret) {
			kublk_err("no saved arguments for device %d (%s); give -t TARGET and its arguments",
				  id, strerror(-ret));
			return 1;
		}
	}
	if (parse_dev_args(dev, n, v))
		return 1;
	/* the saved arguments pin the id; an explicit -n must agree */
	dev->dev_id = id;
	dev->recovering = true;
	ret = kublk_get_features(&dev->features);
	if (ret < 0) {
		features_err(ret);
		return 1;
	}
	if (dev->tgt->init(dev))
		return 1;
	return daemonize(dev);
}

static int pid_alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "pid (comm) S ...": a zombie has exited */
	ok = fscanf(f, "%*d (%*[^)]) %c", &state);
	fclose(f);
	return ok == 1 && state != 'Z' && state != 'X';
}

static int del_one(int id)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct ublksrv_ctrl_dev_info info;
	char path[PATH_MAX];
	int ret, i;

	ret = kublk_get_info(id, &info);
	if (ret < 0) {
		kublk_err("device %d: %s", id, strerror(-ret));
		return ret;
	}
	ret = ctrl_simple(UBLK_U_CMD_DEL_DEV, id, 0);
	if (ret < 0) {
		kublk_err("DEL_DEV of device %d: %s", id, strerror(-ret));
		return ret;
	}
	/* DEL_DEV waited for the server to close /dev/ublkcN; let it exit */
	for (i = 0; info.ublksrv_pid > 0 && i < 1500 && pid_alive(info.ublksrv_pid); i++)
		nanosleep(&ts, NULL);
	if (info.ublksrv_pid > 0 && pid_alive(info.ublksrv_pid))
		kublk_log("device %d deleted, its server %d has not exited", id,
			  info.ublksrv_pid);
	args_path(id, path, sizeof(path));
	unlink(path);
	return 0;
}

/* ids of all devices, from sysfs, ascending; returns how many */
static int list_ids(int *ids, int max)
{
	struct dirent *de;
	int n = 0, i, j;
	DIR *d;

	d = opendir("/sys/class/ublk-char");
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		int id;

		if (sscanf(de->d_name, "ublkc%d", &id) == 1)
			ids[n++] = id;
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			int tmp = ids[j];

			ids[j] = ids[j - 1];
			ids[j - 1] = tmp;
		}
	return n;
}

/* the common options of the device commands: -n ID, -a, -s, --safe ... */
struct simple_args {
	int id;
	bool all;
	bool safe;
	unsigned long long size;
	unsigned int timeout_ms;
};

static int parse_simple(int argc, char **argv, const char *allowed, struct simple_args *a)
{
	static const struct option opts[] = {
		{ "dev_id", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 's' },
		{ "safe", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ }
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->id = -1;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:as:v", opts, NULL)) != -1) {
		/* allowed: the option characters this command takes */
		if (opt != '?' && opt != 'v' && !strchr(allowed, opt)) {
			kublk_err("option '%s' does not apply here", argv[optind - 1 -
				  (optarg && optarg == argv[optind - 1])]);
			return -EINVAL;
		}
		switch (opt) {
		case 'n':
			if (parse_id(optarg, &a->id))
				return -EINVAL;
			break;
		case 'a':
			a->all = true;
			break;
		case 's':
			if (kublk_parse_size(optarg, &a->size) || !a->size || a->size % 512) {
				kublk_err("-s: '%s' is not a size in 512-byte units", optarg);
				return -EINVAL;
			}
			break;
		case 'S':
			a->safe = true;
			break;
		case 'T':
			if (kublk_parse_uint(optarg, &a->timeout_ms)) {
				kublk_err("--timeout: '%s' is not a number of milliseconds",
					  optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			verbose = true;
			break;
		default:
			if (optopt)
				kublk_err("option -%c is unknown or needs an argument", optopt);
			else
				kublk_err("unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		kublk_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int need_id(const struct simple_args *a)
{
	if (a->id >= 0)
		return 0;
	kublk_err("-n ID is required");
	return -EINVAL;
}

static int cmd_del(int argc, char **argv)
{
	struct simple_args a;
	int ids[1024], n, i, ret = 0;
	bool by_id;

	if (parse_simple(argc, argv, "na", &a))
		return 1;
	by_id = a.id >= 0;
	if (a.all == by_id) {
		kublk_err("give either -n ID or -a");
		return 1;
	}
	if (!a.all)
		return del_one(a.id) ? 1 : 0;
	n = list_ids(ids, ARRAY_SIZE(ids));
	for (i = 0; i < n; i++)
		if (del_one(ids[i]))
			ret = 1;
	return ret;
}

static void list_one_target(int id, FILE *f)
{
	struct kublk_dev *dev;
	char **argv;
	int argc;

	if (load_args(id, &argc, &argv))
		return;
	dev = dev_alloc();
	/* describe the saved configuration; errors are not this command's */
	quiet = true;
	if (!parse_dev_args(dev, argc, argv)) {
		fprintf(f, " target=%s", dev->tgt->name);
		if (dev->tgt->describe)
			dev->tgt->describe(dev, f);
		/* how the server serves it, where "add" had a say */
		if (dev->batch)
			fprintf(f, " threads=%d", dev->nthreads ? dev->nthreads :
				(int)dev->nr_queues);
		if (dev->prio)
			fprintf(f, " prio=%d", dev->prio - 1);
		if (dev->balance)
			fputs(" balance=1", f);
		if (dev->iopoll)
			fputs(" iopoll=1", f);
	}
	quiet = false;
}

static int list_one(int id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int ret;

	ret = kublk_get_info(id, &info);
	if (ret < 0) {
		kublk_err("device %d: %s", id, strerror(-ret));
		return ret;
	}
	printf("id=%u state=%s queues=%u depth=%u max_io=%u ",
	       info.dev_id, kublk_state_name(info.state), info.nr_hw_queues,
	       info.queue_depth, info.max_io_buf_bytes);
	printf("pid=%d io_desc_size=%u flags=0x%llx features=",
	       info.ublksrv_pid, info.io_desc_size, (unsigned long long)info.flags);
	kublk_print_flags(stdout, info.flags);
	/* one command per slot, or batches of them (UBLK_F_BATCH_IO) */
	printf(" io=%s", info.flags & UBLK_F_BATCH_IO ? "batch" : "per_io");
	if (kublk_get_params(id, &p) >= 0 && (p.types & UBLK_PARAM_TYPE_BASIC))
		printf(" size=%llu lbs=%u pbs=%u max_sectors=%u param_types=0x%x",
		       (unsigned long long)p.basic.dev_sectors << 9,
		       1U << p.basic.logical_bs_shift, 1U << p.basic.physical_bs_shift,
		       p.basic.max_sectors, p.types);
	fflush(stdout);
	list_one_target(id, stdout);
	putchar('\n');
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	struct simple_args a;
	int ids[1024], n, i, ret = 0;

	if (parse_simple(argc, argv, "n", &a))
		return 1;
	if (a.id >= 0)
		return list_one(a.id) ? 1 : 0;
	n = list_ids(ids, ARRAY_SIZE(ids));
	for (i = 0; i < n; i++) {
		int r = list_one(ids[i]);

		/* a device that went away meanwhile is no error */
		if (r && r != -ENODEV)
			ret = 1;
	}
	return ret;
}

static int cmd_features(int argc, char **argv)
{
	__u64 f;
	int ret, bit;

	if (argc > 1) {
		kublk_err("takes no arguments");
		return 1;
	}
	ret = kublk_get_features(&f);
	if (ret < 0) {
		features_err(ret);
		return 1;
	}
	printf("features 0x%llx\n", (unsigned long long)f);
	for (bit = 0; bit < 64; bit++) {
		const char *name = kublk_feature_name(bit);

		if (f & (1ULL << bit))
			printf("  %-24s bit %d\n", name ? name : "(unknown)", bit);
	}
	return 0;
}

/* a device command that needs a feature: check, send, report */
static int feature_cmd(int id, __u64 flag, __u32 op, __u64 data, const char *what)
{
	struct kublk_dev dev = { };
	int ret;

	ret = kublk_get_features(&dev.features);
	if (ret < 0) {
		features_err(ret);
		return 1;
	}
	if (flag && need_feature(&dev, flag, what))
		return 1;
	ret = ctrl_simple(op, id, data);
	if (ret < 0) {
		kublk_err("%s of device %d: %s", what, id, strerror(-ret));
		return 1;
	}
	return 0;
}

static int cmd_stop(int argc, char **argv)
{
	struct simple_args a;

	if (parse_simple(argc, argv, "nS", &a) || need_id(&a))
		return 1;
	if (a.safe)
		return feature_cmd(a.id, UBLK_F_SAFE_STOP_DEV, UBLK_U_CMD_TRY_STOP_DEV, 0,
				   "stop --safe");
	return feature_cmd(a.id, 0, UBLK_U_CMD_STOP_DEV, 0, "STOP_DEV");
}

static int cmd_quiesce(int argc, char **argv)
{
	struct simple_args a;

	struct ublksrv_ctrl_dev_info info;
	int ret;

	if (parse_simple(argc, argv, "nT", &a) || need_id(&a))
		return 1;
	ret = kublk_get_info(a.id, &info);
	if (ret < 0) {
		kublk_err("device %d: %s", a.id, strerror(-ret));
		return 1;
	}
	if (!(info.flags & UBLK_F_QUIESCE)) {
		kublk_err("device %d was not added with --quiesce (UBLK_F_QUIESCE)", a.id);
		return 1;
	}
	return feature_cmd(a.id, UBLK_F_QUIESCE, UBLK_U_CMD_QUIESCE_DEV, a.timeout_ms,
			   "quiesce");
}

static int cmd_update_size(int argc, char **argv)
{
	struct simple_args a;

	if (parse_simple(argc, argv, "ns", &a) || need_id(&a))
		return 1;
	if (!a.size) {
		kublk_err("-s SIZE is required");
		return 1;
	}
	return feature_cmd(a.id, UBLK_F_UPDATE_SIZE, UBLK_U_CMD_UPDATE_SIZE, a.size >> 9,
			   "update_size");
}

static void print_usage(FILE *f)
{
	unsigned int i;

	fputs("usage: kublk COMMAND [options]\n"
	      "\n"
	      "  add -t TARGET [options] [target arguments]\n"
	      "        create a device and serve it in the background; prints its id\n"
	      "        once it is live\n"
	      "  del -n ID | -a          delete a device (all devices); waits for its server\n"
	      "  list [-n ID]            one line per device: id=, state=, queues=, depth=,\n"
	      "                          max_io=, pid=, flags=, features=, io= (per_io or\n"
	      "                          batch), size=, lbs=, pbs=, max_sectors=, target=...\n"
	      "                          (batch mode: threads=, prio=, balance=)\n"
	      "  recover -n ID [-t TARGET [options] [target arguments]]\n"
	      "        serve a --recovery device whose server died, with the arguments\n"
	      "        it was added with (or the ones given)\n"
	      "  features                what the driver supports (GET_FEATURES)\n"
	      "  stop -n ID [--safe]     stop the device (its server exits); --safe only\n"
	      "                          if nobody has it open (SAFE_STOP_DEV)\n"
	      "  quiesce -n ID [--timeout MS]\n"
	      "                          stop serving, keep the device for \"recover\" (QUIESCE)\n"
	      "  update_size -n ID -s SIZE\n"
	      "                          change the capacity (UPDATE_SIZE)\n"
	      "  help                    this text\n"
	      "\n"
	      "options of add (and recover):\n"
	      "  -t, --type TARGET       null, loop, stripe or fault_inject\n"
	      "  -n, --dev_id ID         device id (default: the driver's choice)\n"
	      "  -q, --queues N          hardware queues (1)\n"
	      "  -d, --depth N           queue depth (128)\n"
	      "  -s, --size SIZE         size (k, m, g, t suffixes), for targets without files\n"
	      "      --max_io SIZE       largest request (512k)\n"
	      "      --lbs N, --pbs N    logical (512) and physical (4096) block size\n"
	      "      --rotational, --read_only\n"
	      "  -r, --recovery 0|1      the device outlives its server (USER_RECOVERY);\n"
	      "                          requests the server held fail\n"
	      "      --recovery_reissue 0|1\n"
	      "                          ... and they are issued again (USER_RECOVERY_REISSUE)\n"
	      "      --recovery_fail_io 0|1\n"
	      "                          ... and all I/O fails while no server runs\n"
	      "                          (USER_RECOVERY_FAIL_IO)\n"
	      "  -g, --get_data          NEED_GET_DATA: a WRITE's buffer is given on demand\n"
	      "  -u, --user_copy         USER_COPY: data moves by pread/pwrite on /dev/ublkcN\n"
	      "                          (default: the driver copies to the server's buffers)\n"
	      "      --nthreads N        server threads (default one per queue); another\n"
	      "                          count spreads each queue's tags over the threads\n"
	      "                          (PER_IO_DAEMON); with -b, N threads in all,\n"
	      "                          thread i serving queue i mod the queue count\n"
	      "                          (fewer threads than queues: thread i serves the\n"
	      "                          queues q with q mod N = i)\n"
	      "      --per_io_tasks      deal each queue's tags out over the threads\n"
	      "                          (thread i serves the tags t with t mod N = i of\n"
	      "                          every queue; N from --nthreads, default 2)\n"
	      "                          (PER_IO_DAEMON)\n"
	      "      --io_desc_size N    descriptors of N bytes (UBLK_F_IO_DESC_SIZE)\n"
	      "      --compat SERVER     send the parameters SERVER sends: ublksrv,\n"
	      "                          kublk (mainline's) or nvme (PRP-like limits)\n"
	      "      --offload N         N offload threads run the target; server threads\n"
	      "                          only fetch and commit\n"
	      "      --quiesce           the device can be quiesced (QUIESCE; needs a\n"
	      "                          recovery mode)\n"
	      "      --no_auto_part_scan no partition scan when the device starts\n"
	      "                          (NO_AUTO_PART_SCAN)\n"
	      "  -z, --zero_copy         zero copy (SUPPORT_ZERO_COPY): the server registers\n"
	      "                          each request's pages in its ring's buffer table\n"
	      "                          (REGISTER_IO_BUF) and does the backing IO on them\n"
	      "                          with READ/WRITE_FIXED; no server buffers\n"
	      "      --auto_zc           zero copy with AUTO_BUF_REG: the driver registers\n"
	      "                          them when it delivers the request\n"
	      "      --auto_zc_fallback  with -z and --auto_zc: a request whose automatic\n"
	      "                          registration failed (NEED_REG_BUF) is registered\n"
	      "                          by the server\n"
	      "      --auto_zc_force_fallback\n"
	      "                          test only: with --auto_zc_fallback, give the driver\n"
	      "                          an occupied table entry, so that every automatic\n"
	      "                          registration fails and takes the fallback\n"
	      "      --zc_no_unregister  test only: with -z, never unregister a buffer; they\n"
	      "                          stay registered until the server's rings go away\n"
	      "  -b, --batch             batch mode (BATCH_IO): each queue's tags are\n"
	      "                          prepared, fetched and committed in bulk by\n"
	      "                          whichever of its threads takes them (multishot\n"
	      "                          FETCH_IO_CMDS, one COMMIT_IO_CMDS per queue per\n"
	      "                          pass of a thread's loop); not with -g,\n"
	      "                          --per_io_tasks or --offload\n"
	      "      --prio N            with -b: the fetch commands' priority, 0 to 7\n"
	      "                          (BATCH_PRIO; the driver's default is 4); new\n"
	      "                          requests go to a thread of the highest level\n"
	      "      --balance           with -b and --nthreads of at least two threads per\n"
	      "                          queue (BATCH_PRIO): a thread that holds more than\n"
	      "                          depth / (2 * threads of the queue) requests of a\n"
	      "                          queue lowers its priority there by one, and goes\n"
	      "                          back to its base level (--prio, else 4) once it\n"
	      "                          holds none\n"
	      "      --iopoll            polled queues (IOPOLL): each queue's thread serves\n"
	      "                          it and polls its backing I/O on one\n"
	      "                          IORING_SETUP_IOPOLL ring, and sleeps while idle;\n"
	      "                          backing files must be pollable O_DIRECT block\n"
	      "                          devices (poll queues); with -b, each queue's\n"
	      "                          fetch command is polled there too; not with\n"
	      "                          --offload, --per_io_tasks, --nthreads other\n"
	      "                          than -q, fault_inject, null --latency_us, loop\n"
	      "                          --buffered\n"
	      "      --foreground        serve in the foreground (prints the id when live)\n"
	      "      --log FILE          the server's messages (default $KUBLK_LOG, else none)\n"
	      "  -v, --verbose\n"
	      "\n"
	      "targets:\n", f);
	for (i = 0; i < ARRAY_SIZE(targets); i++)
		fputs(targets[i]->usage, f);
	fputs("\nErrors are one line on stderr and a non-zero exit status.\n"
	      "Saved arguments live in $KUBLK_RUN_DIR (default " KUBLK_DEF_RUN_DIR ").\n", f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "add", cmd_add },
		{ "del", cmd_del },
		{ "list", cmd_list },
		{ "recover", cmd_recover },
		{ "features", cmd_features },
		{ "stop", cmd_stop },
		{ "quiesce", cmd_quiesce },
		{ "update_size", cmd_update_size },
	};
	unsigned int i;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		cmd_name = cmds[i].name;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	cmd_name = "";
	kublk_err("unknown command '%s' (try: kublk help)", argv[1]);
	return 1;
}
