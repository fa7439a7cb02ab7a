#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A file system on automatic zero copy (--auto_zc): mkfs.ext4, mount,
# write files, note their sha256 sums, unmount, remount and compare;
# then the same file system through a new server with explicit zero copy
# (-z), which fsck finds clean and whose files still have their sums.
# (Like test_loop_03, with the partition scan left on.)

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature AUTO_BUF_REG
command -v mkfs.ext4 >/dev/null || _skip "mkfs.ext4 is missing"

_mkfile "$UBLK_TMP/backing" 128M
_add_dev -t loop --auto_zc "$UBLK_TMP/backing"
id=$DEV_ID
mkfs.ext4 -q -F "/dev/ublkb$id" || _fail "mkfs.ext4 failed"
mnt=$UBLK_TMP/mnt
_mount "/dev/ublkb$id" "$mnt"
mkdir -p "$mnt/d"
for i in 1 2 3 4; do
	head -c $((i * 1024 * 1024 + i * 4097)) /dev/urandom > "$mnt/d/f$i" || _fail "writing f$i"
done
cp -a "$mnt/d" "$mnt/copy" || _fail "cp"
(cd "$mnt" && sha256sum d/* copy/*) > "$UBLK_TMP/sums" || _fail "sha256sum"
umount "$mnt" || _fail "umount"

_mount "/dev/ublkb$id" "$mnt"
(cd "$mnt" && sha256sum -c --quiet "$UBLK_TMP/sums") || _fail "checksums after remount"
umount "$mnt" || _fail "umount"
_del_dev "$id"
_log "--auto_zc: $(wc -l < "$UBLK_TMP/sums") files survived a remount"

_have_feature SUPPORT_ZERO_COPY || exit 0
_add_dev -t loop -z "$UBLK_TMP/backing"
id=$DEV_ID
e2fsck -fn "/dev/ublkb$id" >"$UBLK_TMP/fsck" 2>&1 || _fail "fsck: $(tail -n 5 "$UBLK_TMP/fsck")"
_mount "/dev/ublkb$id" "$mnt"
(cd "$mnt" && sha256sum -c --quiet "$UBLK_TMP/sums") || _fail "checksums with a -z server"
umount "$mnt" || _fail "umount"
_del_dev "$id"
_log "-z: file system clean, files intact"
exit 0
