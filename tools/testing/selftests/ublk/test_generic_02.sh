#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Features: GET_FEATURES reports the bits every ublk driver sets, and a
# device created with each data mode and recovery mode the driver reports
# gets exactly that mode back (GET_DEV_INFO flags), with the same
# features in "kublk features".

. "$(dirname "$0")"/test_common.sh
_prep_test

out=$("$KUBLK" features) || _fail "kublk features failed"
mask=$(echo "$out" | sed -n 's/^features \(0x[0-9a-f]*\)$/\1/p')
[ -n "$mask" ] || _fail "no feature mask in: $out"
_log "features $mask: $(echo "$out" | awk 'NR > 1 { printf "%s ", $1 }')"
for f in URING_CMD_COMP_IN_TASK CMD_IOCTL_ENCODE; do
	_have_feature "$f" || _fail "GET_FEATURES lacks $f, which every driver sets"
done
# the listed names are the bits of the mask
bits=0
for b in $(echo "$out" | awk 'NR > 1 { print $3 }'); do
	bits=$((bits | (1 << b)))
done
[ "$bits" = "$((mask))" ] || _fail "names ($bits) do not match the mask ($mask)"

check_mode() {
	local flag=$1 id flags

	shift
	_add_dev -t null "$@"
	id=$DEV_ID
	flags=$(_dev_field "$id" features)
	echo ",$flags," | grep -q ",$flag," || _fail "'add $*' gave flags $flags, without $flag"
	(( $(_dev_field "$id" flags) & ~mask )) &&
		_fail "device flags $(_dev_field "$id" flags) hold bits GET_FEATURES ($mask) lacks"
	_del_dev "$id"
	_log "add $*: $flags"
}

check_mode URING_CMD_COMP_IN_TASK
_have_feature NEED_GET_DATA && check_mode NEED_GET_DATA -g
_have_feature USER_COPY && check_mode USER_COPY -u
_have_feature USER_RECOVERY && check_mode USER_RECOVERY -r 1
_have_feature USER_RECOVERY_REISSUE && check_mode USER_RECOVERY_REISSUE --recovery_reissue 1
_have_feature USER_RECOVERY_FAIL_IO && check_mode USER_RECOVERY_FAIL_IO --recovery_fail_io 1
exit 0
