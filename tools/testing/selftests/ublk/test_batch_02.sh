#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Batch mode with several threads per queue and the other data paths.
# Every part verifies with fio; the parts whose feature the driver lacks
# are left out (the log says which ran):
#   threads      loop, 2 queues, --nthreads 4: two threads fetch from each
#                queue, whichever gets a tag serves and commits it
#   stripe       stripe over 3 files, requests split over chunks
#   user_copy    loop -u, 1 queue, 2 threads: data by pread/pwrite
#   zero_copy    loop -z, 1 queue, 2 threads: REGISTER_IO_BUF at the tag
#                on whichever ring got the request
#   auto_zc      loop --auto_zc, 1 queue, 2 threads: the driver registers
#                at the element's buf_index in the fetching ring
#   fallback     loop -z --auto_zc --auto_zc_fallback
#                --auto_zc_force_fallback: every automatic registration
#                fails (UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) and the server
#                registers each request itself

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature BATCH_IO

ran=()
_mkfile "$UBLK_TMP/backing" 64M

# verify_loop NAME ARGS...: a loop device with ARGS, verified at QD64
verify_loop() {
	local name=$1

	shift
	_add_dev -t loop -b "$@" "$UBLK_TMP/backing"
	_fio_verify "/dev/ublkb$DEV_ID" 8M --iodepth=64 --bsrange=4k-256k --numjobs=2 \
		--offset_increment=24M
	_del_dev "$DEV_ID"
	ran+=("$name")
	_log "$name: verified"
}

_add_dev -t loop -b -q 2 --nthreads 4 "$UBLK_TMP/backing"
id=$DEV_ID
pid=$(_dev_field "$id" pid)
threads=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
[ "$threads" -gt 4 ] || _fail "--nthreads 4: the server has $threads tasks"
[ "$(_dev_field "$id" threads)" = 4 ] ||
	_fail "kublk list says threads=$(_dev_field "$id" threads), not 4"
_fio_verify "/dev/ublkb$id" 8M --iodepth=64 --bsrange=4k-256k --numjobs=2 \
	--offset_increment=24M
_del_dev "$id"
ran+=(threads)
_log "threads: 2 queues, 4 threads: verified"

files=()
for i in 0 1 2; do
	_mkfile "$UBLK_TMP/s$i" 16M
	files+=("$UBLK_TMP/s$i")
done
_add_dev -t stripe -b -q 2 --chunk 16k "${files[@]}"
_fio_verify "/dev/ublkb$DEV_ID" 8M --iodepth=32 --bsrange=4k-256k
_del_dev "$DEV_ID"
ran+=(stripe)
_log "stripe: verified"

if _have_feature USER_COPY; then
	verify_loop user_copy -u --nthreads 2
fi
if _have_feature SUPPORT_ZERO_COPY; then
	verify_loop zero_copy -z --nthreads 2
fi
if _have_feature AUTO_BUF_REG; then
	verify_loop auto_zc --auto_zc --nthreads 2
fi
if _have_feature AUTO_BUF_REG && _have_feature SUPPORT_ZERO_COPY; then
	verify_loop fallback -z --auto_zc --auto_zc_fallback --auto_zc_force_fallback \
		--nthreads 2
fi
_log "parts run: ${ran[*]}"
exit 0
