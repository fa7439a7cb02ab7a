#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Delete under I/O: "kublk del" while fio runs removes the device and its
# server; fio's I/O fails instead of hanging.

. "$(dirname "$0")"/test_common.sh
_prep_test

_add_dev -t null -q 2 -s 1G
id=$DEV_ID
pid=$(_dev_field "$id" pid)
_fio_bg del "/dev/ublkb$id" --numjobs=2
timeout 60 "$KUBLK" del -n "$id" || _fail "kublk del under I/O failed or hung"
[ ! -e "/dev/ublkb$id" ] || _fail "/dev/ublkb$id still exists after del"
_wait_pid_gone "$pid"
_fio_bg_failed
_log "deleted under I/O: fio failed with status $FIO_RC"
exit 0
