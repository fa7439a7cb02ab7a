#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A server that deletes or stops its own device while it holds a request
# it has not committed, then exits or is killed (found by ublk_fuzz).
# Its DEL_DEV runs in its own io-wq and waits for the held request, and
# its exit waits for that io-wq: the exit must finish all the same, the
# held read fail with EIO and the device go (or end DEAD after
# STOP_DEV).  A server that commits instead has its DEL_DEV finish with
# the read served.  And the same for START_DEV of a zoned device, which
# waits for the zone report the server holds when it exits or is killed
# (ublk_fuzz -s 20261207, op 112368): the exit finishes, the start
# fails, no disk appears and the device goes.  badcmd.c, "selfdel", has
# the cases.

. "$(dirname "$0")"/test_common.sh
_prep_test

"$(dirname "$0")"/badcmd selfdel
rc=$?
[ "$rc" = 0 ] || _fail "badcmd selfdel: $rc"
_log "servers that delete or start their own device with a request held exit; the request fails"
exit 0
