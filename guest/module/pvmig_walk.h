/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmig: resumable walk over the buddy allocator's free pages.
 */
#ifndef _PVMIG_WALK_H
#define _PVMIG_WALK_H

#include <linux/types.h>
#include "pvmig_uapi.h"

/*
 * PFNs and range lengths are unsigned long, as in the rest of mm; they
 * become the ABI's __u64 only when copied into struct pvmig_range.  The
 * statistics are u64, like the ABI's counters.
 */
struct pvmig_walk {
	/* ranges ready for user space (fixed size, not guest-proportional) */
	struct pvmig_range *buf;
	unsigned int cap;

	/* everything below is per snapshot, cleared by pvmig_walk_reset() */
	unsigned int head;	/* next to copy out */
	unsigned int nr;	/* filled */

	unsigned long pfn;	/* cursor: next PFN to look at */
	unsigned long end_pfn;	/* exclusive end of the walk */
	u64 hold_limit_ns;	/* longest zone->lock hold we allow */

	/* the range being grown; emitted once a gap follows it */
	unsigned long run_start;
	unsigned long run_len;

	bool done;		/* cursor reached end_pfn (or truncated) */
	bool truncated;

	u64 pages;
	u64 ranges;
	u64 lock_holds;
	u64 max_hold_ns;
	u64 holds_over_limit;
};

void pvmig_walk_init(struct pvmig_walk *w, struct pvmig_range *buf,
		     unsigned int cap);
void pvmig_walk_start(struct pvmig_walk *w, u64 hold_limit_ns,
		      unsigned long *max_pfn, u64 *nr_free_pages);
void pvmig_walk_fill(struct pvmig_walk *w);

#endif /* _PVMIG_WALK_H */
