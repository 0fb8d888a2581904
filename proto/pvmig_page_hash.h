/* SPDX-License-Identifier: MIT */
/*
 * Page hash of the hint log: the test-only record of which pages a hint
 * let migration skip and what they held at that moment.
 *
 * QEMU, started with PVMIG_HINT_LOG=<file>, appends one text line per
 * page that qemu_guest_free_page_hint() was asked to skip:
 *
 *     <ramblock-name> <offset-in-block, hex> <pvmig_page_hash, hex> [<pages, hex>]
 *
 * The optional fourth field says the line stands for that many
 * consecutive pages with the same hash (1 without it): the log writes
 * runs of untouched, all-zero pages as one line.
 *
 * The RAM comparison accepts a page whose source and destination differ
 * only if the log holds that page with the hash of the source's final
 * content: the guest never wrote it after the hint, so nothing it could
 * read back was skipped.  Any other difference is a lost page.
 */
#ifndef PVMIG_PAGE_HASH_H
#define PVMIG_PAGE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* FNV-1a over 64-bit words: cheap enough to run on every hinted page. */
static inline uint64_t pvmig_page_hash(const void *page, size_t len)
{
	const unsigned char *p = page;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, sizeof(w));
		h = (h ^ w) * 0x100000001b3ULL;
	}
	return h;
}

#endif /* PVMIG_PAGE_HASH_H */
