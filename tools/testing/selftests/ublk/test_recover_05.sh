#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death during recovery: the recovering server dies after issuing
# its fetch commands, before END_USER_RECOVERY.  "recover" fails, the
# device is still waiting for a server, and the next recovery works with
# the data intact.

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
"$KUBLK" recover -n "$id" >/dev/null 2>"$UBLK_TMP/err" &&
	_fail "recover succeeded although its server died"
_log "dying recovery: $(cat "$UBLK_TMP/err")"
_wait_state "$id" QUIESCED
[ -b "$dev" ] || _fail "$dev went away"
# the same device, a server that does not die
_recover "$id" -t fault_inject -q 2 -r 1 "$UBLK_TMP/backing"
_fio_check "$dev" 16M
_del_dev "$id"
_log "recovered after a failed recovery, data intact"
exit 0
