#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Delays do not lose I/O: every request waits 2ms in the server (longer
# than it takes to fill the queues), two queues, two fio jobs at QD32;
# all requests complete and verify.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t fault_inject -q 2 -d 32 --delay_us 2000 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 4M --numjobs=2 --offset_increment=16M --bsrange=4k-64k
_fio delayed-read --filename="/dev/ublkb$id" --rw=randread --bs=4k --iodepth=64 \
	--number_ios=500 --size=32M
_del_dev "$id"
_log "delayed I/O complete and verified"
exit 0
