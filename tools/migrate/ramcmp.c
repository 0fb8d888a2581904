// SPDX-License-Identifier: MIT
#include "ramcmp.h"
#include "util.h"

#include "pvmig_page_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (4u << 20)

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* A file shorter than the guest: the rest reads as zero. */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static bool page_is_zero(const unsigned char *p)
{
	static const unsigned char zero[PVMIG_PAGE_SIZE];

	return memcmp(p, zero, PVMIG_PAGE_SIZE) == 0;
}

/* Whether the hint log accounts for @d differing from the source's @s. */
static bool excused_by_hint(const unsigned char *s, const unsigned char *d,
			    uint64_t off, const struct hintlog *log)
{
	uint64_t logged;

	if (!log || !hintlog_lookup(log, off / PVMIG_PAGE_SIZE, &logged))
		return false;
	if (logged != pvmig_page_hash(s, PVMIG_PAGE_SIZE))
		return false;
	return !log->free_reads_zero || page_is_zero(d);
}

static void compare_page(const unsigned char *s, const unsigned char *d,
			 uint64_t off, const struct hintlog *log,
			 struct ramcmp_result *res)
{
	if (memcmp(s, d, PVMIG_PAGE_SIZE) == 0)
		return;
	res->mismatched++;
	if (excused_by_hint(s, d, off, log)) {
		res->excused++;
		return;
	}
	if (res->nlost_off < RAMCMP_MAX_LOST)
		res->lost_off[res->nlost_off++] = off;
	res->lost++;
}

int ramcmp_fds(int sfd, int dfd, uint64_t size, const struct hintlog *log,
	       struct ramcmp_result *res, char *err, size_t errlen)
{
	unsigned char *sbuf, *dbuf;
	int64_t t0 = now_ms();
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (size % PVMIG_PAGE_SIZE) {
		snprintf(err, errlen, "RAM size %llu is not page aligned",
			 (unsigned long long)size);
		return -1;
	}
	sbuf = xmalloc(CHUNK);
	dbuf = xmalloc(CHUNK);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		if (read_full(sfd, sbuf, len, off) < 0) {
			snprintf(err, errlen, "source RAM: %s", strerror(errno));
			goto out;
		}
		if (read_full(dfd, dbuf, len, off) < 0) {
			snprintf(err, errlen, "destination RAM: %s", strerror(errno));
			goto out;
		}
		res->pages += len / PVMIG_PAGE_SIZE;
		/* Equal chunks are the common case: one memcmp decides. */
		if (memcmp(sbuf, dbuf, len) == 0)
			continue;
		for (size_t p = 0; p < len; p += PVMIG_PAGE_SIZE)
			compare_page(sbuf + p, dbuf + p, off + p, log, res);
	}
	ret = 0;
out:
	free(sbuf);
	free(dbuf);
	res->ms = now_ms() - t0;
	return ret;
}

int ramcmp_files(const char *src_path, const char *dst_path, uint64_t size,
		 const struct hintlog *log, struct ramcmp_result *res,
		 char *err, size_t errlen)
{
	int sfd, dfd, ret;

	memset(res, 0, sizeof(*res));
	sfd = open(src_path, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		snprintf(err, errlen, "%s: %s", src_path, strerror(errno));
		return -1;
	}
	dfd = open(dst_path, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dst_path, strerror(errno));
		close(sfd);
		return -1;
	}
	ret = ramcmp_fds(sfd, dfd, size, log, res, err, errlen);
	close(dfd);
	close(sfd);
	return ret;
}

/*
 * QEMU 7.2's i440fx 'pc' machine puts the first part of RAM at 0 and the
 * rest at 4 GiB: a guest of 3.5 GiB or more keeps 3 GiB below the PCI hole
 * (gigabyte_align), a smaller one has all of it below 4 GiB.
 */
uint64_t pc_ram_offset_to_gpa(uint64_t offset, uint64_t ram_size)
{
	uint64_t below_4g = ram_size >= 0xe0000000ULL ? 0xc0000000ULL : ram_size;

	return offset < below_4g ? offset : offset - below_4g + (1ULL << 32);
}
