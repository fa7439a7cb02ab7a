#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Recovery of a stripe device in NEED_GET_DATA mode (or copy mode): the
# server is killed while fio writes and verifies over three files; with
# reissue, fio finishes without error.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE

mode=
_have_feature NEED_GET_DATA && mode=-g
for f in a b c; do _mkfile "$UBLK_TMP/$f" 16M; done
# shellcheck disable=SC2086 # mode is empty or one option
_add_dev -t stripe --chunk 16k -q 2 --recovery_reissue 1 $mode \
	"$UBLK_TMP/a" "$UBLK_TMP/b" "$UBLK_TMP/c"
id=$DEV_ID
_fio_verify_bg stripe "/dev/ublkb$id" 24M --bsrange=4k-128k
sleep 1
_kill_recover "$id"
_fio_bg_ok
_del_dev "$id"
_log "stripe${mode:+ with NEED_GET_DATA} recovered under fio"
exit 0
