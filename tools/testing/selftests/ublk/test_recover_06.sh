#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# QUIESCE_DEV: a live device is quiesced (its server exits, the device
# stays QUIESCED with its data), then recovered by a new server.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY QUIESCE

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 -r 1 --quiesce "$UBLK_TMP/backing"
id=$DEV_ID
pid=$(_dev_field "$id" pid)
_fio_write "/dev/ublkb$id" 16M
"$KUBLK" quiesce -n "$id" --timeout 10000 || _fail "quiesce failed"
_wait_pid_gone "$pid"
_wait_state "$id" QUIESCED
_recover "$id"
_fio_check "/dev/ublkb$id" 16M
_del_dev "$id"
_log "quiesced, recovered, data intact"
exit 0
