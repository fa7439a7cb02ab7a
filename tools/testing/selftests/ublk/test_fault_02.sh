#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Injected write and flush errors reach the application with their errno:
# writes to the faulty range fail with ENOSPC (--errno 28), data around
# it is intact; a device whose flushes fail makes fsync fail with EIO.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 32M
_add_dev -t fault_inject --error_op write --error_off 8M --error_len 1M --errno 28 \
	"$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_verify "$dev" 4M --offset=2M
err=$(dd if=/dev/urandom of="$dev" bs=64k seek=130 count=1 oflag=direct status=none 2>&1) &&
	_fail "a write to the faulty range succeeded"
echo "$err" | grep -q "No space left on device" || _fail "write error was not ENOSPC: $err"
cmp -n 1M -i 8M:0 "$UBLK_TMP/backing" /dev/zero || _fail "a failed write reached the file"
_fio_verify "$dev" 4M --offset=12M
_del_dev "$id"

_add_dev -t fault_inject --error_op flush "$UBLK_TMP/backing"
id=$DEV_ID
err=$(dd if=/dev/zero of="/dev/ublkb$id" bs=4k count=1 conv=fsync status=none 2>&1) &&
	_fail "fsync on a device with failing flushes succeeded"
echo "$err" | grep -q "Input/output error" || _fail "fsync error was not EIO: $err"
_del_dev "$id"
_log "ENOSPC writes and EIO flushes reached the application"
exit 0
