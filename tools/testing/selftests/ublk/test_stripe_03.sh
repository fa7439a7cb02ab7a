#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stripe target across file counts: 1 to 4 files of 64k chunks (units of
# 64k, 128k, 192k and 256k), fio verifies mixed-size I/O; with 3 files a
# new server on the same files reads back what the first one wrote.

. "$(dirname "$0")"/test_common.sh
_prep_test

for nr in 1 2 3 4; do
	files=()
	for ((i = 1; i <= nr; i++)); do
		_mkfile "$UBLK_TMP/f$i" 16M
		files+=("$UBLK_TMP/f$i")
	done
	_add_dev -t stripe --chunk 64k "${files[@]}"
	id=$DEV_ID
	size=$(blockdev --getsize64 "/dev/ublkb$id")
	[ "$size" = $((nr * 16 << 20)) ] || _fail "$nr files: size $size"
	_fio_verify "/dev/ublkb$id" 6M --bsrange=4k-384k
	if [ "$nr" = 3 ]; then
		_fio_write "/dev/ublkb$id" 6M --offset=8M --bs=192k
		_del_dev "$id"
		_add_dev -t stripe --chunk 64k "${files[@]}"
		id=$DEV_ID
		_fio_check "/dev/ublkb$id" 6M --offset=8M --bs=192k
	fi
	_del_dev "$id"
	_log "$nr file(s) verified"
done
exit 0
