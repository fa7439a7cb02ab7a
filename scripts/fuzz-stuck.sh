#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ublk_fuzz's stuck-command hook (make fuzz sets $UBLK_FUZZ_STUCK_HOOK to
# this): run in the guest at the end of a fuzz run whose control
# commands did not all come back, while they still wait.  It writes
# what they wait for into the run's directory ($UBLK_VM_OUT) and to
# stdout (the run's output.log):
#
#   stuck-stacks.txt  the kernel stack of every task whose stack is in
#                     ublk_drv (the io-wq workers running the commands,
#                     work items of ours), with its state
#   stuck-state.txt   the drgn dump of every device the driver still
#                     has (ublk_state.py), half-deleted ones too: state,
#                     references, buffers left in io_uring tables;
#                     stuck-state.txt.json the same as JSON
#   stuck-files.txt   every process that still has an io_uring or a ublk
#                     file open or mapped (a ring that holds a device's
#                     buffers or commands keeps the device), ublk_fuzz first
out=${UBLK_VM_OUT:-.}
here=$(dirname "$0")

{
	for t in /proc/[0-9]*/task/[0-9]*; do
		stack=$(cat "$t/stack" 2>/dev/null) || continue
		case $stack in
		*ublk*) ;;
		*) continue ;;
		esac
		read -r comm < "$t/comm"
		state=$(sed -n 's/^State:[[:space:]]*//p' "$t/status")
		echo "== ${t#/proc/} $comm ($state)"
		echo "$stack"
	done
} > "$out/stuck-stacks.txt" 2>&1
echo "--- stuck-stacks.txt"
cat "$out/stuck-stacks.txt"

# files: "COUNT fd TARGET" and "COUNT map TARGET" lines of process $1
files() {
	local p=$1 f

	for f in "$p"/fd/*; do
		f=$(readlink "$f" 2>/dev/null) || continue
		case $f in
		*io_uring* | /dev/ublk*) echo "  fd ${f}" ;;
		esac
	done | sort | uniq -c
	awk '$6 ~ /io_uring|\/dev\/ublk/ { print "  map " $6 }' "$p/maps" 2>/dev/null |
		sort | uniq -c
}
{
	# system()'s shell is our parent, ublk_fuzz its
	fz=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$PPID/status")
	for p in "/proc/$fz" /proc/[0-9]*; do
		[ "$p" = "/proc/$$" ] && continue
		[ "$p" != "/proc/$fz" ] && [ "${p#/proc/}" = "$fz" ] && continue
		list=$(files "$p")
		[ -n "$list" ] || continue
		read -r comm < "$p/comm"
		echo "== ${p#/proc/} $comm"
		echo "$list"
	done
} > "$out/stuck-files.txt" 2>&1
echo "--- stuck-files.txt"
cat "$out/stuck-files.txt"

echo "--- stuck-state.txt"
python3 "$here/../tools/testing/selftests/ublk/ublk_state.py" \
	--json-file "$out/stuck-state.txt.json" > "$out/stuck-state.txt" 2>&1
echo "ublk_state.py: exit status $?" >> "$out/stuck-state.txt"
cat "$out/stuck-state.txt"
