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

UBLK_SKIP_CODE=4
UBLK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBLK=$UBLK_DIR/kublk
UBLK_DEVS=()
UBLK_MOUNTS=()

# fio options every data test uses
UBLK_FIO=(--ioengine=io_uring --direct=1 --group_reporting --output-format=normal
	  --verify_state_save=0)

_log() { echo "$TID: $*"; }
_fail() { echo "$TID: FAIL: $*" >&2; exit 1; }
_skip() { echo "$TID: SKIP: $*"; exit $UBLK_SKIP_CODE; }

_prep_test() {
	TID=$(basename "$0" .sh)
	[ "$(id -u)" = 0 ] || _skip "must run as root"
	[ -c /dev/ublk-control ] || _fail "/dev/ublk-control is missing (is ublk_drv loaded?)"
	[ -x "$KUBLK" ] || _fail "$KUBLK is not built (make -C $UBLK_DIR)"
	UBLK_TMP=$(mktemp -d "/tmp/$TID.XXXXXX") || _fail "mktemp"
	export KUBLK_LOG=$UBLK_TMP/kublk.log
	export KUBLK_RUN_DIR=$UBLK_TMP/run
	trap _cleanup EXIT
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
	if [ "$rc" != 0 ] && [ "$rc" != "$UBLK_SKIP_CODE" ] && [ -s "$KUBLK_LOG" ]; then
		echo "$TID: last server messages:"
		tail -n 30 "$KUBLK_LOG" | sed 's/^/    /'
	fi
	rm -rf "$UBLK_TMP"
	exit "$rc"
}

# _have_feature NAME: the driver reports UBLK_F_NAME (kublk's names)
_have_feature() {
	"$KUBLK" features | grep -qw -- "$1"
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
		_fail "kublk add $*: $(cat "$err")"
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
	[ "${pid:--1}" -gt 0 ] && _pid_alive "$pid" && _fail "server $pid of device $id still runs after del"
	return 0
}

# _dev_field ID NAME: the value of NAME=... in "kublk list -n ID"
_dev_field() {
	"$KUBLK" list -n "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

_dev_state() {
	local s

	s=$(_dev_field "$1" state)
	echo "${s:-GONE}"
}

# _wait_state ID STATE [SECONDS]: poll until the device is in STATE
_wait_state() {
	local id=$1 want=$2 i n=$((${3:-30} * 10))

	for ((i = 0; i < n; i++)); do
		[ "$(_dev_state "$id")" = "$want" ] && return 0
		sleep 0.1
	done
	_fail "device $id is $(_dev_state "$id"), not $want, after ${3:-30}s"
}

# a process that has not exited (zombies have)
_pid_alive() {
	local s

	s=$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

# _wait_pid_gone PID [SECONDS]
_wait_pid_gone() {
	local i n=$((${2:-30} * 10))

	for ((i = 0; i < n; i++)); do
		_pid_alive "$1" || return 0
		sleep 0.1
	done
	_fail "process $1 still runs after ${2:-30}s"
}

# _kill_server ID: SIGKILL the device's server and wait until it is gone
_kill_server() {
	local pid

	pid=$(_dev_field "$1" pid)
	[ "${pid:-0}" -gt 0 ] || _fail "device $1 has no server to kill"
	kill -9 "$pid"
	_wait_pid_gone "$pid"
}

# _mkfile PATH SIZE: a sparse backing file
_mkfile() {
	rm -f "$1"
	truncate -s "$2" "$1" || _fail "cannot create $1"
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
	_fio "verify-$(basename "$dev")" --filename="$dev" --rw=randwrite --size="$size" \
		--bs=4k --iodepth=32 --verify=crc32c --verify_fatal=1 --do_verify=1 "$@"
}

# _fio_write DEV SIZE / _fio_check DEV SIZE: write a verifiable pattern
# now, check it later (after a restart of the server, say)
_fio_write() {
	_fio "write-$(basename "$1")" --filename="$1" --rw=write --size="$2" --bs=64k \
		--iodepth=16 --verify=crc32c --do_verify=0 "${@:3}"
}

_fio_check() {
	_fio "check-$(basename "$1")" --filename="$1" --rw=write --size="$2" --bs=64k \
		--iodepth=16 --verify=crc32c --verify_only=1 --verify_fatal=1 "${@:3}"
}

# _mount DEV DIR: mount, remembered for the clean-up
_mount() {
	mkdir -p "$2"
	mount "$1" "$2" || _fail "mount $1 $2"
	UBLK_MOUNTS+=("$2")
}

# _fio_bg NAME DEV [ARGS...]: a long random read/write job in the
# background, its pid in $FIO_PID; it must still be running 2s later
_fio_bg() {
	local name=$1 dev=$2

	shift 2
	timeout 300 fio --name="$name" "${UBLK_FIO[@]}" --filename="$dev" --rw=randrw \
		--bs=4k --iodepth=32 --time_based --runtime=240 "$@" \
		>"$UBLK_TMP/$name.fio" 2>&1 &
	FIO_PID=$!
	sleep 2
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
		_fail "kublk recover -n $id $*: $(cat "$UBLK_TMP/recover.err")"
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
