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
 * The first line names the format's version, "#pvmig-hint-log <n>": a
 * reader must refuse a log whose hashes it would compute differently
 * (a QEMU built from other sources than the comparison).
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

#define PVMIG_HINT_LOG_VERSION 2

/*
 * FNV-1a's step over 64-bit words in four interleaved lanes, each step
 * followed by an xorshift, the lanes folded at the end.  Four lanes let the
 * multiplies overlap (one chain made hashing compute-bound at about twice
 * the cost); the xorshift carries a word's high bits into the low ones,
 * which a multiply alone never does, so two pages differing only in the
 * top bit of two words still hash apart.  Not a cryptographic hash: the
 * guest is not trying to collide it, and the log is test-only.
 */
static inline uint64_t pvmig_hash_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static inline uint64_t pvmig_page_hash(const void *page, size_t len)
{
	const unsigned char *p = page;
	uint64_t lane[4] = {
		0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL,
		0x9e3779b97f4a7c15ULL, 0x7f4a7c159e3779b9ULL,
	};
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;
	int j;

	for (i = 0; i + 32 <= len; i += 32) {
		for (j = 0; j < 4; j++) {
			uint64_t w;

			memcpy(&w, p + i + 8 * j, sizeof(w));
			lane[j] = pvmig_hash_step(lane[j], w);
		}
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, sizeof(w));
		lane[0] = pvmig_hash_step(lane[0], w);
	}
	for (j = 0; j < 4; j++)
		h = pvmig_hash_step(h, lane[j]);
	return pvmig_hash_step(h, len);
}

#endif /* PVMIG_PAGE_HASH_H */
