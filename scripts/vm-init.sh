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

poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	while :; do sleep 60; done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t configfs configfs /sys/kernel/config 2>/dev/null
echo 1 > /proc/sys/kernel/sysrq
hostname ublk-vm

# The output directory (read-write), the checkout (read-write) and the
# cache with kernels and modules (read-only) are mounted over their host
# paths, shortest first, so that they also appear when they live under a
# directory the guest has just covered with tmpfs.
arg() { sed -n "s/.* ublk\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
out=$(arg out)
opts=trans=virtio,version=9p2000.L,msize=262144
while read -r _ tag path; do
	mkdir -p "$path" 2>/dev/null
	o=$opts
	[ "$tag" = ublkcache ] && o=$o,ro
	if ! mount -t 9p -o "$o" "$tag" "$path"; then
		echo "vm-init: cannot mount $tag on $path" > /dev/console
		poweroff_now
	fi
done < <(for t in cache top out; do
		p=$(arg $t)
		echo "${#p} ublk$t $p"
	 done | sort -n)
cmd=()
# shellcheck source=/dev/null
. "$out/cmd.sh"

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

# Leaks from boot are not ours: start kmemleak from a clean slate.
leak=/sys/kernel/debug/kmemleak
if [ -w "$leak" ]; then
	echo scan > "$leak"
	echo clear > "$leak"
fi

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
	if [ "$rc" = 124 ]; then
		echo "vm-init: command timed out; blocked tasks:" > /dev/console
		echo w > /proc/sysrq-trigger
	fi
fi

if [ -w "$leak" ]; then
	# kmemleak only reports objects older than 5 s, seen unreferenced
	# in two scans.
	echo scan > "$leak"
	sleep 6
	echo scan > "$leak"
	cat "$leak" > "$out/kmemleak.txt"
fi
dmesg > "$out/dmesg.txt"
finish "$rc"
