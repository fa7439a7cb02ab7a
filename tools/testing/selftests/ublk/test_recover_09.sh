#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# QUIESCE_DEV under load: while fio writes and verifies through a device
# whose server holds every request for 2ms, the device is quiesced three
# times and recovered by a new server each time.  The old server commits
# what it holds and exits by itself; requests sent meanwhile wait for the
# next one, so fio sees no error at all and all its data verifies.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY QUIESCE

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t fault_inject -q 2 -r 1 --quiesce --delay_us 2000 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_load_bg load "/dev/ublkb$id" 8M --numjobs=2 --offset_increment=16M
for cycle in 1 2 3; do
	_nap 1
	_fio_load_alive
	pid=$(_dev_field "$id" pid)
	"$KUBLK" quiesce -n "$id" --timeout 20000 2>"$UBLK_TMP/err" ||
		_fail "quiesce under load: $(<"$UBLK_TMP/err")"
	# not killed: the server sees its commands aborted and exits
	_wait_pid_gone "$pid"
	_wait_state "$id" QUIESCED
	_fio_load_alive
	_recover "$id"
	_log "cycle $cycle: quiesced under load, recovered"
done
_fio_load_stop
[ "$FIO_ERRORS" = 0 ] || _fail "fio saw $FIO_ERRORS errors across the quiesces"
exits=$(grep -c "server exits" "$KUBLK_LOG")
[ "$exits" -ge 3 ] || _fail "$exits of 3 quiesced servers exited cleanly"
grep -q "failed" "$KUBLK_LOG" &&
	_fail "a server saw a command fail: $(grep failed "$KUBLK_LOG" | head -n 3)"
_del_dev "$id"
_log "three quiesces under load: no I/O error, data verified"
exit 0
