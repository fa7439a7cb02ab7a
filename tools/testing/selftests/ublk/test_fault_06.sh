#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death in the middle of fetching: each server thread dies after
# issuing 8 of its fetch commands, so queues are left partly fetched.
# The device must still be deletable, with nothing left behind.  Needs
# PER_IO_DAEMON: that is when a driver tracks every io's task (6.12
# tracks one daemon per queue, set once the queue is complete, and warns
# about a partly fetched queue being cancelled).

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature PER_IO_DAEMON

for q in 1 2; do
	"$KUBLK" add -t fault_inject -q "$q" --die_at fetch --die_after 8 \
		>/dev/null 2>"$UBLK_TMP/err" && _fail "add succeeded although its server died"
	id=$("$KUBLK" list | tail -n 1 | sed -n 's/^id=\([0-9]*\) .*/\1/p')
	[ -n "$id" ] || _fail "no device left by the dead server"
	UBLK_DEVS+=("$id")
	_wait_state "$id" DEAD 10
	_del_dev "$id"
	_log "$q queue(s), partly fetched: deleted"
done
exit 0
