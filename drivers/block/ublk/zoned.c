// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ublk: zoned devices (UBLK_F_ZONED).
 *
 * Zone management and zone append requests go to the server like any
 * other (rq.c maps them); the server returns a zone append's LBA in the
 * commit.  A zone report is a REQ_OP_DRV_IN request whose buffer the
 * server fills with struct blk_zone entries through pwrite() (zoned
 * devices use user copy), returning the number of bytes written.
 */
#include <linux/blkdev.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ublk.h"

int ublk_validate_zoned_params(const struct ublk_device *ub,
			       const struct ublk_params *p)
{
	const struct ublk_param_zoned *z = &p->zoned;
	u64 zone = p->basic.chunk_sectors;
	u64 nr_zones;

	/* z->reserved is not checked, see ublk_validate_discard() */
	/* the zone size is the chunk size, a power of two */
	if (!zone || !is_power_of_2(zone))
		return -EINVAL;
	if (!p->basic.dev_sectors || !z->max_zone_append_sectors)
		return -EINVAL;

	nr_zones = DIV_ROUND_UP_ULL(p->basic.dev_sectors, zone);
	if (z->max_open_zones > nr_zones || z->max_active_zones > nr_zones)
		return -EINVAL;
	/* open zones are active zones */
	if (z->max_active_zones && z->max_open_zones > z->max_active_zones)
		return -EINVAL;
	return 0;
}

/* a report buffer for up to @nr_zones zones, smaller if memory is short */
static struct blk_zone *ublk_alloc_report(struct request_queue *q,
					  unsigned int nr_zones, size_t *len)
{
	size_t size = min_t(size_t, (size_t)nr_zones * sizeof(struct blk_zone),
			    (size_t)queue_max_hw_sectors(q) << SECTOR_SHIFT);
	struct blk_zone *buf;

	size = rounddown(size, sizeof(struct blk_zone));
	while (size >= sizeof(struct blk_zone)) {
		buf = kvmalloc(size, GFP_KERNEL | __GFP_NORETRY);
		if (buf) {
			*len = size;
			return buf;
		}
		size = rounddown(size / 2, sizeof(struct blk_zone));
	}
	return NULL;
}

/* ask the server for up to @nr zones from @sector into @buf */
static int ublk_report_zones_rq(struct gendisk *disk, sector_t sector,
				unsigned int nr, struct blk_zone *buf)
{
	struct request_queue *q = disk->queue;
	struct ublk_rq_data *pdu;
	struct request *rq;
	int ret;

	rq = blk_mq_alloc_request(q, REQ_OP_DRV_IN, 0);
	if (IS_ERR(rq))
		return PTR_ERR(rq);

	pdu = blk_mq_rq_to_pdu(rq);
	pdu->nr_zones = nr;
	pdu->zone_sector = sector;
	ret = blk_rq_map_kern(q, rq, buf, nr * sizeof(*buf), GFP_KERNEL);
	if (!ret)
		ret = blk_status_to_errno(blk_execute_rq(rq, false));
	pdu->nr_zones = 0;
	blk_mq_free_request(rq);
	return ret;
}

int ublk_report_zones(struct gendisk *disk, sector_t sector,
		      unsigned int nr_zones, report_zones_cb cb, void *data)
{
	sector_t zone_sectors = disk->queue->limits.chunk_sectors;
	sector_t capacity = get_capacity(disk);
	unsigned int done = 0, per_rq;
	struct blk_zone *buf;
	size_t len;
	int ret = 0;

	if (sector >= capacity)
		return 0;
	sector = round_down(sector, zone_sectors);
	nr_zones = min_t(u64, nr_zones,
			 DIV_ROUND_UP_ULL(capacity - sector, zone_sectors));

	buf = ublk_alloc_report(disk->queue, nr_zones, &len);
	if (!buf)
		return -ENOMEM;
	per_rq = len / sizeof(*buf);

	while (done < nr_zones) {
		unsigned int i, nr = min(nr_zones - done, per_rq);

		memset(buf, 0, nr * sizeof(*buf));
		ret = ublk_report_zones_rq(disk, sector, nr, buf);
		if (ret)
			goto out;

		for (i = 0; i < nr; i++) {
			struct blk_zone *zone = &buf[i];

			/* a zero length ends the report early */
			if (!zone->len)
				goto end;
			if (zone->start != sector || zone->len > zone_sectors) {
				ret = -EIO;
				goto out;
			}
			ret = cb(zone, done, data);
			if (ret)
				goto out;
			done++;
			sector += zone_sectors;
		}
	}
end:
	ret = done;
out:
	kvfree(buf);
	return ret;
}

/*
 * START_DEV's zone revalidation, run by a work item.
 *
 * The revalidation reads the zones from the server, so it waits for the
 * server.  START_DEV usually comes from the server's own ring, i.e. runs
 * in one of the server's io-wq threads; if the server then dies before
 * it answers, its exit waits for that thread, so /dev/ublkcN is never
 * released and stage 2 never fails the report the server held: a
 * deadlock that no signal ends (the fuzzer found it).  So the reading
 * runs in a kworker, which nothing of the server's exit waits for, and
 * START_DEV waits for it killably: the dying server's io-wq thread gets
 * SIGKILL with the rest of the process, gives up, and START_DEV fails.
 * The exit then goes on to stage 2, which fails the held report, and
 * the work ends.
 *
 * Lifetime: the work holds references to the disk (not added yet; its
 * release exits the queue, so it must come after the last request) and
 * to the device (whose tag set the queue uses), and shares @rv with
 * START_DEV; whoever drops the last reference to @rv frees it.
 */
struct ublk_revalidate {
	struct work_struct	work;
	struct completion	done;
	refcount_t		ref;
	struct ublk_device	*ub;
	struct gendisk		*disk;
	/* written before @done completes */
	int			ret;
};

static void ublk_revalidate_put(struct ublk_revalidate *rv)
{
	if (refcount_dec_and_test(&rv->ref))
		kfree(rv);
}

static void ublk_revalidate_work(struct work_struct *work)
{
	struct ublk_revalidate *rv = container_of(work, struct ublk_revalidate,
						  work);
	struct ublk_device *ub = rv->ub;

	rv->ret = blk_revalidate_disk_zones(rv->disk);
	complete(&rv->done);
	/* the disk first: releasing a never-added disk uses the tag set */
	put_disk(rv->disk);
	ublk_put_device(ub);
	ublk_revalidate_put(rv);
}

/*
 * Revalidate the zones of @disk, not added yet, for START_DEV: 0, an
 * errno of the revalidation, or -EINTR when START_DEV's task was killed
 * first (the revalidation then finishes on its own, see above).
 */
int ublk_revalidate_zones(struct ublk_device *ub, struct gendisk *disk)
{
	struct ublk_revalidate *rv = kzalloc(sizeof(*rv), GFP_KERNEL);
	int ret;

	if (!rv)
		return -ENOMEM;
	INIT_WORK(&rv->work, ublk_revalidate_work);
	init_completion(&rv->done);
	refcount_set(&rv->ref, 2);
	ublk_get_device(ub);
	rv->ub = ub;
	get_device(disk_to_dev(disk));
	rv->disk = disk;
	queue_work(ublk_wq, &rv->work);

	/* -ERESTARTSYS is not for a uring_cmd's result */
	if (wait_for_completion_killable(&rv->done))
		ret = -EINTR;
	else
		ret = rv->ret;
	ublk_revalidate_put(rv);
	return ret;
}
