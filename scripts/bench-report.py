#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The report of scripts/bench.sh: median IOPS per combination from raw.csv,
# ratios, bench.md / bench.csv / bench.png in the output directory.
# usage: bench-report.py OUTDIR REPS SECONDS HOST_CPUS EXIT_STATUS RUNS
import csv, statistics, sys
outdir, reps, secs, ncpu, rc, nruns = sys.argv[1:7]
runs = {}
with open(outdir + "/raw.csv") as f:
    for label, target, mode, rw, bs, qd, jobs, rnd, iops in csv.reader(f):
        key = (label, target, mode, rw, bs, int(qd), int(jobs))
        runs.setdefault(key, []).append(float(iops))
med = {k: statistics.median(v) for k, v in runs.items()}
all_modes = ("copy", "get_data", "user_copy", "zero_copy", "auto_zc", "batch",
             "batch_auto_zc")
modes = [m for m in all_modes if any(k[2] == m for k in med)]


def bsval(bs):
    return int(bs[:-1]) * 1024 if bs.endswith("k") else int(bs)


# (target, rw, bs, qd, jobs): the null target first, small blocks first
workloads = sorted({k[1:2] + k[3:] for k in med},
                   key=lambda w: (w[0] != "null", bsval(w[2]), w[1], w[3], w[4]))
release = open(outdir + "/guest.txt").read().split()[0]
date = open(outdir + "/date.txt").read().strip()
load = open(outdir + "/load.txt").read().strip()
clock = open(outdir + "/clock.txt").read().strip()
try:
    cpu = open(outdir + "/cpu.txt").read().strip()
except OSError:
    cpu = "max"


def key(label, mode, w):
    # null_blk has no data modes: one series serves every mode
    return (label, w[0], "-" if label == "null_blk" else mode) + w[1:]


def get(label, mode, w):
    return med.get(key(label, mode, w))


def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "n/a"


def num(v):
    return "%.0f" % v if v else "n/a"


def spread(label, mode, w):
    # (max - min) / median of the rounds: how far to trust a median
    v = runs.get(key(label, mode, w))
    return "%.3f" % ((max(v) - min(v)) / statistics.median(v)) if v else "n/a"


rounds = "%s round%s" % (reps, "" if reps == "1" else "s")
rows, spreads = [], []
for w in workloads:
    for m in modes:
        nb, st, ou = get("null_blk", m, w), get("stock", m, w), get("ours", m, w)
        if not (st or ou):
            continue
        rows.append([w[1], w[2], w[3], w[4], w[0], m, num(nb), num(st), num(ou),
                     ratio(ou, st), ratio(ou, nb), ratio(st, nb)])
        spreads.append([spread(l, m, w) for l in ("null_blk", "stock", "ours")])
head = ["workload", "bs", "QD", "jobs", "target", "mode", "null_blk", "stock",
        "ours", "ours/stock", "ours/null_blk", "stock/null_blk"]
with open(outdir + "/bench.csv", "w", newline="") as f:
    wr = csv.writer(f)
    wr.writerow(head + ["null_blk_spread", "stock_spread", "ours_spread"])
    for r, sp in zip(rows, spreads):
        wr.writerow(r + sp)
md = ["| " + " | ".join(head) + " |",
      "|" + "---|" * 6 + "---:|" * (len(head) - 6)]
md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
md.append("")
if clock == "icount":
    how = ("QEMU TCG with -icount shift=0,sleep=on: the guest's clock is its "
           "instruction count, so IOPS are requests per 10^9 guest "
           "instructions (instructions only: not cache misses or memory "
           "bandwidth; the vCPUs run one after another, so 2-job rows show "
           "total cost, not scaling)")
else:
    how = "plain QEMU TCG on the host's clock"
md.append("Median IOPS of %s of %s s fio runs (io_uring, O_DIRECT, 1 s ramp); "
          "null_blk and kublk's null target with 2 queues of depth 128, its "
          "loop target on a tmpfs file; modes: copy (the driver copies to the "
          "server's buffers), get_data (NEED_GET_DATA), user_copy "
          "(USER_COPY: kublk copies with pread/pwrite), zero_copy (-z: "
          "REGISTER/UNREGISTER_IO_BUF), auto_zc (AUTO_BUF_REG), batch "
          "(BATCH_IO: multishot fetch, one commit per queue and pass; copy), "
          "batch_auto_zc (BATCH_IO with AUTO_BUF_REG); the null "
          "target has no backing I/O.  Clock: %s.  Guest CPU model: %s.  "
          "%s, guest kernel %s on %s host CPUs, host load average %s at the "
          "start." % (rounds, secs, how, cpu, date, release, ncpu, load))
# what zero copy buys where data moves: the loop target, ours
zc = []
for w in workloads:
    c = get("ours", "copy", w)
    for m in ("zero_copy", "auto_zc"):
        z = get("ours", m, w)
        if w[0] == "loop" and c and z:
            zc.append("%s %s %s/copy %.2f" % (w[1], w[2], m, z / c))
if zc:
    md.append("")
    md.append("Loop target, ours, zero copy against copy: " + "; ".join(zc) + ".")
# what batch delivery buys: ours, batch against ours per-io, same data mode
bt = []
for w in workloads:
    for b, p in (("batch", "copy"), ("batch_auto_zc", "auto_zc")):
        x, y = get("ours", b, w), get("ours", p, w)
        if x and y:
            bt.append("%s %s %s QD%d%s %s/%s %.2f" % (
                w[1], w[0], w[2], w[3], " 2 jobs" if w[4] > 1 else "", b, p, x / y))
if bt:
    md.append("")
    md.append("Ours, batch against per-io: " + "; ".join(bt) + ".")
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
labels = ["%s %s\n%s QD%d%s" % (w[0], w[2], w[1], w[3],
                                 ", 2 jobs" if w[4] > 1 else "")
          for w in workloads]
xs = range(len(workloads))
fig, ax = plt.subplots(1, 1, figsize=(16, 6))
colors = ["#9ecae1", "#4292c6", "#08519c", "#f16913", "#a63603", "#74c476",
          "#006d2c"]
width = 0.8 / len(modes)
for i, m in enumerate(modes):
    ys = []
    for w in workloads:
        # against stock where it has the mode, else against our copy mode
        a, b = get("ours", m, w), get("stock", m, w) or get("ours", "copy", w)
        ys.append(a / b if a and b else 0)
    ax.bar([j - 0.4 + (i + 0.5) * width for j in xs], ys, width,
           color=colors[i % len(colors)], label=m)
ax.axhline(1.0, color="k", linewidth=0.8)
ax.set_ylabel("IOPS ours / stock (modes stock lacks: / ours copy)")
ax.set_title("median of %s of %s s, clock %s, guest %s: compare ratios"
             % (rounds, secs, clock, release))
ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
ax.grid(axis="y", alpha=0.3)
ax.set_xticks(list(xs))
ax.set_xticklabels(labels, fontsize="x-small", rotation=90)
fig.tight_layout()
fig.savefig(outdir + "/bench.png", dpi=90)
