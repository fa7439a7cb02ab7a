#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs kselftests of one directory as kselftest's runner does ("make
# run_tests"), with the same TAP: "TAP version 13", "1..N", per test
# "# selftests: DIR: test" and its output prefixed "# ", then
# "ok N selftests: DIR: test", "... # SKIP" (exit 4), "not ok ... #
# TIMEOUT S seconds" (exit 124) or "not ok ... # exit=RC".  The per-test
# time limit comes from DIR/settings ("timeout=S", default 45), or from
# $kselftest_override_timeout, as there.
#
# Why not kselftest's own runner: under emulation on the debug kernel it
# costs about 3 s a test on top of the test itself (measured: 3 tests of
# 39 s took 50.7 s through "make run_tests"), from the twenty-odd
# programs it starts per test (tr, cut, grep, two timeouts, the perl
# prefixer ...).  This one starts two (timeout and the test).  make check
# still runs the real runner in its distro smoke test, so the "make
# run_tests" path stays covered.
#
# usage: scripts/ksft-run.sh DIR TEST...  (DIR: the test directory, named
# in the TAP by its last component, as "selftests: ublk: ...")

set -u

dir=$1
shift
cd "$dir" || exit 1
name=$(basename "$PWD")

limit=45
if [ -r settings ]; then
	while IFS='=' read -r field value; do
		[ "$field" = timeout ] && limit=$value
	done < settings
fi
[ -n "${kselftest_override_timeout:-}" ] && limit=$kselftest_override_timeout

echo "TAP version 13"
echo "1..$#"
n=0
for t in "$@"; do
	n=$((n + 1))
	hdr="selftests: $name: $t"
	echo "# timeout set to $limit"
	echo "# $hdr"
	if [ ! -x "$t" ]; then
		echo "# Warning: file $t is missing or not executable"
		echo "not ok $n $hdr"
		continue
	fi
	# the test's status through the pipe: PIPESTATUS of timeout
	timeout "$limit" "./$t" 2>&1 | while IFS= read -r l || [ -n "$l" ]; do
		printf '# %s\n' "$l"
	done
	rc=${PIPESTATUS[0]}
	case $rc in
	0) echo "ok $n $hdr" ;;
	4) echo "ok $n $hdr # SKIP" ;;
	124)
		echo "#"
		echo "not ok $n $hdr # TIMEOUT $limit seconds"
		;;
	*) echo "not ok $n $hdr # exit=$rc" ;;
	esac
done
exit 0
