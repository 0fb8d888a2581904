// SPDX-License-Identifier: MIT
/*
 * Streaming decoder: bytes in any slicing -> validated messages ->
 * callbacks.  All state is the fixed struct pvmig_decoder; a message is
 * assembled in its payload array (length checked against the cap from
 * the header alone, before any payload byte is stored).
 *
 * A RANGES chunk is parsed twice: once to validate all of it against a
 * copy of the epoch state, then again to deliver ranges.  So the host
 * never acts on part of a chunk that turns out to be malformed.
 */
#include <string.h>

#include "pvmig_internal.h"

static const uint8_t magic_bytes[4] = { 0x50, 0x56, 0x4d, 0x47 };

/* Epoch-stream state that a chunk advances. */
struct cursor {
	int have_prev;
	uint64_t prev_end;
	uint64_t ranges;
	uint64_t pages;
};

static int fail(struct pvmig_decoder *dec, int err)
{
	dec->error = err;
	return err;
}

static void clear_stream(struct pvmig_decoder *dec)
{
	dec->stream_open = 0;
	dec->stream_epoch = 0;
	dec->next_seq = 0;
	dec->have_prev = 0;
	dec->prev_end = 0;
	dec->nr_ranges = 0;
	dec->nr_pages = 0;
}

void pvmig_decoder_init(struct pvmig_decoder *dec, enum pvmig_role role,
			uint64_t max_pfn, const struct pvmig_decoder_ops *ops,
			void *opaque)
{
	static const struct pvmig_decoder_ops no_ops;

	memset(dec, 0, offsetof(struct pvmig_decoder, payload));
	dec->consumed = 0;
	dec->ops = ops ? ops : &no_ops;
	dec->opaque = opaque;
	dec->role = (int)role;
	dec->limit_pfn = max_pfn;
	dec->span_pfn = max_pfn;
}

void pvmig_decoder_reset(struct pvmig_decoder *dec)
{
	pvmig_decoder_init(dec, (enum pvmig_role)dec->role, dec->limit_pfn,
			   dec->ops, dec->opaque);
}

void pvmig_decoder_resync(struct pvmig_decoder *dec)
{
	dec->error = 0;
	dec->have = 0;
	dec->hunting = 1;
	clear_stream(dec);
}

int pvmig_decoder_error(const struct pvmig_decoder *dec)
{
	return dec->error;
}

size_t pvmig_decoder_consumed(const struct pvmig_decoder *dec)
{
	return dec->consumed;
}

static int type_allowed(int role, unsigned int type)
{
	switch (type) {
	case PVMIG_MSG_HELLO:
	case PVMIG_MSG_RANGES:
	case PVMIG_MSG_END:
		return role == PVMIG_ROLE_HOST;
	case PVMIG_MSG_REQUEST:
		return role == PVMIG_ROLE_GUEST;
	case PVMIG_MSG_ERROR:
		return 1;
	}
	return 0;
}

/* Everything the header alone can tell. */
static int check_header(const struct pvmig_decoder *dec,
			const struct pvmig_hdr *h)
{
	uint32_t fixed = 0;

	if (h->magic != PVMIG_MAGIC)
		return PVMIG_E_MAGIC;
	if (h->version != PVMIG_PROTO_VERSION)
		return PVMIG_E_VERSION;
	if (h->type < PVMIG_MSG_HELLO || h->type > PVMIG_MSG_ERROR)
		return PVMIG_E_TYPE;
	if (!type_allowed(dec->role, h->type))
		return PVMIG_E_DIRECTION;
	if (h->flags)
		return PVMIG_E_RESERVED;
	if (h->length > PVMIG_MAX_PAYLOAD)
		return PVMIG_E_TOO_LONG;

	switch (h->type) {
	case PVMIG_MSG_HELLO:
		if (h->epoch)
			return PVMIG_E_EPOCH;
		fixed = PVMIG_HELLO_SIZE;
		break;
	case PVMIG_MSG_REQUEST:
		if (!h->epoch)
			return PVMIG_E_EPOCH;
		break;	/* fixed = 0 */
	case PVMIG_MSG_END:
		if (!h->epoch)
			return PVMIG_E_EPOCH;
		fixed = PVMIG_END_SIZE;
		break;
	case PVMIG_MSG_RANGES:
		if (!h->epoch)
			return PVMIG_E_EPOCH;
		return h->length < PVMIG_RANGES_HDR_SIZE ? PVMIG_E_LENGTH :
							    PVMIG_OK;
	case PVMIG_MSG_ERROR:
		if (h->length < 4)
			return PVMIG_E_LENGTH;
		return h->length > 4 + PVMIG_REASON_MAX ? PVMIG_E_REASON :
							  PVMIG_OK;
	}
	if (h->length > fixed)
		return PVMIG_E_TRAILING;
	if (h->length < fixed)
		return PVMIG_E_LENGTH;
	return PVMIG_OK;
}

static int on_hello(struct pvmig_decoder *dec)
{
	const uint8_t *p = dec->payload;
	struct pvmig_hello h;
	uint32_t pattern;

	h.proto_version = pvmig_get32(p);
	h.page_size = pvmig_get32(p + 4);
	h.max_pfn = pvmig_get64(p + 8);
	h.caps = pvmig_get32(p + 16);
	pattern = pvmig_get32(p + 20);

	if (h.caps & ~PVMIG_CAP_ALL)
		return PVMIG_E_RESERVED;
	if (pattern > 0xff)
		return PVMIG_E_RESERVED;
	if (pattern && !(h.caps & PVMIG_CAP_POISONING))
		return PVMIG_E_HELLO;
	if (h.proto_version < 1)
		return PVMIG_E_HELLO;
	if (h.page_size < 4096 || h.page_size > (1u << 20) ||
	    (h.page_size & (h.page_size - 1)))
		return PVMIG_E_HELLO;
	if (!h.max_pfn || h.max_pfn > dec->limit_pfn)
		return PVMIG_E_HELLO;
	h.poison_pattern = (uint8_t)pattern;

	dec->have_hello = 1;
	dec->span_pfn = h.max_pfn;
	clear_stream(dec);
	if (dec->ops->hello)
		dec->ops->hello(dec->opaque, &h);
	return PVMIG_OK;
}

static inline int bit_at(const uint8_t *bm, size_t i)
{
	return (bm[i >> 3] >> (i & 7)) & 1;
}

/*
 * Check one decoded range against the cursor and advance it; deliver it
 * when asked to.
 */
static int take_range(struct pvmig_decoder *dec, struct cursor *c,
		      uint64_t start, uint64_t n, int deliver)
{
	if (c->have_prev && start <= c->prev_end)
		return PVMIG_E_RANGE_ORDER;
	if (start > dec->span_pfn || n > dec->span_pfn - start)
		return PVMIG_E_RANGE_SPAN;
	c->have_prev = 1;
	c->prev_end = start + n;
	c->ranges++;
	c->pages += n;
	if (deliver && dec->ops->range)
		dec->ops->range(dec->opaque, dec->hdr.epoch, start, n);
	return PVMIG_OK;
}

/*
 * Walk the items of the RANGES payload.  With deliver == 0 this is the
 * validation pass; the delivery pass runs only on a payload that passed,
 * so it cannot fail.
 */
static int walk_items(struct pvmig_decoder *dec, struct cursor *c,
		      uint64_t base, uint32_t want, int deliver)
{
	const uint8_t *p = dec->payload;
	size_t len = dec->hdr.length;
	size_t pos = PVMIG_RANGES_HDR_SIZE;
	uint64_t ref = base, got = 0;
	int rc;

	while (pos < len) {
		uint64_t tag, v, gap, start;

		if (got == want)
			return PVMIG_E_TRAILING;
		rc = pvmig_varint_get(p, len, &pos, &tag);
		if (rc)
			return rc;
		rc = pvmig_varint_get(p, len, &pos, &v);
		if (rc)
			return rc;
		gap = tag >> 1;
		if (gap > dec->span_pfn || ref > dec->span_pfn - gap)
			return PVMIG_E_RANGE_SPAN;
		start = ref + gap;

		if (!(tag & 1)) {
			if (v == UINT64_MAX)
				return PVMIG_E_RANGE_EMPTY;	/* n wraps to 0 */
			rc = take_range(dec, c, start, v + 1, deliver);
			if (rc)
				return rc;
			got++;
		} else {
			size_t nbytes, i = 0, nbits;

			if (v >= len - pos)
				return PVMIG_E_BITMAP;	/* runs past payload */
			nbytes = (size_t)v + 1;
			if (!(p[pos] & 1) || !p[pos + nbytes - 1])
				return PVMIG_E_BITMAP;	/* not canonical */
			nbits = nbytes * 8;
			while (i < nbits) {
				size_t j;

				/* Short gaps and runs are the common case. */
				if (!bit_at(p + pos, i))
					i = pvmig_next_bit(p + pos, i, nbits, 1);
				if (i == nbits)
					break;
				j = i + 1;
				if (j < nbits && bit_at(p + pos, j))
					j = pvmig_next_bit(p + pos, j, nbits, 0);
				if (got == want)
					return PVMIG_E_COUNT;
				if (i > dec->span_pfn - start)
					return PVMIG_E_RANGE_SPAN;
				rc = take_range(dec, c, start + i, j - i,
						deliver);
				if (rc)
					return rc;
				got++;
				i = j;
			}
			pos += nbytes;
		}
		ref = c->prev_end;
	}
	return got == want ? PVMIG_OK : PVMIG_E_COUNT;
}

static int on_ranges(struct pvmig_decoder *dec)
{
	const uint8_t *p = dec->payload;
	uint32_t epoch = dec->hdr.epoch;
	uint32_t seq = pvmig_get32(p);
	uint32_t want = pvmig_get32(p + 4);
	uint64_t base = pvmig_get64(p + 8);
	struct cursor c = { 0 };
	int rc;

	if (dec->role == PVMIG_ROLE_HOST && !dec->have_hello)
		return PVMIG_E_NO_HELLO;
	if (seq == 0) {
		if (dec->stream_open && dec->stream_epoch == epoch)
			return PVMIG_E_SEQUENCE;	/* restart of an epoch */
	} else {
		if (!dec->stream_open || dec->stream_epoch != epoch ||
		    seq != dec->next_seq)
			return PVMIG_E_SEQUENCE;
		c.have_prev = dec->have_prev;
		c.prev_end = dec->prev_end;
		c.ranges = dec->nr_ranges;
		c.pages = dec->nr_pages;
	}
	if (!want)
		return PVMIG_E_COUNT;
	if (c.have_prev && base < c.prev_end)
		return PVMIG_E_RANGE_ORDER;
	if (base > dec->span_pfn)
		return PVMIG_E_RANGE_SPAN;

	{
		struct cursor check = c;

		rc = walk_items(dec, &check, base, want, 0);
		if (rc)
			return rc;
	}

	dec->stream_open = 1;
	dec->stream_epoch = epoch;
	dec->next_seq = seq + 1;
	if (dec->ops->chunk_begin)
		dec->ops->chunk_begin(dec->opaque, epoch, seq, want);
	walk_items(dec, &c, base, want, 1);
	dec->have_prev = c.have_prev;
	dec->prev_end = c.prev_end;
	dec->nr_ranges = c.ranges;
	dec->nr_pages = c.pages;
	if (dec->ops->chunk_end)
		dec->ops->chunk_end(dec->opaque, epoch, seq);
	return PVMIG_OK;
}

static int on_end(struct pvmig_decoder *dec)
{
	const uint8_t *p = dec->payload;
	uint32_t epoch = dec->hdr.epoch;
	struct pvmig_end e;

	if (dec->role == PVMIG_ROLE_HOST && !dec->have_hello)
		return PVMIG_E_NO_HELLO;
	e.nr_ranges = pvmig_get64(p);
	e.nr_pages = pvmig_get64(p + 8);
	e.nr_chunks = pvmig_get32(p + 16);
	e.flags = pvmig_get32(p + 20);
	e.walk_ns = pvmig_get64(p + 24);
	e.max_hold_ns = pvmig_get64(p + 32);
	e.agent_ns = pvmig_get64(p + 40);
	if (e.flags & ~PVMIG_END_ALL)
		return PVMIG_E_RESERVED;
	if (dec->stream_open && dec->stream_epoch == epoch) {
		if (e.nr_chunks != dec->next_seq ||
		    e.nr_ranges != dec->nr_ranges ||
		    e.nr_pages != dec->nr_pages)
			return PVMIG_E_END_TOTALS;
	} else if (e.nr_chunks || e.nr_ranges || e.nr_pages) {
		return PVMIG_E_END_TOTALS;	/* nothing decoded for it */
	}
	clear_stream(dec);
	if (dec->ops->end)
		dec->ops->end(dec->opaque, epoch, &e);
	return PVMIG_OK;
}

static int on_error(struct pvmig_decoder *dec)
{
	char reason[PVMIG_REASON_MAX + 1];
	uint32_t code = pvmig_get32(dec->payload);
	size_t n = dec->hdr.length - 4;

	if (!code)
		return PVMIG_E_ABORT_CODE;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = dec->payload[4 + i];

		if (ch < 0x20 || ch > 0x7e)
			return PVMIG_E_REASON;
		reason[i] = (char)ch;
	}
	reason[n] = '\0';
	if (dec->stream_open && dec->stream_epoch == dec->hdr.epoch)
		clear_stream(dec);
	if (dec->ops->error)
		dec->ops->error(dec->opaque, dec->hdr.epoch, code, reason);
	return PVMIG_OK;
}

static int on_message(struct pvmig_decoder *dec)
{
	switch (dec->hdr.type) {
	case PVMIG_MSG_HELLO:
		return on_hello(dec);
	case PVMIG_MSG_REQUEST:
		if (dec->ops->request)
			dec->ops->request(dec->opaque, dec->hdr.epoch);
		return PVMIG_OK;
	case PVMIG_MSG_RANGES:
		return on_ranges(dec);
	case PVMIG_MSG_END:
		return on_end(dec);
	case PVMIG_MSG_ERROR:
		return on_error(dec);
	}
	return PVMIG_E_TYPE;	/* check_header let nothing else through */
}

int pvmig_decoder_feed(struct pvmig_decoder *dec, const void *data,
		       size_t len)
{
	const uint8_t *in = data;
	size_t pos = 0;
	int rc;

	dec->consumed = 0;
	if (dec->error)
		return dec->error;
	if (len && !data)
		return PVMIG_E_INVAL;

	while (pos < len) {
		if (dec->hunting) {
			/* "PVMG" has no self-overlap: a mismatch restarts. */
			uint8_t b = in[pos++];

			if (b == magic_bytes[dec->have]) {
				dec->hdr_bytes[dec->have++] = b;
				if (dec->have == sizeof(magic_bytes))
					dec->hunting = 0;
			} else {
				dec->have = 0;
				if (b == magic_bytes[0])
					dec->hdr_bytes[dec->have++] = b;
			}
			continue;
		}
		if (dec->have < PVMIG_HDR_SIZE) {
			size_t n = PVMIG_HDR_SIZE - dec->have;

			if (n > len - pos)
				n = len - pos;
			memcpy(dec->hdr_bytes + dec->have, in + pos, n);
			dec->have += n;
			pos += n;
			if (dec->have < PVMIG_HDR_SIZE)
				break;
			pvmig_hdr_parse(dec->hdr_bytes, &dec->hdr);
			rc = check_header(dec, &dec->hdr);
			if (rc) {
				dec->consumed = pos;
				return fail(dec, rc);
			}
		}
		if (dec->have < PVMIG_HDR_SIZE + dec->hdr.length) {
			size_t n = PVMIG_HDR_SIZE + dec->hdr.length - dec->have;

			if (n > len - pos)
				n = len - pos;
			memcpy(dec->payload + (dec->have - PVMIG_HDR_SIZE),
			       in + pos, n);
			dec->have += n;
			pos += n;
		}
		if (dec->have == PVMIG_HDR_SIZE + dec->hdr.length) {
			dec->have = 0;
			rc = on_message(dec);
			if (rc) {
				dec->consumed = pos;
				return fail(dec, rc);
			}
		}
	}
	dec->consumed = pos;
	return PVMIG_OK;
}
