#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-tree path: put this driver into a Linux 6.12 source tree in place
# of 6.12's own ublk_drv, and build it there as part of the kernel.
#
# usage: scripts/intree.sh install <tree>
#            copy drivers/block/ublk/ and include/uapi/linux/ublk_cmd.h
#            into the 6.12 tree <tree>, remove drivers/block/ublk_drv.c
#            and point drivers/block/Kconfig and Makefile at
#            drivers/block/ublk/ (again: refreshes the copy)
#        scripts/intree.sh build [<tree>]
#            install into a scratch copy of <tree> (default: Debian's
#            linux-source-6.12 without patches/base) and build
#            drivers/block/ublk/ with CONFIG_BLK_DEV_UBLK=y, W=1 and
#            sparse; fails on any warning.  With FULL=1 it also links a
#            whole kernel (bzImage).
#
# environment: UBLK_CACHE (scratch trees and the build live in
# $UBLK_CACHE/intree), JOBS, FULL

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${JOBS:-$(nproc)}

log() { echo "intree.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# install <tree>
install_tree() {
	local tree=$1 kconfig makefile
	kconfig=$tree/drivers/block/Kconfig
	makefile=$tree/drivers/block/Makefile
	if [ ! -f "$kconfig" ] || [ ! -f "$makefile" ] ||
	   [ ! -f "$tree/include/uapi/linux/ublk_cmd.h" ]; then
		die "$tree does not look like a Linux 6.12 tree with ublk"
	fi

	mkdir -p "$tree/drivers/block/ublk"
	# rm before copying: the tree may be hard links to another one
	rm -f "$tree"/drivers/block/ublk/* "$tree/include/uapi/linux/ublk_cmd.h" \
		"$tree/drivers/block/ublk_drv.c"
	cp "$top"/drivers/block/ublk/{Kconfig,Makefile,*.c,*.h} "$tree/drivers/block/ublk/"
	cp "$top/include/uapi/linux/ublk_cmd.h" "$tree/include/uapi/linux/"

	# sed -i writes new files, so hard links stay untouched
	if ! grep -q 'drivers/block/ublk/Kconfig' "$kconfig"; then
		sed -i -e '/^config BLK_DEV_UBLK$/,/^source /{/^source /!d}' \
			-e '/^source "drivers\/block\/rnbd\/Kconfig"/i source "drivers/block/ublk/Kconfig"\n' \
			"$kconfig"
	fi
	# shellcheck disable=SC2016 # $(...) is make's, not the shell's
	sed -i 's|^\(obj-$(CONFIG_BLK_DEV_UBLK)[[:space:]]*+=[[:space:]]*\)ublk_drv\.o$|\1ublk/|' \
		"$makefile"
	if ! grep -q '^source "drivers/block/ublk/Kconfig"' "$kconfig" ||
	   grep -q '^config BLK_DEV_UBLK' "$kconfig"; then
		die "could not replace the ublk entries of $kconfig"
	fi
	# shellcheck disable=SC2016
	grep -q '^obj-$(CONFIG_BLK_DEV_UBLK)[[:space:]]*+=[[:space:]]*ublk/$' "$makefile" ||
		die "could not replace the ublk line of $makefile"
	log "installed into $tree"
}

# a 6.12 tree without our io_uring patches: Debian's source as it comes
pristine_tree() {
	local ver dir
	# (kernel.sh's source carries the patches of the last kernel build)
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	dir=$cache/intree/pristine-$ver
	if [ ! -f "$dir/.ok" ]; then
		[ -f "$tarball" ] || die "$tarball missing (scripts/deps.sh kernel)"
		log "unpacking $tarball into $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		tar -xJf "$tarball" -C "$dir"
		touch "$dir/.ok"
	fi
	echo "$dir/linux-source-6.12"
}

build() {
	local src=${1:-} tree out log_file
	[ -n "$src" ] || src=$(pristine_tree)
	src=$(cd "$src" && pwd)
	tree=$cache/intree/tree
	out=$cache/intree/build
	log_file=$cache/intree/build.log
	mkdir -p "$cache/intree"

	log "scratch tree $tree (hard links to $src)"
	rm -rf "$tree"
	cp -al "$src" "$tree"
	install_tree "$tree"

	# the test guest's configuration, with ublk built in
	mkdir -p "$out"
	make -s -C "$tree" O="$out" ARCH=x86_64 tinyconfig >/dev/null
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
		"$top/scripts/configs/test.config" >/dev/null
	"$tree/scripts/config" --file "$out/.config" \
		-e BLK_DEV_UBLK -e BLKDEV_UBLK_LEGACY_OPCODES
	make -s -C "$tree" O="$out" ARCH=x86_64 olddefconfig >/dev/null
	grep -qx 'CONFIG_BLK_DEV_UBLK=y' "$out/.config" ||
		die "CONFIG_BLK_DEV_UBLK=y did not stick"

	log "building drivers/block/ublk/ (W=1 C=1, -j$jobs), log in $log_file"
	# objects of ours must be rebuilt to be checked
	rm -rf "$out/drivers/block/ublk"
	make -C "$tree" O="$out" ARCH=x86_64 -j"$jobs" W=1 C=1 drivers/block/ublk/ \
		> "$log_file" 2>&1 || { tail -30 "$log_file" >&2; die "build failed"; }
	if [ "${FULL:-0}" = 1 ]; then
		log "linking a whole kernel"
		make -C "$tree" O="$out" ARCH=x86_64 -j"$jobs" bzImage \
			>> "$log_file" 2>&1 || { tail -30 "$log_file" >&2; die "build failed"; }
	fi
	if grep -E '(warning|error):' "$log_file" | grep -q 'drivers/block/ublk/'; then
		grep -E '(warning|error):' "$log_file" | grep 'drivers/block/ublk/' >&2
		die "warnings in drivers/block/ublk/"
	fi
	if [ ! -f "$out/drivers/block/ublk/main.o" ] ||
	   [ ! -f "$out/drivers/block/ublk/built-in.a" ]; then
		die "drivers/block/ublk/ was not built in"
	fi
	log "ok: drivers/block/ublk/ built into the kernel without warnings"
}

case "${1:-}" in
install)
	[ $# -eq 2 ] || die "usage: $0 install <tree>"
	install_tree "$2"
	;;
build)
	[ $# -le 2 ] || die "usage: $0 build [<tree>]"
	build "${2:-}"
	;;
*)
	sed -n '/^# usage/,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
