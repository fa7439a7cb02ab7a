#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make check-plain": our module on a 6.12 kernel without patches/base,
# built here with the test flavour's configuration, so that what the
# module reports there is compared with what it reports on the test
# kernel (patches/base), not argued from the Makefile's detection.
#
#   - Debian's linux-source-6.12 as it is (the base commit of
#     scripts/series.sh's scratch repository, in a worktree of its own)
#     is configured and built as kernel.sh builds the test flavour
#     (scripts/kernel.sh configure-tree / build-tree: tinyconfig +
#     test.config), with LOCALVERSION -ublk-plain;
#   - our module is built against it (scripts/module.sh, as vm.sh does);
#   - one guest of it and one of the test flavour print GET_FEATURES
#     (kublk features): the plain word must be the test word without
#     exactly the features that need patches/base (SUPPORT_ZERO_COPY,
#     AUTO_BUF_REG, BUF_REG_OFF_DAEMON, BATCH_IO, and our BATCH_PRIO and
#     IOPOLL), and equal the word on Debian's own kernel (vm.sh -k
#     distro, our module built against its headers);
#   - make check's distro smoke tests run on the plain kernel.
#
# usage: scripts/plain-check.sh [test ...]   (default: the distro smoke
#                                             tests of scripts/check.sh)
#
# TAP on stdout; exit 0 when everything passed.  About 7 min for the
# kernel (cold, idle machine), a minute for the guests, then the tests.
# Logs: $UBLK_CACHE/plain/.
#
# environment: UBLK_CACHE, JOBS (default: nproc)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
work=$cache/plain
tree=$work/linux
obj=$work/obj
jobs=${JOBS:-$(nproc)}
kublk=tools/testing/selftests/ublk/kublk

log() { echo "plain-check.sh: $*" >&2; }
die() { log "$*"; exit 2; }

n=0
fails=0
tap() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		fails=$((fails + 1))
	fi
}

# the bits that need patches/base: GET_FEATURES bits 0, 11, 14, 15;
# ours from bit 63 down: 63 BATCH_PRIO, 62 IOPOLL (ublk_cmd.h)
patched_bits=$(( (1 << 0) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 62) | (1 << 63) ))

mkdir -p "$work"
exec 8>"$work/lock"
flock 8

# ---- the tree: the base commit, untouched ----
"$top/scripts/series.sh" worktree "$tree" || die "no worktree at $tree"
git -C "$tree" checkout -q -f --detach base
git -C "$tree" clean -q -fdx
log "the tree: $(git -C "$tree" log -1 --format=%s base)"

# ---- the kernel and our module ----
echo 'CONFIG_LOCALVERSION="-ublk-plain"' > "$work/plain.config"
"$top/scripts/kernel.sh" configure-tree "$tree" "$obj" "$top/scripts/configs/test.config" \
	"$work/plain.config" || die "configuring $obj failed"
t0=$SECONDS
log "building the kernel in $obj (-j$jobs)"
JOBS=$jobs "$top/scripts/kernel.sh" build-tree "$tree" "$obj" || die "the kernel does not build"
log "kernel $(cat "$obj/kernelrelease") in $((SECONDS - t0)) s"
make -s -C "$top" selftests >/dev/null || die "the selftests do not build"

# word FLAVOUR: "kublk features" in a guest of FLAVOUR (a name or a dir)
word() {
	local out=$work/features-${1##*/}

	"$top/scripts/vm.sh" -k "$1" -t 300 -q -o "$out" -- "$kublk" features \
		> "$out.txt" 2>&1 || { cat "$out.txt" >&2; return 1; }
	awk '$1 == "features" { print $2; exit }' "$out.txt"
}

plain=$(word "$obj") || die "no GET_FEATURES on the plain kernel"
patched=$(word test) || die "no GET_FEATURES on the test kernel"
want=$(printf '%#x' $((patched & ~patched_bits)))
log "GET_FEATURES: plain $plain, test $patched, test without patches/base's bits $want"
# same A B: 0 when the numbers A and B are equal, else 1 (for tap)
same() { [ "$(($1))" = "$(($2))" ] && echo 0 || echo 1; }
tap "GET_FEATURES on plain 6.12 ($plain) is the test kernel's ($patched) without exactly\
 the patches/base features" "$(same "$plain" "$want")"

if distro=$(word distro); then
	tap "GET_FEATURES on plain 6.12 equals Debian's own kernel's ($distro)" \
		"$(same "$plain" "$distro")"
else
	echo "# no guest of Debian's kernel: its word not compared"
fi

# ---- the smoke tests on it ----
if [ $# -eq 0 ]; then
	# make check's distro smoke list, read from check.sh's default
	# shellcheck disable=SC2046,SC2016 # one test per word; sed's '$'
	set -- $(sed -n 's/^distro_tests=${CHECK_DISTRO_TESTS:-\(.*\)}$/\1/p' "$top/scripts/check.sh")
fi
rc=0
"$top/scripts/suite.sh" -k "$obj" -m ours -j 1 --no-times -o "$work/run" -- "$@" \
	> "$work/run.tap" 2>&1 || rc=$?
grep -E '^(not )?ok [0-9]+ selftests:' "$work/run.tap" | sed 's/^/# /' || true
tap "$# tests on plain 6.12 with our module (logs in $work/run)" "$rc"

echo "1..$n"
[ "$fails" = 0 ]
