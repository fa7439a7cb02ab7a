#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# null target with --latency_us: every request completes no earlier than
# the requested latency (fio's smallest total latency), and none is
# lost on the way (fio completes all of them).

. "$(dirname "$0")"/test_common.sh
_prep_test

lat_us=20000
_add_dev -t null -s 64M --latency_us "$lat_us"
id=$DEV_ID
# Total latency (fio's "lat": from before the submission to the
# completion), not clat: fio stamps a request's issue time only after
# io_uring_enter() returns, by which time kublk's timer may have run for
# milliseconds on a busy host (clat minima of 18423us and 15530us for a
# 20000us delay).  And CLOCK_MONOTONIC, the clock of kublk's timeouts,
# not fio's own TSC-based clock.
_fio lat --filename="/dev/ublkb$id" --rw=randread --bs=4k --iodepth=4 --number_ios=40 \
	--size=64M --clocksource=clock_gettime --output-format=terse --terse-version=3
# terse v3: read total latency min is field 38 (usec)
min=$(awk -F';' '{ print $38 }' "$UBLK_TMP/lat.fio" | tail -n 1)
ios=$(awk -F';' '{ print $8 }' "$UBLK_TMP/lat.fio" | tail -n 1)
[ -n "$min" ] || _fail "no latency in fio's output"
[ "${min%.*}" -ge "$lat_us" ] || _fail "a request completed after ${min}us, before ${lat_us}us"
_log "$ios reads, the fastest took ${min}us (latency ${lat_us}us)"
_del_dev "$id"
exit 0
