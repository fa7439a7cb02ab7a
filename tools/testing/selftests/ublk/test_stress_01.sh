#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress, kill -9 under I/O, repeated: three times a two-queue device is
# created, loaded with fio and its server killed; each time the device
# dies, fio fails instead of hanging and the device is deleted.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M
for cycle in 1 2 3; do
	_add_dev -t loop -q 2 "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_bg "kill$cycle" "/dev/ublkb$id" --numjobs=2 --bsrange=4k-128k
	_wait_io "$id"
	_kill_server "$id"
	_wait_state "$id" DEAD 60
	_fio_bg_failed
	_del_dev "$id"
	_log "cycle $cycle: fio failed ($FIO_RC), device deleted"
done
exit 0
