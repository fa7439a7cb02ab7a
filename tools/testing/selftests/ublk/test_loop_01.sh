#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# loop target, verified data at QD1: random writes then read back and
# checked by fio, with 4k and mixed request sizes.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M
_add_dev -t loop "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 16M --iodepth=1
_fio_verify "/dev/ublkb$id" 16M --iodepth=1 --bsrange=4k-512k --offset=32M
_del_dev "$id"
_log "verified at QD1"
exit 0
