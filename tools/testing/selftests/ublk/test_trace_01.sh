#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tracepoints (TRACE_SYSTEM ublk): with every ublk event enabled in a
# private tracefs instance, a two-queue loop device serves a short
# verified fio job and is deleted.  Every request the block layer
# counted was queued, delivered, committed and completed exactly once
# each; every slot was fetched once; the device's start and stop were
# seen; no event printed a kernel address; none was lost.  If bpftrace
# is installed, trace/perqueue.bt must count the requests of a second
# job, and each of trace/latency.bt's four stage histograms must count
# every one of them once (at least fio's 512, at most what the block
# layer completed meanwhile).  Skips when the driver has no tracepoints
# (6.12's ublk_drv).

. "$(dirname "$0")"/test_common.sh
_prep_test

TRACEFS=/sys/kernel/tracing
[ -d "$TRACEFS/events" ] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null
[ -d "$TRACEFS/events/ublk" ] || _skip "ublk_drv has no tracepoints ($TRACEFS/events/ublk)"

nr_q=2
depth=32
inst=$TRACEFS/instances/$TID.$$
mkdir "$inst" || _fail "cannot create the trace instance $inst"
# the instance goes before the devices: _cleanup sees the test's status
trap 'rc=$?; rmdir "$inst" 2>/dev/null; (exit $rc); _cleanup' EXIT
echo 4096 > "$inst/buffer_size_kb" || _fail "cannot size the trace buffer"
echo 1 > "$inst/events/ublk/enable" || _fail "cannot enable the ublk events"

_mkfile "$UBLK_TMP/backing" 256M
_add_dev -t loop -q "$nr_q" -d "$depth" "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id
# two jobs, so that both queues serve
_fio_verify "$dev" 2M --numjobs=2 --offset_increment=64M

# requests the block layer completed (reads + writes), around a copy of
# the trace; a late prober (udev) may add some in between
stat_rw() { awk '{ print $1 + $5 }' "/sys/block/ublkb$id/stat"; }
rw1=$(stat_rw)
cp "$inst/trace" "$UBLK_TMP/snap" || _fail "cannot read the trace"
rw2=$(stat_rw)

# perqueue.bt must count what a second job sends to each queue, and
# latency.bt must have every stage's histogram of the device count each
# request of it once.
# hist_count FILE MAP: the counts of histogram MAP[$id] in bpftrace's FILE
hist_count() {
	awk -v m="$2[$id]:" '$1 == m { on = 1; next }
		!/^\[/ { on = 0; next }
		on { sub(/^\[[^])]*[])]/, ""); n += $1 }
		END { print n + 0 }' "$1"
}
if command -v bpftrace >/dev/null; then
	bt=$UBLK_TMP/perqueue.out
	lat=$UBLK_TMP/latency.out
	bpftrace "$UBLK_DIR/trace/perqueue.bt" > "$bt" 2>&1 &
	bt_pid=$!
	bpftrace "$UBLK_DIR/trace/latency.bt" > "$lat" 2>&1 &
	lat_pid=$!
	for ((i = 0; i < 900; i++)); do
		grep -q '^Attaching' "$bt" && grep -q '^Attaching' "$lat" && break
		{ _pid_alive "$bt_pid" && _pid_alive "$lat_pid"; } || break
		_nap 0.1
	done
	grep -q '^Attaching' "$bt" || _fail "bpftrace perqueue.bt did not start: $(tail -n 5 "$bt")"
	grep -q '^Attaching' "$lat" ||
		_fail "bpftrace latency.bt did not start: $(tail -n 5 "$lat")"
	bt_rw1=$(stat_rw)
	_fio bt "--filename=$dev" --rw=randwrite --bs=4k --size=1M --numjobs=2 \
		--offset_increment=64M --iodepth=8
	bt_rw2=$(stat_rw)
	kill -INT "$bt_pid" "$lat_pid"
	wait "$bt_pid" || _fail "bpftrace perqueue.bt failed: $(tail -n 5 "$bt")"
	wait "$lat_pid" || _fail "bpftrace latency.bt failed: $(tail -n 5 "$lat")"
	# 256 writes per job; blk-mq picks the queues by CPU
	bt_writes=$(awk -v id="$id" '$1 ~ "^@rqs\\[" id "," && $3 == "WRITE]:" { n += $4 }
		END { print n + 0 }' "$bt")
	[ "$bt_writes" -ge 512 ] ||
		_fail "perqueue.bt counted $bt_writes writes on device $id, not 512:" \
		      "$(head -n 20 "$bt")"
	# fio's 512 at least, and no more than the block layer completed
	total=$(hist_count "$lat" @total_us)
	[[ "$total" -ge 512 && "$total" -le $((bt_rw2 - bt_rw1)) ]] ||
		_fail "latency.bt's @total_us counted $total requests; fio wrote 512," \
		      "the block layer counted $((bt_rw2 - bt_rw1)): $(head -n 30 "$lat")"
	for h in @queue_to_deliver_us @deliver_to_commit_us @commit_to_complete_us; do
		n=$(hist_count "$lat" "$h")
		[ "$n" = "$total" ] ||
			_fail "latency.bt's $h counted $n requests, @total_us $total"
	done
	_log "perqueue.bt counted $bt_writes writes;" \
	     "latency.bt's four histograms $total requests each"
else
	_log "bpftrace is not installed: perqueue.bt and latency.bt not run"
fi

_del_dev "$id"
echo 0 > "$inst/events/ublk/enable"
cp "$inst/trace" "$UBLK_TMP/trace" || _fail "cannot read the trace"

# "entries-in-buffer/entries-written: N/M": M > N means events were lost
[[ "$(<"$UBLK_TMP/trace")" =~ entries-in-buffer/entries-written:\ ([0-9]+)/([0-9]+) ]] ||
	_fail "no entry count in the trace header"
[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
	_fail "the trace lost events: ${BASH_REMATCH[1]} of ${BASH_REMATCH[2]} kept"
grep -q 0xffff "$UBLK_TMP/trace" &&
	_fail "an event printed a kernel address: $(grep -m 3 0xffff "$UBLK_TMP/trace")"

# count FILE: "event count" for device $id; queued READ/WRITE apart
count() {
	awk -v dev="dev=$id" '
		$0 ~ /^#/ { next }
		{ for (i = 1; i <= NF; i++) if ($i ~ /^ublk_[a-z_]*:$/) break
		  if (i > NF || $(i + 1) != dev) next
		  ev = substr($i, 1, length($i) - 1); n[ev]++ }
		/ublk_rq_queued:/ && / op=(READ|WRITE) / { n["rw_queued"]++ }
		/ublk_rq_completed:/ && / requeued=1/ { n["requeued"]++ }
		/ublk_dev_state:/ && $0 ~ dev " start " { n["start"]++ }
		/ublk_dev_state:/ && $0 ~ dev " stop " { n["stop"]++ }
		END { for (e in n) print e, n[e] }' "$1"
}
declare -A ev snap
while read -r e n; do ev[$e]=$n; done < <(count "$UBLK_TMP/trace")
while read -r e n; do snap[$e]=$n; done < <(count "$UBLK_TMP/snap")

queued=${ev[ublk_rq_queued]:-0}
delivered=${ev[ublk_rq_delivered]:-0}
committed=${ev[ublk_rq_committed]:-0}
completed=${ev[ublk_rq_completed]:-0}
fetched=${ev[ublk_cmd_fetched]:-0}
counts="queued $queued, delivered $delivered, committed $committed, completed $completed"
_log "events of device $id: $counts, fetched $fetched," \
	"requeued ${ev[requeued]:-0}, aborted ${ev[ublk_cmd_aborted]:-0}," \
	"dev_state ${ev[ublk_dev_state]:-0}; block layer: $rw1 reads+writes"

[ "$queued" -gt 0 ] || _fail "no request was traced"
[ "$queued" = "$completed" ] || _fail "not every queued request completed: $counts"
[ "$delivered" = "$committed" ] || _fail "not every delivered request was committed: $counts"
[ "$queued" = "$delivered" ] || _fail "not every queued request was delivered: $counts"
[ "${ev[requeued]:-0}" = 0 ] || _fail "${ev[requeued]} requests were requeued in a clean run"
[ "$fetched" = $((nr_q * depth)) ] ||
	_fail "$fetched FETCH_REQ events, not $nr_q queues * $depth tags"
[ "${ev[start]:-0}" = 1 ] || _fail "no (or more than one) start event: ${ev[start]:-0}"
[ "${ev[stop]:-0}" = 1 ] || _fail "no (or more than one) stop event: ${ev[stop]:-0}"

# the copy was taken between the two reads of the counters
rw=${snap[rw_queued]:-0}
if [ "$rw1" = "$rw2" ]; then
	[ "$rw" = "$rw1" ] ||
		_fail "the trace has $rw reads and writes queued, the block layer counted $rw1"
	[ "${snap[ublk_rq_completed]:-0}" = "$rw1" ] ||
		_fail "the trace has ${snap[ublk_rq_completed]:-0} completions," \
		      "the block layer counted $rw1"
else
	[ "$rw" -ge "$rw1" ] ||
		_fail "the trace has $rw reads and writes queued," \
		      "the block layer counted $rw1..$rw2"
fi
_log "every request queued, delivered, committed and completed once; $fetched slots fetched"
exit 0
