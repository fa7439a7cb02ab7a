#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Automatic buffer registration (--auto_zc, AUTO_BUF_REG): the driver
# registers each request's pages at the index the fetch named and
# unregisters them at the commit.  fio verifies on a loop device with
# --auto_zc; with --auto_zc_fallback (and -z) a failed registration
# would be left to the server; --auto_zc_force_fallback makes every one
# fail (its index holds a user buffer), so every request arrives with
# NEED_REG_BUF and the server registers it itself.  Then the stripe
# target, whose requests span chunks (one READ/WRITE_FIXED per piece
# into the one buffer), verifies with -z and with --auto_zc, and what
# the zero-copy device wrote reads back in place through a copying one.
# null --auto_zc serves every request fio sends.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature AUTO_BUF_REG

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop --auto_zc "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 16M --iodepth=64 --bsrange=4k-1M
_del_dev "$id"
_log "loop --auto_zc: verified"

_add_dev -t null --auto_zc -s 64M
id=$DEV_ID
_fio null --filename="/dev/ublkb$id" --rw=randrw --bsrange=4k-128k --iodepth=32 --size=8M
_del_dev "$id"
_log "null --auto_zc: served"

# the fallback needs SUPPORT_ZERO_COPY too, as does the stripe -z case
shapes=("2 64k --auto_zc")
if _have_feature SUPPORT_ZERO_COPY; then
	_add_dev -t loop -z --auto_zc --auto_zc_fallback "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 8M --iodepth=32 --bsrange=4k-512k
	_del_dev "$id"
	_add_dev -t loop -z --auto_zc --auto_zc_fallback --auto_zc_force_fallback \
		"$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 8M --iodepth=32 --bsrange=4k-1M --offset=16M
	_del_dev "$id"
	_log "loop --auto_zc_fallback: verified, also with every registration falling back"
	shapes+=("4 16k -z")
else
	_log "no SUPPORT_ZERO_COPY: fallback and stripe -z not tested"
fi

# stripe: 2 files of 64k chunks, 4 of 16k; requests up to 1M
for shape in "${shapes[@]}"; do
	read -r nr chunk zc <<<"$shape"
	files=()
	for ((i = 0; i < nr; i++)); do
		_mkfile "$UBLK_TMP/s$i" 16M
		files+=("$UBLK_TMP/s$i")
	done
	_add_dev -t stripe --chunk "$chunk" "$zc" "${files[@]}"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 16M --iodepth=32 --bsrange=4k-1M
	head -c 3M /dev/urandom > "$UBLK_TMP/ref" || _fail "no random data"
	dd if="$UBLK_TMP/ref" of="/dev/ublkb$id" bs=768k seek=5 oflag=direct status=none ||
		_fail "stripe $zc: writing"
	_del_dev "$id"
	_add_dev -t stripe --chunk "$chunk" "${files[@]}"
	id=$DEV_ID
	cmp -n 3M "$UBLK_TMP/ref" <(dd if="/dev/ublkb$id" bs=768k skip=5 count=4 iflag=direct \
		status=none) || _fail "stripe $zc: data not where the copying server reads it"
	_del_dev "$id"
	_log "stripe, $nr files of $chunk chunks, $zc: verified, mapped as without zero copy"
done
exit 0
