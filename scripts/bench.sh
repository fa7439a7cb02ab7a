#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark (not a test): fio io_uring 4k randread and randwrite at QD1
# and QD128 with 1 and 2 jobs, in one guest run of the test kernel, on
#
#   null_blk                    (memory-less, no server: the ceiling)
#   6.12's stock ublk_drv       kublk null target, in each data mode the
#                               driver reports: copy, NEED_GET_DATA,
#                               USER_COPY
#   our ublk_drv                the same, when drivers/block/ublk exists
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
#   -r REPS      rounds (default 3)
#   -t SECONDS   fio runtime per run, after 1 s ramp (default 3)
#   -o DIR       output directory (default $UBLK_CACHE/bench/<date>)
#   --no-ours    skip our driver even if it builds
#
# Under emulation (QEMU TCG) absolute IOPS mean little: compare ratios.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kublk=$top/tools/testing/selftests/ublk/kublk
workloads=("randread 1 1" "randread 1 2" "randread 128 1" "randread 128 2"
	   "randwrite 1 1" "randwrite 1 2" "randwrite 128 1" "randwrite 128 2")
# data modes of kublk: name, the GET_FEATURES bit it needs, kublk option
modes=("copy - -" "get_data NEED_GET_DATA -g" "user_copy USER_COPY -u")

# ---- inside the guest: scripts/bench.sh --guest DIR REPS SECONDS [KO] ----

# run_matrix LABEL MODE DEV ROUND: every workload once on DEV
run_matrix() {
	local label=$1 mode=$2 dev=$3 round=$4 w rw qd jobs iops field

	for w in "${workloads[@]}"; do
		read -r rw qd jobs <<<"$w"
		if ! fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
			--bs=4k --rw="$rw" --iodepth="$qd" --numjobs="$jobs" --size=1G \
			--time_based --runtime="$secs" --ramp_time=1 --group_reporting \
			--norandommap --output-format=terse --terse-version=3 \
			> /tmp/bench.terse 2> /tmp/bench.err; then
			echo "bench: fio failed on $label $mode $rw qd$qd jobs$jobs:" >&2
			cat /tmp/bench.err >&2
			return 1
		fi
		# terse v3: read IOPS in field 8, write IOPS in field 49
		field=8
		[ "$rw" = randwrite ] && field=49
		iops=$(awk -F';' -v f="$field" 'NR == 1 { print $f }' /tmp/bench.terse)
		if ! [[ "$iops" =~ ^[0-9]+$ ]] || [ "$iops" = 0 ]; then
			echo "bench: no IOPS from fio on $label $mode $rw qd$qd jobs$jobs" >&2
			cat /tmp/bench.terse /tmp/bench.err >&2
			return 1
		fi
		echo "$label,$mode,$rw,$qd,$jobs,$round,$iops" >> "$out/raw.csv"
		printf '  %-8s %-9s %-9s qd%-3s jobs%s %8s IOPS\n' \
			"$label" "$mode" "$rw" "$qd" "$jobs" "$iops"
	done
}

# ublk_round LABEL ROUND: one round on the loaded ublk_drv, in each data
# mode it reports (GET_FEATURES); a reported mode that fails is an error
ublk_round() {
	local label=$1 round=$2 feats m name bit opt id
	local args

	feats=$("$kublk" features)
	if [ "$round" = 1 ]; then
		echo "$label: $(awk 'NR > 1 { print $1 }' <<<"$feats" | paste -sd ' ')" \
			>> "$out/features.txt"
	fi
	for m in "${modes[@]}"; do
		read -r name bit opt <<<"$m"
		if [ "$bit" != - ] && ! grep -qw "$bit" <<<"$feats"; then
			if [ "$round" = 1 ]; then
				echo "  $label: $bit not reported, no $name runs"
			fi
			continue
		fi
		args=(add -t null -q 2 -d 128 -s 1G)
		[ "$opt" != - ] && args+=("$opt")
		id=$("$kublk" "${args[@]}")
		run_matrix "$label" "$name" "/dev/ublkb$id" "$round"
		"$kublk" del -n "$id"
	done
}

# driver_round LABEL ROUND: load the driver, one round on it, unload it
driver_round() {
	local label=$1 round=$2

	case "$label" in
	null_blk)
		run_matrix null_blk - /dev/nullb0 "$round"
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

if [ "${1:-}" = --guest ]; then
	shift
	guest_main "$@"
	exit 0
fi

# ---- on the host ----

reps=3
secs=3
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
	moddir=$cache/modbuild/$(basename "$kdir")-$(echo "$top $kdir" | sha256sum | cut -c1-8)
	make -s KDIR="$kdir" MODDIR="$moddir" module >&2
	ko=$(realpath "$(make -s MODDIR="$moddir" module-path)")
elif [ "$ours" = 1 ]; then
	echo "bench.sh: no drivers/block/ublk here: null_blk and the stock driver only" >&2
fi

# Runs per round: 8 workloads on null_blk and in 3 data modes per ublk
# driver.  Each costs its runtime, 1 s of ramp and, under TCG, about 2 s
# of fio start and exit and of kublk add/del; the limit leaves room for
# twice that.
nmodes=3
[ -n "$ko" ] && nmodes=6
nruns=$((8 * (1 + nmodes)))
limit=$((reps * nruns * (secs + 4) * 2 + 300))
{
	echo "bench.sh: $reps rounds of $nruns fio runs of ${secs}s (+1 s ramp), about" \
		"$((reps * nruns * (secs + 3) / 60 + 1)) min; results in $outdir"
	echo "bench.sh: host load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2
date -u '+%Y-%m-%d %H:%M UTC' > "$outdir/date.txt"
cut -d' ' -f1-3 /proc/loadavg > "$outdir/load.txt"
t0=$SECONDS
rc=0
scripts/vm.sh -k test -m none -t "$limit" -o "$outdir/vm" -- \
	scripts/bench.sh --guest "$outdir/vm" "$reps" "$secs" ${ko:+"$ko"} || rc=$?
echo "bench.sh: guest run took $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s" >&2
# A run that failed late still measured something: report what it did,
# marked as incomplete, and fail.
if [ "$rc" != 0 ]; then
	echo "bench.sh: the guest run failed (exit $rc)" >&2
	[ -s "$outdir/vm/raw.csv" ] || exit "$rc"
	echo "bench.sh: results of the $(wc -l < "$outdir/vm/raw.csv") of" \
		"$((reps * nruns)) runs that completed" >&2
fi
cp "$outdir/vm/raw.csv" "$outdir/vm/features.txt" "$outdir/vm/guest.txt" "$outdir/"

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" - "$outdir" "$reps" "$secs" "$(nproc)" "$rc" "$((reps * nruns))" <<'EOF'
import csv, statistics, sys
outdir, reps, secs, ncpu, rc, nruns = sys.argv[1:7]
runs = {}
with open(outdir + "/raw.csv") as f:
    for label, mode, rw, qd, jobs, rnd, iops in csv.reader(f):
        runs.setdefault((label, mode, rw, int(qd), int(jobs)), []).append(float(iops))
med = {k: statistics.median(v) for k, v in runs.items()}
workloads = sorted({(k[2], k[3], k[4]) for k in med})
modes = [m for m in ("copy", "get_data", "user_copy")
         if any(k[1] == m for k in med)]
release = open(outdir + "/guest.txt").read().split()[0]
date = open(outdir + "/date.txt").read().strip()
load = open(outdir + "/load.txt").read().strip()

def key(label, mode, w):
    # null_blk has no data modes: one series serves every mode
    return (label, "-" if label == "null_blk" else mode) + w

def get(label, mode, w):
    return med.get(key(label, mode, w))

def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "n/a"

def num(v):
    return "%.0f" % v if v else "n/a"

def spread(label, mode, w):
    # (max - min) / median of the rounds: how far to trust a median
    v = runs.get(key(label, mode, w))
    return "%.2f" % ((max(v) - min(v)) / statistics.median(v)) if v else "n/a"

rounds = "%s round%s" % (reps, "" if reps == "1" else "s")

rows, spreads = [], []
for w in workloads:
    for m in modes:
        nb, st, ou = get("null_blk", m, w), get("stock", m, w), get("ours", m, w)
        rows.append([w[0], w[1], w[2], m, num(nb), num(st), num(ou),
                     ratio(ou, st), ratio(ou, nb), ratio(st, nb)])
        spreads.append([spread(l, m, w) for l in ("null_blk", "stock", "ours")])
head = ["workload", "QD", "jobs", "mode", "null_blk", "stock", "ours",
        "ours/stock", "ours/null_blk", "stock/null_blk"]
with open(outdir + "/bench.csv", "w", newline="") as f:
    wr = csv.writer(f)
    wr.writerow(head + ["null_blk_spread", "stock_spread", "ours_spread"])
    for r, sp in zip(rows, spreads):
        wr.writerow(r + sp)
md = ["| " + " | ".join(head) + " |",
      "|" + "---|" * 4 + "---:|" * (len(head) - 4)]
md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
md.append("")
md.append("Median IOPS of %s of %s s fio runs (4k, io_uring, O_DIRECT, "
          "1 s ramp); null_blk and kublk's null target with 2 queues of depth "
          "128; modes: copy (the driver copies to the server's buffers), "
          "get_data (NEED_GET_DATA), user_copy (USER_COPY; the null target "
          "moves no data).  %s, guest kernel %s on %s host CPUs under QEMU "
          "TCG, host load average %s at the start."
          % (rounds, secs, date, release, ncpu, load))
if rc != "0":
    md.append("")
    md.append("INCOMPLETE: the guest run failed (exit %s) after %d of %s runs."
              % (rc, sum(len(v) for v in runs.values()), nruns))
with open(outdir + "/bench.md", "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(no matplotlib: no plot)", file=sys.stderr)
    sys.exit(0)
labels = ["%s\nQD%d, %d job%s" % (w[0], w[1], w[2], "s" if w[2] > 1 else "")
          for w in workloads]
xs = range(len(workloads))
fig, (top, bot) = plt.subplots(2, 1, figsize=(14, 9), sharex=True,
                               gridspec_kw={"height_ratios": [3, 2]})
series = [("null_blk", None)] + [(l, m) for l in ("stock", "ours") for m in modes]
series = [s for s in series if any(get(s[0], s[1], w) for w in workloads)]
colors = {"null_blk": ["0.4"], "stock": ["#9ecae1", "#4292c6", "#08519c"],
          "ours": ["#fdae6b", "#f16913", "#a63603"]}
width = 0.8 / len(series)
for i, (label, mode) in enumerate(series):
    c = colors[label][0 if mode is None else modes.index(mode) % 3]
    top.bar([j - 0.4 + (i + 0.5) * width for j in xs],
            [get(label, mode, w) or 0 for w in workloads], width, color=c,
            label=label + ("" if mode is None else " " + mode))
top.set_ylabel("IOPS (median)")
top.set_title("fio io_uring 4k, median of %s of %s s; guest %s, QEMU TCG: "
              "compare ratios, not IOPS" % (rounds, secs, release))
top.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
top.grid(axis="y", alpha=0.3)
# the ratios: ours/stock if both ran, else the stock driver against null_blk
if any(get("ours", m, w) for m in modes for w in workloads):
    num_l, den_l, what = "ours", "stock", "ours / stock"
else:
    num_l, den_l, what = "stock", "null_blk", "stock / null_blk"
width = 0.8 / len(modes)
for i, m in enumerate(modes):
    ys = []
    for w in workloads:
        a, b = get(num_l, m, w), get(den_l, m, w)
        ys.append(a / b if a and b else 0)
    bot.bar([j - 0.4 + (i + 0.5) * width for j in xs], ys, width,
            color=colors[num_l][i % 3], label=m)
bot.axhline(1.0, color="k", linewidth=0.8)
bot.set_ylabel("IOPS ratio " + what)
bot.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0),
           title=what, title_fontsize="small")
bot.grid(axis="y", alpha=0.3)
bot.set_xticks(list(xs))
bot.set_xticklabels(labels)
fig.tight_layout()
fig.savefig(outdir + "/bench.png", dpi=90)
EOF
echo "bench.sh: $outdir/bench.md, bench.csv, bench.png (raw runs: raw.csv)" >&2
exit "$rc"
