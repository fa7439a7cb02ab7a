#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offload mode, loop target: two queues served by two offload threads
# (each slot always on the same one) verify at QD64 with two jobs, in
# every data mode the driver reports.

. "$(dirname "$0")"/test_common.sh
_prep_test

for m in $(_data_modes); do
	opt=${m#*:}
	_mkfile "$UBLK_TMP/backing" 64M
	# shellcheck disable=SC2086 # opt is empty or one option
	_add_dev -t loop -q 2 --offload 2 $opt "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 16M --iodepth=64 --numjobs=2 --offset_increment=24M \
		--bsrange=4k-256k
	_del_dev "$id"
	_log "loop, offload 2, ${m%%:*} mode: verified"
done
exit 0
