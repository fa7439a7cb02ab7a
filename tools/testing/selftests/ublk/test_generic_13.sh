#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Delete with I/O queued in the server: every request waits a second in
# the server (fault_inject delay) while fio keeps both queues full; "kublk
# del" must return, the device and its server go away and fio's queued
# I/O fails instead of hanging.

. "$(dirname "$0")"/test_common.sh
_prep_test

_add_dev -t fault_inject -q 2 -d 16 -s 256M --delay_us 1000000
id=$DEV_ID
pid=$(_dev_field "$id" pid)
_fio_bg slowdel "/dev/ublkb$id" --numjobs=2
# fio may take a while to start its I/O under emulation
for ((i = 0; i < 100; i++)); do
	read -r reads writes < "/sys/block/ublkb$id/inflight"
	[ $((reads + writes)) -gt 0 ] && break
	_nap 0.2
done
[ $((reads + writes)) -gt 0 ] || _fail "no request in flight before del"
timeout 60 "$KUBLK" del -n "$id" || _fail "kublk del with queued I/O failed or hung"
[ ! -e "/dev/ublkb$id" ] || _fail "/dev/ublkb$id still exists after del"
[ ! -e "/dev/ublkc$id" ] || _fail "/dev/ublkc$id still exists after del"
_wait_pid_gone "$pid"
_fio_bg_failed
_log "deleted with $((reads + writes)) requests queued: fio failed with status $FIO_RC"
exit 0
