#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark (not a test): fio io_uring 4k randread and randwrite at QD1
# and QD128 with 1 and 2 jobs, in one guest run of the test kernel, on
#
#   null_blk                    (memory-less, no server: the ceiling)
#   6.12's stock ublk_drv       kublk null target, each data mode
#   our ublk_drv                the same, when drivers/block/ublk exists
#
# Every combination runs REPS times, the rounds interleaved (each round
# visits every driver) so that drift of the machine hits all alike.  The
# two ublk drivers share a module name, so the guest loads and unloads
# them in turn.  Results: median IOPS per combination and the ratios
# ours/stock, ours/null_blk and stock/null_blk, as a markdown table
# (printed), a CSV and a PNG plot in the output directory.
#
# usage: scripts/bench.sh [-r REPS] [-t SECONDS] [-o DIR] [--no-ours]
#   -r REPS      rounds (default 3)
#   -t SECONDS   fio runtime per run, after 1 s ramp (default 5)
#   -o DIR       output directory (default $UBLK_CACHE/bench/<date>)
#   --no-ours    skip our driver even if it builds
#
# Under emulation (QEMU TCG) absolute IOPS mean little: compare ratios.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kublk=$top/tools/testing/selftests/ublk/kublk
workloads=("randread 1 1" "randread 1 2" "randread 128 1" "randread 128 2"
	   "randwrite 1 1" "randwrite 1 2" "randwrite 128 1" "randwrite 128 2")
modes=("copy:" "get_data:-g" "user_copy:-u")

# ---- inside the guest: scripts/bench.sh --guest OUT.csv REPS SECONDS [KO] ----

# run_matrix LABEL MODE DEV ROUND: every workload once on DEV
run_matrix() {
	local label=$1 mode=$2 dev=$3 round=$4 w rw qd jobs iops

	for w in "${workloads[@]}"; do
		read -r rw qd jobs <<<"$w"
		fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 --bs=4k \
			--rw="$rw" --iodepth="$qd" --numjobs="$jobs" --size=1G --time_based \
			--runtime="$secs" --ramp_time=1 --group_reporting --norandommap \
			--output-format=terse --terse-version=3 > /tmp/bench.terse 2>/tmp/bench.err ||
			{ echo "bench: fio failed on $label $mode: $(cat /tmp/bench.err)" >&2; return 1; }
		# terse v3: read IOPS in field 8, write IOPS in field 49
		if [ "$rw" = randread ]; then
			iops=$(awk -F';' '{ print $8 }' /tmp/bench.terse)
		else
			iops=$(awk -F';' '{ print $49 }' /tmp/bench.terse)
		fi
		echo "$label,$mode,$rw,$qd,$jobs,$round,$iops" >> "$out"
		echo "  $label $mode $rw qd$qd jobs$jobs: $iops IOPS"
	done
}

# ublk_round LABEL ROUND: one round on the loaded ublk_drv, each data mode
# it supports
ublk_round() {
	local label=$1 round=$2 m name id args

	for m in "${modes[@]}"; do
		name=${m%%:*}
		args=(add -t null -q 2 -d 128 -s 1G)
		[ -n "${m#*:}" ] && args+=("${m#*:}")
		if ! id=$("$kublk" "${args[@]}" 2>/tmp/bench.err); then
			echo "  $label $name: not available ($(cat /tmp/bench.err))"
			continue
		fi
		run_matrix "$label" "$name" "/dev/ublkb$id" "$round"
		"$kublk" del -n "$id"
	done
}

guest_main() {
	local round

	out=$1 reps=$2 secs=$3
	local ko=${4:-}
	: > "$out"
	echo "bench: guest $(uname -r), $(nproc) CPUs, $reps rounds of ${secs}s runs"
	modprobe null_blk queue_mode=2 submit_queues=2 nr_devices=1 irqmode=0 \
		hw_queue_depth=128 gb=1
	for round in $(seq 1 "$reps"); do
		echo "bench: round $round"
		run_matrix null_blk - /dev/nullb0 "$round"
		modprobe ublk_drv
		ublk_round stock "$round"
		rmmod ublk_drv
		if [ -n "$ko" ]; then
			insmod "$ko"
			ublk_round ours "$round"
			rmmod ublk_drv
		fi
	done
	rmmod null_blk
}

if [ "${1:-}" = --guest ]; then
	shift
	guest_main "$@"
	exit 0
fi

# ---- on the host ----

reps=3
secs=5
outdir=
ours=1
while [ $# -gt 0 ]; do
	case "$1" in
	-r) reps=$2; shift 2 ;;
	-t) secs=$2; shift 2 ;;
	-o) outdir=$2; shift 2 ;;
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

# runs per round: 8 workloads on null_blk and on 3 modes per ublk driver
nmodes=3
[ -n "$ko" ] && nmodes=6
nruns=$((8 * (1 + nmodes)))
limit=$((reps * nruns * (secs + 4) + 300))
echo "bench.sh: $reps rounds, $nruns runs of ${secs}s each, results in $outdir" >&2
scripts/vm.sh -k test -m none -t "$limit" -o "$outdir/vm" -- \
	scripts/bench.sh --guest "$outdir/vm/raw.csv" "$reps" "$secs" ${ko:+"$ko"}
cp "$outdir/vm/raw.csv" "$outdir/raw.csv"

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
"$py" - "$outdir" "$reps" "$secs" <<'EOF'
import csv, statistics, sys
outdir, reps, secs = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}
for label, mode, rw, qd, jobs, rnd, iops in csv.reader(open(outdir + "/raw.csv")):
    runs.setdefault((label, mode, rw, int(qd), int(jobs)), []).append(float(iops))
med = {k: statistics.median(v) for k, v in runs.items()}
workloads = sorted({(k[2], k[3], k[4]) for k in med})
modes = [m for m in ("copy", "get_data", "user_copy")
         if any(k[1] == m for k in med)]

def get(label, mode, w):
    return med.get((label, "-" if label == "null_blk" else mode) + w)

def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "n/a"

def num(v):
    return "%.0f" % v if v else "n/a"

rows = []
for w in workloads:
    for m in modes:
        nb, st, ou = get("null_blk", m, w), get("stock", m, w), get("ours", m, w)
        rows.append([w[0], w[1], w[2], m, num(nb), num(st), num(ou),
                     ratio(ou, st), ratio(ou, nb), ratio(st, nb)])
head = ["workload", "QD", "jobs", "mode", "null_blk", "stock", "ours",
        "ours/stock", "ours/null_blk", "stock/null_blk"]
with open(outdir + "/bench.csv", "w", newline="") as f:
    wr = csv.writer(f)
    wr.writerow(head)
    wr.writerows(rows)
md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
md.append("")
md.append("Median IOPS of %s rounds of %s s fio runs (4k, io_uring, O_DIRECT); "
          "kublk null target, 2 queues of depth 128." % (reps, secs))
open(outdir + "/bench.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(no matplotlib: no plot)", file=sys.stderr)
    sys.exit(0)
series = [("null_blk", None)] + [(l, m) for l in ("stock", "ours") for m in modes]
series = [s for s in series if any(get(s[0], s[1], w) for w in workloads)]
fig, ax = plt.subplots(figsize=(12, 5))
width = 0.8 / len(series)
for i, (label, mode) in enumerate(series):
    ys = [get(label, mode, w) or 0 for w in workloads]
    xs = [j + i * width for j in range(len(workloads))]
    ax.bar(xs, ys, width, label=label + ("" if mode is None else " " + mode))
ax.set_xticks([j + 0.4 - width / 2 for j in range(len(workloads))])
ax.set_xticklabels(["%s\nQD%d %dj" % w for w in workloads])
ax.set_ylabel("IOPS (median)")
ax.set_yscale("log")
ax.set_title("4k fio io_uring, median of %s rounds (QEMU TCG: compare ratios)" % reps)
ax.legend(fontsize="small", ncol=2)
fig.tight_layout()
fig.savefig(outdir + "/bench.png", dpi=100)
EOF
echo "bench.sh: $outdir/bench.md, bench.csv, bench.png (raw runs: raw.csv)" >&2
