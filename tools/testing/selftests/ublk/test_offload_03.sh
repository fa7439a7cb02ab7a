#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Offload mode with fan-out and misbehaving targets: a stripe over three
# files (three backing IOs per request, gathered on the offload thread)
# verifies; a fault_inject device with delays and an error range keeps
# every request and still reports the errors as EIO.

. "$(dirname "$0")"/test_common.sh
_prep_test

for f in a b c; do _mkfile "$UBLK_TMP/$f" 16M; done
_add_dev -t stripe -q 2 --offload 1 --chunk 8k "$UBLK_TMP/a" "$UBLK_TMP/b" "$UBLK_TMP/c"
_fio_verify "/dev/ublkb$DEV_ID" 16M --bsrange=4k-128k
_del_dev "$DEV_ID"

_mkfile "$UBLK_TMP/backing" 32M
_add_dev -t fault_inject -q 2 --offload 2 --delay_us 1000 --error_op read \
	--error_off 30M --error_len 1M "$UBLK_TMP/backing"
dev=/dev/ublkb$DEV_ID
_fio_verify "$dev" 8M --numjobs=2 --offset_increment=12M
err=$(dd if="$dev" of=/dev/null bs=4k skip=$((30 * 256)) count=1 iflag=direct status=none 2>&1) &&
	_fail "a read of the faulty range succeeded"
echo "$err" | grep -q "Input/output error" || _fail "read error was not EIO: $err"
_del_dev "$DEV_ID"
_log "stripe and fault_inject served through offload threads"
exit 0
