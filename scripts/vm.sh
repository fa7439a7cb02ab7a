#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a guest kernel in QEMU with the host root as its read-only root
# file system, run one command there and hand its exit status back.
#
# usage: scripts/vm.sh [options] [--] command [args...]
#        scripts/vm.sh [options] shell
#
# options:
#   -k, --kernel F     kernel flavour (test, debug) or a kernel build dir
#                      (default: test; built first when not cached), or
#                      distro: Debian's own linux-image-6.12 from an
#                      initramfs, our module built against its
#                      linux-headers package (scripts/distro.sh)
#   -m, --module M     which ublk driver the guest loads: ours (default),
#                      stock (the kernel's own ublk_drv, for comparison) or none.
#                      Never both: they are the same module name.
#       --ko PATH      our ublk_drv.ko (default: built for the kernel)
#   -t, --timeout S    the command's time limit in seconds (default 1800);
#                      a guest that outlives it by 120 s is killed
#   -o, --out DIR      directory for the logs (default: a new one under
#                      $UBLK_CACHE/runs/); printed at the end
#   -e, --env V=X      set an environment variable for the command
#       --mem MB       guest memory (default 2048, KASAN kernels 2560)
#       --cpus N       guest CPUs (default 2)
#       --icount       instructions as time (QEMU -icount shift=0,sleep=on:
#                      the guest clock advances 1 ns per instruction, the
#                      vCPUs run one after another in one host thread), so
#                      that timings repeat whatever the host is doing; for
#                      the cost of work, not for parallelism (TCG only)
#       --allow-reports
#                      do not fail the run on kernel reports in dmesg
#   -q, --quiet        do not print the log directory
#
# The command runs as root, in the checkout (shared read-write), with /tmp,
# /run and /var/tmp on tmpfs, $UBLK_VM=1, $UBLK_VM_MODULE=ours|stock|none,
# and modprobe pointed at the guest kernel's modules.  With $UBLK_VM_DUMP=1
# it may ask for a vmcore of the guest (scripts/vm-dump.py).  Its stdout and
# stderr come out on this script's stdout; the kernel console goes to
# console.log.
#
# Exit status: the command's, or
#   1    the command passed but the kernel reported BUG, WARNING, lockdep,
#        KASAN, kmemleak, hung task, soft lockup, RCU stall or oops
#   124  the guest command timed out, or the guest hung and was killed
#   125  the guest died before reporting a status (panic, boot failure)
# Logs in the output directory: console.log (kernel console), output.log
# (command output), dmesg.txt, kmemleak.txt, reports.txt, status.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}

kernel="test"
module=ours
ko=
timeout=1800
out=
mem=
cpus=2
allow_reports=0
icount=0
quiet=0
envs=()

die() { echo "vm.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	-k|--kernel) kernel=$2; shift 2 ;;
	-m|--module) module=$2; shift 2 ;;
	--ko) ko=$2; shift 2 ;;
	-t|--timeout) timeout=$2; shift 2 ;;
	-o|--out) out=$2; shift 2 ;;
	-e|--env) envs+=("$2"); shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--allow-reports) allow_reports=1; shift ;;
	--icount) icount=1; shift ;;
	-q|--quiet) quiet=1; shift ;;
	-h|--help) sed -n '/^# usage/,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "no command (try: $0 shell)"
case "$module" in ours|stock|none) ;; *) die "--module: ours, stock or none" ;; esac
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout: seconds"

shell=0
[ $# -eq 1 ] && [ "$1" = shell ] && shell=1

# The kernel: a flavour name (build when needed) or a build directory.
# modkdir: what our module builds against; initrd: for distro only.
initrd=
if [ -d "$kernel" ]; then
	kdir=$(cd "$kernel" && pwd)
	flavour=custom
elif [ "$kernel" = distro ]; then
	flavour=distro
	kdir=$("$top/scripts/distro.sh" build) || die "no distro kernel"
	initrd=$kdir/initrd.cpio.gz
else
	flavour=$kernel
	kdir=$("$top/scripts/kernel.sh" build "$flavour")
fi
bzimage=$kdir/arch/x86/boot/bzImage
[ -f "$bzimage" ] || die "no bzImage in $kdir"
modkdir=$kdir
[ "$flavour" = distro ] && modkdir=$(realpath "$kdir/build")
release=$(cat "$kdir/kernelrelease" 2>/dev/null || make -s -C "$kdir" kernelrelease)
if [ -z "$mem" ]; then
	mem=2048
	grep -q '^CONFIG_KASAN=y' "$kdir/.config" && mem=2560
fi

if [ "$module" = ours ]; then
	if [ -z "$ko" ]; then
		ko=$("$top/scripts/module.sh" "$kdir" "$modkdir") ||
			die "building our module for $modkdir failed"
	fi
	[ -f "$ko" ] || die "our module $ko is missing"
	ko=$(realpath "$ko")
fi

if [ -z "$out" ]; then
	mkdir -p "$cache/runs"
	out=$(mktemp -d "$cache/runs/$(date +%Y%m%d-%H%M%S)-XXXX")
else
	mkdir -p "$out"
	rm -f "$out"/{console.log,output.log,dmesg.txt,kmemleak.txt,reports.txt,status,cmd.sh} \
		"$out"/dump.{want,done}
fi
out=$(cd "$out" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
case "$top$out$cache" in
*[[:space:]]*) die "paths with white space cannot be passed to the guest" ;;
esac

# What the guest's init reads (over the read-only root) and runs.
{
	echo "# generated by scripts/vm.sh"
	printf 'export UBLK_VM=1 UBLK_VM_MODULE=%q UBLK_VM_KDIR=%q\n' "$module" "$kdir"
	printf 'export UBLK_VM_TOP=%q UBLK_VM_OUT=%q\n' "$top" "$out"
	printf 'export UBLK_VM_KO=%q\n' "$ko"
	printf 'export UBLK_VM_TIMEOUT=%q UBLK_VM_SHELL=%q\n' "$timeout" "$shell"
	echo 'export UBLK_VM_DUMP=1'
	for e in "${envs[@]}"; do
		printf 'export %q\n' "$e"
	done
	printf 'cmd=('
	printf '%q ' "$@"
	printf ')\n'
} > "$out/cmd.sh"

accel=tcg
if [ "${UBLK_VM_ACCEL:-auto}" = kvm ] ||
   { [ "${UBLK_VM_ACCEL:-auto}" = auto ] && [ -w /dev/kvm ] && [ -f "$cache/kvm-ok" ]; }; then
	accel=kvm
fi
# UBLK_VM_CPU: another TCG CPU model, e.g. "max,-erms" (no rep movsb in
# the kernel's copies, which icount counts per byte)
cpu=${UBLK_VM_CPU:-max}
[ "$accel" = tcg ] || cpu=host

cmdline="console=ttyS0,115200 root=ublkroot rootfstype=9p"
cmdline+=" rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro"
cmdline+=" init=$top/scripts/vm-init.sh ublk_out=$out ublk_top=$top ublk_cache=$cache"
cmdline+=" panic=-1 oops=panic loglevel=7 printk.devkmsg=on"
cmdline+=" tsc=reliable no_timer_check"

# shellcheck disable=SC2054 # the commas are QEMU's, not array separators
qemu=(qemu-system-x86_64 -machine q35,accel="$accel" -cpu "$cpu"
      -smp "$cpus" -m "$mem" -no-reboot -display none -monitor none
      -vga none -nic none
      -kernel "$bzimage" -append "$cmdline"
      -fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
      -device virtio-9p-pci,fsdev=root,mount_tag=ublkroot
      -fsdev "local,id=out,path=$out,security_model=none,multidevs=remap"
      -device virtio-9p-pci,fsdev=out,mount_tag=ublkout
      -fsdev "local,id=top,path=$top,security_model=none,multidevs=remap"
      -device virtio-9p-pci,fsdev=top,mount_tag=ublktop
      -fsdev "local,id=cache,path=$cache,security_model=none,readonly=on,multidevs=remap"
      -device virtio-9p-pci,fsdev=cache,mount_tag=ublkcache
      -device virtio-rng-pci)
# sleep=on: an idle guest skips ahead in virtual time (sleep=off warps the
# clock on 9p waits here and times the run out)
if [ "$icount" = 1 ]; then
	[ "$accel" = tcg ] || die "--icount needs TCG (UBLK_VM_ACCEL=tcg)"
	qemu+=(-icount "shift=0,sleep=on")
fi
[ -z "$initrd" ] || qemu+=(-initrd "$initrd")

# A vmcore on the guest's request ($UBLK_VM_DUMP, _vm_dump in the
# selftests' test_common.sh): scripts/vm-dump.py has QEMU write the
# guest's memory over QMP, on a socket of our own (a socket's path must
# be short), and -device vmcoreinfo is where the guest kernel
# (CONFIG_FW_CFG_SYSFS) leaves the address of its VMCOREINFO note,
# which drgn needs to read the dump.
qmpdir=$(mktemp -d /tmp/ublk-qmp.XXXXXX)
dump_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -z "$dump_pid" ] || kill "$dump_pid" 2>/dev/null || true
	rm -rf "$qmpdir"
}
trap cleanup EXIT
qemu+=(-qmp "unix:$qmpdir/qmp,server=on,wait=off" -device vmcoreinfo)
python3 "$top/scripts/vm-dump.py" "$qmpdir/qmp" "$out" &
dump_pid=$!

if [ "$shell" = 1 ]; then
	# Interactive: console and shell share this terminal.
	echo "vm.sh: $flavour kernel $release, module $module; 'exit' or Ctrl-D leaves" >&2
	"${qemu[@]}" -serial mon:stdio
	exit 0
fi

# ttyS0: kernel console into console.log; ttyS1: the command's output.
# The guest enforces the command's limit itself; this one, 120 s later,
# is for a guest that hangs.
#
# QEMU 7.2's TCG has been seen to crash (SIGSEGV) while the guest boots.
# That says nothing about the code under test, so a run whose QEMU died
# of a signal before the guest started the command is repeated, once.
killed=0
for attempt in 1 2; do
	qrc=0
	timeout -s KILL $((timeout + 120)) "${qemu[@]}" -serial "file:$out/console.log" \
		-serial stdio </dev/null || qrc=$?
	[ "$qrc" = 137 ] && killed=1
	if [ "$attempt" = 1 ] && [ "$qrc" -gt 128 ] && [ "$qrc" != 137 ] &&
	   ! grep -q 'vm-init: file systems mounted' "$out/console.log" 2>/dev/null; then
		echo "vm.sh: QEMU died of signal $((qrc - 128)) while the guest booted; booting again" >&2
		mv "$out/console.log" "$out/console.qemu-crash.log"
		continue
	fi
	break
done

# Kernel reports: anything here fails the run.
report_re='(BUG:|WARNING:|kernel BUG at|Oops|general protection fault|Kernel panic|'
report_re+='INFO: task .* blocked for more than|soft lockup|hard LOCKUP|'
report_re+='rcu_.*detected stalls|self-detected stall|INFO: trying to register non-static key|'
report_re+='DEBUG_LOCKS_WARN_ON|UBSAN:|list_(add|del) corruption|unreferenced object|'
report_re+='possible circular locking|possible recursive locking|inconsistent lock state)'
: > "$out/reports.txt"
for f in console.log dmesg.txt kmemleak.txt; do
	[ -f "$out/$f" ] || continue
	grep -E -- "$report_re" "$out/$f" | sed "s|^|$f: |" >> "$out/reports.txt" || true
done

status=
[ -f "$out/status" ] && status=$(tr -dc '0-9' < "$out/status")

rc=0
if [ "$killed" = 1 ]; then
	echo "vm.sh: guest still running $((timeout + 120))s after start and killed; last console lines:" >&2
	tail -n 30 "$out/console.log" >&2 || true
	rc=124
elif [ -z "$status" ]; then
	echo "vm.sh: guest stopped without a status (panic or boot failure); last console lines:" >&2
	tail -n 30 "$out/console.log" >&2 || true
	rc=125
else
	rc=$status
	[ "$rc" = 124 ] && echo "vm.sh: command timed out after ${timeout}s (blocked tasks in console.log)" >&2
fi

if [ -s "$out/reports.txt" ]; then
	echo "vm.sh: kernel reports in the guest's log:" >&2
	head -n 20 "$out/reports.txt" >&2
	if [ "$allow_reports" = 0 ] && [ "$rc" = 0 ]; then
		rc=1
	fi
fi
[ "$quiet" = 1 ] || echo "vm.sh: logs in $out (exit $rc)" >&2
exit "$rc"
