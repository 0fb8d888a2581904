/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_RAMCMP_H
#define PVMIG_MIGRATE_RAMCMP_H

#include "hintlog.h"

#include <stddef.h>
#include <stdint.h>

#define RAMCMP_MAX_LOST 16

struct ramcmp_result {
	uint64_t pages;		/* pages compared */
	uint64_t mismatched;	/* source != destination */
	uint64_t excused;	/* ... skipped by a hint, untouched since */
	uint64_t lost;		/* ... anything else */
	unsigned nlost_off;
	uint64_t lost_off[RAMCMP_MAX_LOST];	/* first lost block offsets */
	int64_t ms;		/* wall time of the comparison */
};

/*
 * Compares the first @size bytes of two guest RAM backing files page by
 * page.  A differing page is excused only if @log (may be NULL) holds it
 * with the hash of the source's content and, if the log says free pages
 * must read as zero, the destination's copy is zero; otherwise it is lost.
 *
 * Reads with pread() rather than mmap(): on tmpfs a read fault on a hole
 * allocates a page, so mapping the files would inflate both guests to
 * their full size (and falsify the destination's resident size), while
 * read() of a hole just copies zeros.
 *
 * Returns 0, or -1 with a message in @err.
 */
int ramcmp_files(const char *src_path, const char *dst_path, uint64_t size,
		 const struct hintlog *log, struct ramcmp_result *res,
		 char *err, size_t errlen);
/* Same on open descriptors (the driver unlinks the files early). */
int ramcmp_fds(int src_fd, int dst_fd, uint64_t size, const struct hintlog *log,
	       struct ramcmp_result *res, char *err, size_t errlen);

/* Guest-physical address of a RAM block offset on a QEMU 'pc' machine. */
uint64_t pc_ram_offset_to_gpa(uint64_t offset, uint64_t ram_size);

#endif
