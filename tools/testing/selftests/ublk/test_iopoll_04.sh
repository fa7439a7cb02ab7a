#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# --iopoll refusals: a backing file nobody can poll (a regular file:
# tmpfs has no ->iopoll()) fails "kublk add" with a message saying so,
# and so does every option --iopoll cannot be served with; none of them
# leaves a device behind.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature IOPOLL

# must_fail_with TEXT ARGS...: kublk add ARGS fails, saying TEXT
must_fail_with() {
	local text=$1 err

	shift
	if err=$("$KUBLK" add "$@" 2>&1); then
		UBLK_DEVS+=("$err")
		_fail "kublk add $* succeeded"
	fi
	[[ "$err" == *"$text"* ]] || _fail "kublk add $*: '$err' does not say '$text'"
}

before=$("$KUBLK" list | wc -l)
_mkfile "$UBLK_TMP/file" 64M
must_fail_with "cannot be polled" -t loop --iopoll "$UBLK_TMP/file"
must_fail_with "cannot be polled" -t stripe --iopoll "$UBLK_TMP/file" "$UBLK_TMP/file"
must_fail_with "O_DIRECT" -t loop --iopoll --buffered "$UBLK_TMP/file"
must_fail_with "--per_io_tasks" -t null --iopoll --per_io_tasks
must_fail_with "--nthreads" -t null --iopoll -q 1 --nthreads 2
must_fail_with "--offload" -t null --iopoll --offload 1
must_fail_with "timeouts" -t null --iopoll --latency_us 10
must_fail_with "timeouts" -t fault_inject --iopoll
after=$("$KUBLK" list | wc -l)
[ "$after" = "$before" ] || _fail "failed adds left $((after - before)) device(s)"
[ -z "$(ls "$KUBLK_RUN_DIR" 2>/dev/null)" ] || _fail "failed adds left saved arguments"
_log "unpollable files and options --iopoll cannot serve fail the add, leaving nothing"
exit 0
