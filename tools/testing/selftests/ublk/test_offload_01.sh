#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offload mode, null target: with 1 and 2 offload threads (queue threads
# only fetch and commit), every request fio issues reaches the device and
# completes, from one and two queues.

. "$(dirname "$0")"/test_common.sh
_prep_test

stat_ios() { awk '{ print $1 + $5 }' "/sys/block/ublkb$1/stat"; }

for shape in "1 1" "2 2" "2 1"; do
	read -r q n <<<"$shape"
	_add_dev -t null -q "$q" --offload "$n" -s 256M
	id=$DEV_ID
	before=$(stat_ios "$id")
	_fio "offload$q$n" --filename="/dev/ublkb$id" --rw=randrw --bs=4k --iodepth=32 \
		--numjobs="$q" --size=8M --io_size=8M
	after=$(stat_ios "$id")
	[ $((after - before)) -ge $((2048 * q)) ] ||
		_fail "$q queues, $n offload threads: $((after - before)) I/Os counted"
	_del_dev "$id"
	_log "$q queue(s), $n offload thread(s): $((after - before)) I/Os"
done
exit 0
