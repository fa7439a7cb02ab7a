#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kill -9 loop, USER_RECOVERY: under fio load, the server of a two-queue
# device (which holds each request 200ms) is killed and the device
# recovered, $UBLK_STRESS_CYCLES times (5 by default, 200 in "make
# stress").  Only the requests the dead server held may fail, with EIO;
# data written before the kills reads back intact after each recovery,
# and data written afterwards verifies.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY
_kill_loop recovery
exit 0
