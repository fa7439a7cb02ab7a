#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What ublksrv 1.6 sends, field for field (kublk --compat ublksrv): its
# loop target's SET_PARAMS (BASIC | DISCARD | DMA_ALIGN, volatile cache
# and FUA, discard in 4k units up to UINT_MAX >> 9 sectors) in its own
# header's layout, which puts the DMA alignment of 511 where the
# kernel's struct has dma.pad; 4k blocks with direct I/O, 512-byte ones
# buffered; its null target's 250 GiB with a volatile cache.  Each
# device must come up with those limits and verify data.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M

# direct I/O on a file with 4k blocks: 4k logical and physical blocks
_add_dev -t loop --compat ublksrv --lbs 4096 --pbs 4096 "$UBLK_TMP/backing"
id=$DEV_ID
_expect_queue_attr "$id" logical_block_size 4096
_expect_queue_attr "$id" physical_block_size 4096
_expect_queue_attr "$id" discard_granularity 4096
_expect_queue_attr "$id" discard_max_hw_bytes $(((0xffffffff >> 9) << 9))
_expect_queue_attr "$id" write_cache "write back"
_expect_queue_attr "$id" fua 1
# A driver that knows DMA_ALIGN reads alignment 0 (the 511 is in the
# pad), as mainline does, and the block layer's default is that 511;
# one that does not (6.12) drops the type and keeps its own.
_has_param_type "$id" 0x10 && _expect_queue_attr "$id" dma_alignment 511
_fio_verify "/dev/ublkb$id" 2M --bsrange=4k-128k
_fio "trim-$id" --filename="/dev/ublkb$id" --rw=trim --bs=1M --size=4M
_del_dev "$id"

# --buffered_io: 512-byte logical blocks in 4k physical ones
_add_dev -t loop --compat ublksrv --buffered --lbs 512 --pbs 4096 "$UBLK_TMP/backing"
id=$DEV_ID
_expect_queue_attr "$id" logical_block_size 512
_expect_queue_attr "$id" physical_block_size 4096
_fio_verify "/dev/ublkb$id" 2M --bsrange=512-64k
_del_dev "$id"

_add_dev -t null --compat ublksrv -s 250G
id=$DEV_ID
_expect_queue_attr "$id" write_cache "write back"
[ "$(_dev_field "$id" size)" = $((250 << 30)) ] ||
	_fail "null device of $(_dev_field "$id" size) bytes"
_fio "read-$id" --filename="/dev/ublkb$id" --rw=randread --bs=4k --size=1M --iodepth=16
_del_dev "$id"
_log "ublksrv's loop and null parameters accepted and served"
exit 0
