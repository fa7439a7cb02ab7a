// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: device parameters.
 *
 * SET_PARAMS checks the whole set before it replaces the stored one, so
 * a rejected set leaves the device as it was; START_DEV turns the stored
 * set into the disk's queue limits.  The checks keep every value the
 * block layer would warn about, or silently change, out of the limits.
 */
#include <linux/blkdev.h>
#include <linux/log2.h>

#include "ublk.h"

/* a mask the queue limits can hold: 2^n - 1 in an unsigned long */
static bool ublk_valid_mask(u64 mask)
{
	return (unsigned long)mask == mask && is_power_of_2(mask + 1);
}

static int ublk_validate_basic(const struct ublk_device *ub,
			       const struct ublk_param_basic *p)
{
	unsigned int lbs_sectors;

	/* attributes this driver does not know are ignored, as on mainline */

	/* block sizes from 512 bytes to a page */
	if (p->logical_bs_shift < SECTOR_SHIFT ||
	    p->logical_bs_shift > PAGE_SHIFT)
		return -EINVAL;
	/*
	 * Mainline checks no upper bound; a shift of 32 or more would be
	 * undefined when the limits are built, and no server sends one.
	 */
	if (p->physical_bs_shift < p->logical_bs_shift ||
	    p->physical_bs_shift > 31 || p->io_min_shift > 31 ||
	    p->io_opt_shift > 31)
		return -EINVAL;

	/* a request must fit the slot buffers, and hold at least a page */
	if (p->max_sectors < PAGE_SECTORS ||
	    p->max_sectors > ub->dev_info.max_io_buf_bytes >> SECTOR_SHIFT)
		return -EINVAL;

	/*
	 * Stricter than mainline, which leaves these to the block layer:
	 * I/O is split at chunk boundaries, so a chunk of part of a block
	 * would split blocks, and a virtual boundary that is not 2^n - 1
	 * breaks segment merging.
	 */
	lbs_sectors = 1U << (p->logical_bs_shift - SECTOR_SHIFT);
	if (p->chunk_sectors % lbs_sectors)
		return -EINVAL;

	if (p->virt_boundary_mask && !ublk_valid_mask(p->virt_boundary_mask))
		return -EINVAL;
	return 0;
}

/*
 * The pad and reserved bytes of the parameter structs are not checked,
 * as mainline does not check them: ublksrv's copy of the header lays
 * out ublk_param_zoned with 8-byte alignment, which moves the zoned and
 * DMA parameters 4 bytes up, so its DMA alignment lands in dma.pad.
 */
static int ublk_validate_discard(const struct ublk_param_discard *p)
{
	/* one range per request */
	if (p->max_discard_sectors && p->max_discard_segments != 1)
		return -EINVAL;
	if (!p->discard_granularity)
		return -EINVAL;
	return 0;
}

static int ublk_validate_dma_align(const struct ublk_param_dma_align *p)
{
	/* alignment + 1 is a power of two, below a page */
	if (p->alignment >= PAGE_SIZE || !is_power_of_2(p->alignment + 1ULL))
		return -EINVAL;
	return 0;
}

static int ublk_validate_segment(const struct ublk_param_basic *b,
				 const struct ublk_param_segment *p)
{
	/*
	 * The block layer wants at least a page per segment; mainline's
	 * UBLK_MIN_SEGMENT_SIZE is that page only where pages are 4k.
	 */
	u64 min_boundary = max_t(u64, UBLK_MIN_SEGMENT_SIZE, PAGE_SIZE) - 1;

	if (p->seg_boundary_mask < min_boundary ||
	    !ublk_valid_mask(p->seg_boundary_mask))
		return -EINVAL;
	if (p->max_segment_size < max_t(u32, UBLK_MIN_SEGMENT_SIZE, PAGE_SIZE))
		return -EINVAL;
	/*
	 * A virtual boundary implies unlimited segments: not both (the
	 * block layer of later kernels refuses the pair with a warning).
	 */
	if (b->virt_boundary_mask && p->max_segment_size != UINT_MAX)
		return -EINVAL;
	return 0;
}

int ublk_validate_params(const struct ublk_device *ub,
			 const struct ublk_params *p)
{
	int ret;

	/* DEVT is read-only, INTEGRITY needs UBLK_F_INTEGRITY */
	if (p->types & ~UBLK_PARAM_TYPE_SUPPORTED)
		return -EINVAL;
	/* the basic parameters are mandatory */
	if (!(p->types & UBLK_PARAM_TYPE_BASIC))
		return -EINVAL;

	ret = ublk_validate_basic(ub, &p->basic);
	if (ret)
		return ret;

	if (p->types & UBLK_PARAM_TYPE_DISCARD) {
		ret = ublk_validate_discard(&p->discard);
		if (ret)
			return ret;
	}

	if (p->types & UBLK_PARAM_TYPE_DMA_ALIGN) {
		ret = ublk_validate_dma_align(&p->dma);
		if (ret)
			return ret;
	}

	if (p->types & UBLK_PARAM_TYPE_SEGMENT) {
		ret = ublk_validate_segment(&p->basic, &p->seg);
		if (ret)
			return ret;
	}

	/* a zoned device needs its zone parameters, others must not have any */
	if (ublk_dev_zoned(ub) != !!(p->types & UBLK_PARAM_TYPE_ZONED))
		return -EINVAL;
	if (ublk_dev_zoned(ub))
		return ublk_validate_zoned_params(ub, p);
	return 0;
}

void ublk_params_to_limits(const struct ublk_device *ub,
			   struct queue_limits *lim)
{
	const struct ublk_params *p = &ub->params;
	const struct ublk_param_basic *b = &p->basic;

	*lim = (struct queue_limits) {
		.logical_block_size	= 1U << b->logical_bs_shift,
		.physical_block_size	= 1U << b->physical_bs_shift,
		.io_min			= 1U << b->io_min_shift,
		.io_opt			= 1U << b->io_opt_shift,
		.max_hw_sectors		= b->max_sectors,
		.chunk_sectors		= b->chunk_sectors,
		.virt_boundary_mask	= b->virt_boundary_mask,
		.max_segments		= USHRT_MAX,
		.max_segment_size	= UINT_MAX,
		.dma_alignment		= 3,
	};

	if (b->attrs & UBLK_ATTR_VOLATILE_CACHE) {
		lim->features |= BLK_FEAT_WRITE_CACHE;
		if (b->attrs & UBLK_ATTR_FUA)
			lim->features |= BLK_FEAT_FUA;
	}
	if (b->attrs & UBLK_ATTR_ROTATIONAL)
		lim->features |= BLK_FEAT_ROTATIONAL;

	if (p->types & UBLK_PARAM_TYPE_DISCARD) {
		const struct ublk_param_discard *d = &p->discard;

		lim->discard_alignment = d->discard_alignment;
		lim->discard_granularity = d->discard_granularity;
		lim->max_hw_discard_sectors = d->max_discard_sectors;
		lim->max_write_zeroes_sectors = d->max_write_zeroes_sectors;
		lim->max_discard_segments = d->max_discard_segments;
	}

	if (p->types & UBLK_PARAM_TYPE_DMA_ALIGN)
		lim->dma_alignment = p->dma.alignment;

	if (p->types & UBLK_PARAM_TYPE_SEGMENT) {
		lim->seg_boundary_mask = p->seg.seg_boundary_mask;
		lim->max_segment_size = p->seg.max_segment_size;
		lim->max_segments = p->seg.max_segments;
	}

	if (p->types & UBLK_PARAM_TYPE_ZONED) {
		lim->features |= BLK_FEAT_ZONED;
		lim->max_open_zones = p->zoned.max_open_zones;
		lim->max_active_zones = p->zoned.max_active_zones;
		lim->max_zone_append_sectors = p->zoned.max_zone_append_sectors;
	}
}

/* what the limits do not carry */
void ublk_apply_params(struct ublk_device *ub, struct gendisk *disk)
{
	const struct ublk_param_basic *b = &ub->params.basic;

	set_capacity(disk, b->dev_sectors);
	if (b->attrs & UBLK_ATTR_READ_ONLY)
		set_disk_ro(disk, true);
}
