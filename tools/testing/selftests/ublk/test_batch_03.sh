#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Batch mode and recovery: the server of a batch device is killed (kill
# -9) and "kublk recover" starts a new one, which prepares every tag of
# each queue again and fetches.
#   recovery  (-r 1) data written before the kill reads back intact, a
#             read issued while no server runs waits and completes with
#             the right data, and the device verifies afterwards
#   reissue   (--recovery_reissue 1, 2 queues, 4 threads) killed under a
#             verifying fio load: the requests the dead server held are
#             issued again to the new one, so fio ends without an error
#             and its data verifies

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature BATCH_IO USER_RECOVERY

stat_ios() {
	local r w

	read -r r _ _ _ w _ < "/sys/block/ublkb$1/stat" || _fail "ublkb$1 has no stat"
	echo $((r + w))
}

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -b -q 2 -r 1 "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
_fio_write "$dev" 16M
_kill_server "$id"
_wait_state "$id" QUIESCED
dd if="$dev" of="$UBLK_TMP/read" bs=64k count=16 iflag=direct status=none &
dd_pid=$!
_nap 1
_pid_alive "$dd_pid" || _fail "a read completed while no server ran"
_recover "$id"
[ "$(_dev_field "$id" io)" = batch ] || _fail "the recovered device is not in batch mode"
wait "$dd_pid" || _fail "the read issued while no server ran failed"
cmp -n 1M "$UBLK_TMP/read" "$UBLK_TMP/backing" || _fail "the waiting read got wrong data"
_fio_check "$dev" 16M
_fio_verify "$dev" 4M --offset=32M
_del_dev "$id"
_log "recovery: data intact across kill -9, waiting read completed, verified after"

if _have_feature USER_RECOVERY_REISSUE; then
	_add_dev -t loop -b -q 2 --nthreads 4 --recovery_reissue 1 "$UBLK_TMP/backing"
	id=$DEV_ID
	before=$(stat_ios "$id")
	_fio_verify_bg reissue "/dev/ublkb$id" 8M --numjobs=2 --offset_increment=16M
	# kill only once the load runs
	for ((i = 0; i < 300; i++)); do
		[ "$(stat_ios "$id")" -gt "$before" ] && break
		_nap 0.1
	done
	[ "$i" -lt 300 ] || _fail "no I/O from fio within 30 s"
	_kill_recover "$id"
	_fio_bg_ok
	_fio_verify "/dev/ublkb$id" 4M --offset=40M
	_del_dev "$id"
	_log "reissue: fio finished and verified across kill -9 under load"
else
	_log "reissue: skipped, the driver does not report USER_RECOVERY_REISSUE"
fi
exit 0
