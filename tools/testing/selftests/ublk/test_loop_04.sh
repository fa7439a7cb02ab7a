#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# loop target in each data mode the driver reports (copy, NEED_GET_DATA,
# USER_COPY): fio verifies, and what was written through the device is
# byte for byte in the backing file, and the other way round.

. "$(dirname "$0")"/test_common.sh
_prep_test

head -c 4M /dev/urandom > "$UBLK_TMP/data"
head -c 4M /dev/urandom > "$UBLK_TMP/data2"
for m in $(_data_modes); do
	name=${m%%:*}
	opt=${m#*:}
	_mkfile "$UBLK_TMP/backing" 64M
	# shellcheck disable=SC2086 # opt is empty or one option
	_add_dev -t loop -q 2 $opt "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 16M --bsrange=4k-256k --numjobs=2 --offset_increment=16M
	# device -> file at 40M
	dd if="$UBLK_TMP/data" of="/dev/ublkb$id" bs=1M seek=40 oflag=direct status=none ||
		_fail "$name: writing to the device"
	cmp -n 4M -i 0:40M "$UBLK_TMP/data" "$UBLK_TMP/backing" ||
		_fail "$name: the backing file does not hold what was written"
	# file -> device at 48M (the device reads the file with O_DIRECT)
	dd if="$UBLK_TMP/data2" of="$UBLK_TMP/backing" bs=1M seek=48 conv=notrunc,fsync status=none
	cmp -n 4M <(dd if="/dev/ublkb$id" bs=1M skip=48 count=4 iflag=direct status=none) \
		"$UBLK_TMP/data2" || _fail "$name: the device does not read what the file holds"
	_del_dev "$id"
	_log "$name: verified both ways"
done
exit 0
