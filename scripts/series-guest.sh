#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make series-guest": the series as a maintainer's tree would carry it.
# patches/series/ goes with git am onto a clean linux-source-6.12 (the
# base commit of scripts/series.sh's scratch repository, in a worktree of
# its own), the tree after the last patch must hold this checkout's
# driver, uapi header, documentation and selftests byte for byte, and
# that tree is built as the guest kernel with make check's configuration
# (tinyconfig + test.config + debug.config: KASAN, lockdep, kmemleak)
# and CONFIG_BLK_DEV_UBLK=m.  The suite then runs on it with the tree's
# own ublk_drv.ko, loaded by modprobe (scripts/suite.sh -m stock: the
# kernel's module, which here is the series' driver), so what passes is
# the driver as mailed, built by Kbuild in the tree, not this checkout's
# out-of-tree module.
#
# usage: scripts/series-guest.sh [test ...]   (default: every test)
#
# Prints the suite's TAP (scripts/suite.sh) and a summary; exit 0 when
# every test passed or skipped.  About 10 min for the kernel (cold), then
# the suite's time (README).  Logs: $UBLK_CACHE/series/guest/.
#
# environment: UBLK_CACHE, JOBS (default: nproc)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}/series
work=$cache/guest
tree=$work/linux
obj=$work/obj
jobs=${JOBS:-$(nproc)}
ident=(-c user.name="Seed 51a9ea17 maintainers"
       -c user.email="maintainers@users.noreply.r-seed-51a9ea17.example")

log() { echo "series-guest.sh: $*" >&2; }
die() { log "$*"; exit 2; }

mapfile -t patches < <(find "$top/patches/series" -maxdepth 1 -name '*.patch' \
	! -name '*-0000-cover-letter.patch' | LC_ALL=C sort)
[ ${#patches[@]} -gt 0 ] || die "no patches in patches/series (make series)"

mkdir -p "$work"
exec 8>"$work/lock"
flock 8

# ---- the tree: base + git am of every patch ----
"$top/scripts/series.sh" worktree "$tree" || die "no worktree at $tree"
t() { git -C "$tree" "$@"; }
# the same patches on an untouched tree: keep it (and make's timestamps)
stamp=$(cat "${patches[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$work/applied" 2>/dev/null)" = "$stamp" ] &&
   [ -z "$(t status --porcelain --untracked-files=no)" ]; then
	log "the tree has these ${#patches[@]} patches applied already (git am done before)"
else
	rm -f "$work/applied"
	t am --abort >/dev/null 2>&1 || true
	t checkout -q -f --detach base
	t clean -q -fdx
	log "git am of ${#patches[@]} patches onto $(t log -1 --format=%s base)"
	t "${ident[@]}" am -q "${patches[@]}" > "$work/am.log" 2>&1 ||
		{ cat "$work/am.log" >&2; die "the series does not apply with git am"; }
	echo "$stamp" > "$work/applied"
fi

# what the series is meant to carry, as this checkout has it
bad=0
for p in drivers/block/ublk include/uapi/linux/ublk_cmd.h Documentation/block/ublk.rst \
	 tools/testing/selftests/ublk; do
	while IFS= read -r f; do
		cmp -s "$top/$f" "$tree/$f" || { log "differs from the checkout: $f"; bad=1; }
	done < <(git -C "$top" ls-files -- "$p")
	while IFS= read -r f; do
		[ -e "$top/$f" ] || { log "not in the checkout: $f"; bad=1; }
	done < <(t ls-files -- "$p")
done
[ "$bad" = 0 ] || die "the tree after the last patch is not this checkout's (make series)"
log "the tree after patch ${#patches[@]} holds this checkout's driver, header, docs and tests"

# ---- the kernel: make check's configuration (its ublk is a module) ----
# configured and built as kernel.sh configures and builds a flavour
echo 'CONFIG_LOCALVERSION="-ublk-series"' > "$work/series.config"
"$top/scripts/kernel.sh" configure-tree "$tree" "$obj" "$top/scripts/configs/test.config" \
	"$top/scripts/configs/debug.config" "$work/series.config" || die "configuring $obj failed"
grep -qx 'CONFIG_BLK_DEV_UBLK=m' "$obj/.config" || die "test.config no longer makes ublk a module"
t0=$SECONDS
log "building the kernel in $obj (-j$jobs)"
JOBS=$jobs "$top/scripts/kernel.sh" build-tree "$tree" "$obj" || die "the kernel does not build"
ko=$(find "$obj/mods" -name 'ublk_drv.ko*' | head -1)
[ -n "$ko" ] || die "no ublk_drv.ko in $obj/mods"
log "kernel $(cat "$obj/kernelrelease") in $((SECONDS - t0)) s; the series' module: ${ko#"$obj"/}"

# ---- the suite on it, with the tree's own module ----
rm -rf "$work/run"
set +e
"$top/scripts/suite.sh" -k "$obj" -m stock --no-times -o "$work/run" -- "$@" | tee "$work/run.tap"
rc=${PIPESTATUS[0]}
set -e
pass=$(grep -Ec '^ok [0-9]+ ' "$work/run.tap" || true)
skip=$(grep -Ec '^ok [0-9]+ .*# SKIP' "$work/run.tap" || true)
fail=$(grep -Ec '^not ok [0-9]+ ' "$work/run.tap" || true)
log "the series' kernel and module: $((pass - skip)) passed, $skip skipped, $fail failed" \
	"(suite.sh exit $rc; logs in $work/run)"
[ "$rc" = 0 ] && [ "$fail" = 0 ]
