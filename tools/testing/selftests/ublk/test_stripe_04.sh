#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stripe target in each data mode the driver reports, with flushes: fio
# verifies with fsyncs, mixed sizes and two queues.

. "$(dirname "$0")"/test_common.sh
_prep_test

for m in $(_data_modes); do
	name=${m%%:*}
	opt=${m#*:}
	for f in a b c; do _mkfile "$UBLK_TMP/$f" 16M; done
	# shellcheck disable=SC2086 # opt is empty or one option
	_add_dev -t stripe -q 2 --chunk 32k $opt "$UBLK_TMP/a" "$UBLK_TMP/b" "$UBLK_TMP/c"
	id=$DEV_ID
	_fio_verify "/dev/ublkb$id" 16M --bsrange=4k-256k --numjobs=2 --offset_increment=20M \
		--fsync=16
	_del_dev "$id"
	_log "$name verified"
done
exit 0
