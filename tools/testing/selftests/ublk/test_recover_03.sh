#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# USER_RECOVERY_FAIL_IO: while no server runs the device is in state
# FAIL_IO and I/O fails at once (no waiting); after recovery it works
# again and the data written before the kill is intact.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_FAIL_IO

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 --recovery_fail_io 1 "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_write "$dev" 16M
_kill_server "$id"
_wait_state "$id" FAIL_IO
[ -b "$dev" ] || _fail "$dev went away with recovery enabled"
err=$(timeout 20 dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct 2>&1)
rc=$?
[ "$rc" = 124 ] && _fail "I/O waited although the device fails I/O without a server"
[ "$rc" != 0 ] || _fail "a read succeeded without a server"
echo "$err" | grep -q "Input/output error" || _fail "the read failed with: $err"
_recover "$id"
_fio_check "$dev" 16M
_del_dev "$id"
_log "I/O failed while no server ran; data intact after recovery"
exit 0
