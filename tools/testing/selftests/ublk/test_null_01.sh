#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# null target: random reads and writes at QD1 and QD32, one and two
# queues and jobs; every request fio issued reached the device (its
# sysfs I/O counters grew by at least as much).

. "$(dirname "$0")"/test_common.sh
_prep_test

stat_ios() { awk '{ print $1 + $5 }' "/sys/block/ublkb$1/stat"; }

for q in 1 2; do
	_add_dev -t null -q "$q" -s 1G
	id=$DEV_ID
	for qd in 1 32; do
		before=$(stat_ios "$id")
		_fio "null$q-$qd" --filename="/dev/ublkb$id" --rw=randrw --bs=4k \
			--iodepth="$qd" --numjobs="$q" --size=8M --io_size=8M
		after=$(stat_ios "$id")
		# 8M of 4k I/O per job
		[ $((after - before)) -ge $((2048 * q)) ] ||
			_fail "q$q QD$qd: the device counted $((after - before)) I/Os," \
			      "fio issued $((2048 * q))"
	done
	_del_dev "$id"
done
_log "null device served QD1 and QD32 with 1 and 2 queues"
exit 0
