/* In-guest helpers shared by pvmig-test-module and pvmig-bench-module. */
#ifndef PVMIG_LIB_H
#define PVMIG_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "pvmig_uapi.h"

#define PVMIG_DEV "/dev/pvmig"

/* Result of reading one snapshot to its end. */
struct snap {
	struct pvmig_snapshot_info info;
	uint64_t pages;		/* summed from the ranges read */
	uint64_t ranges;
	uint64_t elapsed_ns;	/* wall time of the read loop */
	int err;		/* 0, or errno of the failing call */
	char why[160];		/* set when the stream breaks the ABI */
};

/* Called for each range read; return non-zero to stop reading. */
typedef int (*range_fn)(const struct pvmig_range *r, void *arg);

uint64_t now_ns(void);

/*
 * Read a whole snapshot from fd (rewinding first), checking the ABI:
 * ranges ascending, non-overlapping, merged, non-empty, below max_pfn; info
 * complete with totals equal to what was read.  bufsz: bytes per read().
 */
int snapshot(int fd, size_t bufsz, range_fn fn, void *arg, struct snap *s);

/* /proc/meminfo field in kB, or -1. */
long meminfo_kb(const char *field);
/* Sum of "count:" lines of the per-cpu pagesets in /proc/zoneinfo. */
long zoneinfo_pcp_pages(void);

/*
 * Fragment free memory: map `bytes`, touch it, then give back every other
 * page, so the freed pages cannot merge with their buddies.  Returns the
 * mapping (which must stay mapped to keep the holes) or NULL.
 */
void *fragment(size_t bytes);

/* PFN of each page of [addr, addr + npages pages) from /proc/self/pagemap; 0 if absent. */
int pagemap_pfns(const void *addr, size_t npages, uint64_t *pfns);

/* /lib/modules/$(uname -r)/extra/NAME.ko, or $PVMIG_KO for "pvmig" */
void module_path(const char *name, char *buf, size_t len);
/* finit_module / delete_module(O_NONBLOCK); 0 or -1 with errno */
int load_module(const char *ko, const char *params);
int unload_module(const char *name);

#endif
