#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death with I/O in flight: the server kills itself on receiving
# its 200th request, with fio's requests outstanding.  Without recovery
# the device dies, fio fails instead of hanging, and del works.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t fault_inject -q 2 --die_at inflight --die_after 200 "$UBLK_TMP/backing"
id=$DEV_ID
pid=$(_dev_field "$id" pid)
timeout 120 fio --name=die "${UBLK_FIO[@]}" --filename="/dev/ublkb$id" --rw=randrw --bs=4k \
	--iodepth=32 --numjobs=2 --size=32M >"$UBLK_TMP/fio.log" 2>&1
rc=$?
[ "$rc" = 124 ] && _fail "fio hung after the server died"
[ "$rc" != 0 ] || _fail "fio saw no error although the server died"
_wait_pid_gone "$pid"
_wait_state "$id" DEAD 60
_del_dev "$id"
_log "server died in flight: device DEAD, fio failed ($rc)"
exit 0
