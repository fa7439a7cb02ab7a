#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll and a server's end: the server of a polled loop device over a
# polled null_blk disk is killed (-9) while fio writes and verifies, a
# new one recovers the device and the requests the old one held are
# issued again (USER_RECOVERY_REISSUE), so fio finishes without an error
# and its data verifies; killed while idle (asleep), the data it wrote
# is there after recovery.  Then QUIESCE_DEV: the server, which may be
# asleep in its eventfd, must wake, give up its commands and exit; the
# device waits QUIESCED with its data for a new server.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IOPOLL USER_RECOVERY USER_RECOVERY_REISSUE QUIESCE

_nullb_poll 1
_add_dev -t loop -q 2 --iopoll --recovery_reissue 1 --quiesce /dev/nullb0
id=$DEV_ID
dev=/dev/ublkb$id

_fio_kill_recover "$id"
[[ ",$(_dev_field "$id" features)," == *,IOPOLL,* ]] ||
	_fail "the recovered device lost IOPOLL: $(_dev_field "$id" features)"

# killed while idle, asleep in read() on its eventfd
_fio_write "$dev" 4M --offset=40M
_nap 1
_kill_recover "$id"
_fio_check "$dev" 4M --offset=40M

_fio_write "$dev" 8M --offset=64M
# idle for a while, so that the server sleeps when the quiesce comes
_nap 1
pid=$(_dev_field "$id" pid)
timeout 60 "$KUBLK" quiesce -n "$id" --timeout 10000 || _fail "quiesce failed"
_wait_pid_gone "$pid"
_wait_state "$id" QUIESCED
_recover "$id"
_fio_check "$dev" 8M --offset=64M
_del_dev "$id"
_log "polled server killed under fio and quiesced; recovered, data intact"
exit 0
