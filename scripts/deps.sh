#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, with apt-get, the Debian packages that building and testing
# need, but only those that are missing, so a warm run costs one
# dpkg-query.  Needs root when something is missing.
#
# usage: scripts/deps.sh [group...]     groups: kernel vm tests all (default)
#                                       distro (for vm.sh -k distro; not in all)
#                                       deb (make deb, make deb-check; not in all)
#                                       series (make series*; not in all)

set -euo pipefail

kernel_pkgs=(linux-source-6.12 build-essential flex bison bc cpio kmod
	     libelf-dev libssl-dev rsync xz-utils sparse perl python3)
vm_pkgs=(qemu-system-x86 qemu-utils)
distro_pkgs=(busybox-static cpio kmod xz-utils)
# dpkg-dev's dpkg-buildpackage, debhelper and dh-dkms's dh_dkms build the
# package; dkms builds it in deb-test.sh (and on the user's machine)
deb_pkgs=(dpkg-dev debhelper dh-dkms dkms kmod xz-utils)
# git format-patch and am; git send-email needs Mail::Address;
# checkpatch's spdxcheck.py needs ply and GitPython
series_pkgs=(git git-email libmailtools-perl python3-ply python3-git)
# python3-drgn: tools/ublk/ublk_state.py (test_drgn_*)
tests_pkgs=(fio liburing-dev e2fsprogs util-linux shellcheck bpftrace
	    python3-matplotlib python3-drgn)

want=()
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(all)
for g in "${groups[@]}"; do
	case "$g" in
	kernel) want+=("${kernel_pkgs[@]}") ;;
	vm) want+=("${vm_pkgs[@]}") ;;
	tests) want+=("${tests_pkgs[@]}") ;;
	distro) want+=("${distro_pkgs[@]}") ;;
	deb) want+=("${deb_pkgs[@]}") ;;
	series) want+=("${series_pkgs[@]}") ;;
	all) want+=("${kernel_pkgs[@]}" "${vm_pkgs[@]}" "${tests_pkgs[@]}") ;;
	*) echo "deps.sh: unknown group '$g'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run as root, or install them with apt-get" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}
# A fresh machine may have stale package lists; refresh only on failure.
if ! apt_install; then
	apt-get update -q
	apt_install
fi
