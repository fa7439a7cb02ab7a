#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-io daemons: with PER_IO_DAEMON the tags of all queues can be
# served by any number of threads (--nthreads 3 over 2 queues, and 1
# thread for 2 queues); verified I/O works either way.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature PER_IO_DAEMON

_mkfile "$UBLK_TMP/backing" 64M
for n in 3 1; do
	_add_dev -t loop -q 2 --nthreads "$n" "$UBLK_TMP/backing"
	id=$DEV_ID
	pid=$(_dev_field "$id" pid)
	threads=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$threads" -gt "$n" ] || _fail "server has $threads tasks, expected more than $n"
	_fio_verify "/dev/ublkb$id" 8M --numjobs=2 --offset_increment=24M
	_del_dev "$id"
	_log "2 queues served by $n thread(s)"
done
exit 0
