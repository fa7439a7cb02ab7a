#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# UBLK_F_IO_DESC_SIZE: descriptors of 32, 64 and 256 bytes (kublk
# --io_desc_size, mainline kublk's option), two queues, so that the
# second queue's array is found at the scaled stride; ADD_DEV hands the
# size back, and data must verify through every queue.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IO_DESC_SIZE

_mkfile "$UBLK_TMP/backing" 64M
for size in 32 64 256; do
	_add_dev -t loop -q 2 --io_desc_size "$size" "$UBLK_TMP/backing"
	id=$DEV_ID
	[ "$(_dev_field "$id" io_desc_size)" = "$size" ] ||
		_fail "io_desc_size $(_dev_field "$id" io_desc_size), not $size"
	_fio_verify "/dev/ublkb$id" 2M --numjobs=2 --offset_increment=16M \
		--cpus_allowed_policy=split --cpus_allowed=0-1
	_del_dev "$id"
done
# a size the driver refuses: kublk says so and creates nothing
if "$KUBLK" add -t loop --io_desc_size 20 "$UBLK_TMP/backing" >/dev/null 2>"$UBLK_TMP/err"; then
	_fail "kublk add with io_desc_size 20 succeeded"
fi
grep -q "Invalid argument" "$UBLK_TMP/err" || _fail "io_desc_size 20: $(<"$UBLK_TMP/err")"
_log "descriptors of 32, 64 and 256 bytes served"
exit 0
