#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll (UBLK_F_IOPOLL): requests are handed to the server from the
# poll loop of its IORING_SETUP_IOPOLL ring, which also polls the
# backing I/O.  null (every request fio issued reached the device), loop
# over a polled null_blk disk and stripe over two (fio writes, reads
# back and verifies), in copy mode, with user copy, zero copy and
# AUTO_BUF_REG, at QD1 and QD128 with one and four queues.  The device
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

# the data modes this driver has, with a mark for the ones zero copy adds
modes=("copy:")
_have_feature USER_COPY && modes+=("user_copy:-u")
_have_feature SUPPORT_ZERO_COPY && modes+=("zero_copy:-z")
_have_feature AUTO_BUF_REG && modes+=("auto_zc:--auto_zc")

# null: no data kept, so count the requests
for c in "1 1" "4 128"; do
	read -r q qd <<< "$c"
	for m in "copy:" "user_copy:-u"; do
		[[ " ${modes[*]} " == *" $m "* ]] || continue
		# shellcheck disable=SC2086 # the mode's option, or none
		add_polled -t null -q "$q" -s 1G ${m#*:}
		before=$(stat_ios "$DEV_ID")
		_fio "null-${m%%:*}-q$q-qd$qd" --filename="/dev/ublkb$DEV_ID" --rw=randrw \
			--bs=4k --iodepth="$qd" --numjobs="$q" --size=2M --io_size=2M
		after=$(stat_ios "$DEV_ID")
		[ $((after - before)) -ge $((512 * q)) ] ||
			_fail "null ${m%%:*} q$q QD$qd: the device counted $((after - before)) I/Os, fio issued $((512 * q))"
		_del_dev "$DEV_ID"
	done
done

_nullb_poll 2

# loop over nullb0: each mode once with one queue at QD1 and once with
# four at QD128; FLUSHes (fdatasync) go to the disk as system calls
for m in "${modes[@]}"; do
	# shellcheck disable=SC2086
	add_polled -t loop -q 1 ${m#*:} /dev/nullb0
	_fio_verify "/dev/ublkb$DEV_ID" 1M --iodepth=1 --fdatasync=32
	_del_dev "$DEV_ID"
	# shellcheck disable=SC2086
	add_polled -t loop -q 4 ${m#*:} /dev/nullb0
	_fio_verify "/dev/ublkb$DEV_ID" 4M --iodepth=128 --numjobs=2 --offset_increment=64M \
		--bs=16k
	_del_dev "$DEV_ID"
done

# stripe over both disks, 16k chunks: requests of 64k cross chunks and
# disks (zero copy: a READ_FIXED / WRITE_FIXED a piece)
for m in "${modes[@]}"; do
	# shellcheck disable=SC2086
	add_polled -t stripe -q 4 --chunk 16k ${m#*:} /dev/nullb0 /dev/nullb1
	_fio_verify "/dev/ublkb$DEV_ID" 4M --iodepth=128 --bs=64k
	[ "${m%%:*}" = copy ] &&
		_fio_verify "/dev/ublkb$DEV_ID" 516k --iodepth=1 --bs=12k --offset=32M
	_del_dev "$DEV_ID"
done
_log "polled null, loop and stripe served QD1 and QD128 (${modes[*]%%:*})"
exit 0
