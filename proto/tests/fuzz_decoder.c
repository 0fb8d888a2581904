// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the pvmig decoder.  The input is a byte stream as
 * either end might receive it.  Beyond "no crash, no UB", it checks:
 *  - feeding it whole and in slices chosen from the input itself gives
 *    the same status and the same delivered ranges (a checksum);
 *  - every delivered range is non-empty, inside the span, and beyond the
 *    previous one of its epoch stream;
 *  - END is delivered only with totals equal to the ranges delivered.
 * It also runs a guest-role decoder with resync after every error, as the
 * agent does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvmig_proto.h"

#define MAX_PFN (UINT64_C(9) << 18)

struct seen {
	uint64_t sum, ranges, pages, stream_ranges, stream_pages;
	uint64_t prev_end;
	uint32_t epoch;
	int have_prev;
	uint64_t span;
};

static void on_hello(void *o, const struct pvmig_hello *h)
{
	struct seen *s = o;

	if (!h->max_pfn || h->max_pfn > MAX_PFN)
		abort();
	s->span = h->max_pfn;
	s->have_prev = 0;
	s->stream_ranges = s->stream_pages = 0;
	s->sum = s->sum * 31 + h->max_pfn;
}

static void on_chunk(void *o, uint32_t epoch, uint32_t seq, uint32_t nr)
{
	struct seen *s = o;

	if (!nr)
		abort();
	if (seq == 0 || epoch != s->epoch) {
		s->epoch = epoch;
		s->have_prev = 0;
		s->stream_ranges = s->stream_pages = 0;
	}
}

static void on_range(void *o, uint32_t epoch, uint64_t start, uint64_t n)
{
	struct seen *s = o;

	if (!n || start >= s->span || n > s->span - start || epoch != s->epoch)
		abort();
	if (s->have_prev && start <= s->prev_end)
		abort();
	s->have_prev = 1;
	s->prev_end = start + n;
	s->ranges++;
	s->pages += n;
	s->stream_ranges++;
	s->stream_pages += n;
	s->sum = s->sum * 31 + start * 7 + n;
}

static void on_end(void *o, uint32_t epoch, const struct pvmig_end *e)
{
	struct seen *s = o;

	if (epoch == s->epoch && s->have_prev) {
		if (e->nr_ranges != s->stream_ranges ||
		    e->nr_pages != s->stream_pages)
			abort();
	} else if (e->nr_ranges || e->nr_pages || e->nr_chunks) {
		abort();
	}
	s->have_prev = 0;
	s->epoch = 0;
	s->stream_ranges = s->stream_pages = 0;
	s->sum = s->sum * 31 + epoch;
}

static void on_error(void *o, uint32_t epoch, uint32_t code, const char *r)
{
	struct seen *s = o;

	if (!code || strlen(r) > PVMIG_REASON_MAX)
		abort();
	s->sum = s->sum * 31 + code;
}

static void on_request(void *o, uint32_t epoch)
{
	struct seen *s = o;

	if (!epoch)
		abort();
	s->sum = s->sum * 31 + epoch;
}

static const struct pvmig_decoder_ops ops = {
	.hello = on_hello,
	.request = on_request,
	.chunk_begin = on_chunk,
	.range = on_range,
	.end = on_end,
	.error = on_error,
};

static struct pvmig_decoder d1, d2, d3;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s1 = { .span = MAX_PFN }, s2 = { .span = MAX_PFN };
	struct seen s3 = { .span = MAX_PFN };
	size_t pos = 0, k = 0;
	int rc1, rc2 = 0;

	pvmig_decoder_init(&d1, PVMIG_ROLE_HOST, MAX_PFN, &ops, &s1);
	pvmig_decoder_init(&d2, PVMIG_ROLE_HOST, MAX_PFN, &ops, &s2);
	pvmig_decoder_init(&d3, PVMIG_ROLE_GUEST, 0, &ops, &s3);

	rc1 = pvmig_decoder_feed(&d1, data, size);

	/* slice lengths 1..64 taken from the input bytes themselves */
	while (pos < size && !rc2) {
		size_t n = 1 + (data[k++ % size] & 63);

		if (n > size - pos)
			n = size - pos;
		rc2 = pvmig_decoder_feed(&d2, data + pos, n);
		pos += n;
	}
	if (rc1 != rc2 || s1.sum != s2.sum || s1.ranges != s2.ranges ||
	    s1.pages != s2.pages)
		abort();
	if (rc1 != pvmig_decoder_error(&d1))
		abort();

	/* guest role with resync, as the agent runs it */
	pos = 0;
	while (pos < size) {
		int rc = pvmig_decoder_feed(&d3, data + pos, size - pos);
		size_t used = pvmig_decoder_consumed(&d3);

		if (!rc)
			break;
		if (!used || used > size - pos)
			abort();
		pos += used;
		pvmig_decoder_resync(&d3);
	}
	return 0;
}
