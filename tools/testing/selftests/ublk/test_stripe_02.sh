#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stripe target across chunk sizes: 4k, 64k and 512k chunks over two
# files, fio verifies requests of 4k to 512k that cross chunk and unit
# boundaries in every way.

. "$(dirname "$0")"/test_common.sh
_prep_test

for chunk in 4k 64k 512k; do
	_mkfile "$UBLK_TMP/a" 32M
	_mkfile "$UBLK_TMP/b" 32M
	_add_dev -t stripe -q 2 --chunk "$chunk" "$UBLK_TMP/a" "$UBLK_TMP/b"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 16M --bsrange=4k-512k --numjobs=2 --offset_increment=24M
	_del_dev "$id"
	_log "chunk $chunk verified"
done
exit 0
