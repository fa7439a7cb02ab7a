#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Partition scan at START_DEV: a loop device over a file with an MS-DOS
# partition table gets its partition (ublkbNp1) when the server is
# privileged; with --no_auto_part_scan (NO_AUTO_PART_SCAN) it does not,
# until asked (blockdev --rereadpt).

. "$(dirname "$0")"/test_common.sh
_prep_test

# _has_part ID: the disk has partition 1 (sysfs: no udev needed)
_has_part() { [ -e "/sys/block/ublkb$1/ublkb${1}p1" ]; }

# _wait_part ID: ... within 10 s
_wait_part() {
	local end=$((SECONDS + 10))

	while ! _has_part "$1"; do
		[ "$SECONDS" -le "$end" ] || return 1
		_nap 0.2
	done
}

_mkfile "$UBLK_TMP/backing" 32M
_mkparts "$UBLK_TMP/backing"
_add_dev -t loop "$UBLK_TMP/backing"
id=$DEV_ID
_wait_part "$id" || _fail "no partition scanned at START_DEV"
_del_dev "$id"

if ! _have_feature NO_AUTO_PART_SCAN; then
	"$KUBLK" add -t loop --no_auto_part_scan "$UBLK_TMP/backing" 2>"$UBLK_TMP/err" \
		>/dev/null && _fail "--no_auto_part_scan accepted without NO_AUTO_PART_SCAN"
	grep -q NO_AUTO_PART_SCAN "$UBLK_TMP/err" || _fail "refused with: $(<"$UBLK_TMP/err")"
	_skip "the driver does not report NO_AUTO_PART_SCAN"
fi
_add_dev -t loop --no_auto_part_scan "$UBLK_TMP/backing"
id=$DEV_ID
_nap 1
_has_part "$id" && _fail "partitions scanned despite --no_auto_part_scan"
blockdev --rereadpt "/dev/ublkb$id" || _fail "blockdev --rereadpt failed"
_wait_part "$id" || _fail "no partition after blockdev --rereadpt"
_del_dev "$id"
_log "scanned by default, not with --no_auto_part_scan, on request then"
exit 0
