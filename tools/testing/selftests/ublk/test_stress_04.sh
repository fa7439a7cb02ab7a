#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress, concurrent control: four loops add and delete devices in
# parallel, five times each, with a little I/O on each device; every
# command succeeds and no device is left.

. "$(dirname "$0")"/test_common.sh
_prep_test

churn() {
	local n=$1 i id

	for i in 1 2 3 4 5; do
		id=$("$KUBLK" add -t null -q $((i % 2 + 1)) -s 32M) || return 1
		dd if="/dev/ublkb$id" of=/dev/null bs=64k count=64 iflag=direct status=none ||
			return 2
		"$KUBLK" del -n "$id" || return 3
		[ ! -e "/dev/ublkb$id" ] || return 4
	done
	echo "loop $n done"
}

pids=()
for n in 1 2 3 4; do
	churn "$n" >"$UBLK_TMP/churn$n.log" 2>&1 &
	pids+=($!)
done
for n in 1 2 3 4; do
	wait "${pids[$((n - 1))]}" || _fail "loop $n failed (step $?): $(cat "$UBLK_TMP/churn$n.log")"
done
[ -z "$("$KUBLK" list)" ] || _fail "devices left: $("$KUBLK" list)"
_log "20 concurrent add/del cycles"
exit 0
