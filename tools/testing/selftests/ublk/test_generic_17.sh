#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# TRY_STOP_DEV while the disk's open_mutex is held by I/O that waits for
# recovery (found by ublk_fuzz): a partition re-read of a device whose
# server was killed holds the disk's open_mutex while its read is parked
# for the next server.  TRY_STOP_DEV must answer -EBUSY at once instead
# of waiting for that mutex with the device's own mutex held, which kept
# the recovery that would end the read out forever.  Then the recovery
# serves the parked read, and the device works.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature SAFE_STOP_DEV

_add_dev -t null -s 64M -r 1 --no_auto_part_scan
id=$DEV_ID
_kill_server "$id"
_wait_state "$id" QUIESCED

blockdev --rereadpt "/dev/ublkb$id" 2>/dev/null &
rr=$!
# the re-read is in the kernel, waiting with open_mutex held
_nap 2
_pid_alive "$rr" || _fail "BLKRRPART finished without a server"

timeout 30 "$KUBLK" stop -n "$id" --safe 2>"$UBLK_TMP/stop.err"
rc=$?
[ "$rc" = 124 ] && _fail "kublk stop --safe hung with the disk's open_mutex held"
[ "$rc" != 0 ] || _fail "kublk stop --safe succeeded on a disk being re-read"
grep -q "busy" "$UBLK_TMP/stop.err" ||
	_fail "kublk stop --safe: not -EBUSY: $(<"$UBLK_TMP/stop.err")"

_recover "$id"
wait "$rr"
_pid_alive "$rr" && _fail "BLKRRPART still waits after recovery"
dd if="/dev/ublkb$id" of=/dev/null bs=4k count=16 iflag=direct status=none ||
	_fail "reading the recovered device failed"
_del_dev "$id"
_log "TRY_STOP_DEV during a parked partition re-read: -EBUSY; recovered, read served"
exit 0
