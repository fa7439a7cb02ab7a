#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll (UBLK_F_IOPOLL): requests are handed to the server from the
# poll loop of its IORING_SETUP_IOPOLL ring, which also polls the
# backing I/O.  null (every request fio issued reached the device), loop
# over a polled null_blk disk and stripe over two (fio writes, reads
# back and verifies), in copy mode, with user copy, zero copy and
# AUTO_BUF_REG (all on loop; stripe without user copy), at QD1 and QD128
# with one and four queues.  The device
# must say it polls (IOPOLL in its flags).

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IOPOLL

stat_ios() { awk '{ print $1 + $5 }' "/sys/block/ublkb$1/stat"; }

# add_polled ARGS...: _add_dev --iopoll ARGS, and the driver kept the flag
add_polled() {
	local f

	_add_dev --iopoll "$@"
	f=$(_dev_field "$DEV_ID" features)
	[[ ",$f," == *,IOPOLL,* ]] || _fail "kublk add --iopoll $*: features $f, no IOPOLL"
}

# the data modes the driver reports: the option of each
declare -A opt=([copy]="")
_have_feature USER_COPY && opt[user_copy]=-u
_have_feature SUPPORT_ZERO_COPY && opt[zero_copy]=-z
_have_feature AUTO_BUF_REG && opt[auto_zc]=--auto_zc

# bytes SIZE: SIZE (N, Nk or NM) in bytes
bytes() {
	case "$1" in
	*k) echo $((${1%k} << 10)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*) echo "$1" ;;
	esac
}

# case TARGET MODE QUEUES QD SIZE BS [FILES...]: a polled device of
# TARGET in data MODE, and fio on it (verified, but on null: counted)
case_run() {
	local target=$1 mode=$2 q=$3 qd=$4 size=$5 bs=$6 before after want

	shift 6
	[ -n "${opt[$mode]+set}" ] || return 0
	# shellcheck disable=SC2086 # the mode's option, or none
	add_polled -t "$target" -q "$q" ${opt[$mode]} "$@"
	ran+=("$target/$mode/q$q/QD$qd")
	if [ "$target" = null ]; then
		before=$(stat_ios "$DEV_ID")
		_fio "null-$mode" --filename="/dev/ublkb$DEV_ID" --rw=randrw --bs="$bs" \
			--iodepth="$qd" --size="$size" --io_size="$size"
		after=$(stat_ios "$DEV_ID")
		want=$(($(bytes "$size") / $(bytes "$bs")))
		[ $((after - before)) -ge "$want" ] ||
			_fail "null $mode q$q QD$qd: the device counted" \
			      "$((after - before)) I/Os, fio issued $want"
	else
		# FLUSHes too (fdatasync): system calls on the backing disks
		_fio_verify "/dev/ublkb$DEV_ID" "$size" --iodepth="$qd" --bs="$bs" --fdatasync=64
	fi
	_del_dev "$DEV_ID"
}

ran=()
case_run null copy 1 1 512k 4k -s 1G
case_run null user_copy 4 128 1M 4k -s 1G

_nullb_poll 2
# every data mode on loop, at QD1 or QD128 on 1 or 4 queues; on stripe
# the modes that move data another way per piece: 64k requests on 16k
# chunks cross chunks and disks (zero copy: one READ_FIXED / WRITE_FIXED
# a piece)
case_run loop copy 1 1 256k 4k /dev/nullb0
case_run loop user_copy 4 128 1M 4k /dev/nullb0
case_run loop zero_copy 1 128 1M 4k /dev/nullb0
case_run loop auto_zc 4 1 256k 4k /dev/nullb0
case_run stripe copy 4 128 1M 64k --chunk 16k /dev/nullb0 /dev/nullb1
case_run stripe zero_copy 1 128 1M 64k --chunk 16k /dev/nullb0 /dev/nullb1
case_run stripe auto_zc 4 1 192k 12k --chunk 16k /dev/nullb0 /dev/nullb1
_log "polled devices served and verified: ${ran[*]}"
exit 0
