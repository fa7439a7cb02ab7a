#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make check": everything CI checks, on a fresh machine or a warm one.
#
#  1. installs what is missing (scripts/deps.sh), builds the debug guest
#     kernel (cached) and, when present, our module and the selftests;
#  2. host checks: shellcheck, checkpatch --strict, a W=1 + sparse build;
#  3. a distro smoke test: our module built against Debian's own 6.12
#     headers, and a few short kselftests (a null, a loop, a recovery and
#     a kill test) on that kernel in one guest (scripts/suite.sh -k
#     distro; about 2 minutes);
#  4. the harness self-test (scripts/harness-selftest.sh), in the
#     background while
#  5. the ublk kselftests run on the debug kernel, in CHECK_SHARDS guests
#     at once where the machine has the CPUs (scripts/suite.sh: dealt by
#     their last measured times).
#
# Prints TAP for the host checks, the kselftests' merged TAP, the ten
# slowest tests and the suite's total, and a last line "N passed, N
# failed, N skipped".  Exits non-zero when anything failed, including a
# kernel report in any guest's dmesg.  Warns (does not fail) when the
# checks after the kernel build take longer than the budget below.
#
# environment: CHECK_FLAVOUR (debug), CHECK_MODULE (ours when the driver
# exists, else stock), CHECK_TESTS (kselftest TEST_PROGS to run, default
# all), CHECK_DISTRO=0 (skip step 3: it fetches Debian's kernel and
# installs its headers on first use), CHECK_DISTRO_TESTS (its tests),
# CHECK_SKIP_HARNESS=1 (skip step 4), CHECK_ENV (VAR=VALUE words for the
# guest's environment, e.g. UBLK_STRESS_CYCLES=50), CHECK_TIMEOUT
# (seconds for each guest, default 4800), CHECK_SHARDS (guests at once,
# default one per two CPUs), UBLK_CACHE.

set -uo pipefail

# The budget, in minutes, of a warm "make check" from the host checks to
# the end (no package installs, no kernel build): the README's timings
# are measured against it.  Over it, the run warns.
budget_min=35

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export UBLK_CACHE=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
flavour=${CHECK_FLAVOUR:-debug}
have_driver=0
[ -f drivers/block/ublk/Makefile ] && have_driver=1
if [ -n "${CHECK_MODULE:-}" ]; then
	module=$CHECK_MODULE
elif [ "$have_driver" = 1 ]; then
	module=ours
else
	module=stock
fi
# The distro smoke test: the shortest of each kind by scripts/test-times
# (debug kernel: 81 + 64 + 63 + 35 s; a quarter of that on Debian's).
# Not test_null_02: it is no short one, and its latency check used to
# fail on Debian's kernel under TCG (fio's clat starts after
# io_uring_enter() returns; the test now checks the total latency).
distro=${CHECK_DISTRO:-1}
[ "$have_driver" = 1 ] && [ "$module" = ours ] || distro=0
distro_tests=${CHECK_DISTRO_TESTS:-test_null_03.sh test_loop_05.sh test_recover_08.sh test_generic_05.sh}
mkdir -p "$UBLK_CACHE/check"
logs=$(mktemp -d "$UBLK_CACHE/check/$(date +%Y%m%d-%H%M%S)-XXXX")
t_start=$SECONDS

n=0
results=$logs/host.tap
: > "$results"
# tap <name> <rc> [log]: one TAP line; the log's tail goes under a failure.
tap() {
	local name=$1 rc=$2 log=${3:-}
	n=$((n + 1))
	if [ "$rc" = 0 ]; then
		echo "ok $n host: $name" | tee -a "$results"
	elif [ "$rc" = 4 ]; then
		echo "ok $n host: $name # SKIP" | tee -a "$results"
	else
		echo "not ok $n host: $name" | tee -a "$results"
		[ -n "$log" ] && [ -f "$log" ] && tail -n 25 "$log" | sed 's/^/#   /'
	fi
}
fatal() {
	echo "Bail out! $*"
	scripts/tap-summary.sh "$results" /dev/null
	exit 1
}
step() { echo "# $* ($((SECONDS - t_start))s)"; }

echo "TAP version 13"
echo "# make check: flavour $flavour, module $module, logs in $logs"

step "dependencies"
dep_groups=(all)
[ "$distro" = 1 ] && dep_groups+=(distro)
scripts/deps.sh "${dep_groups[@]}" > "$logs/deps.log" 2>&1 ||
	{ cat "$logs/deps.log"; fatal "installing dependencies failed"; }

step "guest kernel ($flavour)"
kdir=$(scripts/kernel.sh build "$flavour" 2> >(tee "$logs/kernel.log" >&2)) ||
	fatal "building the $flavour kernel failed"
src=$(scripts/kernel.sh src)
t_checks=$SECONDS

# Kernel code: W=1 and sparse over every file, in a scratch copy so the
# build is always complete; any compiler or sparse diagnostic fails.
if [ "$have_driver" = 1 ]; then
	step "module: W=1 C=2 build"
	lint=$logs/lint
	make -s MODDIR="$lint" KDIR="$kdir" W=1 C=2 module > "$logs/lint.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -qE '(warning|error):' "$logs/lint.log"; then
		rc=1
	fi
	tap "ublk_drv builds without W=1 or sparse warnings" "$rc" "$logs/lint.log"
fi

step "selftests build"
if [ -f tools/testing/selftests/ublk/Makefile ]; then
	make -s selftests > "$logs/selftests-build.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -qE '(warning|error):' "$logs/selftests-build.log"; then
		rc=1
	fi
	tap "selftests build without warnings" "$rc" "$logs/selftests-build.log"
fi

step "shellcheck"
mapfile -t shells < <(git ls-files -- '*.sh' .ci/run | sort -u)
shellcheck -x -P SCRIPTDIR "${shells[@]}" > "$logs/shellcheck.log" 2>&1
tap "shellcheck on ${#shells[@]} scripts" $? "$logs/shellcheck.log"

step "checkpatch"
mapfile -t kfiles < <(git ls-files -- 'drivers/block/ublk/*' 'include/uapi/linux/ublk_cmd.h' \
	'Documentation/block/ublk.rst')
# patches/base/ only: patches/series/ (a cover letter, and checkpatch's
# MAINTAINERS and userspace rules) is make series-check's
mapfile -t kpatches < <(git ls-files -- 'patches/base/*.patch')
rc=0
: > "$logs/checkpatch.log"
if [ ${#kfiles[@]} -gt 0 ]; then
	"$src/scripts/checkpatch.pl" --strict --no-tree --show-types --terse -f "${kfiles[@]}" \
		>> "$logs/checkpatch.log" 2>&1 || rc=1
fi
# the selftests as make series-check takes their patches: userspace has
# none of the kernel macros BIT(), __printf() and ARRAY_SIZE()
mapfile -t ufiles < <(git ls-files -- 'tools/testing/selftests/ublk/*.[ch]' \
	'tools/testing/selftests/ublk/*.sh' 'tools/testing/selftests/ublk/Makefile')
if [ ${#ufiles[@]} -gt 0 ]; then
	"$src/scripts/checkpatch.pl" --strict --no-tree --show-types --terse \
		--ignore BIT_MACRO,PREFER_DEFINED_ATTRIBUTE_MACRO,ARRAY_SIZE -f "${ufiles[@]}" \
		>> "$logs/checkpatch.log" 2>&1 || rc=1
fi
# an absolute path: given as patches/..., checkpatch takes a patch's
# blank context lines and its "-- " for trailing white space
for p in "${kpatches[@]}"; do
	"$src/scripts/checkpatch.pl" --strict --no-tree --show-types --terse "$top/$p" \
		>> "$logs/checkpatch.log" 2>&1 || rc=1
done
nfiles=$((${#kfiles[@]} + ${#ufiles[@]}))
if [ $((nfiles + ${#kpatches[@]})) -eq 0 ]; then
	tap "checkpatch --strict (no kernel sources yet)" 4
else
	tap "checkpatch --strict on $nfiles files and ${#kpatches[@]} patches" $rc "$logs/checkpatch.log"
fi

# Our module on Debian's own kernel, built against its headers package
# (which suite.sh installs, with the kernel, when missing): not the
# kernel the rest runs on.  One guest, before the others start.
if [ "$distro" = 1 ]; then
	step "distro smoke (Debian's 6.12 kernel, our ublk_drv)"
	t=$SECONDS
	# shellcheck disable=SC2086 # one test per word
	scripts/suite.sh -k distro -m ours -j 1 -t 900 --no-times --runner kselftest -o "$logs/distro" \
		-- $distro_tests > "$logs/distro.out" 2>&1
	rc=$?
	grep -E '^(not )?ok [0-9]+ selftests:' "$logs/distro.out" | sed 's/^/# distro: /'
	rel=$(scripts/distro.sh release 2>/dev/null)
	tap "distro smoke: $(wc -w <<< "$distro_tests") kselftests on Debian's ${rel:-6.12} ($((SECONDS - t)) s)" \
		$rc "$logs/distro.out"

	# The DKMS package refuses a kernel that lacks a symbol of
	# packaging/dkms/needed-symbols: the list must name what the module
	# built for Debian's kernel (no zero copy, batch or iopoll) uses, as
	# make deb-check checks too (not run here: it installs dkms).
	ko=$logs/distro/mod/drivers/block/ublk/ublk_drv.ko
	if [ -f "$ko" ]; then
		rc=0
		scripts/deb.sh symbols-check "$ko" > "$logs/symbols.diff" 2>&1 || rc=$?
		tap "packaging/dkms/needed-symbols names the $(head -1 "$logs/symbols.diff" | awk '{ print $1 }') symbols ours uses on Debian's kernel" \
			$rc "$logs/symbols.diff"
	fi
fi

harness_pid=
if [ "${CHECK_SKIP_HARNESS:-0}" != 1 ]; then
	step "harness self-test (in the background)"
	scripts/harness-selftest.sh "$flavour" "$logs/harness" > "$logs/harness.tap" 2>&1 &
	harness_pid=$!
fi

step "kselftests ($flavour kernel, $module ublk_drv)"
suite_args=(-k "$flavour" -m "$module" -o "$logs/suite" -t "${CHECK_TIMEOUT:-4800}")
for e in ${CHECK_ENV:-}; do
	suite_args+=(-e "$e")
done
# shellcheck disable=SC2086 # CHECK_TESTS: one test per word
scripts/suite.sh "${suite_args[@]}" -- ${CHECK_TESTS:-} 2> "$logs/suite.stderr" |
	tee "$logs/suite.out"
suite_rc=${PIPESTATUS[0]}
sed 's/^/# /' "$logs/suite.stderr"
# the merged TAP, for the summary (the guests' own lines are comments)
grep -E '^(not )?ok [0-9]+ selftests:' "$logs/suite.out" > "$logs/kselftest.tap"
rc=0
grep -q '^# not ok: ' "$logs/suite.out" && rc=1
[ -s "$logs/kselftest.tap" ] || rc=1
tap "guests: kselftests ran to the end, no kernel reports in dmesg" $rc "$logs/suite.out"
[ "$suite_rc" = 2 ] && tap "suite.sh ran" 1 "$logs/suite.stderr"

if [ -n "$harness_pid" ]; then
	wait "$harness_pid"
	mapfile -t hlines < "$logs/harness.tap"
	for line in "${hlines[@]}"; do
		case "$line" in
		"ok "*|"not ok "*)
			rc=0
			[ "${line#not ok}" != "$line" ] && rc=1
			tap "harness: ${line#*- }" $rc "$logs/harness.tap"
			;;
		esac
	done
	grep -qE '^(not )?ok ' "$logs/harness.tap" || tap "harness self-test ran" 1 "$logs/harness.tap"
fi

used=$((SECONDS - t_checks))
echo "# checks after the kernel build: $((used / 60)) min $((used % 60)) s (budget $budget_min min)"
if [ "$used" -gt $((budget_min * 60)) ]; then
	echo "# WARNING: over the budget of $budget_min min (scripts/check.sh): see the slowest tests above"
fi
echo "# logs in $logs ($((SECONDS - t_start))s)"
scripts/tap-summary.sh "$results" "$logs/kselftest.tap"
