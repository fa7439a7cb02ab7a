#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch priorities (BATCH_PRIO, this driver's extension of batch mode).
#   --balance  null, 1 queue, 2 threads, each request held 1 ms: under a
#              QD128 load a thread holds more than depth / 4 requests,
#              lowers its fetch command's priority (UPDATE_CMD_PRIO) and
#              raises it again once idle; the server's log must show
#              changes, and the counts its threads log at exit must add
#              up to more than none.  Then loop with 2 queues, 4 threads
#              and --balance verifies with fio.
#   --prio N   loop with every fetch command at level 2 (and 7 with two
#              threads) serves and verifies; "kublk list" shows the level.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature BATCH_IO BATCH_PRIO

# the server log of this part only
: > "$KUBLK_LOG"
_add_dev -t null -b --nthreads 2 --balance --latency_us 1000 -s 256M
id=$DEV_ID
[ "$(_dev_field "$id" balance)" = 1 ] || _fail "kublk list does not show balance=1"
_fio balance --filename="/dev/ublkb$id" --rw=randrw --bs=4k --iodepth=128 \
	--time_based --runtime=3 --size=64M
_del_dev "$id"
changes=0
lines=0
while read -r line; do
	if [[ "$line" =~ fetch\ priority\ changes:\ ([0-9]+) ]]; then
		changes=$((changes + BASH_REMATCH[1]))
		lines=$((lines + 1))
	fi
done < "$KUBLK_LOG"
[ "$lines" = 2 ] || _fail "--balance: $lines of 2 threads logged their priority changes"
[ "$changes" -gt 0 ] || _fail "--balance: no fetch priority changed under load"
grep -q "fetch priority [0-9] -> [0-9] (busy" "$KUBLK_LOG" ||
	_fail "--balance: no priority lowered for load in the log"
_log "balance, null: $changes priority changes under a QD128 load"

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -b -q 2 --nthreads 4 --balance "$UBLK_TMP/backing"
_fio_verify "/dev/ublkb$DEV_ID" 8M --iodepth=64 --bsrange=4k-256k --numjobs=2 \
	--offset_increment=24M
_del_dev "$DEV_ID"
_log "balance, loop: verified"

for p in "2 1" "7 2"; do
	read -r prio n <<< "$p"
	_add_dev -t loop -b --prio "$prio" --nthreads "$n" "$UBLK_TMP/backing"
	id=$DEV_ID
	[ "$(_dev_field "$id" prio)" = "$prio" ] ||
		_fail "--prio $prio: kublk list shows prio=$(_dev_field "$id" prio)"
	_fio_verify "/dev/ublkb$id" 4M --iodepth=32 --bsrange=4k-128k
	_del_dev "$id"
	_log "prio $prio, $n thread(s): verified"
done
exit 0
