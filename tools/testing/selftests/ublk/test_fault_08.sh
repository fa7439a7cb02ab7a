#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death at any point of "add": a foreground server is killed with
# SIGKILL 0.5 to 5 s after it starts (add takes seconds in the guest), so
# at different points of ADD_DEV, SET_PARAMS, fetching and START_DEV (and
# later, while live), with and without recovery.  Each time no command
# hangs and the device, if it was created, ends in a documented state:
# DEAD (never started, or no recovery) or QUIESCED (it had started, with
# recovery) - and then it recovers; del works either way.
#
# A kill that lands in the partition scan deadlocks drivers that scan
# inside START_DEV (see test_fault_07.sh); they do not report
# NO_AUTO_PART_SCAN.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature NO_AUTO_PART_SCAN

_mkfile "$UBLK_TMP/backing" 16M
rec=0
for delay in 0.5 1 1.25 1.5 1.75 2 3 5; do
	rec=$((1 - rec))
	id=$(_free_id)
	UBLK_DEVS+=("$id")
	"$KUBLK" add --foreground -t loop -q 2 -n "$id" -r "$rec" "$UBLK_TMP/backing" \
		>"$UBLK_TMP/out" 2>"$UBLK_TMP/err" &
	pid=$!
	_nap "$delay"
	kill -9 "$pid"
	_wait_pid_gone "$pid" 60
	wait "$pid"
	state=$(_dev_state "$id")
	if [ "$state" != GONE ]; then
		want=DEAD
		[ "$rec" = 1 ] && want="DEAD|QUIESCED"
		_wait_state "$id" "$want" 60
		state=$DEV_STATE
		[ "$state" = DEAD ] && [ -e "/sys/block/ublkb$id" ] &&
			_fail "DEAD device $id still has a disk"
		[ "$state" = QUIESCED ] && _recover "$id" -t loop -q 2 -r 1 "$UBLK_TMP/backing"
		_del_dev "$id"
	fi
	live=no
	[ -s "$UBLK_TMP/out" ] && live=yes
	_log "killed after ${delay}s (recovery $rec, was live: $live): $state"
done
exit 0
