#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death during the partition scan: the backing file has an MS-DOS
# partition table, and the server kills itself on its first request,
# which is the scan's read (privileged server, no NO_AUTO_PART_SCAN).
# Without recovery the device must end DEAD; with it DEAD (START_DEV
# failed) or QUIESCED (it had started), and then recoverable with the
# partition table intact.  Nothing hangs; del works.
#
# Drivers without UBLK_F_NO_AUTO_PART_SCAN (6.12's among them) scan inside
# START_DEV, and there this death is a deadlock no signal ends: the scan
# waits for the dead server, whose process cannot finish exiting while
# one of its threads waits in START_DEV.  The flag came with the scan
# moved out of START_DEV, so it tells which behaviour to expect.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature NO_AUTO_PART_SCAN

_mkfile "$UBLK_TMP/backing" 32M
_mkparts "$UBLK_TMP/backing"
for rec in 0 1; do
	id=$(_free_id)
	UBLK_DEVS+=("$id")
	timeout 120 "$KUBLK" add -t fault_inject -n "$id" -r "$rec" --die_at inflight \
		--die_after 1 "$UBLK_TMP/backing" >/dev/null 2>"$UBLK_TMP/err"
	rc=$?
	[ "$rc" = 124 ] && _fail "add hung when its server died in the partition scan"
	[ "$(_dev_state "$id")" = GONE ] && _fail "add left no device: $(<"$UBLK_TMP/err")"
	want=DEAD
	[ "$rec" = 1 ] && want="DEAD|QUIESCED"
	_wait_state "$id" "$want" 60
	_log "recovery $rec: add status $rc, device $DEV_STATE"
	if [ "$DEV_STATE" = QUIESCED ]; then
		_recover "$id" -t fault_inject -r 1 "$UBLK_TMP/backing"
		dd if="/dev/ublkb$id" of="$UBLK_TMP/mbr" bs=512 count=1 iflag=direct status=none ||
			_fail "reading the recovered device failed"
		cmp -n 512 "$UBLK_TMP/mbr" "$UBLK_TMP/backing" || _fail "partition table differs"
	else
		[ ! -e "/sys/block/ublkb$id" ] || _fail "DEAD device $id still has a disk"
	fi
	_del_dev "$id"
done
exit 0
