#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offload mode across a server restart: a recoverable (reissue) device
# served through offload threads is killed under verified fio and
# recovered, again with offload threads; fio ends without error.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 --offload 2 --recovery_reissue 1 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify_bg offload "/dev/ublkb$id" 16M --iodepth=32
sleep 1
_kill_recover "$id"
_fio_bg_ok
_del_dev "$id"
_log "offloaded device recovered under fio"
exit 0
