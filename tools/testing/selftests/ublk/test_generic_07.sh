#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Many devices: 16 devices at once, each with its own server, all
# serving verified I/O concurrently; "del -a" removes them all.

. "$(dirname "$0")"/test_common.sh
_prep_test

ids=()
for i in {0..15}; do
	_mkfile "$UBLK_TMP/b$i" 8M
	_add_dev -t loop -q $((i % 2 + 1)) -d 16 "$UBLK_TMP/b$i"
	ids+=("$DEV_ID")
done
[ "$(find /dev -maxdepth 1 -name 'ublkb*' | wc -l)" -ge 16 ] || _fail "fewer than 16 block devices"
pids=()
for id in "${ids[@]}"; do
	fio --name="many$id" "${UBLK_FIO[@]}" --filename="/dev/ublkb$id" --rw=randwrite \
		--bs=4k --iodepth=4 --size=1M --verify=crc32c --verify_fatal=1 \
		>"$UBLK_TMP/fio$id.log" 2>&1 &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" ||
		_fail "fio on ublkb${ids[$i]}: $(tail -n 5 "$UBLK_TMP/fio${ids[$i]}.log")"
done
"$KUBLK" del -a || _fail "kublk del -a failed"
for id in "${ids[@]}"; do
	[ ! -e "/dev/ublkc$id" ] || _fail "/dev/ublkc$id still exists after del -a"
done
[ -z "$("$KUBLK" list)" ] || _fail "devices left after del -a: $("$KUBLK" list)"
_log "16 devices served verified I/O together"
exit 0
