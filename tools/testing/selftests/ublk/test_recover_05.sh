#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death during recovery: the recovering server dies after issuing
# its fetch commands, before END_USER_RECOVERY, while a read waits on the
# QUIESCED device.  "recover" fails without hanging, the device is still
# waiting for a server with the read still parked (neither failed nor
# lost), and the next recovery completes the read with the right data
# and works with the data intact.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY

_mkfile "$UBLK_TMP/backing" 64M
# --die_at recovery only arms in a server that "recover" starts
_add_dev -t fault_inject -q 2 -r 1 --die_at recovery "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_write "$dev" 16M
_kill_server "$id"
_wait_state "$id" QUIESCED
dd if="$dev" of="$UBLK_TMP/read" bs=64k count=16 iflag=direct status=none &
dd_pid=$!
timeout 120 "$KUBLK" recover -n "$id" >/dev/null 2>"$UBLK_TMP/err"
rc=$?
[ "$rc" = 124 ] && _fail "recover hung when its server died"
[ "$rc" = 0 ] && _fail "recover succeeded although its server died"
_log "dying recovery: $(<"$UBLK_TMP/err")"
_wait_state "$id" QUIESCED
[ -b "$dev" ] || _fail "$dev went away"
_pid_alive "$dd_pid" || _fail "the parked read ended while no server ran"
# the same device, a server that does not die
_recover "$id" -t fault_inject -q 2 -r 1 "$UBLK_TMP/backing"
wait "$dd_pid" || _fail "the parked read failed after recovery"
cmp -n 1M "$UBLK_TMP/read" "$UBLK_TMP/backing" || _fail "the parked read got wrong data"
_fio_check "$dev" 16M
_del_dev "$id"
_log "recovered after a failed recovery: parked read served, data intact"
exit 0
