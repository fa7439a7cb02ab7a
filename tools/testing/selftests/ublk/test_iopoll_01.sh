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

# add_polled ARGS...: _add_dev --iopoll ARGS, and the driver kept the flag
# shellcheck disable=SC2317 # called by _polled_case
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

ran=()
_polled_case add_polled null copy 1 1 512k 4k -s 1G
_polled_case add_polled null user_copy 4 128 1M 4k -s 1G

_nullb_poll 2
# every data mode on loop, at QD1 or QD128 on 1 or 4 queues; on stripe
# the modes that move data another way per piece: 64k requests on 16k
# chunks cross chunks and disks (zero copy: one READ_FIXED / WRITE_FIXED
# a piece)
_polled_case add_polled loop copy 1 1 256k 4k /dev/nullb0
_polled_case add_polled loop user_copy 4 128 1M 4k /dev/nullb0
_polled_case add_polled loop zero_copy 1 128 1M 4k /dev/nullb0
_polled_case add_polled loop auto_zc 4 1 256k 4k /dev/nullb0
_polled_case add_polled stripe copy 4 128 1M 64k --chunk 16k /dev/nullb0 /dev/nullb1
_polled_case add_polled stripe zero_copy 1 128 1M 64k --chunk 16k /dev/nullb0 /dev/nullb1
_polled_case add_polled stripe auto_zc 4 1 192k 12k --chunk 16k /dev/nullb0 /dev/nullb1
_log "polled devices served and verified: ${ran[*]}"
exit 0
