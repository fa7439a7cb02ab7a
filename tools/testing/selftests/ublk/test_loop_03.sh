#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# loop target with a file system: mkfs.ext4, mount, write files, note
# their checksums, unmount, remount (through a new server too) and
# compare; fsck finds the file system clean.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 256M
_add_dev -t loop -q 2 "$UBLK_TMP/backing"
id=$DEV_ID
mkfs.ext4 -q -F "/dev/ublkb$id" || _fail "mkfs.ext4 failed"
mnt=$UBLK_TMP/mnt
_mount "/dev/ublkb$id" "$mnt"
mkdir -p "$mnt/d"
for i in $(seq 1 12); do
	head -c $((i * 1024 * 512 + i)) /dev/urandom > "$mnt/d/f$i" || _fail "writing f$i"
done
cp -a "$mnt/d" "$mnt/copy" || _fail "cp"
(cd "$mnt" && find d copy -type f -exec md5sum {} + | sort -k2) > "$UBLK_TMP/sums"
umount "$mnt" || _fail "umount"

# same server
_mount "/dev/ublkb$id" "$mnt"
(cd "$mnt" && md5sum -c --quiet "$UBLK_TMP/sums") || _fail "checksums after remount"
umount "$mnt" || _fail "umount"
_del_dev "$id"

# a new server on the same file
_add_dev -t loop -u "$UBLK_TMP/backing"
id=$DEV_ID
e2fsck -fn "/dev/ublkb$id" >"$UBLK_TMP/fsck" 2>&1 || _fail "fsck: $(tail -n 5 "$UBLK_TMP/fsck")"
_mount "/dev/ublkb$id" "$mnt"
(cd "$mnt" && md5sum -c --quiet "$UBLK_TMP/sums") || _fail "checksums with a new server"
umount "$mnt" || _fail "umount"
_del_dev "$id"
_log "ext4: $(wc -l < "$UBLK_TMP/sums") files survived remount and a new server"
exit 0
