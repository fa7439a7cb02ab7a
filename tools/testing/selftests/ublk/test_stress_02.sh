#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress, delete under I/O, repeated: three times, three devices (null,
# loop, stripe) under fio are removed together with "del -a"; every fio
# fails instead of hanging and nothing is left.

. "$(dirname "$0")"/test_common.sh
_prep_test

for f in a b c; do _mkfile "$UBLK_TMP/$f" 32M; done
for cycle in 1 2 3; do
	pids=()
	_add_dev -t null -q 2
	_fio_bg "null$cycle" "/dev/ublkb$DEV_ID"
	pids+=("$FIO_PID")
	_add_dev -t loop "$UBLK_TMP/a"
	_fio_bg "loop$cycle" "/dev/ublkb$DEV_ID"
	pids+=("$FIO_PID")
	_add_dev -t stripe -q 2 "$UBLK_TMP/b" "$UBLK_TMP/c"
	_fio_bg "stripe$cycle" "/dev/ublkb$DEV_ID" --bsrange=4k-256k
	pids+=("$FIO_PID")
	timeout 120 "$KUBLK" del -a || _fail "del -a under I/O failed or hung"
	for FIO_PID in "${pids[@]}"; do
		_fio_bg_failed
	done
	[ -z "$("$KUBLK" list)" ] || _fail "devices left: $("$KUBLK" list)"
	_log "cycle $cycle: three devices deleted under I/O"
done
exit 0
