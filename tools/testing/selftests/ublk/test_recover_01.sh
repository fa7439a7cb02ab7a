#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# USER_RECOVERY: the server is killed, the device stays (QUIESCED), I/O
# issued meanwhile waits instead of failing, and a recovered server
# completes it; data written before the kill is intact (fio verify
# across the restart).

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 -r 1 "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_write "$dev" 32M
_kill_server "$id"
_wait_state "$id" QUIESCED
[ -b "$dev" ] || _fail "$dev went away with recovery enabled"

# a read issued now waits for the next server
dd if="$dev" of="$UBLK_TMP/read" bs=64k count=16 iflag=direct status=none &
dd_pid=$!
sleep 1
_pid_alive "$dd_pid" || _fail "a read completed while no server ran"
_recover "$id"
wait "$dd_pid" || _fail "the read issued while no server ran failed"
cmp -n 1M "$UBLK_TMP/read" "$UBLK_TMP/backing" || _fail "the waiting read got wrong data"
_fio_check "$dev" 32M
_fio_verify "$dev" 8M --offset=40M
_del_dev "$id"
_log "killed, recovered: waiting I/O completed, data intact"
exit 0
