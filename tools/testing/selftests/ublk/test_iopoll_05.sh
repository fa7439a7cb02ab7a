#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll with -b (UBLK_F_IOPOLL and UBLK_F_BATCH_IO): each queue's
# FETCH_IO_CMDS waits in its thread's IORING_SETUP_IOPOLL ring, and the
# driver posts the tags of new requests from that ring's poll, which
# also polls the backing I/O.  fio writes, reads back and verifies on
# loop over a polled null_blk disk and stripe over two, in copy mode,
# with user copy and AUTO_BUF_REG, at QD1 and QD128 with one and four
# queues, and counts its requests on null.  A server killed (-9) under
# fio is replaced by one that recovers the device, and fio finishes with
# its data verified.  Idle, the server sleeps (under 5 % of a CPU over
# 3 s), and a single read after 2 s wakes it and returns the data.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IOPOLL BATCH_IO

# add_polled ARGS...: _add_dev -b --iopoll ARGS, and the driver kept both
# shellcheck disable=SC2317 # called by _polled_case
add_polled() {
	local f

	_add_dev -b --iopoll "$@"
	f=$(_dev_field "$DEV_ID" features)
	[[ ",$f," == *,IOPOLL,* && ",$f," == *,BATCH_IO,* ]] ||
		_fail "kublk add -b --iopoll $*: features $f"
}

declare -A opt=([copy]="")
_have_feature USER_COPY && opt[user_copy]=-u
_have_feature AUTO_BUF_REG && opt[auto_zc]=--auto_zc

ran=()
_polled_case add_polled null copy 4 128 512k 4k -s 1G
_nullb_poll 2
_polled_case add_polled loop copy 1 1 256k 4k /dev/nullb0
_polled_case add_polled loop user_copy 4 128 1024k 4k /dev/nullb0
_polled_case add_polled loop auto_zc 1 128 1024k 4k /dev/nullb0
_polled_case add_polled stripe copy 4 1 192k 12k --chunk 16k /dev/nullb0 /dev/nullb1
_log "polled batch devices served and verified: ${ran[*]}"

# kill -9 under fio, recovery, fio verifies
_have_feature USER_RECOVERY USER_RECOVERY_REISSUE || _skip "no recovery (after ${ran[*]})"
add_polled -t loop -q 2 --recovery_reissue 1 /dev/nullb0
id=$DEV_ID
dev=/dev/ublkb$id
_fio_kill_recover "$id"
f=$(_dev_field "$id" features)
[[ ",$f," == *,IOPOLL,* && ",$f," == *,BATCH_IO,* ]] ||
	_fail "the recovered device lost IOPOLL or BATCH_IO: $f"

# idle: the server sleeps, and a single read wakes it
pid=$(_dev_field "$id" pid)
head -c 64k /dev/urandom > "$UBLK_TMP/pattern" || _fail "no pattern"
dd if="$UBLK_TMP/pattern" of="$dev" bs=64k seek=100 oflag=direct status=none ||
	_fail "writing the pattern failed"
_idle_check "$pid"
_nap 2
timeout 30 dd if="$dev" of="$UBLK_TMP/read" bs=64k skip=100 count=1 iflag=direct status=none
rc=$?
[ "$rc" = 124 ] && _fail "a read after 2 s of idleness did not complete"
[ "$rc" = 0 ] || _fail "a read after 2 s of idleness failed"
cmp -s "$UBLK_TMP/read" "$UBLK_TMP/pattern" ||
	_fail "the read after 2 s of idleness returned wrong data"
_del_dev "$id"
_log "killed under fio and recovered; idle: $IDLE_TICKS ticks in 3 s, woken by a single read"
exit 0
