#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Server death while fetching: the server kills itself once its fetch
# commands are issued, before START_DEV.  "add" fails with one line, the
# device is left DEAD without a block device, and it can be deleted.

. "$(dirname "$0")"/test_common.sh
_prep_test

for q in 1 2; do
	before=$("$KUBLK" list | wc -l)
	out=$("$KUBLK" add -t fault_inject -q "$q" --die_at fetch 2>"$UBLK_TMP/err") &&
		_fail "add succeeded although its server died"
	[ -z "$out" ] || _fail "add printed '$out'"
	[ "$(wc -l < "$UBLK_TMP/err")" = 1 ] || _fail "add's error: $(<"$UBLK_TMP/err")"
	line=$("$KUBLK" list | tail -n 1)
	[ "$("$KUBLK" list | wc -l)" = $((before + 1)) ] ||
		_fail "no device left by the dead server"
	id=$(echo "$line" | sed -n 's/^id=\([0-9]*\) .*/\1/p')
	UBLK_DEVS+=("$id")
	_wait_state "$id" DEAD 10
	[ ! -e "/dev/ublkb$id" ] || _fail "a block device exists for the never started device"
	_del_dev "$id"
	_log "$q queue(s): $(<"$UBLK_TMP/err")"
done
exit 0
