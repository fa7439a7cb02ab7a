#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Add/del cycles: devices of different shapes come and go; each time
# GET_DEV_INFO and sysfs show the requested queues, depth and size, I/O
# works, and del removes the char and block devices and the server.

. "$(dirname "$0")"/test_common.sh
_prep_test

for shape in "1 1" "2 64" "1 128" "2 2" "1 256" "2 128"; do
	read -r q d <<<"$shape"
	_add_dev -t null -q "$q" -d "$d" -s 64M
	id=$DEV_ID
	[ "$(_dev_field "$id" queues)" = "$q" ] || _fail "queues $(_dev_field "$id" queues), not $q"
	[ "$(_dev_field "$id" depth)" = "$d" ] || _fail "depth $(_dev_field "$id" depth), not $d"
	nq=$(find "/sys/block/ublkb$id/mq" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$nq" = "$q" ] || _fail "ublkb$id has $nq blk-mq queues, not $q"
	tags=$(cat "/sys/block/ublkb$id/mq/0/nr_tags")
	[ "$tags" = "$d" ] || _fail "ublkb$id has $tags tags per queue, not $d"
	[ "$(blockdev --getsize64 "/dev/ublkb$id")" = $((64 << 20)) ] || _fail "size of ublkb$id"
	dd if="/dev/ublkb$id" of=/dev/null bs=64k count=16 iflag=direct status=none ||
		_fail "reading ublkb$id"
	_del_dev "$id"
done
_log "6 add/del cycles"
exit 0
