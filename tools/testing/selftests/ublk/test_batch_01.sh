#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Batch mode (-b, BATCH_IO): each queue's tags are prepared once
# (PREP_IO_CMDS), new requests arrive as arrays of tags from a multishot
# FETCH_IO_CMDS and results go back in one COMMIT_IO_CMDS per queue and
# pass.  On loop, fio writes and verifies at QD1 and QD128 with one queue
# and with four; a null device at QD1 and QD128 completes every request
# fio issues (the disk counts them all).  "kublk list" says io=batch, and
# the combinations batch mode cannot serve are refused with one line.
# At QD128 fetch CQEs carry more than one tag on average.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature BATCH_IO

# I/Os the disk completed, counting those merged into others
stat_ios() {
	local r rm w wm

	read -r r rm _ _ w wm _ < "/sys/block/ublkb$1/stat" || _fail "ublkb$1 has no stat"
	echo $((r + rm + w + wm))
}

# must_refuse ARGS...: kublk add ARGS fails with one line on stderr
must_refuse() {
	local err

	"$KUBLK" add "$@" >/dev/null 2>"$UBLK_TMP/err" && _fail "kublk add $* succeeded"
	err=$(<"$UBLK_TMP/err")
	if [ -z "$err" ] || [ "$(echo "$err" | wc -l)" != 1 ]; then
		_fail "kublk add $*: expected one line on stderr, got: $err"
	fi
}

_mkfile "$UBLK_TMP/backing" 64M
for q in 1 4; do
	_add_dev -t loop -b -q "$q" "$UBLK_TMP/backing"
	id=$DEV_ID
	[ "$(_dev_field "$id" io)" = batch ] ||
		_fail "loop -b -q $q: kublk list says io=$(_dev_field "$id" io)"
	_fio_verify "/dev/ublkb$id" 2M --iodepth=1
	_fio_verify "/dev/ublkb$id" 8M --iodepth=128 --bsrange=4k-256k --offset=16M \
		--numjobs=2 --offset_increment=16M
	_del_dev "$id"
	_log "loop, $q queue(s): verified at QD1 and QD128"

	_add_dev -t null -b -q "$q" -s 256M
	id=$DEV_ID
	for qd in 1 128; do
		before=$(stat_ios "$id")
		_fio "null$q-$qd" --filename="/dev/ublkb$id" --rw=randrw --bs=4k \
			--iodepth="$qd" --numjobs=2 --size=4M --io_size=4M
		after=$(stat_ios "$id")
		# 4M of 4k I/O per job
		[ $((after - before)) -ge 2048 ] ||
			_fail "null -q $q QD$qd: the device counted $((after - before)) I/Os," \
			      "fio issued 2048"
	done
	_del_dev "$id"
	_log "null, $q queue(s): every request at QD1 and QD128 completed"
done

# batches form: at QD128 one fetch CQE carries more than one tag on
# average (the server logs its count when it exits)
_add_dev -t null -b -q 1 -s 256M
id=$DEV_ID
_fio null-qd128 --filename="/dev/ublkb$id" --rw=randread --bs=4k \
	--iodepth=128 --iodepth_batch_submit=32 --size=8M --io_size=8M
_del_dev "$id"
line=$(grep "batch: [0-9]* requests in [0-9]* fetch CQEs" "$KUBLK_LOG" | tail -n 1)
[[ "$line" =~ batch:\ ([0-9]+)\ requests\ in\ ([0-9]+)\ fetch ]] ||
	_fail "no batch count in the server log"
reqs=${BASH_REMATCH[1]} cqes=${BASH_REMATCH[2]}
if [ "$cqes" = 0 ] || [ "$reqs" -le "$cqes" ]; then
	_fail "QD128: $reqs requests in $cqes fetch CQEs, no batching"
fi
per100=$((reqs * 100 / cqes))
_log "QD128: $reqs requests in $cqes fetch CQEs ($((per100 / 100)).$((per100 % 100)) per CQE)"

must_refuse -t null -b -g
must_refuse -t null -b --per_io_tasks
must_refuse -t null -b --offload 1
must_refuse -t null --prio 1
must_refuse -t null -b --balance --nthreads 1
_log "-b with -g, --per_io_tasks, --offload, --prio without -b, --balance with one thread: refused"
exit 0
