#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Injected read errors reach the application as EIO: reads that touch
# the faulty range fail with "Input/output error", reads elsewhere and
# writes to the range succeed, on every queue.

. "$(dirname "$0")"/test_common.sh
_prep_test

_add_dev -t fault_inject -q 2 -s 64M --error_op read --error_off 1M --error_len 64k
id=$DEV_ID
dev=/dev/ublkb$id
rd() { dd if="$dev" of=/dev/null bs=4k count="${2:-1}" skip="$1" iflag=direct status=none 2>&1; }

for cpu in 0 1; do
	err=$(taskset -c "$cpu" dd if="$dev" of=/dev/null bs=4k skip=256 count=1 iflag=direct \
	      status=none 2>&1) && _fail "a read of the faulty range succeeded"
	echo "$err" | grep -q "Input/output error" || _fail "read error was not EIO: $err"
done
rd 271 >/dev/null && _fail "a read of the range's last block succeeded"
rd 250 10 >/dev/null && _fail "a read overlapping the range succeeded"
rd 0 || _fail "a read before the range failed"
rd 272 || _fail "a read after the range failed"
dd if=/dev/zero of="$dev" bs=4k seek=256 count=16 oflag=direct status=none ||
	_fail "a write to the range failed (only reads are faulty)"
_log "reads of the range fail with EIO, the rest works"
_del_dev "$id"
exit 0
