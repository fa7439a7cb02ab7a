#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# USER_RECOVERY_REISSUE: the server is killed while fio writes and
# verifies; the requests it held are issued again to the recovered
# server, so fio finishes without a single error and its data verifies.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 --recovery_reissue 1 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify_bg reissue "/dev/ublkb$id" 12M --numjobs=2 --offset_increment=16M
sleep 1
_kill_recover "$id"
_fio_bg_ok
_del_dev "$id"
_log "fio finished and verified across a server restart"
exit 0
