#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What mainline kublk (Linux 7.x) sends, field for field (kublk --compat
# kublk, two queues, 1 MiB buffers): ADD_DEV with io_desc_size 24 in
# the old pad0 and no UBLK_F_IO_DESC_SIZE, the descriptors mapped with
# the size ADD_DEV hands back; its null target's DMA_ALIGN (4095) and
# SEGMENT (4k boundary, 32k segments, 32 of them), its loop target's
# DMA_ALIGN of 511.  And an NVMe-like server's limits (--compat nvme): a
# 4k virtual boundary with SEGMENT (no segment size limit, 127
# segments).  Drivers that do not know DMA_ALIGN or SEGMENT (6.12) drop
# them; where GET_PARAMS shows them kept, the disk must have them.

. "$(dirname "$0")"/test_common.sh
_prep_test

_mkfile "$UBLK_TMP/backing" 64M

_add_dev -t loop --compat kublk -q 2 --max_io 1m "$UBLK_TMP/backing"
id=$DEV_ID
[ "$(_dev_field "$id" io_desc_size)" = 24 ] ||
	_fail "ADD_DEV handed back io_desc_size $(_dev_field "$id" io_desc_size), not 24"
_has_param_type "$id" 0x10 && _expect_queue_attr "$id" dma_alignment 511
_fio_verify "/dev/ublkb$id" 2M --bsrange=4k-1m --numjobs=2 --offset_increment=16M
_del_dev "$id"

_add_dev -t null --compat kublk -q 2 --max_io 1m -s 1G
id=$DEV_ID
if _has_param_type "$id" 0x20; then
	_expect_queue_attr "$id" max_segment_size 32768
	_expect_queue_attr "$id" max_segments 32
	_expect_queue_attr "$id" dma_alignment 4095
fi
# 1 MiB reads are split into requests of 32 segments of up to 32k
_fio "read-$id" --filename="/dev/ublkb$id" --rw=randread --bs=1m --size=4M --iodepth=8
_del_dev "$id"

_add_dev -t loop --compat nvme "$UBLK_TMP/backing"
id=$DEV_ID
_expect_queue_attr "$id" virt_boundary_mask 4095
_has_param_type "$id" 0x20 && _expect_queue_attr "$id" max_segments 127
_fio_verify "/dev/ublkb$id" 2M --bsrange=4k-256k
_del_dev "$id"
_log "mainline kublk's and NVMe-like parameters accepted and served"
exit 0
