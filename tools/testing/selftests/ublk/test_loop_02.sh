#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# loop target, verified data at QD128: two queues of depth 128, two fio
# jobs at QD128 each, 4k and mixed sizes up to the largest request.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 128M
_add_dev -t loop -q 2 -d 128 "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 32M --iodepth=128 --numjobs=2 --offset_increment=32M
_fio_verify "/dev/ublkb$id" 32M --iodepth=128 --bsrange=4k-512k --offset=64M
_del_dev "$id"
_log "verified at QD128"
exit 0
