#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Base kernel for the guest: Debian's linux-source-6.12, our
# patches/base/*.patch on top, configured from scripts/configs/.
#
# usage: scripts/kernel.sh src                print the patched source dir
#        scripts/kernel.sh build <flavour>    build (if not cached); print dir
#        scripts/kernel.sh dir <flavour>      print the build dir, no building
#        scripts/kernel.sh key <flavour>      print the cache key
#
# flavours: test (tinyconfig + test.config), debug (test + debug.config)
#
# Everything lives under $UBLK_CACHE (default ~/.cache/ublk-dev):
#   src/<srckey>/             unpacked, patched source, never built in
#   kernel/<flavour>-<key>/   O= build dir: arch/x86/boot/bzImage,
#                             mods/lib/modules/<release>/, .config
# The key hashes the source package version, the patches, the config
# fragments and RECIPE below, so an unchanged rebuild only checks a stamp.
# Concurrent callers serialise on a lock per key.

set -euo pipefail

# Bump when the way the kernel is built changes in a way the hashed inputs
# do not show.
RECIPE=1

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

hash_inputs() {
	{
		echo "recipe $RECIPE"
		echo "pkg $(pkg_version)"
		local f
		for f in $(patch_list) "$@"; do
			echo "== ${f#"$top"/}"
			cat "$f"
		done
	} | sha256sum | cut -c1-16
}

src_key() { hash_inputs; }

build_key() {
	# shellcheck disable=SC2046 # word splitting of the fragment list is wanted
	hash_inputs $(fragments "$1")
}

# Unpack and patch the source once per (package version, patches).
prepare_src() {
	local key dir tmp p
	key=$(src_key)
	dir=$cache/src/$key
	if [ -f "$dir/.ublk-src-ok" ]; then
		echo "$dir/linux"
		return
	fi
	mkdir -p "$cache/src"
	exec 8>"$cache/src/$key.lock"
	flock 8
	if [ ! -f "$dir/.ublk-src-ok" ]; then
		[ -f "$tarball" ] || die "$tarball missing (scripts/deps.sh kernel)"
		log "unpacking $(basename "$tarball") ($(pkg_version)) into $dir"
		rm -rf "$dir" "$dir.tmp"
		tmp=$dir.tmp
		mkdir -p "$tmp"
		tar -xJf "$tarball" -C "$tmp"
		mv "$tmp/linux-source-6.12" "$tmp/linux"
		for p in $(patch_list); do
			log "applying ${p#"$top"/}"
			patch -d "$tmp/linux" -p1 --forward --batch --quiet < "$p" ||
				die "patch ${p#"$top"/} does not apply"
		done
		touch "$tmp/.ublk-src-ok"
		mv "$tmp" "$dir"
	fi
	exec 8>&-
	echo "$dir/linux"
}

build_dir() { echo "$cache/kernel/$1-$(build_key "$1")"; }

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

do_build() {
	local flavour=$1 src out frags tmpl
	# shellcheck disable=SC2207
	frags=($(fragments "$flavour"))
	src=$(prepare_src)
	out=$(build_dir "$flavour")
	if [ -f "$out/.ublk-build-ok" ]; then
		echo "$out"
		return
	fi
	mkdir -p "$cache/kernel"
	exec 9>"$out.lock"
	flock 9
	if [ ! -f "$out/.ublk-build-ok" ]; then
		log "building $flavour kernel in $out (-j$jobs)"
		local t0=$SECONDS
		rm -rf "$out"
		mkdir -p "$out"
		make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >/dev/null
		"$src/scripts/kconfig/merge_config.sh" \
			-m -O "$out" "$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1 ||
			{ cat "$out/merge.log" >&2; die "merge_config failed"; }
		make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >/dev/null
		# Only the last value of a symbol counts: check the merged view.
		tmpl=$out/.wanted.config
		cat "${frags[@]}" | awk '
			/^CONFIG_[A-Za-z0-9_]+=/ { s = $0; sub(/=.*/, "", s); v[s] = $0; o[++n] = s; next }
			/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { s = $2; v[s] = $0; o[++n] = s }
			END { for (i = 1; i <= n; i++) if (!(o[i] in seen)) { seen[o[i]] = 1; print v[o[i]] } }' > "$tmpl"
		check_config "$out" "$tmpl" || die "config fragments did not apply (see above)"
		make -C "$src" O="$out" ARCH=x86_64 -j"$jobs" bzImage modules \
			>"$out/build.log" 2>&1 ||
			{ tail -40 "$out/build.log" >&2; die "kernel build failed: $out/build.log"; }
		make -s -C "$src" O="$out" ARCH=x86_64 INSTALL_MOD_PATH="$out/mods" \
			modules_install >>"$out/build.log" 2>&1 ||
			die "modules_install failed: $out/build.log"
		make -s -C "$src" O="$out" ARCH=x86_64 kernelrelease > "$out/kernelrelease"
		log "built $flavour kernel $(cat "$out/kernelrelease") in $((SECONDS - t0))s"
		touch "$out/.ublk-build-ok"
	fi
	exec 9>&-
	echo "$out"
}

cmd=${1:-}
case "$cmd" in
src) prepare_src ;;
build) [ $# -eq 2 ] || die "usage: $0 build <flavour>"; do_build "$2" ;;
dir) [ $# -eq 2 ] || die "usage: $0 dir <flavour>"; fragments "$2" >/dev/null; build_dir "$2" ;;
key) [ $# -eq 2 ] || die "usage: $0 key <flavour>"; fragments "$2" >/dev/null; build_key "$2" ;;
*) die "usage: $0 {src|build <flavour>|dir <flavour>|key <flavour>}" ;;
esac
