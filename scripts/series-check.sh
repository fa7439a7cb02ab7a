#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make series-check": every patch of patches/series/ on its own, in
# order, as a maintainer would take them.  For patch N:
#
#   - checkpatch.pl --strict (6.12's) on the patch file;
#   - git am of patches 1..N onto Debian's linux-source-6.12 (the base of
#     scripts/series.sh's scratch repository);
#   - io_uring/ and the ublk driver (drivers/block/ublk_drv.o before the
#     driver patch, drivers/block/ublk/ from it on) built in that tree
#     with W=1, twice: CONFIG_BLK_DEV_UBLK=m and =y, each in its own
#     small O= directory (the guest's tinyconfig + test.config);
#   - for the module: ublk_drv.o leaves no symbol of its own undefined
#     (a missing object in the Makefile), and whatever io_uring symbol it
#     needs is exported by io_uring/;
#   - once the tree has tools/testing/selftests/ublk/Makefile, kublk and
#     badcmd built there (OUTPUT outside the tree).
#
# One TAP line per patch; any warning or error fails that patch.  The
# O= directories are kept between runs, but everything this checks is
# built afresh at the first patch and, after that, whatever a patch
# changes is rebuilt by make, so no warning goes unseen.
#
# checkpatch's FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is
# replaced by a stricter check: every file a patch adds, removes or
# renames must be covered by a MAINTAINERS entry after that patch.  In
# patches whose C files are all userspace code (tools/), BIT_MACRO,
# PREFER_DEFINED_ATTRIBUTE_MACRO and ARRAY_SIZE are left out: they ask
# for kernel macros that userspace does not have.
#
# Not part of make check: about 25 min here (README).
#
# usage: scripts/series-check.sh [patch directory]   (default patches/series)
#
# environment: UBLK_CACHE, JOBS (default: nproc)

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/patches/series}
dir=$(cd "$dir" && pwd) || exit 2
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}/series
jobs=${JOBS:-$(nproc)}
work=$cache/check
ident=(-c user.name="Seed 51a9ea17 maintainers"
       -c user.email="maintainers@users.noreply.r-seed-51a9ea17.example")

log() { echo "series-check.sh: $*" >&2; }
die() { log "$*"; exit 2; }

repo=$("$top/scripts/series.sh" base) || die "no scratch repository"
g() { git -C "$repo" "$@"; }

mapfile -t patches < <(find "$dir" -maxdepth 1 -name '*.patch' ! -name '*-0000-cover-letter.patch' |
	LC_ALL=C sort)
[ ${#patches[@]} -gt 0 ] || die "no patches in $dir (make series)"

exec 8>"$cache/lock"
flock 8

# configure O=$work/$1 once (scripts/kernel.sh configure-tree): the
# guest's config (test.config) with ublk as $1 (m or y)
configure() {
	local kind=$1

	mkdir -p "$work"
	echo "CONFIG_BLK_DEV_UBLK=$kind" > "$work/ublk-$kind.config"
	"$top/scripts/kernel.sh" configure-tree "$repo" "$work/$kind" \
		"$top/scripts/configs/test.config" "$work/ublk-$kind.config" ||
		die "configuring $work/$kind failed"
}

# The files patch $1 adds or renames must be covered by a MAINTAINERS
# entry (not THE REST) of the tree after it, and those it deletes or
# renames away must have no F: entry left.
maintained() {
	local kind f bad=0
	while read -r kind f; do
		[ -n "$f" ] || continue
		if [ "$kind" = gone ]; then
			if grep -qxF "F:	$f" "$repo/MAINTAINERS"; then
				echo "$f: deleted, but MAINTAINERS still lists it"
				bad=1
			fi
		elif ! (cd "$repo" && perl scripts/get_maintainer.pl --no-git --no-git-fallback \
			--no-rolestats --no-tree --sections -f "$f" 2>/dev/null) |
			grep -qvE '^(THE REST|)$|^[A-Z]:'; then
			echo "$f: no MAINTAINERS entry covers it"
			bad=1
		fi
	done < <(awk '/^diff --git / { a = substr($3, 3); b = substr($4, 3) }
		/^new file mode/ { print "new", b }
		/^deleted file mode/ { print "gone", a }
		/^rename from / { print "gone", $3 }
		/^rename to / { print "new", $3 }' "$1")
	return $bad
}

# build io_uring/ and the driver in O=$work/$1; the log is $2
build() {
	local kind=$1 out=$2 o=$work/$1 targets=(io_uring/) obj ours missing
	make -s -C "$repo" O="$o" ARCH=x86_64 olddefconfig > "$out" 2>&1 || return 1
	if ! grep -qx "CONFIG_BLK_DEV_UBLK=$kind" "$o/.config"; then
		echo "CONFIG_BLK_DEV_UBLK=$kind did not stick" >> "$out"
		return 1
	fi
	# the module's object, or (built in) the directory's archive
	if [ -f "$repo/drivers/block/ublk/Makefile" ]; then
		targets+=(drivers/block/ublk/)
		obj=$o/drivers/block/ublk/ublk_drv.o
		[ "$kind" = y ] && obj=$o/drivers/block/ublk/built-in.a
	else
		targets+=(drivers/block/ublk_drv.o)
		obj=$o/drivers/block/ublk_drv.o
	fi
	make -C "$repo" O="$o" ARCH=x86_64 -j"$jobs" W=1 "${targets[@]}" >> "$out" 2>&1 ||
		return 1
	grep -E '(warning|error):' "$out" && return 1
	[ -f "$obj" ] || { echo "$obj was not built" >> "$out"; return 1; }
	if [ "$kind" = y ]; then
		# built in: the archive holds the driver's objects (main.o)
		[[ "$obj" != *built-in.a ]] || ar t "$obj" | grep -qE '(^|/)main\.o$' ||
			{ echo "$obj does not hold main.o" >> "$out"; return 1; }
		return 0
	fi
	ours=$(nm -u "$obj" | awk '{ print $2 }' |
		grep -E '^(__)?(ublk|tracepoint_ublk|traceiter_ublk|SCK__tp_func_ublk)' )
	if [ -n "$ours" ]; then
		echo "ublk_drv.o leaves its own symbols undefined: $ours" | tee -a "$out"
		return 1
	fi
	missing=$(comm -23 \
		<(nm -u "$obj" | awk '{ print $2 }' | grep -E '^(io_uring_|io_buffer_)' | sort -u) \
		<(g grep -hoE 'EXPORT_SYMBOL(_GPL)?\((io_uring_|io_buffer_)[a-z0-9_]+\)' -- io_uring |
		  sed -E 's/.*\((.*)\)/\1/' | sort -u))
	if [ -n "$missing" ]; then
		echo "ublk_drv.o needs io_uring symbols io_uring/ does not export: $missing" | tee -a "$out"
		return 1
	fi
}

# kublk and badcmd, out of the tree; the log is $1
build_selftests() {
	local out=$1 sdir=$repo/tools/testing/selftests/ublk
	rm -rf "$work/selftests"
	mkdir -p "$work/selftests"
	make -C "$sdir" OUTPUT="$work/selftests" > "$out" 2>&1 || return 1
	grep -E '(warning|error):' "$out" && return 1
	return 0
}

t_start=$SECONDS
mkdir -p "$work"
configure m
configure y
g checkout -q -f -B series-check base
g clean -q -fdx
# everything checked is built afresh at the first patch
rm -rf "$work"/{m,y}/io_uring "$work"/{m,y}/drivers/block

echo "TAP version 13"
echo "1..${#patches[@]}"
logs=$work/logs
rm -rf "$logs"
mkdir -p "$logs"
failed=0
n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	t=$SECONDS
	subject=$(sed -n '/^Subject: /{s/^Subject: \[[^]]*\] //;N;s/\n / /;s/\n.*//;p;q}' "$p")
	why=()
	l=$logs/$n

	ignore=FILE_PATH_CHANGES
	# userspace code has none of the kernel's BIT(), __printf() and
	# ARRAY_SIZE() that checkpatch would have it use: for a patch whose C
	# files are all under tools/
	if ! awk '/^diff --git / { print $3 }' "$p" | grep -E '\.[ch]$' | grep -qv '^a/tools/'; then
		ignore+=,BIT_MACRO,PREFER_DEFINED_ATTRIBUTE_MACRO,ARRAY_SIZE
	fi
	# in the tree (its caches go there, not here); /usr/bin first: the
	# python3 that has spdxcheck.py's modules
	(cd "$repo" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict --show-types \
		--terse --ignore "$ignore" "$p") > "$l.checkpatch" 2>&1 || why+=(checkpatch)
	if ! g "${ident[@]}" am -q "$p" > "$l.am" 2>&1; then
		echo "not ok $n - $subject # does not apply"
		sed 's/^/#   /' "$l.am"
		echo "Bail out! patch $n does not apply; the rest cannot be checked"
		exit 1
	fi
	maintained "$p" > "$l.maintainers" || why+=(maintainers)
	build m "$l.build-m" || why+=("build (m)")
	build y "$l.build-y" || why+=("build (y)")
	if [ -f "$repo/tools/testing/selftests/ublk/Makefile" ]; then
		build_selftests "$l.selftests" || why+=(selftests)
	fi

	if [ ${#why[@]} -eq 0 ]; then
		echo "ok $n - $subject ($((SECONDS - t)) s)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $subject ($((SECONDS - t)) s): ${why[*]}"
		for f in "$l".checkpatch "$l".maintainers "$l".build-m "$l".build-y "$l".selftests; do
			[ -f "$f" ] || continue
			grep -hE '(WARNING|ERROR|CHECK|warning|error|no MAINTAINERS|undefined|export|stick|not built)' "$f" |
				head -n 15 | sed "s|^|#   ${f##*.}: |"
		done
	fi
done
echo "# $((${#patches[@]} - failed)) of ${#patches[@]} patches pass, in $((SECONDS - t_start)) s; logs in $logs"
[ "$failed" = 0 ]
