#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Base kernel for the guest: Debian's linux-source-6.12, our
# patches/base/*.patch on top, configured from scripts/configs/.
#
# usage: scripts/kernel.sh build <flavour>    build (if not cached); print
#                                             the kernel's directory
#        scripts/kernel.sh dir <flavour>      print it, no building
#        scripts/kernel.sh key <flavour>      print its cache key
#        scripts/kernel.sh src                the source the kernels are
#                                             built from (unpacked if
#                                             need be; its patches are
#                                             those of the last build)
#        scripts/kernel.sh configure-tree SRC OBJ FRAGMENT...
#                                             configure O=OBJ of another
#                                             source tree SRC (the
#                                             series' trees) as a flavour
#                                             is: tinyconfig, the
#                                             fragments, olddefconfig,
#                                             every fragment line checked;
#                                             again only when the
#                                             fragments change
#        scripts/kernel.sh build-tree SRC OBJ  build bzImage and modules
#                                             there as a flavour is built:
#                                             modules in OBJ/mods, the
#                                             release in OBJ/kernelrelease
#
# flavours: test (tinyconfig + test.config), debug (test + debug.config)
#
# Everything lives under $UBLK_CACHE (default ~/.cache/ublk-dev):
#
#   src/<pkgkey>/linux          the source, one per package version, with
#                               the patch set of the last build applied
#                               (copies of it in src/<pkgkey>/applied/)
#   kernel/<flavour>-<cfgkey>/  the O= build directory of a flavour, one
#                               per (package, config fragments)
#   built/<flavour>-<key>/      a finished kernel, never changed again:
#                               arch/x86/boot/bzImage, mods/lib/modules/..,
#                               kernelrelease, .config, System.map, and
#                               what building external modules needs
#                               (make -C <it> M=...), as a headers package
#                               has it
#
# <key> hashes the package version, the patches, the fragments and
# RECIPE, so an unchanged rebuild costs a look at a stamp.  A new patch
# set is switched to in the one source tree (the old set reversed, the
# new one applied), so the files neither touches keep their times and
# make, in the flavour's existing O= directory, rebuilds only what the
# change reaches.  Both flavours share the source; a change of a config
# fragment makes a new O= directory.  Builds serialise on a lock per
# source tree; a finished kernel is immutable, so guests booted from one
# are never disturbed by the next build.

set -euo pipefail

# Bump when the way the kernel is built changes in a way the hashed inputs
# do not show.  (Version 1 named the source and build directories that
# this version keeps as its work trees, see work_key.)
RECIPE=2

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${JOBS:-$(nproc)}

log() { echo "kernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

fragments() {
	case "$1" in
	test) echo "$top/scripts/configs/test.config" ;;
	debug) echo "$top/scripts/configs/test.config $top/scripts/configs/debug.config" ;;
	*) die "unknown flavour '$1' (test or debug)" ;;
	esac
}

pkg_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed (scripts/deps.sh kernel)"
}

patch_list() {
	find "$top/patches/base" -maxdepth 1 -name '*.patch' 2>/dev/null | LC_ALL=C sort
}

# hash_inputs RECIPE FILE...: the key of a package version and files
hash_inputs() {
	local recipe=$1 f

	shift
	{
		echo "recipe $recipe"
		echo "pkg $(pkg_version)"
		for f in "$@"; do
			echo "== ${f#"$top"/}"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}

# The work trees are named as version 1 of this script named its
# unpatched source and build directories, so that a cache from then is
# taken over instead of built again.
work_key() { hash_inputs 1 "$@"; }

# shellcheck disable=SC2046 # word splitting of the file lists is wanted
build_key() { hash_inputs "$RECIPE" $(patch_list) $(fragments "$1"); }

src_dir() { echo "$cache/src/$(work_key)/linux"; }
# shellcheck disable=SC2046
obj_dir() { echo "$cache/kernel/$1-$(work_key $(fragments "$1"))"; }
out_dir() { echo "$cache/built/$1-$(build_key "$1")"; }

# unpack the source once per package version
unpack_src() {
	local src=$1 tmp

	[ -f "${src%/linux}/.ublk-src-ok" ] && return
	[ -f "$tarball" ] || die "$tarball missing (scripts/deps.sh kernel)"
	log "unpacking $(basename "$tarball") ($(pkg_version)) into ${src%/linux}"
	tmp=${src%/linux}.tmp
	rm -rf "${src%/linux}" "$tmp"
	mkdir -p "$tmp"
	tar -xJf "$tarball" -C "$tmp"
	mv "$tmp/linux-source-6.12" "$tmp/linux"
	touch "$tmp/.ublk-src-ok"
	mv "$tmp" "${src%/linux}"
}

# the hash of each patch applied to the tree at $1, in order
applied_list() {
	local d=${1%/linux}/applied

	[ -d "$d" ] || return 0
	find "$d" -maxdepth 1 -name '*.patch' | LC_ALL=C sort | xargs -r sha256sum | cut -c1-64
}

wanted_list() {
	patch_list | xargs -r sha256sum | cut -c1-64
}

# Bring the tree to patches/base: reverse what is applied, newest first,
# then apply ours.  A tree that does not reverse cleanly is unpacked
# again (and then everything rebuilds).
switch_patches() {
	local src=$1 d=${1%/linux}/applied p n=0

	[ "$(applied_list "$src")" = "$(wanted_list)" ] && return
	if [ -d "$d" ]; then
		while read -r p; do
			[ -n "$p" ] || continue
			log "reversing $(basename "$p")"
			if ! patch -d "$src" -p1 -R --batch --quiet < "$p"; then
				log "the tree does not reverse cleanly: unpacking it again"
				rm -rf "${src%/linux}"
				unpack_src "$src"
				break
			fi
		done < <(find "$d" -maxdepth 1 -name '*.patch' | LC_ALL=C sort -r)
	fi
	rm -rf "$d"
	mkdir -p "$d"
	for p in $(patch_list); do
		n=$((n + 1))
		log "applying ${p#"$top"/}"
		patch -d "$src" -p1 --forward --batch --quiet < "$p" ||
			die "patch ${p#"$top"/} does not apply"
		cp "$p" "$d/$(printf '%04d' "$n")-$(basename "$p")"
	done
}

# Every line of every fragment must hold in the final .config.
check_config() {
	local out=$1; shift
	local f line sym bad=0
	for f in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				sym=${line%%=*}
				grep -qxF -- "$line" "$out/.config" || {
					log "config: wanted '$line', got '$(grep -E "^(# )?${sym}[= ]" "$out/.config" || echo unset)'"
					bad=1
				}
				;;
			"# CONFIG_"*" is not set")
				sym=${line#"# "}; sym=${sym%% *}
				if grep -q "^$sym=" "$out/.config"; then
					log "config: wanted '$line', got '$(grep "^$sym=" "$out/.config")'"
					bad=1
				fi
				;;
			esac
		done < "$f"
	done
	return $bad
}

# configure the O= directory once: tinyconfig, the fragments, olddefconfig
configure() {
	local src=$1 obj=$2 tmpl
	shift 2

	[ -f "$obj/.ublk-config-ok" ] && return
	# version 1 left a finished build here: its .config is the one
	if [ -f "$obj/.ublk-build-ok" ] && [ -f "$obj/.config" ]; then
		touch "$obj/.ublk-config-ok"
		return
	fi
	rm -rf "$obj"
	mkdir -p "$obj"
	make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$@" \
		>"$obj/merge.log" 2>&1 || { cat "$obj/merge.log" >&2; die "merge_config failed"; }
	make -s -C "$src" O="$obj" ARCH=x86_64 olddefconfig >/dev/null
	# Only the last value of a symbol counts: check the merged view.
	tmpl=$obj/.wanted.config
	cat "$@" | awk '
		/^CONFIG_[A-Za-z0-9_]+=/ { s = $0; sub(/=.*/, "", s); v[s] = $0; o[++n] = s; next }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { s = $2; v[s] = $0; o[++n] = s }
		END { for (i = 1; i <= n; i++) if (!(o[i] in seen)) { seen[o[i]] = 1; print v[o[i]] } }' > "$tmpl"
	check_config "$obj" "$tmpl" || die "config fragments did not apply (see above)"
	touch "$obj/.ublk-config-ok"
}

# A finished kernel in $out from the build in $obj: boot files, modules,
# and an external-module build tree (the kernel's own
# install-extmod-build, as for a headers package).
publish() {
	local src=$1 obj=$2 out=$3 tmp=$3.tmp

	rm -rf "$tmp"
	mkdir -p "$tmp/arch/x86/boot"
	(cd "$obj" && srctree=$src SRCARCH=x86 CC=gcc HOSTCC=gcc MAKE=make \
		"$src/scripts/package/install-extmod-build" "$tmp") ||
		die "install-extmod-build failed"
	cp "$obj/.config" "$obj/System.map" "$obj/kernelrelease" "$tmp/"
	cp "$obj/arch/x86/boot/bzImage" "$tmp/arch/x86/boot/"
	cp -a "$obj/mods" "$tmp/mods"
	rm -rf "$out"
	mv "$tmp" "$out"
	touch "$out/.ublk-built-ok"
	prune "${out##*/}"
}

# keep the four newest finished kernels of a flavour (a guest booted from
# an older one loads modules from it)
prune() {
	local flavour=${1%%-*} d

	find "$cache/built" -mindepth 1 -maxdepth 1 -type d -name "$flavour-*" \
		-printf '%T@ %p\n' | sort -nr | tail -n +5 | while read -r _ d; do
		log "removing the old kernel $d"
		rm -rf "$d"
	done
}

# bzImage and modules of $1 in O=$2, the modules installed into $2/mods,
# the release in $2/kernelrelease; the log is $2/build.log
compile() {
	local src=$1 obj=$2

	make -C "$src" O="$obj" ARCH=x86_64 -j"$jobs" bzImage modules \
		>"$obj/build.log" 2>&1 ||
		{ tail -40 "$obj/build.log" >&2; die "kernel build failed: $obj/build.log"; }
	rm -rf "$obj/mods"
	make -s -C "$src" O="$obj" ARCH=x86_64 INSTALL_MOD_PATH="$obj/mods" \
		modules_install >>"$obj/build.log" 2>&1 ||
		die "modules_install failed: $obj/build.log"
	make -s -C "$src" O="$obj" ARCH=x86_64 kernelrelease > "$obj/kernelrelease"
}

# configure-tree: configure() for a tree and O= directory named by the
# caller, keyed by the fragments' contents, since the directory's name
# is not
configure_tree() {
	local src=$1 obj=$2 key f
	shift 2

	[ -f "$src/Makefile" ] || die "no kernel tree at $src"
	for f in "$@"; do
		[ -f "$f" ] || die "no config fragment $f"
	done
	key=$(cat "$@" | sha256sum | cut -c1-16)
	[ -f "$obj/.ublk-tree-config-$key" ] && return
	rm -rf "$obj"
	configure "$src" "$obj" "$@"
	touch "$obj/.ublk-tree-config-$key"
}

do_build() {
	local flavour=$1 src obj out frags t0
	# shellcheck disable=SC2207
	frags=($(fragments "$flavour"))
	out=$(out_dir "$flavour")
	if [ -f "$out/.ublk-built-ok" ]; then
		echo "$out"
		return
	fi
	src=$(src_dir)
	obj=$(obj_dir "$flavour")
	mkdir -p "$cache/src" "$cache/kernel" "$cache/built"
	exec 9>"${src%/linux}.lock"
	flock 9
	if [ ! -f "$out/.ublk-built-ok" ]; then
		t0=$SECONDS
		unpack_src "$src"
		switch_patches "$src"
		configure "$src" "$obj" "${frags[@]}"
		log "building the $flavour kernel in $obj (-j$jobs)"
		rm -f "$obj/.ublk-build-ok"
		compile "$src" "$obj"
		touch "$obj/.ublk-build-ok"
		publish "$src" "$obj" "$out"
		log "built $flavour kernel $(cat "$out/kernelrelease") in $((SECONDS - t0))s: $out"
	fi
	exec 9>&-
	echo "$out"
}

cmd=${1:-}
case "$cmd" in
src)
	src=$(src_dir)
	if [ ! -f "${src%/linux}/.ublk-src-ok" ]; then
		mkdir -p "$cache/src"
		exec 9>"${src%/linux}.lock"
		flock 9
		unpack_src "$src"
		exec 9>&-
	fi
	echo "$src"
	;;
build) [ $# -eq 2 ] || die "usage: $0 build <flavour>"; do_build "$2" ;;
configure-tree)
	[ $# -ge 4 ] || die "usage: $0 configure-tree SRC OBJ FRAGMENT..."
	shift
	configure_tree "$@"
	;;
build-tree)
	[ $# -eq 3 ] || die "usage: $0 build-tree SRC OBJ"
	[ -f "$3/.config" ] || die "$3 is not configured (configure-tree)"
	compile "$2" "$3"
	;;
dir) [ $# -eq 2 ] || die "usage: $0 dir <flavour>"; fragments "$2" >/dev/null; out_dir "$2" ;;
key) [ $# -eq 2 ] || die "usage: $0 key <flavour>"; fragments "$2" >/dev/null; build_key "$2" ;;
*) die "usage: $0 {src|build <flavour>|dir <flavour>|key <flavour>|configure-tree|build-tree}" ;;
esac
