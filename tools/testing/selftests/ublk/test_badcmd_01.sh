#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Malformed control and I/O commands, bad mmap() and user copy calls,
# bad zero-copy buffer registrations and fixed-buffer IO (when the
# driver reports SUPPORT_ZERO_COPY / AUTO_BUF_REG), commands in the
# wrong state and unprivileged commands each get the
# errno Documentation/block/ublk.rst gives, while a healthy device keeps
# serving I/O (badcmd.c).

. "$(dirname "$0")"/test_common.sh
_prep_test

"$(dirname "$0")"/badcmd
rc=$?
[ "$rc" = 4 ] && _skip "the driver does not report USER_RECOVERY_FAIL_IO (older validation)"
[ "$rc" = 0 ] || _fail "badcmd: $rc"
exit 0
