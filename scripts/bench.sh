#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark (not a test): fio io_uring randread and randwrite, 4k at QD1
# and QD128 with 1 and 2 jobs, 64k and 512k at QD128, in one guest run of
# the test kernel, on
#
#   null_blk                    (memory-less, no server: the ceiling)
#   6.12's stock ublk_drv       kublk null target, in each data mode the
#                               driver reports: copy, NEED_GET_DATA,
#                               USER_COPY, zero copy (-z), AUTO_BUF_REG
#   our ublk_drv                the same, when drivers/block/ublk exists
#
# and, where the data moves through a server, kublk's loop target on a
# tmpfs file: 128k and 512k at QD16 in the modes copy, USER_COPY, zero
# copy and AUTO_BUF_REG.
#
# The guest runs under instruction counting by default (BENCH_CLOCK=icount,
# QEMU -icount shift=0,sleep=on, see scripts/vm.sh --icount): its clock is
# its instruction count, so IOPS are requests per guest instruction, the
# same from run to run whatever else the host does (one round is enough);
# it counts instructions, not cache misses or memory bandwidth, and runs
# the vCPUs one after another, so 2-job rows measure total cost, not
# scaling.  BENCH_CLOCK=real runs plain TCG on the host's clock (3 rounds
# by default: those spread by tens of percent here).
#
# Every combination runs REPS times, the rounds interleaved (each round
# visits every driver, every other round in reverse order) so that drift
# of the machine hits all alike.  The two ublk drivers share a module
# name, so the guest (booted with -m none) loads and unloads them in
# turn.  Results: median IOPS per combination and the ratios
# ours/stock, ours/null_blk and stock/null_blk, as a markdown table
# (printed), a CSV (with the spread of the rounds, (max - min) / median)
# and a PNG plot in the output directory.
#
# usage: scripts/bench.sh [-r REPS] [-t SECONDS] [-o DIR] [--no-ours]
#   -r REPS      rounds (default 1 with icount, 3 with the real clock)
#   -t SECONDS   fio runtime per run, after 1 s ramp (default 2 with
#                icount, 3 with the real clock)
#   -o DIR       output directory (default $UBLK_CACHE/bench/<date>)
#   --no-ours    skip our driver even if it builds
#
# Under emulation (QEMU TCG) absolute IOPS mean little: compare ratios.
# BENCH_ONLY="mode ..." limits the ublk runs to those data modes.
#
# BENCH_SET=iopoll measures polled queues (kublk --iopoll, UBLK_F_IOPOLL)
# instead, on the real clock only (4 rounds by default): under icount the
# vCPUs run one after another, so a CPU that polls would be charged with
# everybody's time.  4k randread at QD1 and QD128 on kublk's null target
# (stock, ours, ours --iopoll, ours -b, ours -b --iopoll) and its loop
# target over a polled null_blk disk (memory-less, two poll queues; the
# same five), and
# that disk read directly with polling (fio --hipri), the ceiling of the
# loop rows.  Results: iopoll.md (medians, spread, ratios) and raw.csv.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kublk=$top/tools/testing/selftests/ublk/kublk
# rw, QD, jobs, block size
workloads=("randread 1 1 4k" "randread 1 2 4k" "randread 32 1 4k" "randread 128 1 4k"
	   "randread 128 2 4k"
	   "randwrite 1 1 4k" "randwrite 1 2 4k" "randwrite 32 1 4k" "randwrite 128 1 4k"
	   "randwrite 128 2 4k"
	   "randread 128 1 64k" "randwrite 128 1 64k"
	   "randread 128 1 512k" "randwrite 128 1 512k")
loop_workloads=("randread 16 1 128k" "randwrite 16 1 128k"
		"randread 16 1 512k" "randwrite 16 1 512k")
# data modes of kublk: name, the GET_FEATURES bits it needs (+ between
# them), kublk options
modes=("copy - -" "get_data NEED_GET_DATA -g" "user_copy USER_COPY -u"
       "zero_copy SUPPORT_ZERO_COPY -z" "auto_zc AUTO_BUF_REG --auto_zc"
       "batch BATCH_IO -b" "batch_auto_zc BATCH_IO+AUTO_BUF_REG -b --auto_zc")
# the modes measured on the loop target
loop_modes="copy user_copy zero_copy auto_zc"
loop_size=256M

# ---- inside the guest: scripts/bench.sh --guest DIR REPS SECONDS [KO] ----

# extra fio options of run_matrix (BENCH_SET=iopoll: --hipri for null_blk)
fio_extra=()

# run_matrix LABEL TARGET MODE DEV ROUND WORKLOAD...: each workload once
# on DEV
run_matrix() {
	local label=$1 target=$2 mode=$3 dev=$4 round=$5 w rw qd jobs bs iops field
	local size

	shift 5
	size=$(blockdev --getsize64 "$dev")
	for w in "$@"; do
		read -r rw qd jobs bs <<<"$w"
		if ! fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
			--bs="$bs" --rw="$rw" --iodepth="$qd" --numjobs="$jobs" --size="$size" \
			--time_based --runtime="$secs" --ramp_time=1 --group_reporting \
			--norandommap --output-format=terse --terse-version=3 "${fio_extra[@]}" \
			> /tmp/bench.terse 2> /tmp/bench.err; then
			echo "bench: fio failed on $label $target $mode $rw $bs qd$qd jobs$jobs:" >&2
			cat /tmp/bench.err >&2
			return 1
		fi
		# terse v3: read IOPS in field 8, write IOPS in field 49
		field=8
		[ "$rw" = randwrite ] && field=49
		iops=$(awk -F';' -v f="$field" 'NR == 1 { print $f }' /tmp/bench.terse)
		if ! [[ "$iops" =~ ^[0-9]+$ ]] || [ "$iops" = 0 ]; then
			echo "bench: no IOPS from fio on $label $target $mode $rw $bs qd$qd jobs$jobs" >&2
			cat /tmp/bench.terse /tmp/bench.err >&2
			return 1
		fi
		echo "$label,$target,$mode,$rw,$bs,$qd,$jobs,$round,$iops" >> "$out/raw.csv"
		printf '  %-8s %-4s %-9s %-9s %4s qd%-3s jobs%s %8s IOPS\n' \
			"$label" "$target" "$mode" "$rw" "$bs" "$qd" "$jobs" "$iops"
	done
}

# ublk_round LABEL ROUND: one round on the loaded ublk_drv, in each data
# mode it reports (GET_FEATURES); a reported mode that fails is an error
ublk_round() {
	local label=$1 round=$2 feats m name bit opt id b missing
	local args o

	feats=$("$kublk" features)
	if [ "$round" = 1 ]; then
		echo "$label: $(awk 'NR > 1 { print $1 }' <<<"$feats" | paste -sd ' ')" \
			>> "$out/features.txt"
	fi
	for m in "${modes[@]}"; do
		read -r name bit opt <<<"$m"
		if [ -n "${BENCH_ONLY:-}" ] && ! grep -qw "$name" <<<"$BENCH_ONLY"; then
			continue
		fi
		missing=
		for b in ${bit//+/ }; do
			[ "$b" != - ] && ! grep -qw "$b" <<<"$feats" && missing=$b
		done
		if [ -n "$missing" ]; then
			if [ "$round" = 1 ]; then
				echo "  $label: $missing not reported, no $name runs"
			fi
			continue
		fi
		o=()
		[ "$opt" != - ] && read -ra o <<<"$opt"
		args=(add -t null -q 2 -d 128 -s 1G "${o[@]}")
		id=$("$kublk" "${args[@]}")
		run_matrix "$label" null "$name" "/dev/ublkb$id" "$round" "${workloads[@]}"
		"$kublk" del -n "$id"
		grep -qw "$name" <<<"$loop_modes" || continue
		args=(add -t loop -q 2 -d 128 "${o[@]}")
		id=$("$kublk" "${args[@]}" /tmp/bench-loop.img)
		run_matrix "$label" loop "$name" "/dev/ublkb$id" "$round" "${loop_workloads[@]}"
		"$kublk" del -n "$id"
	done
}

# driver_round LABEL ROUND: load the driver, one round on it, unload it
driver_round() {
	local label=$1 round=$2

	case "$label" in
	null_blk)
		run_matrix null_blk null - /dev/nullb0 "$round" "${workloads[@]}"
		return
		;;
	stock)
		modprobe ublk_drv
		;;
	ours)
		insmod "$ko"
		;;
	esac
	ublk_round "$label" "$round"
	rmmod ublk_drv
}

guest_main() {
	local round drivers d t0

	out=$1 reps=$2 secs=$3 ko=${4:-}
	: > "$out/raw.csv"
	: > "$out/features.txt"
	echo "$(uname -r) $(nproc)" > "$out/guest.txt"
	echo "bench: guest $(uname -r), $(nproc) CPUs, $reps rounds of ${secs}s runs"
	# Memory-less, no interrupts: the block layer's own cost, the ceiling
	# a ublk device can approach.  As many queues as the ublk devices.
	modprobe null_blk queue_mode=2 submit_queues=2 nr_devices=1 irqmode=0 \
		hw_queue_depth=128 gb=1
	# the loop target's backing file, in memory: what is measured is the
	# path through driver and server, not a disk
	dd if=/dev/zero of=/tmp/bench-loop.img bs=1M count="${loop_size%M}" status=none
	drivers=(null_blk stock)
	[ -n "$ko" ] && drivers+=(ours)
	t0=$SECONDS
	for round in $(seq 1 "$reps"); do
		echo "bench: round $round ($((SECONDS - t0)) s)"
		# Interleaved rounds, and every other round in reverse order, so
		# that neither drift nor the position in a round favours a driver.
		if [ $((round % 2)) = 0 ]; then
			for ((d = ${#drivers[@]} - 1; d >= 0; d--)); do
				driver_round "${drivers[d]}" "$round"
			done
		else
			for d in "${drivers[@]}"; do
				driver_round "$d" "$round"
			done
		fi
	done
	rmmod null_blk
	echo "bench: done in $((SECONDS - t0)) s"
}

# BENCH_SET=iopoll: the rows of polled queues (see the top)
iopoll_workloads=("randread 1 1 4k" "randread 128 1 4k")

# iopoll_ublk LABEL ROUND: null and loop over nullb0, default and
# (ours) --iopoll, -b and -b --iopoll
iopoll_ublk() {
	local label=$1 round=$2 m id
	local -a o

	for m in copy iopoll batch batch_iopoll; do
		case $m in
		copy) o=() ;;
		iopoll) o=(--iopoll) ;;
		batch) o=(-b) ;;
		batch_iopoll) o=(-b --iopoll) ;;
		esac
		[ "$m" = copy ] || [ "$label" = ours ] || continue
		id=$("$kublk" add -t null -q 2 -d 128 -s 1G "${o[@]}")
		run_matrix "$label" null "$m" "/dev/ublkb$id" "$round" "${iopoll_workloads[@]}"
		"$kublk" del -n "$id"
		id=$("$kublk" add -t loop -q 2 -d 128 "${o[@]}" /dev/nullb0)
		run_matrix "$label" loop_nullb "$m" "/dev/ublkb$id" "$round" \
			"${iopoll_workloads[@]}"
		"$kublk" del -n "$id"
	done
}

iopoll_main() {
	local round d t0
	local -a drivers

	out=$1 reps=$2 secs=$3 ko=${4:-}
	: > "$out/raw.csv"
	echo "$(uname -r) $(nproc)" > "$out/guest.txt"
	echo "bench: iopoll set, guest $(uname -r), $(nproc) CPUs, $reps rounds of ${secs}s runs"
	modprobe null_blk queue_mode=2 submit_queues=2 poll_queues=2 nr_devices=1 \
		irqmode=0 hw_queue_depth=128 gb=1
	drivers=(null_blk stock)
	[ -n "$ko" ] && drivers+=(ours)
	t0=$SECONDS
	for round in $(seq 1 "$reps"); do
		echo "bench: round $round ($((SECONDS - t0)) s)"
		for ((d = 0; d < ${#drivers[@]}; d++)); do
			# every other round in reverse order, as guest_main
			local i=$d

			[ $((round % 2)) = 0 ] && i=$((${#drivers[@]} - 1 - d))
			case "${drivers[i]}" in
			null_blk)
				fio_extra=(--hipri)
				run_matrix null_blk nullb polled /dev/nullb0 "$round" \
					"${iopoll_workloads[@]}"
				fio_extra=()
				;;
			stock)
				modprobe ublk_drv
				iopoll_ublk stock "$round"
				rmmod ublk_drv
				;;
			ours)
				insmod "$ko"
				iopoll_ublk ours "$round"
				rmmod ublk_drv
				;;
			esac
		done
	done
	rmmod null_blk
	echo "bench: done in $((SECONDS - t0)) s"
}

if [ "${1:-}" = --guest ]; then
	shift
	guest_main "$@"
	exit 0
fi
if [ "${1:-}" = --guest-iopoll ]; then
	shift
	iopoll_main "$@"
	exit 0
fi

# ---- on the host ----

set=${BENCH_SET:-all}
case "$set" in
all) clock=${BENCH_CLOCK:-icount} ;;
iopoll)
	clock=${BENCH_CLOCK:-real}
	if [ "$clock" != real ]; then
		echo "bench.sh: BENCH_SET=iopoll runs on the real clock only (a polling vCPU under icount is charged with everybody's time)" >&2
		exit 2
	fi
	;;
*) echo "bench.sh: BENCH_SET is all or iopoll" >&2; exit 2 ;;
esac
case "$clock" in
icount) reps=1 secs=2 ;;
real) reps=3 secs=3 ;;
*) echo "bench.sh: BENCH_CLOCK is icount or real" >&2; exit 2 ;;
esac
# polled rows spread more: one more round
[ "$set" = iopoll ] && reps=4
outdir=
ours=1
while [ $# -gt 0 ]; do
	case "$1" in
	-r) reps=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-t) secs=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	-o) outdir=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
	--no-ours) ours=0; shift ;;
	-h|--help) sed -n '/^# usage/,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (try -h)" >&2; exit 2 ;;
	esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: -r: a number of rounds" >&2; exit 2; }
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: -t: seconds" >&2; exit 2; }

cd "$top"
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
if [ -z "$outdir" ]; then
	mkdir -p "$cache/bench"
	outdir=$(mktemp -d "$cache/bench/$(date +%Y%m%d-%H%M%S)-XXXX")
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

scripts/deps.sh all
make -s selftests
kdir=$(scripts/kernel.sh build test)
ko=
if [ "$ours" = 1 ] && [ -f drivers/block/ublk/Makefile ]; then
	# the same build directory vm.sh uses for this checkout and kernel
	ko=$(scripts/module.sh "$kdir")
elif [ "$ours" = 1 ]; then
	echo "bench.sh: no drivers/block/ublk here: null_blk and the stock driver only" >&2
fi

# Runs per round: the null target's 12 workloads on null_blk and in each
# data mode of each ublk driver (3 stock, 5 ours), the loop target's 4 in
# 2 stock and 4 of our modes.  Each costs its runtime, 1 s of ramp and
# about 2 s of fio start and exit and of kublk add/del (guest time); under
# icount the guest runs several times slower than the host's clock, and
# the limit leaves room for that.
nruns=$((12 * 4 + 4 * 2))
[ -n "$ko" ] && nruns=$((nruns + 12 * 5 + 4 * 4))
guest_cmd=--guest
if [ "$set" = iopoll ]; then
	# null_blk 2, stock 2 targets x 2, ours 2 modes x 2 targets x 2
	nruns=6
	[ -n "$ko" ] && nruns=$((nruns + 8))
	guest_cmd=--guest-iopoll
fi
slow=2
[ "$clock" = icount ] && slow=10
limit=$((reps * nruns * (secs + 4) * slow + 300))
vmopts=()
[ "$clock" = icount ] && vmopts+=(--icount)
# the guest sees only what vm.sh hands it
[ -n "${BENCH_ONLY:-}" ] && vmopts+=(-e "BENCH_ONLY=$BENCH_ONLY")
{
	echo "bench.sh: $reps round(s) of $nruns fio runs of ${secs}s (+1 s ramp)," \
		"clock $clock; results in $outdir"
	echo "bench.sh: host load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2
echo "$clock" > "$outdir/clock.txt"
# The guest's CPU model (scripts/vm.sh: UBLK_VM_CPU) decides the kernel's
# copy routines, which icount weighs very differently.  TCG runs a rep
# movsb byte by byte, and icount charges each byte as an instruction; on
# a model with ERMS the kernel's user copies (rep_movs_alternative:
# copy_to_user(), copy_page_to_iter()) use rep movsb, memcpy() keeps its
# loop of 8-byte moves.  A driver that copies a request's data through
# user access is then charged several times the instructions of one that
# pins the pages and memcpy()s them, for the same bytes, although a real
# CPU with ERMS runs the former at least as fast.  Without ERMS both move
# 8 bytes an instruction (rep movsq, the movq loop), so under icount the
# guest has no ERMS unless UBLK_VM_CPU says otherwise.
if [ "$clock" = icount ]; then
	export UBLK_VM_CPU=${UBLK_VM_CPU:-max,-erms}
fi
echo "${UBLK_VM_CPU:-max}" > "$outdir/cpu.txt"
date -u '+%Y-%m-%d %H:%M UTC' > "$outdir/date.txt"
cut -d' ' -f1-3 /proc/loadavg > "$outdir/load.txt"
t0=$SECONDS
rc=0
scripts/vm.sh -k test -m none -t "$limit" -o "$outdir/vm" "${vmopts[@]}" -- \
	scripts/bench.sh "$guest_cmd" "$outdir/vm" "$reps" "$secs" ${ko:+"$ko"} || rc=$?
echo "bench.sh: guest run took $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s" >&2
# A run that failed late still measured something: report what it did,
# marked as incomplete, and fail.
if [ "$rc" != 0 ]; then
	echo "bench.sh: the guest run failed (exit $rc)" >&2
	[ -s "$outdir/vm/raw.csv" ] || exit "$rc"
	echo "bench.sh: results of the $(wc -l < "$outdir/vm/raw.csv") of" \
		"$((reps * nruns)) runs that completed" >&2
fi
if [ "$set" = iopoll ]; then
	cp "$outdir/vm/raw.csv" "$outdir/vm/guest.txt" "$outdir/"
	scripts/bench-iopoll.py "$outdir" > "$outdir/iopoll.md"
	cat "$outdir/iopoll.md"
	exit "$rc"
fi
cp "$outdir/vm/raw.csv" "$outdir/vm/features.txt" "$outdir/vm/guest.txt" "$outdir/"

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" "$top/scripts/bench-report.py" "$outdir" "$reps" "$secs" "$(nproc)" "$rc" "$((reps * nruns))"
echo "bench.sh: $outdir/bench.md, bench.csv, bench.png (raw runs: raw.csv)" >&2
exit "$rc"
