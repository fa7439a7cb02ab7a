#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Can this ublk_drv be built for a kernel?  Run by dkms before the build
# (PRE_BUILD, for the terminal) and by the top Makefile (which stops on
# failure): says what the kernel or its headers lack, all at once.
#
# usage: dkms-check.sh RELEASE KDIR
#   RELEASE  the kernel release (dkms's kernelver)
#   KDIR     its build tree or headers (dkms's kernel_source_dir)
#
# Checks: the release is 6.12.x; KDIR has the kernel's Makefile, .config
# and Module.symvers; the configuration has what the driver needs; every
# header that the sources include is there; every kernel function or
# variable that the driver calls or uses (needed-symbols) is exported.
# The optional features (zero copy, batch) are not needed: the driver's
# Makefile leaves them out of a kernel without them.  The build's own
# modpost still has the last word.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rel=${1:?usage: dkms-check.sh RELEASE KDIR}
kdir=${2:?usage: dkms-check.sh RELEASE KDIR}
name="ublk-drv (this project's ublk_drv)"
problems=()

case "$rel" in
6.12.*) ;;
*) problems+=("kernel $rel is not a 6.12.x: this driver is written against Linux 6.12's block layer and io_uring") ;;
esac

for f in Makefile .config Module.symvers; do
	[ -f "$kdir/$f" ] || problems+=("no $kdir/$f: install the kernel's headers (Debian: apt install linux-headers-$rel)")
done

if [ -f "$kdir/.config" ]; then
	for c in CONFIG_MODULES CONFIG_BLOCK CONFIG_IO_URING; do
		grep -q "^$c=y" "$kdir/.config" || problems+=("the kernel is configured without $c")
	done
fi

# The source tree of the headers: "source" in an O= build tree, the
# "include" of Debian's arch-specific headers' Makefile (the common part
# is in a package of its own), else KDIR itself.
srctree=$kdir
if [ -d "$kdir/source/include" ]; then
	srctree=$kdir/source
elif [ -f "$kdir/Makefile" ]; then
	inc=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$kdir/Makefile" | head -n 1)
	[ -n "$inc" ] && [ -d "$inc/include" ] && srctree=$inc
fi
case "$(uname -m)" in
x86_64|i?86) arch=x86 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
# Every <...> the sources include but our own uapi header, which this
# tree ships; buf.c is built only for a kernel that has what it needs.
srcs=()
for f in "$here"/drivers/block/ublk/*.[ch]; do
	[ -f "$f" ] && [ "${f##*/}" != buf.c ] && srcs+=("$f")
done
[ ${#srcs[@]} -gt 0 ] || {
	echo "dkms-check.sh: no driver sources in $here/drivers/block/ublk" >&2
	exit 1
}
mapfile -t headers < <(sed -n 's|^#include <\(.*\)>.*|\1|p' "${srcs[@]}" |
	grep -vx 'uapi/linux/ublk_cmd\.h' | sort -u)
missing_h=()
for h in "${headers[@]}"; do
	found=0
	for d in "$srctree/include" "$srctree/arch/$arch/include" "$kdir/include" \
		 "$kdir/arch/$arch/include/generated"; do
		[ -f "$d/$h" ] && { found=1; break; }
	done
	[ "$found" = 1 ] || missing_h+=("$h")
done
[ ${#missing_h[@]} -eq 0 ] ||
	problems+=("headers the driver includes that $srctree lacks: ${missing_h[*]}")

# needed-symbols: "symbol [CONFIG_X]"; a symbol with a CONFIG_X is needed
# only when the kernel has CONFIG_X=y
needed=()
while read -r sym cond _; do
	case "$sym" in ''|'#'*) continue ;; esac
	if [ -n "${cond:-}" ] && ! grep -q "^$cond=y" "$kdir/.config" 2>/dev/null; then
		continue
	fi
	needed+=("$sym")
done < "$here/needed-symbols"
if [ -f "$kdir/Module.symvers" ]; then
	mapfile -t missing_s < <(printf '%s\n' "${needed[@]}" |
		awk 'NR == FNR { have[$2] = 1; next } !($1 in have)' "$kdir/Module.symvers" -)
	[ ${#missing_s[@]} -eq 0 ] ||
		problems+=("symbols the driver uses that the kernel does not export: ${missing_s[*]}")
fi

if [ ${#problems[@]} -gt 0 ]; then
	echo "$name cannot be built for kernel $rel ($kdir):" >&2
	for p in "${problems[@]}"; do
		echo "  - $p" >&2
	done
	exit 1
fi
echo "$name: kernel $rel has what the driver needs (${#headers[@]} headers, ${#needed[@]} symbols)"
