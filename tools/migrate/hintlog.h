/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_HINTLOG_H
#define PVMIG_MIGRATE_HINTLOG_H

#include <stdbool.h>
#include <stdint.h>

#define PVMIG_PAGE_SIZE 4096u

/*
 * The hint log (format in proto/pvmig_page_hash.h) reduced to what the RAM
 * comparison needs: for each page of one RAM block, the hash it had at the
 * LAST hint.  A later hint supersedes an earlier one: if the page changed
 * after the last hint, that write was dirty-logged and must have been sent,
 * so only the last hinted content can legitimately be missing.
 */
struct hintlog {
	uint64_t npages;	/* pages in the block */
	uint64_t *hash;		/* per page: hash at its last hint */
	uint8_t *present;	/* bitmap: page has an entry */
	uint64_t entries;	/* lines for this block */
	uint64_t pages;		/* distinct pages of this block */
	uint64_t other_blocks;	/* lines naming another block */
	uint64_t malformed;	/* unparsable, unaligned or out of range */
	int version;		/* from the "#pvmig-hint-log N" line, 0: none */
	/*
	 * The guest's free pages must read as zero (init_on_free): a page
	 * its hint skipped is excused only if the destination's copy is
	 * zero, since an older copy would be handed out as zeroed memory.
	 */
	bool free_reads_zero;
};

/*
 * Loads @path, keeping only lines for @block of @block_bytes bytes.  A
 * missing file is an empty log (a QEMU without hints writes none).
 * Returns 0, or -1 with errno on a read error, or -2 if the log is not
 * of PVMIG_HINT_LOG_VERSION (its hashes would not compare).
 */
int hintlog_load(struct hintlog *h, const char *path, const char *block,
		 uint64_t block_bytes);
/* Same, from an in-memory text (for tests). */
void hintlog_init(struct hintlog *h, uint64_t block_bytes);
void hintlog_parse_line(struct hintlog *h, const char *line,
			const char *block);
bool hintlog_lookup(const struct hintlog *h, uint64_t page, uint64_t *hash);
void hintlog_free(struct hintlog *h);

#endif
