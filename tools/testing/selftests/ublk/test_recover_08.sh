#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death in the middle of a recovery's fetches: each thread of the
# recovering server dies after 8 fetch commands.  The device must still
# be recoverable, with its data.  Needs PER_IO_DAEMON, for the reason
# test_fault_06 gives.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY PER_IO_DAEMON

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t fault_inject -q 2 -r 1 --die_at recovery --die_after 8 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_write "/dev/ublkb$id" 16M
_kill_server "$id"
_wait_state "$id" QUIESCED
"$KUBLK" recover -n "$id" >/dev/null 2>&1 && _fail "recover succeeded although its server died"
_wait_state "$id" QUIESCED
_recover "$id" -t fault_inject -q 2 -r 1 "$UBLK_TMP/backing"
_fio_check "/dev/ublkb$id" 16M
_del_dev "$id"
_log "recovered after a recovery died mid-fetch"
exit 0
