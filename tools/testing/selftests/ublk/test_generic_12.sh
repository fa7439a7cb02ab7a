#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SAFE_STOP_DEV: "stop --safe" refuses while the block device is open
# (the device stays LIVE and serves I/O) and stops it once nobody has it
# open.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature SAFE_STOP_DEV

_add_dev -t null -s 64M
id=$DEV_ID
exec 3<"/dev/ublkb$id"
"$KUBLK" stop -n "$id" --safe 2>"$UBLK_TMP/err" && _fail "stop --safe succeeded on an open device"
grep -q "busy" "$UBLK_TMP/err" || _fail "stop --safe failed with: $(<"$UBLK_TMP/err")"
[ "$(_dev_state "$id")" = LIVE ] || _fail "device is $(_dev_state "$id") after a refused stop"
dd if="/dev/ublkb$id" of=/dev/null bs=64k count=16 iflag=direct status=none ||
	_fail "I/O failed after a refused stop"
exec 3<&-
"$KUBLK" stop -n "$id" --safe || _fail "stop --safe of a closed device failed"
_wait_state "$id" DEAD
_del_dev "$id"
_log "safe stop refused while open, stopped when closed"
exit 0
