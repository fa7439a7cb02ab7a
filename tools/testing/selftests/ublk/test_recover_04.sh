#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Repeated recovery under I/O: three kill/recover cycles while fio writes
# and verifies through a two-queue USER_COPY (or copy) device with
# reissue; fio ends without error.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE

mode=
_have_feature USER_COPY && mode=-u
_mkfile "$UBLK_TMP/backing" 64M
# shellcheck disable=SC2086 # mode is empty or one option
_add_dev -t loop -q 2 --recovery_reissue 1 $mode "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify_bg cycles "/dev/ublkb$id" 16M --numjobs=2 --offset_increment=24M --loops=2
for cycle in 1 2 3; do
	sleep 1
	_kill_recover "$id"
	state=finished
	_pid_alive "$FIO_PID" && state=running
	_log "cycle $cycle: recovered${mode:+ (user copy)}, fio $state"
done
_fio_bg_ok
_del_dev "$id"
exit 0
