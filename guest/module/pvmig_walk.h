/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmig: resumable walk over the buddy allocator's free pages.
 */
#ifndef _PVMIG_WALK_H
#define _PVMIG_WALK_H

#include <linux/types.h>
#include "pvmig_uapi.h"

struct pvmig_walk {
	unsigned long pfn;	/* cursor: next PFN to look at */
	unsigned long end_pfn;	/* exclusive end of the walk */
	u64 hold_limit_ns;	/* longest zone->lock hold we allow */

	/* the range being grown; emitted once a gap follows it */
	u64 run_start;
	u64 run_len;

	/* ranges ready for user space (fixed size, not guest-proportional) */
	struct pvmig_range *buf;
	unsigned int cap;
	unsigned int head;	/* next to copy out */
	unsigned int nr;	/* filled */

	bool done;		/* cursor reached end_pfn (or truncated) */
	bool truncated;

	u64 pages;
	u64 ranges;
	u64 lock_holds;
	u64 max_hold_ns;
	u64 holds_over_limit;
};

void pvmig_walk_start(struct pvmig_walk *w, u64 hold_limit_ns,
		      unsigned long *max_pfn, u64 *nr_free_pages);
void pvmig_walk_fill(struct pvmig_walk *w);

#endif /* _PVMIG_WALK_H */
