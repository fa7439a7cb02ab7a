#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kill -9 loop, USER_RECOVERY_REISSUE: under fio write+verify load, the
# server of a two-queue device (which holds each request 200ms) is killed
# and the device recovered, $UBLK_STRESS_CYCLES times (5 by default, 200
# in "make stress").  The requests the dead server held are issued again
# to the next one: fio sees no error at all and everything verifies.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_REISSUE
_kill_loop reissue
exit 0
