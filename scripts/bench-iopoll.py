#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The report of scripts/bench.sh BENCH_SET=iopoll: from OUTDIR/raw.csv
# (label,target,mode,rw,bs,qd,jobs,round,iops), per row the median IOPS
# of the rounds and their spread ((max - min) / median), and the ratios
# the polled queues are judged by: ours --iopoll / ours default (and /
# stock), batch delivery polled / not (-b --iopoll / -b), and the loop
# target over the polled null_blk disk / that disk read directly with
# polling.  Markdown on stdout.
import csv
import statistics
import sys

outdir = sys.argv[1]
runs = {}
with open(outdir + "/raw.csv") as f:
    for label, target, mode, rw, bs, qd, jobs, rnd, iops in csv.reader(f):
        runs.setdefault((label, target, mode, rw, bs, int(qd)), []).append(int(iops))


def med(k):
    v = runs.get(k)
    return statistics.median(v) if v else None


def cell(k):
    v = runs.get(k)
    if not v:
        return "-"
    m = statistics.median(v)
    return "%d (±%d%%, %d)" % (m, round(100 * (max(v) - min(v)) / m), len(v))


def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "-"


with open(outdir + "/guest.txt") as f:
    guest = f.read().split()
print("Polled queues (kublk --iopoll), guest kernel %s, %s CPUs, real clock; "
      "median IOPS (spread, rounds)." % (guest[0], guest[1]))
print()
print("| target | workload | QD | null_blk polled | stock | ours | ours --iopoll "
      "| iopoll / ours | iopoll / stock | loop / null_blk polled "
      "| ours -b | ours -b --iopoll | -b iopoll / -b |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
works = sorted({(k[3], k[4], k[5]) for k in runs})
for target in ("null", "loop_nullb"):
    for rw, bs, qd in works:
        raw = ("null_blk", "nullb", "polled", rw, bs, qd)
        st = ("stock", target, "copy", rw, bs, qd)
        ours = ("ours", target, "copy", rw, bs, qd)
        poll = ("ours", target, "iopoll", rw, bs, qd)
        bat = ("ours", target, "batch", rw, bs, qd)
        bpoll = ("ours", target, "batch_iopoll", rw, bs, qd)
        print("| %s | %s %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            target, rw, bs, qd, cell(raw) if target != "null" else "-", cell(st),
            cell(ours), cell(poll), ratio(med(poll), med(ours)), ratio(med(poll), med(st)),
            ratio(med(poll), med(raw)) if target != "null" else "-",
            cell(bat), cell(bpoll), ratio(med(bpoll), med(bat))))
