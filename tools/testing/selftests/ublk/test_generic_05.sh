#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server killed under I/O, without recovery: the device dies (state
# DEAD, block device gone), the application's I/O fails instead of
# hanging, and the device can then be deleted.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 256M
_add_dev -t loop -q 2 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_bg kill "/dev/ublkb$id" --numjobs=2
_wait_io "$id"
_kill_server "$id"
_wait_state "$id" DEAD 60
for _ in {1..100}; do [ -e "/dev/ublkb$id" ] || break; _nap 0.1; done
[ ! -e "/dev/ublkb$id" ] || _fail "/dev/ublkb$id still exists with the device dead"
_fio_bg_failed
_del_dev "$id"
_log "killed server: device dead, fio failed with status $FIO_RC"
exit 0
