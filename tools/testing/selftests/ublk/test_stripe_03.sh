#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stripe target across file counts: 1 to 4 files of 64k chunks (units of
# 64k, 128k, 192k and 256k), fio verifies mixed-size I/O, and a new
# server on the same files reads it back.

. "$(dirname "$0")"/test_common.sh
_prep_test

for nr in 1 2 3 4; do
	files=()
	for i in $(seq 1 "$nr"); do
		_mkfile "$UBLK_TMP/f$i" 16M
		files+=("$UBLK_TMP/f$i")
	done
	_add_dev -t stripe --chunk 64k "${files[@]}"
	id=$DEV_ID
	size=$(blockdev --getsize64 "/dev/ublkb$id")
	[ "$size" = $((nr * 16 << 20)) ] || _fail "$nr files: size $size"
	_fio_verify "/dev/ublkb$id" 12M --bsrange=4k-384k
	_fio_write "/dev/ublkb$id" 6M --offset=4M --bs=192k
	_del_dev "$id"
	_add_dev -t stripe --chunk 64k "${files[@]}"
	_fio_check "/dev/ublkb$DEV_ID" 6M --offset=4M --bs=192k
	_del_dev "$DEV_ID"
	_log "$nr file(s) verified"
done
exit 0
