#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make deb-check": the ublk-drv-dkms package, from "make deb" to our
# module serving a device on Debian's own 6.12 kernel, without touching
# the module trees of the machine it runs on.
#
#  1. builds the package (scripts/deb.sh) and looks inside it;
#  2. unpacks it into a private directory and has dkms add, build and
#     install it there (--dkmstree, --sourcetree, --installtree), against
#     Debian's headers for the kernel that scripts/distro.sh boots, with a
#     signing key of its own: nothing in /var/lib/dkms, /lib/modules or
#     /usr/src changes (compared before and after);
#  3. checks the module dkms built (modinfo: name, vermagic, version,
#     flavour), that packaging/dkms/needed-symbols still names what it
#     uses, and that in an install tree holding Debian's own ublk_drv
#     too, depmod and modprobe pick ours from updates/dkms;
#  4. has dkms refuse a kernel that is not 6.12.x, and headers that lack
#     a symbol and a config option, saying what is missing;
#  5. boots Debian's kernel (scripts/vm.sh -k distro -m none), where
#     modprobe loads ublk_drv from that install tree, which must be ours
#     (version, load message), and runs two short kselftests on it.
#
# usage: scripts/deb-test.sh [--no-guest]
#        scripts/deb-test.sh guest BASE VERSION   (step 5, in the guest)
#
# Prints TAP and a last line "N passed, N failed, N skipped"; exits
# non-zero on a failure.  Keeps everything under
# $UBLK_CACHE/deb-check/<date>/ (the guest sees the cache, not /tmp).
# Needs root for its packages, Debian's headers and kernel (deps.sh,
# distro.sh) on first use.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
export UBLK_CACHE=$cache
guest_tests="test_generic_01.sh test_null_01.sh"

# ---- step 5, inside the guest ----
guest() {
	local base=${1:?} ver=${2:?} got

	# modprobe, as a user's would, but in the private tree: replace
	# vm-init.sh's "-d" (kmod 30's modprobe corrupts its heap on an
	# empty MODPROBE_OPTIONS, so not "MODPROBE_OPTIONS= modprobe -d")
	MODPROBE_OPTIONS="-d $base" modprobe ublk_drv ||
		{ echo "modprobe -d $base ublk_drv failed"; return 1; }
	got=$(cat /sys/module/ublk_drv/version 2>/dev/null)
	echo "# loaded ublk_drv: version '$got', taint '$(cat /sys/module/ublk_drv/taint)'"
	[ "$got" = "$ver" ] || { echo "the loaded ublk_drv is not ours (version '$got', want $ver)"; return 1; }
	dmesg | grep -F "ublk_drv: reworked driver $ver:" ||
		{ echo "no load message 'ublk_drv: reworked driver $ver: ...' in dmesg"; return 1; }
	# the kselftest runner exits 0 whatever the tests did: read its TAP
	make -s -C tools/testing/selftests/ublk run_tests TEST_PROGS="$guest_tests" |
		tee /tmp/kselftest.tap
	! grep -q '^not ok' /tmp/kselftest.tap &&
		[ "$(grep -c '^ok [0-9]' /tmp/kselftest.tap)" = "$(wc -w <<< "$guest_tests")" ]
}

if [ "${1:-}" = guest ]; then
	shift
	guest "$@"
	exit
fi

with_guest=1
[ "${1:-}" = --no-guest ] && with_guest=0

n=0
t0=$SECONDS
tap_file=
# tap NAME RC [LOG]: one TAP line, and the end of LOG under a failure
tap() {
	local name=$1 rc=$2 log=${3:-}
	n=$((n + 1))
	if [ "$rc" = 0 ]; then
		echo "ok $n deb: $name" | tee -a "$tap_file"
	else
		echo "not ok $n deb: $name" | tee -a "$tap_file"
		[ -n "$log" ] && [ -f "$log" ] && tail -n 20 "$log" | sed 's/^/#   /'
	fi
}
bail() {
	echo "Bail out! $*"
	[ -n "$tap_file" ] && "$top/scripts/tap-summary.sh" "$tap_file"
	exit 1
}

echo "TAP version 13"
"$top/scripts/deps.sh" deb distro vm tests >&2 || bail "installing packages failed (scripts/deps.sh deb distro vm tests)"
kdir=$("$top/scripts/distro.sh" build) || bail "no distro kernel (scripts/distro.sh build)"
rel=$(cat "$kdir/kernelrelease")
headers=$(realpath "$kdir/build")
ver=$("$top/scripts/deb.sh" version) || bail "no version"
arch=$(uname -m)
mkdir -p "$cache/deb-check"
work=$(mktemp -d "$cache/deb-check/$(date +%Y%m%d-%H%M%S)-XXXX")
tap_file=$work/deb-check.tap
: > "$tap_file"
echo "# ublk-drv-dkms $ver against $headers ($rel); logs in $work"

# what the machine's own module and source trees hold, to compare after
snapshot() {
	find /var/lib/dkms /lib/modules -printf '%p %y %s %T@\n' 2>/dev/null
	find /usr/src -maxdepth 1 -printf '%p %y %T@\n'
}
snapshot | sort > "$work/host-before"

# ---- 1. the package ----
deb=$("$top/scripts/deb.sh" -o "$work" 2> "$work/deb.log")
tap "make deb builds ${deb##*/}" $? "$work/deb.log"
[ -f "$deb" ] || bail "no package"
src=usr/src/ublk-drv-$ver
{
	dpkg-deb -f "$deb" Depends | grep -q '\bdkms\b' || echo "Depends lacks dkms"
	dpkg-deb -c "$deb" | awk '{ print $1, $NF }' > "$work/contents"
	for f in dkms.conf Makefile dkms-check.sh needed-symbols drivers/block/ublk/Makefile \
		 drivers/block/ublk/main.c include/uapi/linux/ublk_cmd.h; do
		grep -q " \./$src/$f$" "$work/contents" || echo "no /$src/$f in the package"
	done
	grep -q "^-rwxr-xr-x \./$src/dkms-check.sh$" "$work/contents" || echo "dkms-check.sh is not executable"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$src/dkms.conf" > "$work/dkms.conf"
	grep -qx "PACKAGE_VERSION=\"$ver\"" "$work/dkms.conf" || echo "dkms.conf: PACKAGE_VERSION is not \"$ver\""
	grep -q '^DEST_MODULE_LOCATION\[0\]="/updates/dkms"$' "$work/dkms.conf" || echo "dkms.conf: not to updates/dkms"
	grep -q '^AUTOINSTALL="yes"$' "$work/dkms.conf" || echo "dkms.conf: no AUTOINSTALL"
} > "$work/contents.log" 2>&1
rc=0
[ -s "$work/contents.log" ] && rc=1
tap "the package holds /$src with dkms.conf (version $ver, updates/dkms, AUTOINSTALL)" $rc "$work/contents.log"

# ---- 2. dkms, in private trees ----
root=$work/root
dpkg-deb -x "$deb" "$root"
base=$work/base
mkdir -p "$work/dkms" "$base/lib/modules/$rel/kernel/drivers/block"
# the machine's kernel tree as the package would find it: Debian's own
# ublk_drv (from the kernel that distro.sh unpacked) and depmod's inputs
dmods=$kdir/root/lib/modules/$rel
cp "$dmods/kernel/drivers/block/ublk_drv.ko.xz" "$base/lib/modules/$rel/kernel/drivers/block/"
cp "$dmods"/modules.{order,builtin,builtin.modinfo} "$base/lib/modules/$rel/"
# dkms signs what it builds; its key would go to /var/lib/dkms unless
# framework.conf or (dkms 3.0) the environment says otherwise
export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub
dk=(dkms --dkmstree "$work/dkms" --sourcetree "$root/usr/src" --installtree "$base/lib/modules")
t=$SECONDS
{
	"${dk[@]}" add -m ublk-drv -v "$ver" &&
	"${dk[@]}" build -m ublk-drv -v "$ver" -k "$rel" --kernelsourcedir "$headers"
} > "$work/dkms-build.log" 2>&1
rc=$?
tap "dkms add and build for $rel ($((SECONDS - t)) s)" $rc "$work/dkms-build.log"
ko=$(find "$work/dkms/ublk-drv/$ver/$rel/$arch/module" -name 'ublk_drv.ko*' 2>/dev/null | head -n 1)
[ -n "$ko" ] || bail "dkms built no ublk_drv.ko"

# ---- 3. the module ----
mi() { modinfo -F "$1" "$ko"; }
echo "# ${ko##*/}: version $(mi version), flavour '$(mi flavour)', signer '$(mi signer)'"
{
	[ "$(mi name)" = ublk_drv ] || echo "name: '$(mi name)'"
	[ "$(mi vermagic | awk '{ print $1 }')" = "$rel" ] || echo "vermagic: '$(mi vermagic)', not $rel"
	[ "$(mi version)" = "$ver" ] || echo "version: '$(mi version)', not $ver"
	[[ "$(mi flavour)" == "reworked "* ]] || echo "flavour: '$(mi flavour)'"
} > "$work/modinfo.log" 2>&1
rc=0
[ -s "$work/modinfo.log" ] && rc=1
tap "modinfo: ublk_drv, vermagic $rel, version $ver, flavour reworked" $rc "$work/modinfo.log"

rc=0
"$top/scripts/deb.sh" symbols-check "$ko" > "$work/symbols.diff" 2>&1 || rc=$?
tap "packaging/dkms/needed-symbols names what the module uses ($(head -1 "$work/symbols.diff" | awk '{ print $1 }'))" $rc "$work/symbols.diff"

{
	"${dk[@]}" install --no-depmod -m ublk-drv -v "$ver" -k "$rel" &&
	depmod -b "$base" "$rel" &&
	got=$(modinfo -b "$base" -k "$rel" -n ublk_drv) &&
	echo "modinfo -n ublk_drv: $got" &&
	[ "$got" = "$base/lib/modules/$rel/updates/dkms/${ko##*/}" ] &&
	got=$(modprobe -d "$base" -S "$rel" --show-depends ublk_drv) &&
	echo "modprobe --show-depends ublk_drv: $got" &&
	[ "$got" = "insmod $base/lib/modules/$rel/updates/dkms/${ko##*/} " ]
} > "$work/dkms-install.log" 2>&1
tap "dkms install: updates/dkms, which modprobe takes before Debian's ublk_drv" $? "$work/dkms-install.log"

# ---- 4. refusals ----
"${dk[@]}" build -m ublk-drv -v "$ver" -k 6.1.0-99-amd64 --kernelsourcedir "$headers" \
	> "$work/refuse-6.1.log" 2>&1
rc=$?
[ "$rc" = 77 ] && grep -q BUILD_EXCLUSIVE "$work/refuse-6.1.log"
tap "dkms refuses 6.1.0-99-amd64 (BUILD_EXCLUSIVE_KERNEL, status $rc)" $? "$work/refuse-6.1.log"

# headers of a kernel without io_uring_cmd_done and CONFIG_IO_URING
fake=$work/fake-headers
mkdir -p "$fake"
for f in "$headers"/*; do
	ln -s "$f" "$fake/"
done
rm -f "$fake/.config" "$fake/Module.symvers"
grep -v '^CONFIG_IO_URING=' "$headers/.config" > "$fake/.config"
awk '$2 != "io_uring_cmd_done"' "$headers/Module.symvers" > "$fake/Module.symvers"
mkdir -p "$work/dkms-fake"
dkms --dkmstree "$work/dkms-fake" --sourcetree "$root/usr/src" --installtree "$base/lib/modules" \
	build -m ublk-drv -v "$ver" -k "$rel" --kernelsourcedir "$fake" > "$work/refuse-fake.log" 2>&1
rc=$?
[ "$rc" != 0 ] && grep -q 'cannot be built for kernel' "$work/refuse-fake.log" &&
	grep -q 'without CONFIG_IO_URING' "$work/refuse-fake.log" &&
	grep -q 'does not export: io_uring_cmd_done' "$work/refuse-fake.log"
rc2=$?
sed -n '/cannot be built/,/^$/{/^$/!p}' "$work/refuse-fake.log" | sed 's/^/# /'
tap "dkms refuses headers without io_uring_cmd_done and CONFIG_IO_URING, saying so" $rc2 "$work/refuse-fake.log"

snapshot | sort > "$work/host-after"
diff -u "$work/host-before" "$work/host-after" > "$work/host.diff"
tap "nothing changed in /var/lib/dkms, /lib/modules or /usr/src" $? "$work/host.diff"

# ---- 5. Debian's kernel, with the module from the install tree ----
if [ "$with_guest" = 1 ]; then
	make -s -C "$top" selftests > "$work/selftests.log" 2>&1 || tap "selftests build" 1 "$work/selftests.log"
	t=$SECONDS
	"$top/scripts/vm.sh" -q -k distro -m none -t 300 -o "$work/guest" -- \
		scripts/deb-test.sh guest "$base" "$ver" > "$work/guest.out" 2>&1
	rc=$?
	grep -E '^(# loaded|\[|ublk_drv|(not )?ok [0-9]+ selftests)' "$work/guest.out" | sed 's/^/# guest: /'
	tap "guest ($rel): modprobe loads ours, $guest_tests pass ($((SECONDS - t)) s)" $rc "$work/guest.out"
fi

echo "# deb-check: $((SECONDS - t0)) s; logs in $work"
"$top/scripts/tap-summary.sh" "$tap_file"
