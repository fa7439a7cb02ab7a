#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the guest that scripts/vm.sh boots.  The root file system is
# the host's, read-only over 9p; this script gives it the writable and
# virtual file systems a test needs, loads the requested ublk module,
# runs the command from $out/cmd.sh, collects dmesg and kmemleak, writes
# the exit status to $out/status and powers the guest off.  It must never
# exit: PID 1 exiting is a panic.  While it waits for the command, bash
# also reaps orphaned daemons (kublk), so a killed server really goes away.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TERM=${TERM:-linux}

# Milestones go to the kernel log, timestamped, for slow-run forensics.
mark() { echo "vm-init: $*" > /dev/kmsg 2>/dev/null; }

poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	while :; do sleep 60; done
}

# Under emulation every exec costs a good fraction of a second (far more
# with KASAN), so this uses shell builtins where it can and mounts
# everything with one "mount -a" over a generated fstab.
#
# vm.sh passes the output directory (read-write), the checkout
# (read-write) and the cache of kernels and modules (read-only) as
# ublk_out=, ublk_top=, ublk_cache= on the kernel command line, which the
# kernel hands to init as environment variables.  They are mounted over
# their host paths, shortest first, so that they also appear when they
# live under a directory the guest has just covered with tmpfs.
# shellcheck disable=SC2154 # set by the kernel from the command line
out=$ublk_out top=$ublk_top cache=$ublk_cache
mount -t proc proc /proc
shares=()
for t in "${#cache} ublkcache $cache ro" "${#top} ublktop $top rw" \
	 "${#out} ublkout $out rw"; do
	i=${#shares[@]}
	while [ "$i" -gt 0 ] && [ "${shares[i - 1]%% *}" -gt "${t%% *}" ]; do
		shares[i]=${shares[i - 1]}
		i=$((i - 1))
	done
	shares[i]=$t
done
{
	echo "sysfs /sys sysfs defaults 0 0"
	echo "devpts /dev/pts devpts gid=5,mode=620,ptmxmode=666,X-mount.mkdir 0 0"
	echo "tmpfs /dev/shm tmpfs mode=1777,X-mount.mkdir 0 0"
	echo "tmpfs /tmp tmpfs mode=1777 0 0"
	echo "tmpfs /run tmpfs mode=755 0 0"
	echo "tmpfs /var/tmp tmpfs mode=1777 0 0"
	echo "debugfs /sys/kernel/debug debugfs defaults 0 0"
	echo "tracefs /sys/kernel/tracing tracefs defaults 0 0"
	echo "configfs /sys/kernel/config configfs defaults 0 0"
	for t in "${shares[@]}"; do
		read -r _ tag path mode <<< "$t"
		echo "$tag $path 9p trans=virtio,version=9p2000.L,msize=262144,$mode,X-mount.mkdir 0 0"
	done
} > /dev/.vm-fstab
if ! mount -a -T /dev/.vm-fstab; then
	echo "vm-init: mounting the guest's file systems failed:" > /dev/console
	cat /dev/.vm-fstab > /dev/console
	poweroff_now
fi
# what udev would make: without them a redirection to /dev/stdout (the
# kselftest runner's log) creates a plain file in devtmpfs
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
echo 1 > /proc/sys/kernel/sysrq
echo ublk-vm > /proc/sys/kernel/hostname

cmd=()
# shellcheck source=/dev/null
. "$out/cmd.sh"
mark "file systems mounted"

finish() {
	echo "$1" > "$out/status"
	sync
	umount "$out" 2>/dev/null
	poweroff_now
}

# /lib/modules may not exist on the host: point modprobe at the guest's.
export MODPROBE_OPTIONS="-d $UBLK_VM_KDIR/mods"
case "$UBLK_VM_MODULE" in
ours)
	if ! insmod "$UBLK_VM_KO"; then
		echo "vm-init: insmod $UBLK_VM_KO failed" | tee "$out/output.log" > /dev/console
		finish 125
	fi
	;;
stock)
	if ! modprobe ublk_drv; then
		echo "vm-init: modprobe ublk_drv (stock) failed" | tee "$out/output.log" > /dev/console
		finish 125
	fi
	;;
esac

mark "module: $UBLK_VM_MODULE"
leak=/sys/kernel/debug/kmemleak
cd "$UBLK_VM_TOP" || finish 125
if [ "$UBLK_VM_SHELL" = 1 ]; then
	echo "ublk guest: $(uname -r), module: $UBLK_VM_MODULE, checkout: $UBLK_VM_TOP"
	setsid -c bash -l < /dev/ttyS0 > /dev/ttyS0 2>&1
	rc=$?
else
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
	# timeout(1) cannot end a command stuck in the kernel: if it is
	# still there a little after its limit, put the blocked tasks on the
	# console before the host kills the guest.
	(
		sleep $((UBLK_VM_TIMEOUT + 20))
		echo "vm-init: command unkillable after its time limit; blocked tasks:" > /dev/console
		echo w > /proc/sysrq-trigger
	) &
	watchdog=$!
	timeout -k 10 "$UBLK_VM_TIMEOUT" "${cmd[@]}" < /dev/null 2>&1 |
		tee "$out/output.log" > /dev/ttyS1
	rc=${PIPESTATUS[0]}
	kill "$watchdog" 2>/dev/null
	mark "command exited with $rc"
	if [ "$rc" = 124 ]; then
		echo "vm-init: command timed out; blocked tasks:" > /dev/console
		echo w > /proc/sysrq-trigger
	fi
fi

if [ -w "$leak" ]; then
	# kmemleak reports objects older than 5 s that a scan finds
	# unreferenced.  A second scan drops the ones that were only
	# transiently so (a pointer in flight during the first).  Each scan
	# takes seconds under emulation, so the second runs only if needed.
	sleep 5
	echo scan > "$leak"
	if [ -s "$leak" ]; then
		echo scan > "$leak"
	fi
	cat "$leak" > "$out/kmemleak.txt"
	mark "kmemleak scanned"
fi
dmesg > "$out/dmesg.txt"
finish "$rc"
