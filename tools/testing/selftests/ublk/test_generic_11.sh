#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# UPDATE_SIZE: a live device shrinks and grows; sysfs, the block device
# and GET_PARAMS show the new size, I/O beyond it fails, data below it
# is kept.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature UPDATE_SIZE

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_write "$dev" 8M
"$KUBLK" update_size -n "$id" -s 16M || _fail "update_size to 16M failed"
[ "$(blockdev --getsize64 "$dev")" = $((16 << 20)) ] || _fail "size after shrink"
[ "$(_dev_field "$id" size)" = $((16 << 20)) ] || _fail "GET_PARAMS size after shrink"
dd if="$dev" of=/dev/null bs=4k skip=$((20 << 8)) count=1 iflag=direct status=none 2>/dev/null &&
	_fail "a read beyond the new size succeeded"
_fio_check "$dev" 8M
"$KUBLK" update_size -n "$id" -s 64M || _fail "update_size to 64M failed"
[ "$(cat "/sys/block/ublkb$id/size")" = $((64 << 11)) ] || _fail "sysfs size after grow"
_fio_verify "$dev" 4M --offset=40M
_del_dev "$id"
_log "shrunk to 16M and grown to 64M"
exit 0
