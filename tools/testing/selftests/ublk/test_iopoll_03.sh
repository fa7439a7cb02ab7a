#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll while idle: a polled server must not spin when there is no
# I/O.  After fio stops, all threads of the server together use under
# 5 % of a CPU over 3 s (utime + stime from /proc/PID/task/*/stat), so
# its queue threads sleep (UBLK_U_IO_IOPOLL_SLEEP and an eventfd); and
# after 2 s of idleness a single read wakes the thread of its queue,
# completes and returns the data written before.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IOPOLL

_nullb_poll 1
_add_dev -t loop -q 2 --iopoll /dev/nullb0
id=$DEV_ID
dev=/dev/ublkb$id
pid=$(_dev_field "$id" pid)

head -c 1M /dev/urandom > "$UBLK_TMP/pattern" || _fail "no pattern"
dd if="$UBLK_TMP/pattern" of="$dev" bs=64k oflag=direct status=none ||
	_fail "writing the pattern failed"
_fio load --filename="$dev" --rw=randrw --bs=4k --iodepth=32 \
	--numjobs=2 --size=8M --offset=8M --io_size=4M

_idle_check "$pid"
_log "idle server: $IDLE_TICKS ticks in 3 s (CLK_TCK $IDLE_HZ)"

# each queue's thread sleeps; a read from each CPU's queue wakes it
for cpu in 0 1; do
	_nap 2
	blk=$((cpu * 5 + 3))
	timeout 30 taskset -c "$cpu" dd if="$dev" of="$UBLK_TMP/read$cpu" bs=64k skip="$blk" \
		count=1 iflag=direct status=none
	rc=$?
	[ "$rc" = 124 ] && _fail "a read after 2 s of idleness did not complete (CPU $cpu)"
	[ "$rc" = 0 ] || _fail "a read after 2 s of idleness failed (CPU $cpu)"
	cmp -s "$UBLK_TMP/read$cpu" <(dd if="$UBLK_TMP/pattern" bs=64k skip="$blk" count=1 \
				       status=none) ||
		_fail "the read after 2 s of idleness returned wrong data (CPU $cpu)"
done
_del_dev "$id"
_log "an idle polled server sleeps, and wakes for a single read"
exit 0
