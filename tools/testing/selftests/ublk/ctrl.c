// SPDX-License-Identifier: GPL-2.0
/*
 * kublk control commands: each one is a 128-byte-SQE uring_cmd on
 * /dev/ublk-control, on a ring of its own so that any thread can send one
 * at any time.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "kublk.h"

int kublk_ctrl_cmd(__u32 cmd_op, __u32 dev_id, void *buf, __u16 len, __u64 data)
{
	struct ublksrv_ctrl_cmd *cmd;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int fd, ret;

	fd = open(KUBLK_CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &ring, IORING_SETUP_SQE128);
	if (ret) {
		close(fd);
		return ret;
	}
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		ret = -EIO;
		goto out;
	}
	kublk_prep_uring_cmd(sqe, fd, false, cmd_op, true);
	cmd = kublk_sqe_cmd(sqe);
	cmd->dev_id = dev_id;
	cmd->queue_id = (__u16)-1;
	cmd->addr = (unsigned long)buf;
	cmd->len = len;
	cmd->data[0] = data;
	ret = io_uring_submit(&ring);
	if (ret == 1) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (!ret) {
			ret = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
	} else if (ret >= 0) {
		ret = -EIO;
	}
out:
	io_uring_queue_exit(&ring);
	close(fd);
	return ret;
}

/*
 * GET_FEATURES, plus the driver's own extensions, which it lists in a
 * module parameter instead (GET_FEATURES keeps to mainline's bits).
 */
int kublk_get_features(__u64 *features)
{
	unsigned long long ext = 0;
	FILE *f;
	int ret;

	*features = 0;
	ret = kublk_ctrl_cmd(UBLK_U_CMD_GET_FEATURES, -1, features,
			     UBLK_FEATURES_LEN, 0);
	if (ret < 0)
		return ret;
	f = fopen("/sys/module/ublk_drv/parameters/ext_features", "r");
	if (f) {
		if (fscanf(f, "%llu", &ext) == 1)
			*features |= ext;
		fclose(f);
	}
	return ret;
}

int kublk_get_info(int dev_id, struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	return kublk_ctrl_cmd(UBLK_U_CMD_GET_DEV_INFO, dev_id, info,
			      sizeof(*info), 0);
}

int kublk_get_params(int dev_id, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	return kublk_ctrl_cmd(UBLK_U_CMD_GET_PARAMS, dev_id, p, sizeof(*p), 0);
}

static const char *const feature_names[] = {
	[0] = "SUPPORT_ZERO_COPY",
	[1] = "URING_CMD_COMP_IN_TASK",
	[2] = "NEED_GET_DATA",
	[3] = "USER_RECOVERY",
	[4] = "USER_RECOVERY_REISSUE",
	[5] = "UNPRIVILEGED_DEV",
	[6] = "CMD_IOCTL_ENCODE",
	[7] = "USER_COPY",
	[8] = "ZONED",
	[9] = "USER_RECOVERY_FAIL_IO",
	[10] = "UPDATE_SIZE",
	[11] = "AUTO_BUF_REG",
	[12] = "QUIESCE",
	[13] = "PER_IO_DAEMON",
	[14] = "BUF_REG_OFF_DAEMON",
	[15] = "BATCH_IO",
	[16] = "INTEGRITY",
	[17] = "SAFE_STOP_DEV",
	[18] = "NO_AUTO_PART_SCAN",
	[19] = "SHMEM_ZC",
	[20] = "IO_DESC_SIZE",
	/* this driver's own, from bit 63 down */
	[62] = "IOPOLL",
	[63] = "BATCH_PRIO",
};

const char *kublk_feature_name(int bit)
{
	if (bit >= 0 && bit < (int)ARRAY_SIZE(feature_names) && feature_names[bit])
		return feature_names[bit];
	return NULL;
}

/* flags as NAME,NAME,...; unknown bits as BIT<n> */
void kublk_print_flags(FILE *f, __u64 flags)
{
	const char *sep = "";
	int bit;

	for (bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(flags & (1ULL << bit)))
			continue;
		name = kublk_feature_name(bit);
		if (name)
			fprintf(f, "%s%s", sep, name);
		else
			fprintf(f, "%sBIT%d", sep, bit);
		sep = ",";
	}
	if (!*sep)
		fputs("none", f);
}

const char *kublk_state_name(int state)
{
	switch (state) {
	case UBLK_S_DEV_DEAD:
		return "DEAD";
	case UBLK_S_DEV_LIVE:
		return "LIVE";
	case UBLK_S_DEV_QUIESCED:
		return "QUIESCED";
	case UBLK_S_DEV_FAIL_IO:
		return "FAIL_IO";
	}
	return "UNKNOWN";
}
