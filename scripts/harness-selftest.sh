#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the test harness: proves that a guest run reports what the
# rest of "make check" relies on.  Boots the guest three times.
#
#  1. the stock 6.12 ublk_drv loads, /dev/ublk-control is the misc device
#     sysfs describes, a failing command's exit status (3) comes back, and
#     a killed daemon does not linger as a zombie (PID 1 reaps it);
#  2. a kernel WARNING planted with lkdtm fails a run whose command passed;
#  3. a command that overruns its time limit ends the run with 124;
#  and, on the host, a failing TAP result makes the summary fail.
#
# usage: scripts/harness-selftest.sh [flavour] [logdir]    (prints TAP)

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-debug}
logs=${2:-$(mktemp -d)}
mkdir -p "$logs"
n=0
failed=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

echo "TAP version 13"
echo "1..4"

# 1: the stock module, exit status, orphan reaping.
probe=$(cat <<'EOF'
set -e
grep -qw '^ublk_drv' /proc/modules
test -c /dev/ublk-control
want=$(cat /sys/class/misc/ublk-control/dev)
got=$(printf '%d:%d' "0x$(stat -c %t /dev/ublk-control)" "0x$(stat -c %T /dev/ublk-control)")
[ "$want" = "$got" ]
# A daemon (double fork) is re-parented to PID 1 and must be reaped there
# once it is killed.
sh -c 'sleep 600 & echo $! > /tmp/daemon.pid' &
wait
pid=$(cat /tmp/daemon.pid)
kill -9 "$pid"
for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
[ ! -e "/proc/$pid" ]
exit 3
EOF
)
"$top/scripts/vm.sh" -q -k "$flavour" -m stock -o "$logs/stock" -t 300 -- bash -c "$probe" \
	> "$logs/stock.out" 2>&1
rc=$?
result $(( rc != 3 )) "stock ublk_drv loads, /dev/ublk-control matches sysfs, exit status 3 comes back, orphans are reaped (got $rc)"

# 2: a real kernel WARNING, from lkdtm, fails a passing command.
"$top/scripts/vm.sh" -q -k "$flavour" -m none -o "$logs/warn" -t 300 -- \
	bash -c 'modprobe lkdtm && echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT; exit 0' \
	> "$logs/warn.out" 2>&1
rc=$?
grep -q 'WARNING:' "$logs/warn/reports.txt" 2>/dev/null
seen=$?
result $(( rc == 0 || seen != 0 )) "a planted kernel WARNING fails the run (exit $rc, reported: $([ $seen = 0 ] && echo yes || echo no))"

# 3: the time limit.
"$top/scripts/vm.sh" -q -k "$flavour" -m none -o "$logs/timeout" -t 5 -- sleep 600 \
	> "$logs/timeout.out" 2>&1
rc=$?
result $(( rc != 124 )) "a command over its time limit ends the run with 124 (got $rc)"

# 4: the summary counts a failure as one.
printf 'ok 1 a\nnot ok 2 b\nok 3 c # SKIP\n# not ok 4 nested\n' > "$logs/sample.tap"
sum=$("$top/scripts/tap-summary.sh" "$logs/sample.tap")
rc=$?
result $(( rc == 0 )) "a failing TAP result fails the summary ($sum)"
[ "$sum" = "1 passed, 1 failed, 1 skipped" ] || { echo "# unexpected summary: $sum"; failed=1; }

exit $failed
