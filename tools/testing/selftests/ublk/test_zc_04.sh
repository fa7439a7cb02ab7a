#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kill -9 of a zero-copy server while request buffers are registered in
# its rings (-z: registered by the server before the 100ms the target
# holds each request; --auto_zc: by the driver at delivery), under a
# light fio load, in every recovery mode the driver reports: the device
# waits (QUIESCED, or FAIL_IO), a new server recovers it, 2M written
# before the kill read back intact, and the load sees no error but EIO
# (none at all with USER_RECOVERY_REISSUE).  Without recovery the device
# dies, fio fails rather than hangs, and the device can be deleted.  At
# the end the module unloads.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature SUPPORT_ZERO_COPY AUTO_BUF_REG

# kill_one "ZC OPTIONS" MODE: one kill / recover cycle
kill_one() {
	local zc=$1 mode=$2 want=QUIESCED mode_opts id dev

	case "$mode" in
	recovery) mode_opts=(-r 1) ;;
	reissue) mode_opts=(--recovery_reissue 1) ;;
	fail_io) mode_opts=(--recovery_fail_io 1); want=FAIL_IO ;;
	esac
	# shellcheck disable=SC2086 # the zero-copy options are words
	_add_dev -t fault_inject -q 2 -d 16 --delay_us 100000 $zc "${mode_opts[@]}" \
		"$UBLK_TMP/backing"
	id=$DEV_ID
	dev=/dev/ublkb$id
	dd if="$UBLK_TMP/ref" of="$dev" bs=1M oflag=direct status=none || _fail "writing $dev"
	if [ "$mode" = reissue ]; then
		_fio_load_bg load "$dev" 4M --offset=16M --iodepth=8 --rate_iops=40
	else
		_fio_eio_load_bg load "$dev" 8M --offset=16M --iodepth=8 --thinktime=20000
	fi
	_nap 1
	_fio_load_alive
	_kill_server "$id"
	_wait_state "$id" "$want"
	_recover "$id"
	dd if="$dev" of="$UBLK_TMP/got" bs=1M count=2 iflag=direct status=none ||
		_fail "$zc $mode: reading $dev after recovery failed"
	cmp -s "$UBLK_TMP/got" "$UBLK_TMP/ref" || _fail "$zc $mode: data changed across recovery"
	_fio_load_stop
	[ "$mode" != reissue ] || [ "$FIO_ERRORS" = 0 ] ||
		_fail "$zc reissue: fio saw $FIO_ERRORS errors"
	_del_dev "$id"
	_log "$zc, $mode: killed with buffers registered, recovered, $FIO_ERRORS EIO, data intact"
}

_mkfile "$UBLK_TMP/backing" 32M
head -c 2M /dev/urandom > "$UBLK_TMP/ref" || _fail "no random data"
modes=()
_have_feature USER_RECOVERY && modes+=(recovery)
_have_feature USER_RECOVERY_REISSUE && modes+=(reissue)
_have_feature USER_RECOVERY_FAIL_IO && modes+=(fail_io)
for zc in -z --auto_zc; do
	for mode in "${modes[@]}"; do
		kill_one "$zc" "$mode"
	done

	_add_dev -t fault_inject -q 2 -d 16 --delay_us 100000 "$zc" "$UBLK_TMP/backing"
	id=$DEV_ID
	_fio_bg "kill$zc" "/dev/ublkb$id" --iodepth=8 --size=8M
	_wait_io "$id"
	_kill_server "$id"
	_wait_state "$id" DEAD 60
	_fio_bg_failed
	_del_dev "$id"
	_log "$zc, no recovery: killed with buffers registered, device died, deleted"
done

# Nothing of the killed servers (their rings' buffers, stage 2 of their
# exits) is left holding the module: it unloads.  In the project's guest
# only, which loaded it from $UBLK_VM_KO; loaded again for the tests after.
if [ "${UBLK_VM_MODULE:-}" = ours ] && [ -n "${UBLK_VM_KO:-}" ]; then
	rmmod ublk_drv || _fail "ublk_drv does not unload after the kills"
	insmod "$UBLK_VM_KO" || _fail "ublk_drv does not load again"
	_log "the module unloaded and loaded again"
fi
exit 0
