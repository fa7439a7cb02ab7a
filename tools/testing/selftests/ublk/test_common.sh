#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by every test_<group>_<NN>.sh.  Exit codes follow kselftest:
# 0 pass, 1 fail, 4 skip.

UBLK_SKIP_CODE=4

_log() { echo "$TID: $*"; }
_fail() { echo "$TID: FAIL: $*" >&2; exit 1; }
_skip() { echo "$TID: SKIP: $*"; exit $UBLK_SKIP_CODE; }

_prep_test() {
	TID=$(basename "$0" .sh)
	[ "$(id -u)" = 0 ] || _skip "must run as root"
	[ -c /dev/ublk-control ] || _fail "/dev/ublk-control is missing (is ublk_drv loaded?)"
}
