#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The drgn state dump (ublk_state.py) shows what a server holds.  A
# one-queue fault_inject device whose server sits on every request for
# ten minutes (far longer than the test, however loaded the machine)
# gets three direct reads of known sectors: the dump must show exactly
# three slots OWNED_BY_SRV, with those reads, and the other slots
# ACTIVE with no request, as text and as JSON.  The server is
# killed (REISSUE): the dump shows the device QUIESCED, its queue
# parking requests and every slot idle; after recovery the same three
# reads are again OWNED_BY_SRV, now in slots of the new server.  A
# vmcore of the guest (scripts/vm.sh's dumps) taken while the first
# server holds the reads must show the same as the live dump.  Skips
# when drgn, the module's DWARF or /proc/kcore is missing (the test
# guest kernel has no /proc/kcore, the debug one has) or the driver is
# not ours.

. "$(dirname "$0")"/test_common.sh
_prep_test
_require_feature USER_RECOVERY_REISSUE NO_AUTO_PART_SCAN

[ -r /sys/module/ublk_drv/version ] || _skip "ublk_drv is not ours: no structures to dump"
[ -r /proc/kcore ] || _skip "no /proc/kcore (CONFIG_PROC_KCORE)"
PY=/usr/bin/python3
[ -x "$PY" ] || _skip "no $PY for drgn"

depth=8
_mkfile "$UBLK_TMP/backing" 16M
_add_dev -t fault_inject -q 1 -d "$depth" --delay_us 600000000 --recovery_reissue 1 \
	--no_auto_part_scan "$UBLK_TMP/backing"
id=$DEV_ID
dev=/dev/ublkb$id

# One drgn for all dumps (each start costs many seconds here), which
# first checks its copy of the slot flags against the driver's sources.
args=(--serve)
src=$UBLK_DIR/../../../../drivers/block/ublk
[ -f "$src/ublk.h" ] && args+=(--check-flags "$src")
coproc DUMP { exec "$PY" "$UBLK_DIR/ublk_state.py" "${args[@]}" 2> "$UBLK_TMP/state.err"; }
# shellcheck disable=SC2153 # set by coproc
dump_pid=$DUMP_PID
dump_in=${DUMP[1]}
dump_out=${DUMP[0]}

# dump NAME: the text dump in $UBLK_TMP/NAME, the JSON in NAME.json; the
# script's exit 2 (no drgn, no debug info) skips
dump() {
	local line rc=0

	{ echo "$UBLK_TMP/$1" >&"$dump_in"; } 2>/dev/null
	read -r -t 180 line <&"$dump_out"
	[ "$line" = "done $UBLK_TMP/$1" ] && return 0
	wait "$dump_pid" || rc=$?
	[ "$rc" = 2 ] && _skip "ublk_state.py: $(<"$UBLK_TMP/state.err")"
	_fail "ublk_state.py failed ($rc): $(tail -n 5 "$UBLK_TMP/state.err")"
}

# expect NAME STATE SERVER NOSRV REST: in the text dump NAME, device $id
# is in STATE with SERVER (- for none) and its queue's nosrv is NOSRV;
# the slots OWNED_BY_SRV hold exactly the 4k reads of sectors $sectors,
# each from a task of SERVER; every other slot is REST with no request
expect() {
	local name=$1 line mine=0 held=() others=0 re_dev re_slot want s

	re_dev="^ublk device $id: ([A-Z_]+), server ([0-9]+|none), 1 queue\(s\) of depth $depth,"
	re_slot='^    ([0-9]+) +([A-Za-z_|]+) +(-|[0-9]+ [^ ]+) +(.*)$'
	while IFS= read -r line; do
		if [[ "$line" =~ ^ublk\ device ]]; then
			mine=0
			[[ "$line" =~ $re_dev ]] || continue
			mine=1
			[ "${BASH_REMATCH[1]} ${BASH_REMATCH[2]/none/-}" = "$2 $3" ] ||
				_fail "$name: '$line', not $2 with server $3"
		elif [ "$mine" = 1 ] && [[ "$line" =~ ^\ \ queue\ 0:\ nosrv\ ([A-Z]+)\; ]]; then
			[ "${BASH_REMATCH[1]}" = "$4" ] ||
				_fail "$name: queue 0 is nosrv ${BASH_REMATCH[1]}, not $4"
		elif [ "$mine" = 1 ] && [[ "$line" =~ $re_slot ]]; then
			local tag=${BASH_REMATCH[1]} st=${BASH_REMATCH[2]}
			local task=${BASH_REMATCH[3]} rq=${BASH_REMATCH[4]}

			if [ "$st" = OWNED_BY_SRV ]; then
				[[ "$rq" =~ ^READ\ sector\ ([0-9]+),\ 4096\ bytes,\ IN_FLIGHT ]] ||
					_fail "$name: slot $tag is the server's" \
					      "with '$rq', not a 4k read"
				held+=("${BASH_REMATCH[1]}")
				[ -d "/proc/$3/task/${task%% *}" ] ||
					_fail "$name: slot $tag belongs to task $task," \
					      "not to server $3"
			elif [ "$st" = "$5" ] && [ "$rq" = - ]; then
				others=$((others + 1))
			else
				_fail "$name: slot $tag is '$st' with '$rq'," \
				      "not OWNED_BY_SRV nor $5"
			fi
		fi
	done < "$UBLK_TMP/$name"
	# shellcheck disable=SC2206 # a list of numbers
	want=($sectors)
	for s in "${want[@]}"; do
		[[ " ${held[*]} " == *" $s "* ]] || held=(x)
	done
	[ "${#held[@]}" = "${#want[@]}" ] ||
		_fail "$name: the server holds the reads of sectors '${held[*]}', not '$sectors':" \
		      "$(<"$UBLK_TMP/$name")"
	[ "$others" = $((depth - ${#held[@]})) ] ||
		_fail "$name: $others slots $5, not $((depth - ${#held[@]})): $(<"$UBLK_TMP/$name")"
}

# three 4k reads the server sits on
sectors="128 2048 8000"
dd_pids=()
for s in $sectors; do
	dd if="$dev" of=/dev/null bs=4k count=1 skip=$((s / 8)) iflag=direct status=none \
		2>> "$UBLK_TMP/dd.err" &
	dd_pids+=($!)
done
for ((i = 0; i < 300; i++)); do
	read -r r _ < "/sys/block/ublkb$id/inflight"
	[ "$r" = 3 ] && break
	_nap 0.1
done
[ "$r" = 3 ] || _fail "$r reads in flight on $dev, not 3"
pid=$(_dev_field "$id" pid)

dump live
expect live LIVE "$pid" NONE ACTIVE
# the JSON says the same (one device: its slots' states and sectors)
json=$(<"$UBLK_TMP/live.json")
# n TEXT: how often TEXT is in $json (no process: each costs a second)
n() {
	local rest=${json//"$1"/}

	echo $(((${#json} - ${#rest}) / ${#1}))
}
if [ "$(n '"state": "OWNED_BY_SRV"')" != 3 ] ||
   [ "$(n '"state": "ACTIVE"')" != $((depth - 3)) ] ||
   [ "$(n '"server_tgid": '"$pid"',')" != 1 ]; then
	_fail "live.json disagrees with the text: $json"
fi
for s in $sectors; do
	[ "$(n '"sector": '"$s"',')" = 1 ] || _fail "live.json has no read of sector $s"
done
_log "live: the server ($pid) holds the reads of sectors $sectors, $((depth - 3)) slots ACTIVE"

# A vmcore of this moment says the same, read with no vmlinux DWARF: the
# module's place and the kernel's symbols are saved first.  Where the
# guest cannot dump itself (no scripts/vm.sh, or a kernel without
# CONFIG_FW_CFG_SYSFS to hand QEMU its VMCOREINFO) the step is left out.
fwinfo=/sys/firmware/qemu_fw_cfg/by_name/etc/vmcoreinfo
if [ "${UBLK_VM_DUMP:-}" = 1 ] && [ -d "$fwinfo" ]; then
	core=vmcore-$TID
	"$PY" "$UBLK_DIR/ublk_state.py" --save-symbols "$UBLK_TMP/syms" ||
		_fail "ublk_state.py --save-symbols failed"
	took=$(_vm_dump "$core" 2> "$UBLK_TMP/dump.err") ||
		_fail "no vmcore of the guest: $(<"$UBLK_TMP/dump.err")"
	rc=0
	"$PY" "$UBLK_DIR/ublk_state.py" -c "$UBLK_VM_OUT/$core" --symbols "$UBLK_TMP/syms" \
		> "$UBLK_TMP/vmcore" 2> "$UBLK_TMP/vmcore.err" || rc=$?
	rm -f "$UBLK_VM_OUT/$core"
	[ "$rc" = 0 ] || _fail "ublk_state.py -c failed ($rc): $(tail -n 5 "$UBLK_TMP/vmcore.err")"
	expect vmcore LIVE "$pid" NONE ACTIVE
	_log "vmcore (written in $took): the same three reads held, the rest ACTIVE"
else
	_log "no vmcore step: the guest cannot dump itself (UBLK_VM_DUMP, $fwinfo)"
fi

# killed: the reads are parked for the next server, the slots reset
_kill_server "$id"
_wait_state "$id" QUIESCED
dump quiesced
saved=$sectors
sectors=""
expect quiesced QUIESCED - REQUEUE idle
sectors=$saved
_log "quiesced: no server, requests parked, every slot idle"

# recovered: the new server gets the reissued reads
_recover "$id"
new=$(_dev_field "$id" pid)
for ((i = 0; i < 20; i++)); do
	dump recovered
	json=$(<"$UBLK_TMP/recovered")
	[ "$(n ' OWNED_BY_SRV ')" = 3 ] && break
	_nap 0.2
done
expect recovered LIVE "$new" NONE ACTIVE
_log "recovered: the new server ($new) holds the reissued reads of sectors $sectors"

exec {dump_in}>&-
wait "$dump_pid" || _fail "ublk_state.py --serve failed: $(tail -n 5 "$UBLK_TMP/state.err")"

# the end: no server, then no device; the parked reads fail
_kill_server "$id"
_wait_state "$id" QUIESCED
_del_dev "$id"
for p in "${dd_pids[@]}"; do
	wait "$p" && _fail "a read of the deleted device succeeded"
done
exit 0
