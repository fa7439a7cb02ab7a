#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Device ids and errors: -n picks the id, a taken id is refused, and every
# bad request fails with exactly one line on stderr, a non-zero status and
# no device left behind.

. "$(dirname "$0")"/test_common.sh
_prep_test

_add_dev -t null -n 7 -s 16M
[ "$DEV_ID" = 7 ] || _fail "add -n 7 made device $DEV_ID"

# must_fail ARGS...: kublk ARGS fails with one line and nothing on stdout
must_fail() {
	local out err

	if out=$("$KUBLK" "$@" 2>"$UBLK_TMP/err"); then
		# an add that worked: its device goes with the test
		[ "$1" = add ] && UBLK_DEVS+=("$out")
		_fail "kublk $* succeeded"
	fi
	err=$(<"$UBLK_TMP/err")
	[ -z "$out" ] || _fail "kublk $* printed '$out' on stdout"
	if [ -z "$err" ] || [ "$(echo "$err" | wc -l)" != 1 ]; then
		_fail "kublk $*: expected one line on stderr, got: $err"
	fi
	_log "kublk $*: $err"
}

before=$("$KUBLK" list | wc -l)
must_fail add -t null -n 7 -s 16M
must_fail add -t nosuchtarget
must_fail add -t null -q 0
must_fail add -t null -d 99999
must_fail add -t null --bogus
must_fail add -t loop
must_fail add -t loop "$UBLK_TMP/missing"
must_fail add -t stripe --chunk 5000 "$UBLK_TMP/missing"
must_fail add -t null -u -g
must_fail add -t null -z -u
must_fail add -t null --auto_zc_fallback
must_fail add -t null -z --zc_no_unregister --auto_zc_force_fallback
must_fail add -t null --iopoll -b -q 1 --nthreads 2
must_fail add -t null --prio 1
must_fail add -t fault_inject --die_at never
must_fail del -n 99
must_fail del
must_fail list -n 99
must_fail recover -n 7
must_fail stop
must_fail frobnicate
[ "$("$KUBLK" list | wc -l)" = "$before" ] || _fail "a failed command left a device"
[ "$(_dev_state 7)" = LIVE ] || _fail "device 7 is $(_dev_state 7) after the failed commands"
_del_dev 7
exit 0
