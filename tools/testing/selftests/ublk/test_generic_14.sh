#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --per_io_tasks: the tags of each of two queues are dealt out over two
# server threads, so each queue is served by two tasks (PER_IO_DAEMON).
# Verified I/O works, and so does recovery under verified load with
# reissue (the new server's threads fetch other tasks' tags).  A driver
# without PER_IO_DAEMON must get the option refused.

. "$(dirname "$0")"/test_common.sh
_prep_test

if ! _have_feature PER_IO_DAEMON; then
	"$KUBLK" add -t null --per_io_tasks 2>"$UBLK_TMP/err" >/dev/null &&
		_fail "--per_io_tasks accepted without PER_IO_DAEMON"
	grep -q PER_IO_DAEMON "$UBLK_TMP/err" || _fail "refused with: $(<"$UBLK_TMP/err")"
	_skip "the driver does not report PER_IO_DAEMON"
fi
rec=()
_have_feature USER_RECOVERY_REISSUE && rec=(--recovery_reissue 1)
_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 --nthreads 2 --per_io_tasks "${rec[@]}" "$UBLK_TMP/backing"
id=$DEV_ID
pid=$(_dev_field "$id" pid)
threads=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
[ "$threads" -ge 3 ] || _fail "server has $threads tasks, expected main + 2"
_fio_verify "/dev/ublkb$id" 8M --numjobs=2 --offset_increment=24M
if [ ${#rec[@]} -gt 0 ]; then
	_fio_verify_bg pertask "/dev/ublkb$id" 8M --numjobs=2 --offset_increment=24M --offset=8M
	_nap 1
	_kill_recover "$id"
	_fio_bg_ok
	_log "recovered under verified load"
fi
_del_dev "$id"
_log "two queues, each served by two tasks"
exit 0
