#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ublk_fuzz, the seeded command fuzzer, for about a minute
# ($UBLK_FUZZ_SECS): a fixed list of seeds, each stopped after its share
# of the time.  The fuzzer fails on an operation that hangs (its
# watchdog), on a result no command may get, on an unprivileged command
# that reaches a device not its own, and when something it created
# cannot be deleted at the end; the guest harness fails on any kernel
# report.  Afterwards the driver must still serve: a null device runs
# fio without an error, a loop device passes fio's verify, and the
# module unloads.
#
# A failure prints the seed: "ublk_fuzz -s SEED -n OPS" replays it
# (make fuzz FUZZ_SEED=SEED FUZZ_OPS=OPS on the debug kernel).
#
# A driver deadlock can leave the fuzzer unable to exit (its threads
# asleep in the kernel for good), so it runs in the background and the
# test gives up on it once its watchdog has fired; such a guest is no
# use to other tests, hence exclusive.
# ublk-check: exclusive

. "$(dirname "$0")"/test_common.sh
_prep_test

seeds=(1 2 3 4)
secs=${UBLK_FUZZ_SECS:-60}
# UBLK_FUZZ_ARGS: more ublk_fuzz options (-x COMMAND leaves one out)
read -r -a args <<< "${UBLK_FUZZ_ARGS-}"
per=$((secs / ${#seeds[@]}))
[ "$per" -gt 0 ] || per=1
for s in "${seeds[@]}"; do
	log=$UBLK_TMP/fuzz-$s.log
	# only its log open: a fuzzer left hung must not hold the runner's
	# pipes (kselftest's gives the test fds 3 and 4), or the runner
	# waits for it to the guest's time limit
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$UBLK_DIR"/ublk_fuzz -s "$s" -n 1000000 -T "$per" -t 30 "${args[@]}"
	) > "$log" 2>&1 < /dev/null &
	fpid=$!
	# the run, then the end's checks: a few watchdog periods at most
	end=$((SECONDS + per + 300))
	fired=
	while _pid_alive "$fpid"; do
		[ -z "$fired" ] && grep -q 'WATCHDOG' "$log" && fired=$SECONDS
		if [ "$SECONDS" -ge "$end" ] ||
		   { [ -n "$fired" ] && [ $((SECONDS - fired)) -ge 30 ]; }; then
			disown "$fpid"
			# its operations and the watchdog's word: the kernel
			# stacks it dumps are on the console as well
			grep -v '^\[<' "$log" | tail -n 120 >&2
			_fail "ublk_fuzz -s $s -T $per hung and cannot exit (pid $fpid)"
		fi
		_nap 1
	done
	wait "$fpid"
	rc=$?
	if [ "$rc" != 0 ]; then
		grep -v '^\[<' "$log" | tail -n 80 >&2
		_fail "ublk_fuzz -s $s -T $per: exit $rc (3: an operation hung)"
	fi
	_log "$(tail -n 1 "$log")"
done
_log "fuzzing and clean-up: ${SECONDS}s"

# every device the fuzzer made is gone (its own end deletes them all)
left=$(ls /dev/ublkc* /dev/ublkb* 2>/dev/null)
[ -z "$left" ] || _fail "devices left after the fuzzing: $left"

_add_dev -t null -q 2 -s 256M
_fio null --filename="/dev/ublkb$DEV_ID" --rw=randrw --bs=4k \
	--iodepth=16 --size=4M
_del_dev "$DEV_ID"
_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop -q 2 "$UBLK_TMP/backing"
_fio_verify "/dev/ublkb$DEV_ID" 4M
_del_dev "$DEV_ID"
_log "after the fuzzing a null device serves and a loop device verifies"

# Nothing the fuzzer did holds the module: it unloads (in the project's
# guest, which loaded it from $UBLK_VM_KO; loaded again for the tests after).
if [ "${UBLK_VM_MODULE:-}" = ours ] && [ -n "${UBLK_VM_KO:-}" ]; then
	rmmod ublk_drv || _fail "ublk_drv does not unload after the fuzzing"
	insmod "$UBLK_VM_KO" || _fail "ublk_drv does not load again"
	_log "the module unloaded and loaded again"
fi
exit 0
