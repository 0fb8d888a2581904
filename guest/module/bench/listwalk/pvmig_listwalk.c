// SPDX-License-Identifier: GPL-2.0
/*
 * pvmig_listwalk: benchmark-only prototype of the other walk design, a
 * walk of the buddy free lists (zone->free_area[order].free_list[mt]),
 * one zone->lock hold per list, counting entries and summing their PFNs
 * (the work a list walk must do per free block).  Loading it runs the
 * walk `runs` times and leaves the medians in read-only parameters; it
 * never reports anything to anyone.  pvmig-bench-module compares it with
 * pvmig.ko's PFN scan on the same guest.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/nodemask.h>
#include <linux/sort.h>
#include <linux/spinlock.h>

/* copied beside this file by the build (see ../../Makefile) */
#include "pvmig_compat.h"

#define LW_NR_ORDERS	PVMIG_NR_ORDERS

#define LW_MAX_RUNS	15

static unsigned int runs = 5;
module_param(runs, uint, 0444);
static unsigned long walk_ns, max_hold_ns, entries, pages, pfn_sum;
module_param(walk_ns, ulong, 0444);
module_param(max_hold_ns, ulong, 0444);
module_param(entries, ulong, 0444);
module_param(pages, ulong, 0444);
module_param(pfn_sum, ulong, 0444);

struct lw_run {
	u64 walk_ns;
	u64 max_hold_ns;
	u64 entries;
	u64 pages;
	u64 pfn_sum;
};

static void lw_walk_zone(struct zone *zone, struct lw_run *r)
{
	unsigned int order, mt;

	for (order = 0; order < LW_NR_ORDERS; order++) {
		for (mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct list_head *list =
				&zone->free_area[order].free_list[mt];
			unsigned long flags;
			struct page *page;
			u64 t0, t1;

			spin_lock_irqsave(&zone->lock, flags);
			t0 = ktime_get_ns();
			list_for_each_entry(page, list, lru) {
				r->entries++;
				r->pages += 1UL << order;
				r->pfn_sum += page_to_pfn(page);
			}
			t1 = ktime_get_ns();
			/* one list per hold: let the allocator in between */
			spin_unlock_irqrestore(&zone->lock, flags);
			r->max_hold_ns = max(r->max_hold_ns, t1 - t0);
			cond_resched();
		}
	}
}

static void lw_walk(struct lw_run *r)
{
	u64 t0 = ktime_get_ns();
	int nid, i;

	memset(r, 0, sizeof(*r));
	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (i = 0; i < MAX_NR_ZONES; i++) {
			struct zone *zone = &pgdat->node_zones[i];

			if (populated_zone(zone))
				lw_walk_zone(zone, r);
		}
	}
	r->walk_ns = ktime_get_ns() - t0;
}

static int lw_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int __init lw_init(void)
{
	static struct lw_run r[LW_MAX_RUNS];
	u64 w[LW_MAX_RUNS], h[LW_MAX_RUNS];
	unsigned int i, n = clamp(runs, 1U, (unsigned int)LW_MAX_RUNS);

	for (i = 0; i < n; i++) {
		lw_walk(&r[i]);
		w[i] = r[i].walk_ns;
		h[i] = r[i].max_hold_ns;
	}
	sort(w, n, sizeof(w[0]), lw_cmp, NULL);
	sort(h, n, sizeof(h[0]), lw_cmp, NULL);
	walk_ns = w[n / 2];
	max_hold_ns = h[n / 2];
	entries = r[n - 1].entries;
	pages = r[n - 1].pages;
	pfn_sum = r[n - 1].pfn_sum;
	pr_info("%u runs: walk %lu ns, max hold %lu ns, %lu entries, %lu pages\n",
		n, walk_ns, max_hold_ns, entries, pages);
	return 0;
}

static void __exit lw_exit(void)
{
}

module_init(lw_init);
module_exit(lw_exit);

MODULE_DESCRIPTION("pvmig benchmark: free-list walk prototype (count only)");
MODULE_LICENSE("GPL");
