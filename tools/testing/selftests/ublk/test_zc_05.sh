#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Buffers the server never unregisters (-z --zc_no_unregister, a
# test-only kublk option): a registered buffer keeps its request
# (mainline's rule: the request completes when its buffer leaves the
# table), so a write through such a server is held after its commit
# until the server's ring goes away.  After kill -9 of the server the
# write must complete with success (it was committed), its data in the
# file, the dead device must delete, and a new
# zero-copy device verify: the driver and module still work.  Also a
# device with every automatic registration failing
# (--auto_zc_force_fallback) verifies, each request registered by the
# server after the driver's try returned -EBUSY.
# The partition scan is off: its read would be held too.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature SUPPORT_ZERO_COPY NO_AUTO_PART_SCAN

_mkfile "$UBLK_TMP/backing" 32M
head -c 64k /dev/urandom > "$UBLK_TMP/ref" || _fail "no random data"
_add_dev -t loop -z --zc_no_unregister --no_auto_part_scan "$UBLK_TMP/backing"
id=$DEV_ID
timeout 120 dd if="$UBLK_TMP/ref" of="/dev/ublkb$id" bs=64k seek=3 oflag=direct \
	status=none 2>"$UBLK_TMP/dd.err" &
dd_pid=$!
_nap 2
_pid_alive "$dd_pid" ||
	_fail "the write completed while its buffer was still registered"
_kill_server "$id"
rc=0
wait "$dd_pid" || rc=$?
[ "$rc" = 124 ] && _fail "the write hung after the server (and its ring) went away"
# the server committed it: the release of the buffer completes it so
[ "$rc" = 0 ] || _fail "the committed write failed: $(<"$UBLK_TMP/dd.err")"
cmp -s -n 64k -i 0:192k "$UBLK_TMP/ref" "$UBLK_TMP/backing" ||
	_fail "the write succeeded but its data is not in the backing file"
_wait_state "$id" DEAD 60
_del_dev "$id"
_log "-z --zc_no_unregister: a write held after its commit, completed once the server died;" \
     "device deleted"

_add_dev -t loop -z "$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 8M --iodepth=32 --bsrange=4k-256k
_del_dev "$id"
_log "a new -z device after it verified"

_have_feature AUTO_BUF_REG || { _log "no AUTO_BUF_REG: forced fallback not tested"; exit 0; }
_add_dev -t loop -z --auto_zc --auto_zc_fallback --auto_zc_force_fallback -q 2 \
	"$UBLK_TMP/backing"
id=$DEV_ID
_fio_verify "/dev/ublkb$id" 8M --iodepth=32 --bsrange=4k-1M --numjobs=2 --offset_increment=12M
_del_dev "$id"
_log "--auto_zc_force_fallback: every request through the fallback, verified"
exit 0
