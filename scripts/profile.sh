#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Where the instructions of a request go: in one guest run of the test
# kernel under instruction counting (scripts/vm.sh --icount), fio drives
# kublk's null target (or its loop target on a tmpfs file, as make bench
# does) on 6.12's stock ublk_drv and on ours in turn, in the same data
# mode, while "perf record -e cpu-clock -a" samples every
# CPU.  cpu-clock ticks in guest time, and guest time is instructions,
# so a symbol's share of the samples is its share of the instructions.
# Prints the top symbols of both drivers side by side (the kernel, kublk
# and fio alike: the request's whole path), and keeps both reports.
#
# usage: scripts/profile.sh [-m MODE] [-T TARGET] [-w WORKLOAD] [-t SECONDS] [-n TOP] [-o DIR]
#   -m MODE      copy (default), get_data, user_copy, zero_copy, auto_zc,
#                batch (BATCH_IO, copy)
#                (modes stock lacks profile ours only)
#   -T TARGET    null (default) or loop (a 256M file in the guest's /tmp)
#   -w WORKLOAD  "rw QD jobs bs" (default "randread 1 1 4k")
#   -t SECONDS   fio runtime, after 1 s ramp (default 3)
#   -n TOP       symbols shown (default 30)
#   -o DIR       output directory (default $UBLK_CACHE/profile/<date>)
#
# Not a test.  icount counts instructions, not cache misses.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kublk=$top/tools/testing/selftests/ublk/kublk

# kublk option and GET_FEATURES bit of each data mode
mode_opt() {
	case "$1" in
	copy) echo "- -" ;;
	get_data) echo "-g NEED_GET_DATA" ;;
	user_copy) echo "-u USER_COPY" ;;
	zero_copy) echo "-z SUPPORT_ZERO_COPY" ;;
	auto_zc) echo "--auto_zc AUTO_BUF_REG" ;;
	batch) echo "-b BATCH_IO" ;;
	*) return 1 ;;
	esac
}

# -- inside the guest: profile.sh --guest DIR MODE SECONDS KO WORKLOAD TARGET --
guest_profile() {
	local out=$1 mode=$2 secs=$3 ko=$4 target=$6 rw qd jobs bs label opt bit id
	local tgt=(-t null) size=1G args

	read -r rw qd jobs bs <<<"$5"
	read -r opt bit <<<"$(mode_opt "$mode")"
	if [ "$target" = loop ]; then
		# in memory, as bench.sh's: what is measured is the copying
		dd if=/dev/zero of=/tmp/profile-loop.img bs=1M count=256 status=none
		tgt=(-t loop)
		size=256M
	fi
	for label in stock ours; do
		if [ "$label" = stock ]; then
			modprobe ublk_drv
		else
			insmod "$ko"
		fi
		if [ "$bit" != - ] && ! "$kublk" features | grep -qw "$bit"; then
			echo "profile: $label does not report $bit"
			rmmod ublk_drv
			continue
		fi
		args=(add "${tgt[@]}" -q 2 -d 128)
		[ "$target" = loop ] || args+=(-s 1G)
		[ "$opt" = - ] || args+=("$opt")
		[ "$target" = loop ] && args+=(/tmp/profile-loop.img)
		id=$("$kublk" "${args[@]}")
		perf record -q -e cpu-clock -a -o "/tmp/perf-$label.data" -- \
			fio --name=profile --filename="/dev/ublkb$id" --ioengine=io_uring \
			--direct=1 --bs="$bs" --rw="$rw" --iodepth="$qd" --numjobs="$jobs" \
			--size="$size" --time_based --runtime="$secs" --ramp_time=1 \
			--norandommap --group_reporting --output-format=terse \
			--terse-version=3 > "$out/fio-$label.terse"
		perf report -q -i "/tmp/perf-$label.data" --stdio --sort sym \
			--percent-limit 0.3 2>/dev/null |
			sed -n 's/^ *\([0-9.]*\)% *\[[.k]\] *\(.*\)$/\1 \2/p' > "$out/$label.txt"
		"$kublk" del -n "$id"
		rmmod ublk_drv
	done
}

if [ "${1:-}" = --guest ]; then
	shift
	guest_profile "$@"
	exit 0
fi

mode=copy
target=null
workload="randread 1 1 4k"
secs=3
ntop=30
outdir=
while [ $# -gt 0 ]; do
	case "$1" in
	-m) mode=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-T) target=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-w) workload=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-t) secs=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-n) ntop=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-o) outdir=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-h|--help) sed -n '/^# usage/,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "profile.sh: unknown argument '$1' (try -h)" >&2; exit 2 ;;
	esac
done
mode_opt "$mode" > /dev/null || { echo "profile.sh: -m: unknown mode '$mode'" >&2; exit 2; }
[[ "$target" =~ ^(null|loop)$ ]] || { echo "profile.sh: -T: null or loop" >&2; exit 2; }
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "profile.sh: -t: seconds" >&2; exit 2; }
[[ "$ntop" =~ ^[1-9][0-9]*$ ]] || { echo "profile.sh: -n: a number" >&2; exit 2; }
[[ "$workload" =~ ^rand(read|write)\ [0-9]+\ [0-9]+\ [0-9]+k$ ]] ||
	{ echo "profile.sh: -w: \"rw QD jobs bs\", e.g. \"randread 1 1 4k\"" >&2; exit 2; }

cd "$top"
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
if [ -z "$outdir" ]; then
	mkdir -p "$cache/profile"
	outdir=$(mktemp -d "$cache/profile/$(date +%Y%m%d-%H%M%S)-XXXX")
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

scripts/deps.sh all
make -s selftests
kdir=$(scripts/kernel.sh build test)
ko=$(scripts/module.sh "$kdir")

# the benchmark's CPU model: see "ERMS" in scripts/bench.sh
export UBLK_VM_CPU=${UBLK_VM_CPU:-max,-erms}
scripts/vm.sh -k test -m none --icount -t $((secs * 20 + 600)) -o "$outdir/vm" -- \
	scripts/profile.sh --guest "$outdir/vm" "$mode" "$secs" "$ko" "$workload" "$target"

# side by side: share of the samples (= of the instructions) per symbol
for label in stock ours; do
	[ -s "$outdir/vm/$label.txt" ] && cp "$outdir/vm/$label.txt" "$outdir/"
done
# fio's IOPS, terse v3: reads in field 8, writes in field 49
iops() {
	local f=8

	[[ "$workload" == randwrite* ]] && f=49
	awk -F';' -v f="$f" 'NR == 1 { print $f }' "$outdir/vm/fio-$1.terse" 2>/dev/null
}
{
	echo "profile: $workload, $target target, mode $mode, ${secs}s, clock icount" \
		"(% of guest instructions per symbol)"
	echo "IOPS: stock $(iops stock), ours $(iops ours) (under perf)"
	printf '%-7s %-38s | %-7s %s\n' stock "" ours ""
	paste -d'|' \
		<(head -n "$ntop" "$outdir/stock.txt" 2>/dev/null |
			awk '{ printf "%6.2f%% %-38.38s\n", $1, $2 }') \
		<(head -n "$ntop" "$outdir/ours.txt" 2>/dev/null |
			awk '{ printf " %6.2f%% %s\n", $1, $2 }')
} | tee "$outdir/side-by-side.txt"
echo "profile.sh: $outdir (stock.txt, ours.txt: every symbol above 0.3 %)" >&2
