#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# loop target, discard, write zeroes and flush: a discarded range reads
# back as zeroes and is deallocated in the backing file, write-zeroes
# zeroes, and flushes (fsync) go through.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none || _fail "fill"
sync "$dev"
used=$(du -k "$UBLK_TMP/backing" | cut -f1)
blkdiscard -o 4M -l 8M "$dev" || _fail "discard failed"
blkdiscard -z -o 16M -l 4M "$dev" || _fail "write zeroes failed"
cmp -n 8M <(dd if="$dev" bs=1M skip=4 count=8 iflag=direct status=none) /dev/zero ||
	_fail "the discarded range does not read as zeroes"
cmp -n 4M <(dd if="$dev" bs=1M skip=16 count=4 iflag=direct status=none) /dev/zero ||
	_fail "the write-zeroes range does not read as zeroes"
cmp -n 8M -i 4M:0 "$UBLK_TMP/backing" /dev/zero || _fail "the backing file is not zero"
now=$(du -k "$UBLK_TMP/backing" | cut -f1)
[ "$now" -le $((used - 8192)) ] || _fail "the backing file still uses ${now}k (was ${used}k)"
# data outside the ranges is intact
dd if="$dev" bs=1M count=4 iflag=direct status=none | cmp -n 4M - "$UBLK_TMP/backing" ||
	_fail "data before the discarded range changed"
_fio flush --filename="$dev" --rw=randwrite --bs=4k --iodepth=8 --size=4M --fsync=1 \
	--verify=crc32c --verify_fatal=1
_del_dev "$id"
_log "discard freed $((used - now))k; zeroes and flushes work"
exit 0
