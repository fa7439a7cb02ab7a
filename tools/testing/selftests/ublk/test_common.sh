#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by every test_<group>_<NN>.sh.  Exit codes follow kselftest:
# 0 pass, 1 fail, 4 skip.  A test skips only when the driver does not
# report a feature it needs (_require_feature).
#
# _prep_test makes a scratch directory $UBLK_TMP (tmpfs in the guest),
# sends the servers' messages to $KUBLK_LOG there and, on exit, deletes
# every device the test created, stops its background jobs and, when the
# test failed, shows the end of the server log.
#
# Starting a process is slow on the debug kernel under emulation (up to
# seconds), so the helpers use shell built-ins where they can: features
# are read once, fields are parsed by bash, waits do not run sleep.

UBLK_SKIP_CODE=4
UBLK_DIR=${BASH_SOURCE[0]%/*}
[ "$UBLK_DIR" = "${BASH_SOURCE[0]}" ] && UBLK_DIR=.
[[ "$UBLK_DIR" = /* ]] || UBLK_DIR=$PWD/$UBLK_DIR
KUBLK=$UBLK_DIR/kublk
UBLK_DEVS=()
UBLK_MOUNTS=()

# fio options every data test uses
# --allow_file_create=0: a device node that is gone must fail fio, not
# become a regular file in /dev that hides the next device of that name
# --thread: jobs as threads of one fio process, not forked ones; the I/O
# is the same, and each fio run starts about 0.2 s sooner on the debug
# kernel under emulation (some 170 runs in the suite)
UBLK_FIO=(--ioengine=io_uring --direct=1 --group_reporting --output-format=normal
	  --verify_state_save=0 --allow_file_create=0 --thread)

_log() { echo "$TID: $*"; }
_fail() { echo "$TID: FAIL: $*" >&2; exit 1; }
_skip() { echo "$TID: SKIP: $*"; exit $UBLK_SKIP_CODE; }

_prep_test() {
	TID=${0##*/}
	TID=${TID%.sh}
	[ "$EUID" = 0 ] || _skip "must run as root"
	[ -c /dev/ublk-control ] || _fail "/dev/ublk-control is missing (is ublk_drv loaded?)"
	[ -x "$KUBLK" ] || _fail "$KUBLK is not built (make -C $UBLK_DIR)"
	UBLK_TMP=$(mktemp -d "/tmp/$TID.XXXXXX") || _fail "mktemp"
	export KUBLK_LOG=$UBLK_TMP/kublk.log
	export KUBLK_RUN_DIR=$UBLK_TMP/run
	trap _cleanup EXIT
	UBLK_FEATURES=$("$KUBLK" features) || _fail "kublk features failed"
	# a FIFO held open for reading and writing: reads on it only time out
	mkfifo "$UBLK_TMP/nap" || _fail "mkfifo"
	exec {UBLK_NAP_FD}<>"$UBLK_TMP/nap"
}

# _nap SECONDS: sleep without starting a process
_nap() {
	read -r -t "$1" -u "$UBLK_NAP_FD" _
	return 0
}

_cleanup() {
	local rc=$? id m

	trap - EXIT
	for m in "${UBLK_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	# shellcheck disable=SC2046 # one pid per word
	kill -9 $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for id in "${UBLK_DEVS[@]}"; do
		[ -e "/dev/ublkc$id" ] || continue
		timeout 120 "$KUBLK" del -n "$id" >/dev/null 2>&1 ||
			echo "$TID: cleanup: could not delete device $id" >&2
	done
	# after the devices that may be served from it
	if [ -n "${UBLK_NULLB:-}" ] && [ -e /sys/module/null_blk ]; then
		modprobe -r null_blk 2>/dev/null ||
			echo "$TID: cleanup: could not unload null_blk" >&2
	fi
	if [ "$rc" != 0 ] && [ "$rc" != "$UBLK_SKIP_CODE" ] && [ -s "$KUBLK_LOG" ]; then
		echo "$TID: last server messages:"
		tail -n 30 "$KUBLK_LOG" | sed 's/^/    /'
	fi
	rm -rf "$UBLK_TMP"
	echo "$TID: ${SECONDS}s"
	exit "$rc"
}

# _have_feature NAME: the driver reports UBLK_F_NAME (the names of
# "kublk features", one per line after two spaces)
_have_feature() {
	[[ "$UBLK_FEATURES"$'\n' == *$'\n'"  $1 "* ]]
}

_require_feature() {
	local f

	for f in "$@"; do
		_have_feature "$f" || _skip "the driver does not report $f"
	done
}

# _add_dev ARGS...: kublk add ARGS; the new id in $DEV_ID, device checked
# to be LIVE with its block device present
_add_dev() {
	local err=$UBLK_TMP/add.err

	DEV_ID=$("$KUBLK" add "$@" 2>"$err") ||
		_fail "kublk add $*: $(<"$err")"
	[[ "$DEV_ID" =~ ^[0-9]+$ ]] || _fail "kublk add $* printed '$DEV_ID', not an id"
	UBLK_DEVS+=("$DEV_ID")
	[ "$(_dev_state "$DEV_ID")" = LIVE ] ||
		_fail "device $DEV_ID is $(_dev_state "$DEV_ID") after add, not LIVE"
	[ -b "/dev/ublkb$DEV_ID" ] || _fail "/dev/ublkb$DEV_ID is missing after add"
}

# _del_dev ID: delete, and check that everything of it is gone
_del_dev() {
	local id=$1 pid

	pid=$(_dev_field "$id" pid)
	"$KUBLK" del -n "$id" || _fail "kublk del -n $id failed"
	[ ! -e "/dev/ublkb$id" ] || _fail "/dev/ublkb$id still exists after del"
	[ ! -e "/dev/ublkc$id" ] || _fail "/dev/ublkc$id still exists after del"
	"$KUBLK" list -n "$id" >/dev/null 2>&1 && _fail "device $id still listed after del"
	[ "${pid:--1}" -gt 0 ] && _pid_alive "$pid" &&
		_fail "server $pid of device $id still runs after del"
	return 0
}

# _dev_field ID NAME: the value of NAME=... in "kublk list -n ID"
_dev_field() {
	local line

	line=$("$KUBLK" list -n "$1" 2>/dev/null) || return 0
	[[ " $line " =~ \ $2=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"
	return 0
}

_dev_state() {
	local s

	s=$(_dev_field "$1" state)
	echo "${s:-GONE}"
}

# _wait_state ID STATE[|STATE...] [SECONDS]: poll until the device is in
# (one of the) STATE; the state reached in $DEV_STATE
_wait_state() {
	local id=$1 want=$2 end=$((SECONDS + ${3:-30}))

	while [ "$SECONDS" -le "$end" ]; do
		DEV_STATE=$(_dev_state "$id")
		[[ "|$want|" == *"|$DEV_STATE|"* ]] && return 0
		_nap 0.2
	done
	_fail "device $id is $(_dev_state "$id"), not $want, after ${3:-30}s"
}

# a process that has not exited (zombies have)
_pid_alive() {
	local stat

	read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ "${stat:0:1}" != [ZX] ]]
}

# _wait_pid_gone PID [SECONDS]
_wait_pid_gone() {
	local end=$((SECONDS + ${2:-30}))

	while [ "$SECONDS" -le "$end" ]; do
		_pid_alive "$1" || return 0
		_nap 0.1
	done
	_fail "process $1 still runs after ${2:-30}s"
}

# _free_id: the lowest device id not in use
_free_id() {
	local i=0

	while [ -e "/sys/class/ublk-char/ublkc$i" ]; do
		i=$((i + 1))
	done
	echo "$i"
}

# _kill_server ID: SIGKILL the device's server and wait until it is gone
# _wait_io ID: wait until the disk has completed I/O (a load started in
# the background is running), at most 60 s
_wait_io() {
	local r w i

	for ((i = 0; i < 600; i++)); do
		read -r r _ _ _ w _ < "/sys/block/ublkb$1/stat" ||
			_fail "ublkb$1 has no stat"
		[ $((r + w)) -gt 0 ] && return 0
		sleep 0.1
	done
	_fail "no I/O on ublkb$1 within 60 s"
}

_kill_server() {
	local pid

	pid=$(_dev_field "$1" pid)
	[ "${pid:-0}" -gt 0 ] || _fail "device $1 has no server to kill"
	kill -9 "$pid"
	_wait_pid_gone "$pid"
}

# _queue_attr ID NAME: /sys/block/ublkbID/queue/NAME
_queue_attr() {
	local v

	read -r v < "/sys/block/ublkb$1/queue/$2" || _fail "no queue attribute $2 for ublkb$1"
	echo "$v"
}

# _expect_queue_attr ID NAME VALUE: the disk's queue limit NAME is VALUE
_expect_queue_attr() {
	local got

	got=$(_queue_attr "$1" "$2")
	[ "$got" = "$3" ] || _fail "ublkb$1: queue/$2 is '$got', not '$3'"
}

# _has_param_type ID MASK: GET_PARAMS of the device has a parameter type
# of MASK (UBLK_PARAM_TYPE_*): the driver kept it
_has_param_type() {
	local t

	t=$(_dev_field "$1" param_types)
	[ -n "$t" ] && (( t & $2 ))
}

# _mkfile PATH SIZE: a sparse backing file, empty
_mkfile() {
	: > "$1" || _fail "cannot create $1"
	truncate -s "$2" "$1" || _fail "cannot size $1"
}

# _fio NAME ARGS...: run fio, log in $UBLK_TMP/NAME.fio; fail with its tail
_fio() {
	local name=$1 log=$UBLK_TMP/$1.fio

	shift
	if ! fio --name="$name" "${UBLK_FIO[@]}" "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		_fail "fio $name failed: fio $*"
	fi
}

# _fio_verify DEV SIZE [ARGS...]: random writes of SIZE bytes, then read
# them all back and check them
_fio_verify() {
	local dev=$1 size=$2

	shift 2
	_fio "verify-${dev##*/}" --filename="$dev" --rw=randwrite --size="$size" \
		--bs=4k --iodepth=32 --verify=crc32c --verify_fatal=1 --do_verify=1 "$@"
}

# _fio_write DEV SIZE / _fio_check DEV SIZE: write a verifiable pattern
# now, check it later (after a restart of the server, say)
_fio_write() {
	_fio "write-${1##*/}" --filename="$1" --rw=write --size="$2" --bs=64k \
		--iodepth=16 --verify=crc32c --do_verify=0 "${@:3}"
}

_fio_check() {
	_fio "check-${1##*/}" --filename="$1" --rw=write --size="$2" --bs=64k \
		--iodepth=16 --verify=crc32c --verify_only=1 --verify_fatal=1 "${@:3}"
}

# _mount DEV DIR: mount, remembered for the clean-up
_mount() {
	mkdir -p "$2"
	mount "$1" "$2" || _fail "mount $1 $2"
	UBLK_MOUNTS+=("$2")
}

# _fio_bg NAME DEV [ARGS...]: a long random read/write job in the
# background, its pid in $FIO_PID; it must still be running 1s later
_fio_bg() {
	local name=$1 dev=$2

	shift 2
	timeout 300 fio --name="$name" "${UBLK_FIO[@]}" --filename="$dev" --rw=randrw \
		--bs=4k --iodepth=32 --time_based --runtime=240 "$@" \
		>"$UBLK_TMP/$name.fio" 2>&1 &
	FIO_PID=$!
	_nap 1
	_pid_alive "$FIO_PID" || _fail "fio $name ended early: $(tail -n 5 "$UBLK_TMP/$name.fio")"
}

# _fio_bg_failed: the background fio ends (soon), with I/O errors; its
# status in $FIO_RC
_fio_bg_failed() {
	wait "$FIO_PID"
	FIO_RC=$?
	[ "$FIO_RC" = 124 ] && _fail "fio hung on a dead device"
	[ "$FIO_RC" != 0 ] || _fail "fio saw no error although its device went away"
	return 0
}

# _recover ID [ARGS...]: kublk recover -n ID ARGS; the device must be
# LIVE again, served by a new server
_recover() {
	local id=$1 old new out

	shift
	old=$(_dev_field "$id" pid)
	out=$("$KUBLK" recover -n "$id" "$@" 2>"$UBLK_TMP/recover.err") ||
		_fail "kublk recover -n $id $*: $(<"$UBLK_TMP/recover.err")"
	[ "$out" = "$id" ] || _fail "kublk recover -n $id printed '$out'"
	[ "$(_dev_state "$id")" = LIVE ] || _fail "device $id is $(_dev_state "$id") after recover"
	new=$(_dev_field "$id" pid)
	if [ "$new" = "$old" ] || ! _pid_alive "$new"; then
		_fail "device $id's server after recover: pid $new (before: $old)"
	fi
}

# _kill_recover ID [ARGS...]: kill the server, wait until the device
# waits for a new one, recover it
_kill_recover() {
	local id=$1

	shift
	_kill_server "$id"
	_wait_state "$id" QUIESCED
	_recover "$id" "$@"
}

# _fio_verify_bg NAME DEV SIZE [ARGS...]: _fio_verify in the background,
# its pid in $FIO_PID; _fio_bg_ok waits for it to succeed
_fio_verify_bg() {
	local name=$1 dev=$2 size=$3

	shift 3
	timeout 280 fio --name="$name" "${UBLK_FIO[@]}" --filename="$dev" --rw=randwrite \
		--size="$size" --bs=4k --iodepth=16 --verify=crc32c --verify_fatal=1 \
		--do_verify=1 "$@" >"$UBLK_TMP/$name.fio" 2>&1 &
	FIO_PID=$!
	UBLK_FIO_NAME=$name
}

_fio_bg_ok() {
	wait "$FIO_PID" || _fail "fio $UBLK_FIO_NAME: $(tail -n 8 "$UBLK_TMP/$UBLK_FIO_NAME.fio")"
}

# _data_modes: "name:option" for each data mode the driver reports
_data_modes() {
	echo "copy:"
	_have_feature NEED_GET_DATA && echo "NEED_GET_DATA:-g"
	_have_feature USER_COPY && echo "USER_COPY:-u"
}

# _fio_load_bg NAME DEV SIZE [ARGS...]: write and verify SIZE bytes over
# and over in the background (each loop writes the range, then reads it
# back and checks it) until _fio_load_stop; any error stops it.  Its pid
# in $FIO_PID.
_fio_load_bg() {
	local name=$1 dev=$2 size=$3

	shift 3
	fio --name="$name" "${UBLK_FIO[@]}" --filename="$dev" --rw=randwrite --size="$size" \
		--bs=4k --iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--loops=1000000 "$@" >"$UBLK_TMP/$name.fio" 2>&1 &
	FIO_PID=$!
	UBLK_FIO_NAME=$name
}

# _fio_eio_load_bg NAME DEV SIZE [ARGS...]: random reads and writes over
# SIZE bytes in the background until _fio_load_stop, going on after EIO
# (only after EIO: any other error stops it)
_fio_eio_load_bg() {
	local name=$1 dev=$2 size=$3

	shift 3
	fio --name="$name" "${UBLK_FIO[@]}" --filename="$dev" --rw=randrw --size="$size" \
		--bs=4k --iodepth=16 --time_based --runtime=86400 --continue_on_error=io \
		--ignore_error=EIO,EIO "$@" >"$UBLK_TMP/$name.fio" 2>&1 &
	FIO_PID=$!
	UBLK_FIO_NAME=$name
}

# _fio_load_alive: the background load still runs (it ends only on error)
_fio_load_alive() {
	_pid_alive "$FIO_PID" ||
		_fail "fio $UBLK_FIO_NAME stopped: $(tail -n 8 "$UBLK_TMP/$UBLK_FIO_NAME.fio")"
}

# _fio_load_stop: stop the background load (SIGTERM: fio completes what it
# has in flight and reports); it must not have failed.  The number of
# I/O errors it went on after in $FIO_ERRORS (then fio's "err=" is the
# first of them, EIO, not 0).
_fio_load_stop() {
	local log=$UBLK_TMP/$UBLK_FIO_NAME.fio rc out err=x

	_fio_load_alive
	kill -TERM "$FIO_PID"
	wait "$FIO_PID"
	rc=$?
	out=$(<"$log")
	FIO_ERRORS=0
	[[ "$out" =~ errors\ *:\ total=([0-9]+) ]] && FIO_ERRORS=${BASH_REMATCH[1]}
	[[ "$out" =~ \ err=\ *([0-9]+) ]] && err=${BASH_REMATCH[1]}
	# 128: terminated by our signal
	if { [ "$rc" != 0 ] && [ "$rc" != 128 ]; } ||
	   { [ "$err" != 0 ] && { [ "$err" != 5 ] || [ "$FIO_ERRORS" = 0 ]; }; }; then
		grep -E "err=|error|fio:" "$log" | head -n 20 >&2
		_fail "fio $UBLK_FIO_NAME failed (status $rc, err=$err)"
	fi
	return 0
}

# _nullb_poll N: N polled null_blk disks, /dev/nullb0 ... (blk-mq, two
# poll queues, memory backed, so data reads back); unloaded at the
# clean-up.  --iopoll's backing devices.
#
# 6.12's null_blk allocates the page of a sector it has not stored yet in
# the request's completion, which for a polled request runs in the
# poller's rcu_read_lock() section (iocb_bio_iopoll -> null_poll ->
# null_insert_page): a sleeping allocation in atomic context, reported by
# the debug kernel.  So the first UBLK_NULLB_MB (80) MiB of each disk are
# written once here, without polling, and tests stay in that range.
UBLK_NULLB_MB=80
_nullb_poll() {
	local i io_poll

	if [ -e /sys/module/null_blk ]; then
		modprobe -r null_blk || _fail "null_blk is loaded and busy"
	fi
	modprobe null_blk nr_devices="$1" queue_mode=2 submit_queues=2 poll_queues=2 \
		memory_backed=1 gb=1 bs=512 || _fail "modprobe null_blk with poll queues failed"
	UBLK_NULLB=1
	for ((i = 0; i < $1; i++)); do
		[ -b "/dev/nullb$i" ] || _fail "/dev/nullb$i is missing after modprobe null_blk"
		read -r io_poll < "/sys/block/nullb$i/queue/io_poll" ||
			_fail "nullb$i has no queue/io_poll"
		[ "$io_poll" = 1 ] || _fail "nullb$i does not poll (queue/io_poll is $io_poll)"
		dd if=/dev/zero of="/dev/nullb$i" bs=1M count="$UBLK_NULLB_MB" oflag=direct \
			status=none || _fail "writing nullb$i's first $UBLK_NULLB_MB MiB failed"
	done
}

# _cpu_ticks PID: user + system time of all threads of PID, in clock ticks
_cpu_ticks() {
	local t s total=0
	local -a f

	for t in /proc/"$1"/task/*/stat; do
		read -r s 2>/dev/null < "$t" || continue
		# after "pid (comm) ": state is field 3, utime 14, stime 15
		read -ra f <<< "${s##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# _idle_check PID: once settled (0.5 s), all threads of PID together use
# under 5 % of a CPU over 3 s; IDLE_TICKS gets what they used, IDLE_HZ
# the clock ticks of a second
_idle_check() {
	local t0 t1

	IDLE_HZ=$(getconf CLK_TCK) || _fail "getconf CLK_TCK"
	_nap 0.5
	t0=$(_cpu_ticks "$1")
	_nap 3
	t1=$(_cpu_ticks "$1")
	IDLE_TICKS=$((t1 - t0))
	# 5 % of 3 s
	[ $((IDLE_TICKS * 100)) -lt $((5 * 3 * IDLE_HZ)) ] ||
		_fail "the idle server used $IDLE_TICKS ticks" \
		      "(of $IDLE_HZ a second) in 3 s: it polls while idle"
}

# _bytes SIZE: SIZE (N, Nk or NM) in bytes
_bytes() {
	case "$1" in
	*k) echo $((${1%k} << 10)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*) echo "$1" ;;
	esac
}

# _fio_counted ID NAME SIZE BS QD: fio randrw of SIZE in BS requests at
# QD on /dev/ublkbID (a null target: nothing to verify), and the device
# counted at least every request fio issued
_fio_counted() {
	local id=$1 before after want

	before=$(awk '{ print $1 + $5 }' "/sys/block/ublkb$id/stat")
	_fio "$2" --filename="/dev/ublkb$id" --rw=randrw --bs="$4" --iodepth="$5" \
		--size="$3" --io_size="$3"
	after=$(awk '{ print $1 + $5 }' "/sys/block/ublkb$id/stat")
	want=$(($(_bytes "$3") / $(_bytes "$4")))
	[ $((after - before)) -ge "$want" ] ||
		_fail "$2 at QD$5: the device counted $((after - before)) I/Os, fio issued $want"
}

# _polled_case ADD TARGET MODE QUEUES QD SIZE BS [ARGS...]: a polled
# device added by the function ADD with -t TARGET -q QUEUES, the option
# of data MODE (${opt[MODE]}; a mode opt does not have is skipped) and
# ARGS; fio on it at QD in BS requests, verified, but counted on null.
# Appends TARGET/MODE/qQUEUES/QDQD to the array ran.
_polled_case() {
	local add=$1 target=$2 mode=$3 q=$4 qd=$5 size=$6 bs=$7

	shift 7
	[ -n "${opt[$mode]+set}" ] || return 0
	# shellcheck disable=SC2086 # the mode's option, or none
	"$add" -t "$target" -q "$q" ${opt[$mode]} "$@"
	ran+=("$target/$mode/q$q/QD$qd")
	if [ "$target" = null ]; then
		_fio_counted "$DEV_ID" "null-$mode-q$q" "$size" "$bs" "$qd"
	else
		# FLUSHes too (fdatasync): system calls on the backing disks
		_fio_verify "/dev/ublkb$DEV_ID" "$size" --iodepth="$qd" --bs="$bs" --fdatasync=64
	fi
	_del_dev "$DEV_ID"
}

# _fio_kill_recover ID: the server of /dev/ublkbID (USER_RECOVERY_REISSUE)
# is killed (-9) while two fio jobs write and verify, a new one recovers
# the device, the requests the old one held are issued again, and fio
# finishes without an error
_fio_kill_recover() {
	_fio_verify_bg reissue "/dev/ublkb$1" 8M --numjobs=2 --offset_increment=16M --iodepth=64
	_wait_io "$1"
	_nap 1
	_kill_recover "$1"
	_fio_bg_ok
}

# _stress_cycles: how many kill/recover cycles a loop runs:
# $UBLK_STRESS_CYCLES, 5 by default ("make stress" asks for 200)
_stress_cycles() {
	local n=${UBLK_STRESS_CYCLES:-5}

	[[ "$n" =~ ^[1-9][0-9]*$ ]] || _fail "UBLK_STRESS_CYCLES='$n' is not a count"
	echo "$n"
}

# _kill_loop MODE: create a two-queue device in recovery MODE (recovery,
# reissue or fail_io) whose server holds every request 200ms (fault_inject
# over a file), so that under a light fio load (little CPU: the guest is
# slow) requests are always in the server,
# and kill the server with SIGKILL and recover the device, _stress_cycles
# times.  2M of random data written before the loop must read back intact
# after every recovery; 2M written and verified at the end show that the
# device still serves correctly.  The load must end without error with
# reissue (it verifies what it writes, across the restarts); in the other
# modes it goes on after EIO, the failure of what the dead server held
# (recovery) or of everything sent while no server runs (fail_io), and
# must see no other error.
_kill_loop() {
	local mode=$1 cycles want=QUIESCED mode_opts id dev c pid out line

	cycles=$(_stress_cycles)
	case "$mode" in
	recovery) mode_opts=(-r 1) ;;
	reissue) mode_opts=(--recovery_reissue 1) ;;
	fail_io) mode_opts=(--recovery_fail_io 1); want=FAIL_IO ;;
	*) _fail "_kill_loop: unknown mode $mode" ;;
	esac
	_mkfile "$UBLK_TMP/backing" 64M
	_add_dev -t fault_inject -q 2 -d 16 --delay_us 200000 "${mode_opts[@]}" "$UBLK_TMP/backing"
	id=$DEV_ID
	dev=/dev/ublkb$id
	head -c 2M /dev/urandom > "$UBLK_TMP/ref" || _fail "no random data"
	dd if="$UBLK_TMP/ref" of="$dev" bs=1M oflag=direct status=none || _fail "writing $dev"
	# a light load: the guest has little CPU to spare
	if [ "$mode" = reissue ]; then
		_fio_load_bg load "$dev" 4M --offset=16M --numjobs=2 --offset_increment=16M \
			--iodepth=8 --rate_iops=20
	else
		# Failed I/O does not count against a rate, and fio does not
		# think after it either: while no server runs this load
		# resubmits at once (FAIL_IO: 2.24 million EIO in 200 cycles
		# of "make stress").  The thinktime still slows it while served.
		_fio_eio_load_bg load "$dev" 32M --offset=16M --numjobs=2 --iodepth=8 \
			--thinktime=50000
	fi
	# few processes a cycle: each one costs up to seconds in the guest
	pid=$(_dev_field "$id" pid)
	for ((c = 1; c <= cycles; c++)); do
		_nap 0.5
		_fio_load_alive
		kill -9 "$pid"
		_wait_pid_gone "$pid"
		_wait_state "$id" "$want"
		out=$("$KUBLK" recover -n "$id" 2>"$UBLK_TMP/recover.err") ||
			_fail "cycle $c: kublk recover: $(<"$UBLK_TMP/recover.err")"
		[ "$out" = "$id" ] || _fail "cycle $c: kublk recover printed '$out'"
		line=$("$KUBLK" list -n "$id")
		[[ " $line " =~ \ state=LIVE\ .*\ pid=([0-9]+)\  ]] ||
			_fail "cycle $c: after recover: $line"
		[ "${BASH_REMATCH[1]}" != "$pid" ] ||
			_fail "cycle $c: the old server $pid is still listed"
		pid=${BASH_REMATCH[1]}
		_pid_alive "$pid" || _fail "cycle $c: the new server $pid is not running"
		dd if="$dev" of="$UBLK_TMP/got" bs=1M count=2 iflag=direct status=none ||
			_fail "cycle $c: reading $dev after recovery failed"
		cmp -s "$UBLK_TMP/got" "$UBLK_TMP/ref" ||
			_fail "cycle $c: data changed across recovery"
		[ $((c % 10)) = 0 ] && _log "$mode: $c of $cycles kill/recover cycles"
	done
	_fio_load_stop
	[ "$mode" != reissue ] || [ "$FIO_ERRORS" = 0 ] ||
		_fail "reissue: fio saw $FIO_ERRORS errors"
	[ "$mode" != fail_io ] || [ "$FIO_ERRORS" -gt 0 ] ||
		_fail "fail_io: no I/O failed while no server ran"
	_fio_verify "$dev" 2M --offset=8M
	_del_dev "$id"
	_log "$mode: $cycles kill/recover cycles under fio, $FIO_ERRORS EIO, data intact"
}

# _vm_dump NAME: a vmcore of this guest, $UBLK_VM_OUT/NAME, written by
# QEMU while the guest is stopped (scripts/vm.sh runs the host's side,
# scripts/vm-dump.py).  Prints the host's answer (the time it took);
# returns 1, with the reason on stderr, when there is no dump to be had.
_vm_dump() {
	local d=${UBLK_VM_OUT:-} i answer

	if [ "${UBLK_VM_DUMP:-}" != 1 ] || [ ! -d "$d" ]; then
		echo "not in a scripts/vm.sh guest that can dump itself" >&2
		return 1
	fi
	rm -f "$d/dump.done" "$d/$1"
	echo "$1" > "$d/dump.want"
	for ((i = 0; i < 600; i++)); do
		[ -f "$d/dump.done" ] && break
		_nap 0.5
	done
	answer=$(cat "$d/dump.done" 2>/dev/null)
	rm -f "$d/dump.done"
	case "$answer" in
	"ok $1 "*) echo "${answer#ok "$1" }"; return 0 ;;
	"") echo "no answer from the host in 300 s" >&2 ;;
	*) echo "$answer" >&2 ;;
	esac
	return 1
}

# _mkparts FILE: an MS-DOS partition table on FILE with one Linux
# partition from sector 2048 to the end (FILE at least 2M)
_mkparts() {
	local size nr le

	size=$(stat -c %s "$1") || _fail "stat $1"
	nr=$((size / 512 - 2048))
	# little-endian 32-bit: start 2048, then the sector count
	le=$(printf '\\x%02x' 0 8 0 0 $((nr & 255)) $((nr >> 8 & 255)) $((nr >> 16 & 255)) \
	     $((nr >> 24 & 255)))
	# shellcheck disable=SC2059 # the format is built above
	printf "\x00\x00\x00\x00\x83\x00\x00\x00$le" |
		dd of="$1" bs=1 seek=446 conv=notrunc status=none || _fail "partition entry"
	printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none ||
		_fail "partition table signature"
}
