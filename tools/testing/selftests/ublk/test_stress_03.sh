#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress, kill and recover under verified I/O on two devices at once:
# each device's server is killed and recovered twice while fio writes
# and verifies on both; both fio jobs end without error.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE

ids=()
pids=()
for i in 0 1; do
	_mkfile "$UBLK_TMP/b$i" 48M
	_add_dev -t loop -q 2 --recovery_reissue 1 "$UBLK_TMP/b$i"
	ids+=("$DEV_ID")
	_fio_verify_bg "v$i" "/dev/ublkb$DEV_ID" 24M --loops=2
	pids+=("$FIO_PID")
done
for cycle in 1 2; do
	sleep 1
	for id in "${ids[@]}"; do
		_kill_server "$id"
	done
	for id in "${ids[@]}"; do
		_wait_state "$id" QUIESCED
		_recover "$id"
	done
	_log "cycle $cycle: both devices recovered"
done
for i in 0 1; do
	wait "${pids[$i]}" || _fail "fio on device ${ids[$i]}: $(tail -n 8 "$UBLK_TMP/v$i.fio")"
done
exit 0
