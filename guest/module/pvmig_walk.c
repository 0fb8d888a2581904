// SPDX-License-Identifier: GPL-2.0
/*
 * pvmig: resumable walk over the buddy allocator's free pages.
 *
 * Design: a PFN-range scan with a PFN cursor, not a free-list walk.
 *
 * The ABI wants ranges ascending and merged, and the module may not
 * allocate in proportion to the guest.  Free lists are in no address
 * order, so a list walk would need a guest-sized bitmap (or many passes)
 * to produce sorted output; a PFN scan produces it for free.
 * Resuming a list walk after dropping zone->lock also needs
 * list_rotate_to_front() on every list, which reorders the allocator's
 * lists behind its back.  The scan only reads struct pages.
 *
 * Its cost is one step per allocated page (free blocks are skipped whole
 * by their buddy order, compound pages by their order), so it grows with
 * used memory, not with free memory: that suits a migration, where the
 * guest worth hinting is the one that is mostly free.
 *
 * A count-only free-list walk (bench/listwalk) is faster on the same
 * memory, but holds the lock for a whole list at a time and its output
 * is unsorted; sorting it through a fixed buffer takes a pass over all
 * lists per buffer, and a guest-sized bitmap is what the ABI rules out.
 * So the scan wins; docs/module-walk.md has the measurements.
 *
 * Safety: a page is reported only if it was PageBuddy, in the zone whose
 * lock we hold, while we held that lock, after the snapshot started.
 * Under zone->lock PageBuddy and the order in page_private() are stable.
 * What is not protected by that lock (compound order of allocated pages)
 * is only used to skip pages, never to report them.
 *
 * Like the kernel's own PFN walkers (compaction, page_owner), the scan
 * trusts pfn_to_online_page() for the length of a hold; a memory block
 * that is offlined and hot-removed in that window is not guarded against.
 */
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/memory_hotplug.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/vmstat.h>

#include "pvmig_compat.h"
#include "pvmig_walk.h"

/*
 * Validity of a PFN (online section, present subsection, not ZONE_DEVICE)
 * is decided per subsection, so pfn_to_online_page() is asked once per
 * subsection and the rest of it is reached by pfn_to_page().
 */
#ifdef PAGES_PER_SUBSECTION
#define PVMIG_VALID_CHUNK	PAGES_PER_SUBSECTION
#else
#define PVMIG_VALID_CHUNK	PAGES_PER_SECTION
#endif

/*
 * Look at the clock this often (in pages stepped) while holding the lock.
 * The hold is timed with sched_clock(), the raw per-CPU clock: with
 * interrupts off we stay on one CPU, so it need not be synchronised with
 * other CPUs.  Not ktime_get_ns(): in TCG guests that reads the HPET, an
 * emulated MMIO access that waits for QEMU's global lock, so the clock
 * itself would stretch the hold.  Not local_clock(): with an unstable TSC
 * it is clamped to the last tick plus one tick, so it stands still for as
 * long as interrupts are off.
 */
#define PVMIG_CLOCK_EVERY	32

/*
 * A hold longer than the bound by more than this is counted as over it.
 * Stepping PVMIG_CLOCK_EVERY pages takes a few microseconds even under
 * TCG, so only a stalled CPU (or a broken bound) gets there.
 */
#define PVMIG_HOLD_SLACK_NS	(25 * NSEC_PER_USEC)

/* move the range being grown into the buffer; callers ensure a free slot */
static void pvmig_flush_run(struct pvmig_walk *w)
{
	if (!w->run_len)
		return;
	w->buf[w->nr].start_pfn = w->run_start;
	w->buf[w->nr].nr_pages = w->run_len;
	w->nr++;
	w->pages += w->run_len;
	w->ranges++;
	w->run_len = 0;
}

static void pvmig_emit(struct pvmig_walk *w, unsigned long pfn,
		       unsigned long nr)
{
	if (w->run_len && w->run_start + w->run_len == pfn) {
		w->run_len += nr;
		return;
	}
	pvmig_flush_run(w);
	w->run_start = pfn;
	w->run_len = nr;
}

/*
 * The order of the free block that @page heads, or -1 if it heads none.
 * PageBuddy() and the order in page_private() are stable only under the
 * lock of the page's zone.
 */
static int pvmig_buddy_order(struct zone *zone, struct page *page)
{
	unsigned long order;

	lockdep_assert_held(&zone->lock);
	if (!PageBuddy(page))
		return -1;
	order = page_private(page);
	/* cannot happen; do not trust it */
	if (order >= PVMIG_NR_ORDERS)
		return -1;
	return order;
}

/*
 * Steps to take over a page that is not a free buddy head.  A compound
 * head's order is read without any lock that keeps it stable, so it is
 * only a hint: if it is stale we skip pages that may be free, which is
 * safe (under-reporting).  Misaligned or out-of-range values are ignored.
 */
static unsigned long pvmig_skip(struct page *page, unsigned long pfn)
{
	unsigned int order;

	if (!PageHead(page))
		return 1;
	order = compound_order(page);
	if (order == 0 || order >= PVMIG_NR_ORDERS ||
	    !IS_ALIGNED(pfn, 1UL << order))
		return 1;
	return 1UL << order;
}

/*
 * The cursor may sit inside a free block whose head lies below it (the
 * block merged with a lower buddy while the lock was dropped).  Find that
 * head, under zone->lock, so the tail of the block is still reported.
 * Returns the end PFN of that block, or 0 if the cursor is not in one.
 */
static unsigned long pvmig_block_around(struct zone *zone, unsigned long pfn)
{
	int order, head_order;

	lockdep_assert_held(&zone->lock);
	for (order = 1; order < PVMIG_NR_ORDERS; order++) {
		unsigned long head_pfn = pfn & ~((1UL << order) - 1);
		struct page *head;

		if (head_pfn < zone->zone_start_pfn)
			break;
		/* a max-order block never crosses a section */
		head = pfn_to_online_page(head_pfn);
		if (!head || page_zone(head) != zone)
			break;
		head_order = pvmig_buddy_order(zone, head);
		if (head_order >= order)
			return head_pfn + (1UL << head_order);
	}
	return 0;
}

/*
 * The scan of one hold, with @zone's lock held since @t0: from @pfn until
 * the time bound, a full buffer, the end of this zone's pages, or the end
 * of the walk.  Returns where the next hold starts.
 */
static unsigned long pvmig_scan_zone(struct pvmig_walk *w, struct zone *zone,
				     unsigned long pfn, u64 t0)
{
	unsigned long valid_end, end;
	unsigned int steps = 0;
	struct page *page;
	int order;

	lockdep_assert_held(&zone->lock);

	if (pvmig_buddy_order(zone, pfn_to_page(pfn)) < 0) {
		end = pvmig_block_around(zone, pfn);
		if (end) {
			end = min(end, w->end_pfn);
			pvmig_emit(w, pfn, end - pfn);
			pfn = end;
		}
	}

	valid_end = pfn;
	while (pfn < w->end_pfn && w->nr < w->cap) {
		if (++steps % PVMIG_CLOCK_EVERY == 0 &&
		    sched_clock() - t0 >= w->hold_limit_ns)
			break;
		if (pfn >= valid_end) {
			page = pfn_to_online_page(pfn);
			valid_end = min(ALIGN(pfn + 1, PVMIG_VALID_CHUNK),
					w->end_pfn);
			if (!page) {
				pfn = valid_end;
				continue;
			}
		} else {
			page = pfn_to_page(pfn);
		}
		if (page_zone(page) != zone)
			break;	/* next hold takes that zone's lock */
		order = pvmig_buddy_order(zone, page);
		if (order >= 0) {
			end = min(pfn + (1UL << order), w->end_pfn);
			pvmig_emit(w, pfn, end - pfn);
			pfn = end;
			continue;
		}
		pfn += pvmig_skip(page, pfn);
	}
	return pfn;
}

/*
 * One hold of one zone's lock, from the cursor on.
 *
 * Why the cursor stays valid after the lock is dropped: it is a number,
 * not a pointer into any list or page.  Whatever the allocator does
 * meanwhile (merge, split, allocate, even offline the memory), the next
 * hold revalidates the PFN (pfn_to_online_page, page_zone, PageBuddy
 * under that zone's lock) before trusting anything about it.  The cursor
 * only moves forward, so the output stays ascending.
 */
static void pvmig_walk_hold(struct pvmig_walk *w)
{
	unsigned long pfn = w->pfn, flags;
	struct zone *zone;
	struct page *page;
	u64 t0, t1;

	/* find the next online page without any lock */
	for (;;) {
		if (pfn >= w->end_pfn) {
			w->pfn = pfn;
			w->done = true;
			return;
		}
		page = pfn_to_online_page(pfn);
		if (page)
			break;
		pfn = ALIGN(pfn + 1, PVMIG_VALID_CHUNK);
	}
	zone = page_zone(page);

	spin_lock_irqsave(&zone->lock, flags);
	t0 = sched_clock();
	w->lock_holds++;
	pfn = pvmig_scan_zone(w, zone, pfn, t0);
	t1 = sched_clock();
	/*
	 * drop the lock after a bounded hold: the cursor is only a PFN, and
	 * the next hold checks everything about it again
	 */
	spin_unlock_irqrestore(&zone->lock, flags);

	w->max_hold_ns = max(w->max_hold_ns, t1 - t0);
	if (t1 - t0 > w->hold_limit_ns + PVMIG_HOLD_SLACK_NS)
		w->holds_over_limit++;
	w->pfn = pfn;
	if (pfn >= w->end_pfn)
		w->done = true;
}

/* Forget the last snapshot: everything but the buffer. */
static void pvmig_walk_reset(struct pvmig_walk *w)
{
	*w = (struct pvmig_walk){ .buf = w->buf, .cap = w->cap };
}

/* Give the walk its buffer (NULL, 0: none) and clear it. */
void pvmig_walk_init(struct pvmig_walk *w, struct pvmig_range *buf,
		     unsigned int cap)
{
	w->buf = buf;
	w->cap = cap;
	pvmig_walk_reset(w);
}

/*
 * Start a snapshot: the PFN span of all populated zones, and the free
 * page counters at this moment.
 */
void pvmig_walk_start(struct pvmig_walk *w, u64 hold_limit_ns,
		      unsigned long *max_pfn, u64 *nr_free_pages)
{
	unsigned long start = ULONG_MAX, end = 0;
	u64 nr_free = 0;
	int nid, i;

	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (i = 0; i < MAX_NR_ZONES; i++) {
			struct zone *zone = &pgdat->node_zones[i];

			if (!populated_zone(zone))
				continue;
			start = min(start, zone->zone_start_pfn);
			end = max(end, zone_end_pfn(zone));
			nr_free += zone_page_state_snapshot(zone,
							    NR_FREE_PAGES);
		}
	}
	if (start > end)
		start = end;

	pvmig_walk_reset(w);
	w->pfn = start;
	w->end_pfn = end;
	w->hold_limit_ns = hold_limit_ns;
	*max_pfn = end;
	*nr_free_pages = nr_free;
}

/*
 * Refill the (empty) buffer.  Returns with the buffer full, or with the
 * walk done and the last range flushed into the buffer.  No lock is held
 * on return, so the caller may copy_to_user() the result.
 */
void pvmig_walk_fill(struct pvmig_walk *w)
{
	w->head = 0;
	w->nr = 0;
	while (!w->done && w->nr < w->cap) {
		pvmig_walk_hold(w);
		if (!w->done && fatal_signal_pending(current)) {
			w->done = true;
			w->truncated = true;
		}
		cond_resched();
	}
	if (w->done && w->nr < w->cap)
		pvmig_flush_run(w);
}
