#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stripe target, the mapping: with 3 files and 16k chunks (a 48k unit,
# not a power of two), every byte written through the device lands where
# the RAID-0 mapping puts it, including requests that start and end in
# the middle of chunks; and what is written into the files reads
# back through the device in the same places.

. "$(dirname "$0")"/test_common.sh
_prep_test

nr=3
chunk=$((16 << 10))
unit=$((nr * chunk))
files=()
for ((i = 0; i < nr; i++)); do
	_mkfile "$UBLK_TMP/s$i" 8M
	files+=("$UBLK_TMP/s$i")
done
_add_dev -t stripe --chunk 16k "${files[@]}"
id=$DEV_ID
dev=/dev/ublkb$id
[ "$(blockdev --getsize64 "$dev")" = $((nr * 8 << 20)) ] ||
	_fail "size $(blockdev --getsize64 "$dev")"

# check_pieces DATA OFF LEN: DATA, written at device offset OFF, is in
# the files, piece by piece (a piece ends at a chunk boundary)
check_pieces() {
	local data=$1 off=$2 len=$3 done=0 pos u f foff piece

	while [ "$done" -lt "$len" ]; do
		pos=$((off + done))
		u=$((pos / unit))
		f=$(((pos % unit) / chunk))
		foff=$((u * chunk + pos % chunk))
		piece=$((chunk - pos % chunk))
		[ "$piece" -gt $((len - done)) ] && piece=$((len - done))
		cmp -s -n "$piece" -i "$done:$foff" "$data" "${files[$f]}" ||
			_fail "device bytes $pos+$piece are not at offset $foff of file $f"
		done=$((done + piece))
	done
}

# whole units, then a request from mid-chunk to mid-chunk
head -c $((2 * unit)) /dev/urandom > "$UBLK_TMP/d1"
dd if="$UBLK_TMP/d1" of="$dev" bs=$((2 * unit)) oflag=direct status=none || _fail "write 1"
check_pieces "$UBLK_TMP/d1" 0 $((2 * unit))
head -c $((100 << 10)) /dev/urandom > "$UBLK_TMP/d2"
dd if="$UBLK_TMP/d2" of="$dev" bs=100k seek=$((1 << 20)) oflag=direct,seek_bytes status=none ||
	_fail "write 2"
check_pieces "$UBLK_TMP/d2" $((1 << 20)) $((100 << 10))

# files -> device: new data in chunk 5 of file 2 is device unit 5's third chunk
head -c "$chunk" /dev/urandom > "$UBLK_TMP/c"
dd if="$UBLK_TMP/c" of="${files[2]}" bs="$chunk" seek=5 conv=notrunc,fsync status=none
cmp -n "$chunk" "$UBLK_TMP/c" <(dd if="$dev" bs="$chunk" skip=$((5 * nr + 2)) count=1 \
	iflag=direct status=none) || _fail "the device does not read file 2's chunk 5 in its place"

# discard of two whole units punches a chunk into every file
blkdiscard -o $((8 * unit)) -l $((2 * unit)) "$dev" || _fail "discard"
for f in "${files[@]}"; do
	cmp -s -n $((2 * chunk)) -i $((8 * chunk)):0 "$f" /dev/zero ||
		_fail "$f not zeroed by discard"
done
_del_dev "$id"
_log "3 files, 16k chunks: data where the mapping says, both ways"
exit 0
