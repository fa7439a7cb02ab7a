#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the ublk kselftests in several guests at once ("shards"), and merge
# what they report into one TAP stream.
#
# usage: scripts/suite.sh [options] [--] [test ...]
#   -k FLAVOUR   guest kernel (default debug; distro: Debian's own, see
#                scripts/distro.sh; or a kernel build directory, as vm.sh -k)
#   -m MODULE    ours or stock (default ours)
#   -o DIR       logs: DIR/shard-N/ per guest (vm.sh's logs), DIR/times
#   -j SHARDS    guests at once (default $CHECK_SHARDS, else one per two
#                CPUs of the machine: each guest has two)
#   -t SECONDS   time limit of each guest (default 4800)
#   -e VAR=VALUE environment for the tests (repeatable)
#   --ko PATH    our ublk_drv.ko, built for the kernel (default: built here)
#   --runner R   lean (default: scripts/ksft-run.sh, same TAP) or kselftest
#                (make run_tests: kselftest's own runner, about 3 s a test
#                slower on the debug kernel under emulation)
#   --no-times   do not record this run's times in $UBLK_CACHE/check/test-times
#                (a run on another kernel, whose times would mislead the
#                dealing of the next debug-kernel run)
# Tests default to every test_*.sh of tools/testing/selftests/ublk.
#
# The tests are dealt to the shards by their last measured time, longest
# first, each to the shard with the least time so far, so that the shards
# end together.  Times come from $UBLK_CACHE/check/test-times (written by
# the last run on this machine), else scripts/test-times (committed),
# else 60 s.  A test whose file has the line
#   # ublk-check: exclusive
# does not share the machine with another guest, nor run before a test
# it could leave a wedged guest to: those run after all the others, at
# the end of the only guest when there is one shard (a boot and a
# kmemleak scan cheaper, about 45 s on the debug kernel), else in a guest
# of their own once the shards are done.
#
# Each guest has 2 CPUs, whatever the shard count: tests create devices
# with two queues, which needs two CPUs.
#
# Prints, in order: "# shard N: ..." lines as the shards report (each
# guest's TAP lines, prefixed), then the merged TAP (numbered in the
# order the tests were given), one "ok"/"not ok" line per guest for the
# kernel reports and exit status, and the per-test times.  Writes
# DIR/times ("test seconds result" per line) and updates
# $UBLK_CACHE/check/test-times.  Exit status 0 when every test passed or
# skipped and no guest reported anything, else 1.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
tdir=$top/tools/testing/selftests/ublk

flavour=debug
module=ours
out=
shards=${CHECK_SHARDS:-}
timeout=4800
ko=
record_times=1
runner=lean
envs=()

die() { echo "suite.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	-k) flavour=$2; shift 2 ;;
	-m) module=$2; shift 2 ;;
	-o) out=$2; shift 2 ;;
	-j) shards=$2; shift 2 ;;
	-t) timeout=$2; shift 2 ;;
	-e) envs+=(-e "$2"); shift 2 ;;
	--ko) ko=$2; shift 2 ;;
	--runner) runner=$2; shift 2 ;;
	--no-times) record_times=0; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/suite.XXXXXX")
mkdir -p "$out"
# Measured on 2 CPUs under TCG (2026-12-03, debug kernel, 60 tests): two
# guests of 2 vCPUs took 63.6 min, one 40 min: the guests only share the
# CPUs, the suite is bound by them.  So no more guests than CPU pairs.
if [ -z "$shards" ]; then
	shards=$(( $(nproc) / 2 ))
	[ "$shards" -ge 1 ] || shards=1
fi
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || die "-j: a number of guests, not '$shards'"
case $runner in
lean|kselftest) ;;
*) die "--runner: lean or kselftest, not '$runner'" ;;
esac

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	mapfile -t tests < <(cd "$tdir" && LC_ALL=C ls test_[a-z]*_[0-9]*.sh)
fi
[ ${#tests[@]} -gt 0 ] || die "no tests"

# ---- the last measured times ----
declare -A secs=()
for f in "$top/scripts/test-times" "$cache/check/test-times"; do
	[ -f "$f" ] || continue
	while read -r t s _; do
		[[ "$t" == test_*.sh && "$s" =~ ^[0-9]+$ ]] && secs[$t]=$s
	done < "$f"
done

exclusive=()
shared=()
for t in "${tests[@]}"; do
	[ -f "$tdir/$t" ] || die "no test $t in $tdir"
	if grep -qx '# ublk-check: exclusive' "$tdir/$t"; then
		exclusive+=("$t")
	else
		shared+=("$t")
	fi
done

# ---- deal the shared tests: longest first, to the least loaded shard ----
declare -a load=() members=()
for ((i = 0; i < shards; i++)); do
	load[i]=0
	members[i]=
done
while read -r s t; do
	best=0
	for ((i = 1; i < shards; i++)); do
		[ "${load[i]}" -lt "${load[best]}" ] && best=$i
	done
	load[best]=$((load[best] + s))
	members[best]+=" $t"
done < <(for t in "${shared[@]}"; do echo "${secs[$t]:-60} $t"; done | sort -k1,1nr -k2,2)
if [ "$shards" = 1 ] && [ ${#exclusive[@]} -gt 0 ]; then
	for t in "${exclusive[@]}"; do
		load[0]=$((load[0] + ${secs[$t]:-60}))
		members[0]+=" $t"
	done
	exclusive=()
fi

# ---- our module, built once for all guests ----
if [ "$module" = ours ] && [ -z "$ko" ]; then
	if [ "$flavour" = distro ]; then
		# against the kernel's headers package, as vm.sh does
		kdir=$("$top/scripts/distro.sh" build) || die "no distro kernel"
		kdir=$(realpath "$kdir/build")
	elif [ -d "$flavour" ]; then
		# a kernel build directory of its own (scripts/plain-check.sh)
		kdir=$(cd "$flavour" && pwd)
	else
		kdir=$("$top/scripts/kernel.sh" build "$flavour") || die "no $flavour kernel"
	fi
	make -s -C "$top" KDIR="$kdir" MODDIR="$out/mod" module >&2 || die "building ublk_drv failed"
	ko=$(make -s -C "$top" MODDIR="$out/mod" module-path)
fi
koargs=()
[ -n "$ko" ] && koargs=(--ko "$ko")
# kublk and the other helpers, up to date (make run_tests would build
# them in the guest; the lean runner does not)
make -s -C "$top" selftests >&2 || die "building the selftests failed"

# run_guest NAME TESTS...: the tests in one guest; TAP in $out/NAME.tap
run_guest() {
	local name=$1 rc cmd

	shift
	if [ "$runner" = lean ]; then
		cmd=(scripts/ksft-run.sh tools/testing/selftests/ublk "$@")
	else
		cmd=(make -C tools/testing/selftests/ublk run_tests TEST_PROGS="$*")
	fi
	"$top/scripts/vm.sh" -q -k "$flavour" -m "$module" "${koargs[@]}" -o "$out/$name" \
		-t "$timeout" "${envs[@]}" -- \
		"${cmd[@]}" \
		2> "$out/$name.stderr" > "$out/$name.tap"
	rc=$?
	echo "$rc" > "$out/$name.rc"
	return "$rc"
}

# follow NAME: print the guest's top-level TAP lines as they come
follow() {
	tail -n +1 -F --pid="$2" "$out/$1.tap" 2>/dev/null |
		grep --line-buffered -E '^(not )?ok [0-9]+ ' | sed -u "s/^/# $1: /"
}

t0=$SECONDS
names=()
for ((i = 0; i < shards; i++)); do
	[ -n "${members[i]}" ] || continue
	name=shard-$((i + 1))
	names+=("$name")
	# shellcheck disable=SC2086 # one test per word
	echo "# $name: ~${load[i]}s of tests:" ${members[i]}
	: > "$out/$name.tap"
	# shellcheck disable=SC2086
	run_guest "$name" ${members[i]} &
	follow "$name" $! &
done
wait
if [ ${#exclusive[@]} -gt 0 ]; then
	names+=(alone)
	echo "# alone: ${exclusive[*]}"
	: > "$out/alone.tap"
	run_guest alone "${exclusive[@]}" &
	follow alone $! &
	wait
fi
wall=$((SECONDS - t0))

# ---- merge: one TAP line per test, in the given order ----
declare -A line=()
for name in "${names[@]}"; do
	while IFS= read -r l; do
		if [[ "$l" =~ ^(not\ )?ok\ [0-9]+\ selftests:\ ublk:\ (test_[a-z]*_[0-9]*\.sh)(.*)$ ]]; then
			line[${BASH_REMATCH[2]}]="${BASH_REMATCH[1]}ok N selftests: ublk: ${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
		fi
	done < "$out/$name.tap"
done
n=0
failed=0
echo "1..$((${#tests[@]}))"
for t in "${tests[@]}"; do
	n=$((n + 1))
	l=${line[$t]:-"not ok N selftests: ublk: $t # no result: its guest did not finish"}
	[[ "$l" == "not ok"* ]] && failed=1
	echo "${l/ok N /ok $n }"
done

# ---- each guest: ran to the end, no kernel report ----
for name in "${names[@]}"; do
	rc=$(cat "$out/$name.rc" 2>/dev/null || echo 125)
	if [ -s "$out/$name/reports.txt" ]; then
		echo "# not ok: $name: kernel reports (exit $rc):"
		head -n 20 "$out/$name/reports.txt" | sed 's/^/#   /'
		failed=1
	elif [ "$rc" = 124 ] || [ "$rc" = 125 ]; then
		echo "# not ok: $name: the guest did not finish (exit $rc); console: $out/$name/console.log"
		sed 's/^/#   /' "$out/$name.stderr"
		failed=1
	else
		echo "# ok: $name: no kernel reports (exit $rc)"
	fi
done

# ---- per-test times, from the tests' own "# test_x: Ns" lines ----
: > "$out/times"
for name in "${names[@]}"; do
	while IFS= read -r l; do
		if [[ "$l" =~ ^#\ (test_[a-z]*_[0-9]*):\ ([0-9]+)s$ ]]; then
			t=${BASH_REMATCH[1]}.sh
			r=pass
			[[ "${line[$t]:-}" == "not ok"* ]] && r=fail
			[[ "${line[$t]:-}" == *"# SKIP"* ]] && r=skip
			echo "$t ${BASH_REMATCH[2]} $r $name" >> "$out/times"
		fi
	done < "$out/$name.tap"
done
total=$(awk '{ s += $2 } END { print s + 0 }' "$out/times")
echo "# suite: ${#tests[@]} tests in ${#names[@]} guest(s), ${wall}s wall, ${total}s of tests"
echo "# slowest:"
sort -k2,2nr "$out/times" | head -n 10 | awk '{ printf "#   %-24s %5ds  %s (%s)\n", $1, $2, $3, $4 }'

# what the next run deals by: these times, and the older ones for the rest
if [ "$record_times" = 1 ]; then
	mkdir -p "$cache/check"
	{
		awk '$3 != "skip" { print $1, $2 }' "$out/times"
		for t in "${!secs[@]}"; do
			grep -q "^$t " "$out/times" || echo "$t ${secs[$t]}"
		done
	} | sort > "$cache/check/test-times.new" && mv "$cache/check/test-times.new" "$cache/check/test-times"
fi
echo "$wall" > "$out/wall"
exit "$failed"
