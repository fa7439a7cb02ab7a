#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# null target in each data mode the driver reports (copy, NEED_GET_DATA,
# USER_COPY): the device gets the mode, and reads, writes, flushes,
# discards and write-zeroes all complete.

. "$(dirname "$0")"/test_common.sh
_prep_test

for m in $(_data_modes); do
	name=${m%%:*}
	opt=${m#*:}
	# shellcheck disable=SC2086 # opt is empty or one option
	_add_dev -t null -q 2 -s 256M $opt
	id=$DEV_ID
	if [ -n "$opt" ]; then
		echo ",$(_dev_field "$id" features)," | grep -q ",$name," ||
			_fail "$name device has features $(_dev_field "$id" features)"
	fi
	_fio "mode-$name" --filename="/dev/ublkb$id" --rw=randrw --bs=4k --bsrange=4k-128k \
		--iodepth=16 --numjobs=2 --size=16M --fsync=8
	blkdiscard -o 0 -l 1M "/dev/ublkb$id" || _fail "$name: discard failed"
	blkdiscard -z -o 1M -l 1M "/dev/ublkb$id" || _fail "$name: write zeroes failed"
	_del_dev "$id"
	_log "$name mode served"
done
exit 0
