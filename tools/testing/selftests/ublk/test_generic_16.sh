#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# An unprivileged server that never answers a request is killed by the
# driver once the request times out (after the block layer's 30 s); the
# read then fails with EIO and the device, which cannot have recovery,
# ends DEAD (badcmd.c, "timeout").  Servers of privileged devices may
# keep a request as long as they like: not checked here.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature UNPRIVILEGED_DEV

"$(dirname "$0")"/badcmd timeout
rc=$?
[ "$rc" = 4 ] && _skip "the driver does not report UNPRIVILEGED_DEV"
[ "$rc" = 0 ] || _fail "badcmd timeout: $rc"
_log "the unprivileged server was killed, its request failed, the device is DEAD"
exit 0
