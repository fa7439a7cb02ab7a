#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Parameters: what kublk sets with SET_PARAMS comes back from GET_PARAMS
# and shows in sysfs (size, block sizes, max I/O, rotational, read-only,
# write cache, discard limits).

. "$(dirname "$0")"/test_common.sh
_prep_test

sysq() { cat "/sys/block/ublkb$1/queue/$2"; }
expect() {
	[ "$2" = "$3" ] || _fail "$1 is '$2', expected '$3'"
}

_add_dev -t null -s 3G --lbs 4096 --pbs 4096 --max_io 256k --rotational
id=$DEV_ID
expect "list size" "$(_dev_field "$id" size)" $((3 << 30))
expect "list lbs" "$(_dev_field "$id" lbs)" 4096
expect "list pbs" "$(_dev_field "$id" pbs)" 4096
expect "list max_sectors" "$(_dev_field "$id" max_sectors)" 512
expect "list max_io" "$(_dev_field "$id" max_io)" $((256 << 10))
expect "sysfs size" "$(cat "/sys/block/ublkb$id/size")" $((3 << 21))
expect "logical_block_size" "$(sysq "$id" logical_block_size)" 4096
expect "physical_block_size" "$(sysq "$id" physical_block_size)" 4096
expect "max_hw_sectors_kb" "$(sysq "$id" max_hw_sectors_kb)" 256
expect "rotational" "$(sysq "$id" rotational)" 1
expect "ro" "$(cat "/sys/block/ublkb$id/ro")" 0
expect "write_cache" "$(sysq "$id" write_cache)" "write through"
_del_dev "$id"

_mkfile "$UBLK_TMP/backing" 96M
_add_dev -t loop "$UBLK_TMP/backing"
id=$DEV_ID
expect "loop size" "$(blockdev --getsize64 "/dev/ublkb$id")" $((96 << 20))
expect "loop logical_block_size" "$(sysq "$id" logical_block_size)" 512
expect "loop physical_block_size" "$(sysq "$id" physical_block_size)" 4096
expect "loop max_hw_sectors_kb" "$(sysq "$id" max_hw_sectors_kb)" 512
expect "loop rotational" "$(sysq "$id" rotational)" 0
expect "loop write_cache" "$(sysq "$id" write_cache)" "write back"
expect "loop discard_granularity" "$(sysq "$id" discard_granularity)" 4096
[ "$(sysq "$id" discard_max_hw_bytes)" -gt 0 ] || _fail "loop device has no discard"
_del_dev "$id"

_add_dev -t null -s 16M --read_only
id=$DEV_ID
expect "ro" "$(cat "/sys/block/ublkb$id/ro")" 1
dd if=/dev/zero of="/dev/ublkb$id" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	_fail "a write to read-only ublkb$id succeeded"
_del_dev "$id"
_log "parameters read back"
exit 0
