#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch priorities (UBLK_F_BATCH_PRIO), deterministically: one queue,
# one server ring with two FETCH_IO_CMDS commands at priorities 6 and 2,
# reads one at a time.  Every request goes to the higher one; after
# UPDATE_CMD_PRIO moves it to 1, every request goes to the other; when
# that one's buffer group runs empty it ends with -ENOBUFS and the
# requests go back to the first.  The data of every read is checked
# ("badcmd prio", check_prio_order() in badcmd.c).

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature BATCH_IO BATCH_PRIO

"$(dirname "$0")"/badcmd prio
rc=$?
[ "$rc" = 4 ] && _skip "badcmd prio: the driver reports no fetch priorities"
[ "$rc" = 0 ] || _fail "badcmd prio: $rc"
exit 0
