// SPDX-License-Identifier: MIT
/*
 * Streaming encoder of one epoch's free ranges into RANGES chunks.
 *
 * Ranges are placed greedily: a short range starts a "group", following
 * ranges join it while the bits a bitmap would spend on them (gap + length)
 * do not exceed what a run item would cost and the group spans at most
 * PVMIG_BITMAP_MAX_BITS pages.  A full group is emitted as whichever is
 * smaller, one bitmap item or its run items.  Every output step either
 * fits the chunk whole or leaves the state untouched and reports
 * PVMIG_ENC_FULL, which is why the caller may simply add the same range
 * again after taking the chunk.
 */
#include <string.h>

#include "pvmig_internal.h"

#define CHUNK_OVERHEAD	(PVMIG_HDR_SIZE + PVMIG_RANGES_HDR_SIZE)
/* Longer ranges are always cheaper as run items than as bitmap bits. */
#define GROUP_START_MAX	64u
/* Keeps (gap << 1) within 64 bits. */
#define ENC_PFN_LIMIT	(UINT64_C(1) << 62)

static size_t run_cost(uint64_t gap, uint64_t n)
{
	return pvmig_varint_len(gap << 1) + pvmig_varint_len(n - 1);
}

static int fail(struct pvmig_encoder *enc, int err)
{
	enc->error = err;
	return err;
}

static int room(const struct pvmig_encoder *enc, size_t need)
{
	size_t used = enc->len ? enc->len : CHUNK_OVERHEAD;

	return used + need <= enc->cap;
}

static void open_chunk(struct pvmig_encoder *enc)
{
	if (enc->len)
		return;
	enc->len = CHUNK_OVERHEAD;
	enc->chunk_base = enc->prev_end;
	enc->chunk_ranges = 0;
}

static void put_varint(struct pvmig_encoder *enc, uint64_t v)
{
	enc->len += pvmig_varint_put(enc->buf + enc->len, v);
}

/* Caller checked room(). */
static void emit_run(struct pvmig_encoder *enc, uint64_t start, uint64_t n)
{
	open_chunk(enc);
	put_varint(enc, (start - enc->prev_end) << 1);
	put_varint(enc, n - 1);
	enc->prev_end = start + n;
	enc->have_prev = 1;
	enc->nr_ranges++;
	enc->nr_pages += n;
	enc->chunk_ranges++;
}

static void set_bits(uint8_t *bm, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		bm[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Emit the pending group as a bitmap or as run items. */
static int flush_group(struct pvmig_encoder *enc)
{
	uint64_t nbits = enc->pend_end - enc->pend_start;
	size_t nbytes = (size_t)((nbits + 7) / 8);
	size_t tag = pvmig_varint_len((enc->pend_start - enc->prev_end) << 1);
	size_t bm_cost = pvmig_varint_len(nbytes - 1) + nbytes;

	if (enc->pend_ranges == 1 || enc->pend_run_cost <= bm_cost) {
		uint64_t i = 0;

		if (!room(enc, tag + enc->pend_run_cost))
			return PVMIG_ENC_FULL;
		while (i < nbits) {
			uint64_t j;

			i = pvmig_next_bit(enc->bitmap, (size_t)i, (size_t)nbits, 1);
			if (i == nbits)
				break;
			j = pvmig_next_bit(enc->bitmap, (size_t)i, (size_t)nbits, 0);
			emit_run(enc, enc->pend_start + i, j - i);
			i = j;
		}
	} else {
		if (!room(enc, tag + bm_cost))
			return PVMIG_ENC_FULL;
		open_chunk(enc);
		put_varint(enc, ((enc->pend_start - enc->prev_end) << 1) | 1);
		put_varint(enc, nbytes - 1);
		memcpy(enc->buf + enc->len, enc->bitmap, nbytes);
		enc->len += nbytes;
		enc->prev_end = enc->pend_end;
		enc->have_prev = 1;
		enc->nr_ranges += enc->pend_ranges;
		enc->nr_pages += enc->pend_pages;
		enc->chunk_ranges += enc->pend_ranges;
	}
	memset(enc->bitmap, 0, nbytes);
	enc->pend_ranges = 0;
	enc->pend_pages = 0;
	enc->pend_run_cost = 0;
	return PVMIG_OK;
}

static void start_group(struct pvmig_encoder *enc, uint64_t s, uint64_t e)
{
	enc->pend_start = s;
	enc->pend_end = e;
	set_bits(enc->bitmap, 0, e - s);
	enc->pend_ranges = 1;
	enc->pend_pages = e - s;
	enc->pend_run_cost = pvmig_varint_len(e - s - 1);
}

/* Place the pending range [in_start, in_end): join, group or emit. */
static int place(struct pvmig_encoder *enc)
{
	uint64_t s = enc->in_start, e = enc->in_end, n = e - s;
	int rc;

	if (enc->pend_ranges) {
		uint64_t gap = s - enc->pend_end;

		if (e - enc->pend_start <= PVMIG_BITMAP_MAX_BITS &&
		    gap + n <= 8 * run_cost(gap, n)) {
			set_bits(enc->bitmap, s - enc->pend_start,
				 e - enc->pend_start);
			enc->pend_end = e;
			enc->pend_ranges++;
			enc->pend_pages += n;
			enc->pend_run_cost += run_cost(gap, n);
			enc->have_in = 0;
			return PVMIG_OK;
		}
		rc = flush_group(enc);
		if (rc)
			return rc;
	}
	if (n <= GROUP_START_MAX) {
		start_group(enc, s, e);
	} else {
		if (!room(enc, run_cost(s - enc->prev_end, n)))
			return PVMIG_ENC_FULL;
		emit_run(enc, s, n);
	}
	enc->have_in = 0;
	return PVMIG_OK;
}

int pvmig_encoder_init(struct pvmig_encoder *enc, uint32_t epoch,
		       uint64_t max_pfn, void *buf, size_t cap)
{
	if (!enc)
		return PVMIG_E_INVAL;
	memset(enc, 0, sizeof(*enc));
	if (!buf || !epoch || !max_pfn || max_pfn > ENC_PFN_LIMIT ||
	    cap < PVMIG_ENC_MIN_BUF || cap > PVMIG_MAX_MSG)
		return fail(enc, PVMIG_E_INVAL);
	enc->buf = buf;
	enc->cap = cap;
	enc->epoch = epoch;
	enc->max_pfn = max_pfn;
	return PVMIG_OK;
}

int pvmig_encoder_add(struct pvmig_encoder *enc, uint64_t start_pfn,
		      uint64_t nr_pages)
{
	int rc;

	if (!enc)
		return PVMIG_E_INVAL;
	if (enc->error)
		return enc->error;
	if (enc->finished)
		return fail(enc, PVMIG_E_INVAL);
	if (!nr_pages)
		return fail(enc, PVMIG_E_RANGE_EMPTY);
	if (start_pfn > enc->max_pfn || nr_pages > enc->max_pfn - start_pfn)
		return fail(enc, PVMIG_E_RANGE_SPAN);
	if (enc->have_added && start_pfn < enc->in_end)
		return fail(enc, PVMIG_E_RANGE_ORDER);
	if (enc->have_in && start_pfn == enc->in_end) {
		enc->in_end += nr_pages;
		return PVMIG_OK;
	}
	if (enc->have_in) {
		rc = place(enc);
		if (rc)
			return rc;
	}
	enc->in_start = start_pfn;
	enc->in_end = start_pfn + nr_pages;
	enc->have_in = 1;
	enc->have_added = 1;
	return PVMIG_OK;
}

int pvmig_encoder_finish(struct pvmig_encoder *enc)
{
	int rc;

	if (!enc)
		return PVMIG_E_INVAL;
	if (enc->error)
		return enc->error;
	enc->finished = 1;
	if (enc->have_in) {
		rc = place(enc);
		if (rc)
			return rc;
	}
	if (enc->pend_ranges)
		return flush_group(enc);
	return PVMIG_OK;
}

size_t pvmig_encoder_take(struct pvmig_encoder *enc)
{
	size_t n;

	if (!enc || enc->error || !enc->len)
		return 0;
	pvmig_put_hdr(enc->buf, PVMIG_MSG_RANGES, enc->epoch,
		      (uint32_t)(enc->len - PVMIG_HDR_SIZE));
	pvmig_put32(enc->buf + PVMIG_HDR_SIZE, enc->seq);
	pvmig_put32(enc->buf + PVMIG_HDR_SIZE + 4, enc->chunk_ranges);
	pvmig_put64(enc->buf + PVMIG_HDR_SIZE + 8, enc->chunk_base);
	n = enc->len;
	enc->len = 0;
	enc->seq++;
	enc->nr_chunks++;
	return n;
}

int pvmig_encoder_end(const struct pvmig_encoder *enc,
		      const struct pvmig_end *stats, void *out, size_t cap)
{
	uint8_t *p = out;

	if (!enc || !out)
		return PVMIG_E_INVAL;
	if (enc->error)
		return enc->error;
	if (enc->have_in || enc->pend_ranges || enc->len)
		return PVMIG_E_INVAL;
	if (stats && (stats->flags & ~PVMIG_END_ALL))
		return PVMIG_E_INVAL;
	if (cap < PVMIG_HDR_SIZE + PVMIG_END_SIZE)
		return PVMIG_E_NOSPACE;
	pvmig_put_hdr(p, PVMIG_MSG_END, enc->epoch, PVMIG_END_SIZE);
	p += PVMIG_HDR_SIZE;
	pvmig_put64(p, enc->nr_ranges);
	pvmig_put64(p + 8, enc->nr_pages);
	pvmig_put32(p + 16, enc->nr_chunks);
	pvmig_put32(p + 20, stats ? stats->flags : 0);
	pvmig_put64(p + 24, stats ? stats->walk_ns : 0);
	pvmig_put64(p + 32, stats ? stats->max_hold_ns : 0);
	pvmig_put64(p + 40, stats ? stats->agent_ns : 0);
	return (int)(PVMIG_HDR_SIZE + PVMIG_END_SIZE);
}
