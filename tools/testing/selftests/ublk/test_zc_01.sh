#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Zero copy (-z, SUPPORT_ZERO_COPY), loop target: the server registers
# each request's pages (REGISTER_IO_BUF), reads or writes the backing
# file with READ/WRITE_FIXED on them and unregisters them before the
# commit.  fio writes and verifies at QD1 and QD128, with 4k and mixed
# 4k-1M requests (1M is split at max_io), on one queue and on four;
# with BUF_REG_OFF_DAEMON also through an offload thread, which
# registers in its own ring.  null -z registers and unregisters with no
# data moved: every request fio sends completes.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature SUPPORT_ZERO_COPY

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -z "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 8M --iodepth=1
_fio_verify "/dev/ublkb$id" 16M --iodepth=128 --bsrange=4k-1M --offset=16M
_del_dev "$id"
_log "1 queue: verified at QD1 (4k) and QD128 (4k-1M)"

_add_dev -t loop -z -q 4 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 8M --iodepth=1 --bsrange=4k-1M
_fio_verify "/dev/ublkb$id" 8M --iodepth=128 --bsrange=4k-1M --numjobs=2 \
	--offset=16M --offset_increment=16M
_del_dev "$id"
_log "4 queues: verified at QD1 and QD128 (4k-1M)"

if _have_feature BUF_REG_OFF_DAEMON; then
	_add_dev -t loop -z -q 2 --offload 1 "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 8M --iodepth=32 --bsrange=4k-256k
	_del_dev "$id"
	_log "offload thread registering in its own ring: verified"
fi

_add_dev -t null -z -s 64M
id=$DEV_ID
read -r r0 _ _ _ w0 _ < "/sys/block/ublkb$id/stat"
_fio null --filename="/dev/ublkb$id" --rw=randrw --bsrange=4k-128k --iodepth=32 --size=8M
read -r r1 _ _ _ w1 _ < "/sys/block/ublkb$id/stat"
[ $((r1 + w1 - r0 - w0)) -gt 0 ] || _fail "null -z: no I/O counted"
_del_dev "$id"
_log "null -z: $((r1 + w1 - r0 - w0)) requests registered and unregistered"
exit 0
