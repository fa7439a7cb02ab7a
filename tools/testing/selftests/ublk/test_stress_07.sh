#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kill -9 loop, USER_RECOVERY_FAIL_IO: under fio load, the server of a
# two-queue device (which holds each request 200ms) is killed and the
# device recovered, $UBLK_STRESS_CYCLES times (5 by default, 200 in "make
# stress").  While no server runs the device is FAIL_IO and I/O fails
# with EIO (fio must see some, and no other error); after each recovery
# the data written before the kills reads back intact, and new data
# verifies.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY USER_RECOVERY_FAIL_IO
_kill_loop fail_io
exit 0
