#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest for "make run": create a ublk device with kublk,
# check what the driver reports for it, run fio on it (with verification
# when the target keeps data: loop), delete it.  Prints each step.
#
# environment: TARGET (null|loop), QUEUES, DEPTH, FIO_SIZE

set -euo pipefail

kublk=tools/testing/selftests/ublk/kublk
target=${TARGET:-null}
queues=${QUEUES:-1}
depth=${DEPTH:-128}
size=${FIO_SIZE:-64M}

say() { echo "== $*"; }

say "guest kernel $(uname -r), ublk_drv: ${UBLK_VM_MODULE:-?} ($(modinfo -F filename ublk_drv 2>/dev/null || echo "${UBLK_VM_KO:-stock}"))"
if [ ! -x "$kublk" ]; then
	echo "kublk is not built yet ($kublk); nothing to serve a device with" >&2
	exit 1
fi

args=(add -t "$target" -q "$queues" -d "$depth")
if [ "$target" = loop ]; then
	backing=/tmp/ublk-run-backing.img
	truncate -s 256M "$backing"
	args+=("$backing")
fi
say "kublk ${args[*]}"
id=$("$kublk" "${args[@]}")
dev=/dev/ublkb$id
trap '"$kublk" del -n "$id" >/dev/null 2>&1 || true' EXIT
say "device $dev: $(blockdev --getsize64 "$dev") bytes, $(cat "/sys/block/ublkb$id/queue/logical_block_size")-byte blocks, $queues queue(s) of depth $depth"
"$kublk" list -n "$id"

if [ "$target" = null ]; then
	# the null target keeps no data: nothing to verify
	say "fio: random reads and writes, $size, QD $depth (null keeps no data: no verification)"
	fio --name=ublk-run --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randrw --bs=4k --iodepth="$depth" --size="$size" \
		--output-format=terse --terse-version=3 > /tmp/fio.terse
	awk -F';' '{ printf "fio: read %s IOPS, write %s IOPS, errors %s\n", $8, $49, $5 }' /tmp/fio.terse
else
	say "fio: random writes then verified reads, $size, QD $depth"
	fio --name=ublk-run --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth="$depth" --size="$size" \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
		--output-format=terse --terse-version=3 > /tmp/fio.terse
	awk -F';' '{ printf "fio: write %s KiB/s (%s IOPS), verify read %s KiB/s, errors %s\n", $48, $49, $7, $5 }' /tmp/fio.terse
fi

say "kublk del -n $id"
"$kublk" del -n "$id"
trap - EXIT
[ ! -e "$dev" ] || { echo "$dev still exists after del" >&2; exit 1; }
say "done"
