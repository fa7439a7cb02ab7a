#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ublk-drv-dkms Debian package ("make deb"): the driver's source for
# dkms, built with Debian's own tools (dpkg-buildpackage, debhelper,
# dh_dkms).
#
# usage: scripts/deb.sh [build] [-o DIR]   build the package into DIR
#                                          (default: the checkout's top);
#                                          print the .deb's path
#        scripts/deb.sh version            print the package's version
#        scripts/deb.sh symbols KO         print the kernel symbols that
#                                          the module KO (.ko or .ko.xz)
#                                          uses by name in its sources:
#                                          packaging/dkms/needed-symbols
#                                          without its comments and tags
#        scripts/deb.sh symbols-check KO   compare that with needed-symbols:
#                                          print the count, and on a
#                                          difference the diff and how to
#                                          refresh the list; exit 1 then
#
# The version comes from one place, UBLK_DRV_VERSION in
# drivers/block/ublk/main.c, which is also the module's MODULE_VERSION:
# the driver carries it wherever it is copied (this package, the in-tree
# copy of scripts/intree.sh, a plain M= build).  Raise it for a package
# that apt should take as an upgrade.
#
# The package installs /usr/src/ublk-drv-<version>/ (drivers/block/ublk,
# include/uapi/linux/ublk_cmd.h, and packaging/dkms's Makefile,
# dkms-check.sh and needed-symbols at its top) and the dkms.conf of
# packaging/dkms; its postinst (dh_dkms) has dkms build and install the
# module for the running kernel and the newest one with headers.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
main_c=$top/drivers/block/ublk/main.c

die() { echo "deb.sh: $*" >&2; exit 1; }

version() {
	local v
	v=$(sed -n 's/^#define UBLK_DRV_VERSION[[:space:]]*"\(.*\)"$/\1/p' "$main_c")
	[[ "$v" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "no usable UBLK_DRV_VERSION in $main_c ('$v')"
	echo "$v"
}

# the changelog entry: the version, which commit, when (the commit's
# date, so that a rebuild of one commit is the same package)
changelog() {
	local ver=$1 what when
	what=$(git -C "$top" describe --always --dirty 2>/dev/null || echo "a tree without git")
	when=$(git -C "$top" log -1 --format=%cD 2>/dev/null || date -R)
	cat <<-EOT
	ublk-drv ($ver) unstable; urgency=medium

	  * Built by "make deb" from $what.

	 -- Seed 51a9ea17 maintainers <maintainers@users.noreply.r-seed-51a9ea17.example>  $when
	EOT
}

build() {
	local out=$top ver stage pkg deb

	while [ $# -gt 0 ]; do
		case "$1" in
		-o) out=$2; shift 2 ;;
		*) die "build: unknown argument $1" ;;
		esac
	done
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	ver=$(version)
	stage=$(mktemp -d "${TMPDIR:-/tmp}/ublk-deb.XXXXXX")
	# shellcheck disable=SC2064 # expand now: stage is local
	trap "rm -rf '$stage'" EXIT
	pkg=$stage/ublk-drv-$ver

	# the DKMS source tree, as /usr/src/ublk-drv-<version>/ will hold it
	mkdir -p "$pkg/src/drivers/block/ublk" "$pkg/src/include/uapi/linux"
	cp "$top"/drivers/block/ublk/{Kconfig,Makefile,*.c,*.h} "$pkg/src/drivers/block/ublk/"
	cp "$top/include/uapi/linux/ublk_cmd.h" "$pkg/src/include/uapi/linux/"
	cp "$top"/packaging/dkms/{Makefile,dkms-check.sh,needed-symbols} "$pkg/src/"

	cp -r "$top/packaging/debian" "$pkg/debian"
	cp "$top/packaging/dkms/dkms.conf" "$pkg/debian/ublk-drv-dkms.dkms"
	echo "src/* usr/src/ublk-drv-$ver" > "$pkg/debian/ublk-drv-dkms.install"
	changelog "$ver" > "$pkg/debian/changelog"

	(cd "$pkg" && dpkg-buildpackage -b -us -uc) > "$stage/build.log" 2>&1 || {
		tail -n 30 "$stage/build.log" >&2
		die "dpkg-buildpackage failed"
	}
	deb=$stage/ublk-drv-dkms_${ver}_all.deb
	[ -f "$deb" ] || die "dpkg-buildpackage made no $deb"
	cp "$deb" "$out/"
	echo "$out/${deb##*/}"
}

# symbols KO: what the module imports (nm -u) that the sources name: the
# kernel's functions and variables the driver uses, not what the
# compiler and the configuration add (thunks, __fentry__, tracing)
symbols() {
	local ko=${1:?usage: scripts/deb.sh symbols KO} tmp

	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'; trap - RETURN" RETURN
	case "$ko" in
	*.xz) xz -dc "$ko" > "$tmp/m.ko" ;;
	*) cp "$ko" "$tmp/m.ko" ;;
	esac
	nm -u "$tmp/m.ko" | awk '{ print $2 }' | sort -u > "$tmp/imports"
	for f in "$top"/drivers/block/ublk/*.[ch]; do
		[ "${f##*/}" = buf.c ] || cat "$f"
	done | grep -ow '[A-Za-z_][A-Za-z0-9_]*' | sort -u > "$tmp/names"
	comm -12 "$tmp/imports" "$tmp/names"
}

# symbols-check KO: whether packaging/dkms/needed-symbols (without its
# comments and CONFIG_ tags) names exactly what symbols KO prints; the
# one comparison make check and make deb-check share
symbols_check() {
	local ko=${1:?usage: scripts/deb.sh symbols-check KO} built rc=0

	built=$(symbols "$ko")
	echo "$(wc -l <<< "$built") symbols used by $ko"
	grep -v '^#' "$top/packaging/dkms/needed-symbols" | awk 'NF { print $1 }' |
		sort | diff -u --label needed-symbols --label "$ko" - <(echo "$built") || rc=$?
	[ "$rc" = 0 ] ||
		echo "refresh: scripts/deb.sh symbols $ko (keep the CONFIG_ tags)"
	return "$rc"
}

case "${1:-build}" in
build) shift $(($# > 0 ? 1 : 0)); build "$@" ;;
-o) build "$@" ;;
version) version ;;
symbols) symbols "${2:-}" ;;
symbols-check) symbols_check "${2:-}" ;;
*) die "usage: $0 [build] [-o DIR] | version | symbols KO | symbols-check KO" ;;
esac
