#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stop: STOP_DEV removes the block device and ends the server, the device
# stays listed as DEAD until it is deleted.

. "$(dirname "$0")"/test_common.sh
_prep_test

_add_dev -t null -q 2 -s 64M
id=$DEV_ID
pid=$(_dev_field "$id" pid)
"$KUBLK" stop -n "$id" || _fail "kublk stop failed"
_wait_pid_gone "$pid"
[ "$(_dev_state "$id")" = DEAD ] || _fail "device $id is $(_dev_state "$id") after stop"
[ ! -e "/dev/ublkb$id" ] || _fail "/dev/ublkb$id still exists after stop"
[ -e "/dev/ublkc$id" ] || _fail "/dev/ublkc$id vanished before del"
_del_dev "$id"
_log "stopped device $id: DEAD, server gone, then deleted"
exit 0
