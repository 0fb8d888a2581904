// SPDX-License-Identifier: MIT
/*
 * Unit tests of the pvmig wire format: round trips through encoder and
 * decoder under every slicing, boundaries, one test per rejection path,
 * and a replay of the fuzzer's seed corpus (PVMIG_CORPUS=<dir>).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pvmig_internal.h"
#include "pvmig_page_hash.h"

#define MAX_PFN (UINT64_C(9) << 18)	/* 9 GiB of 4 KiB pages */

/* ---- recording callbacks ---- */

struct range { uint64_t start, n; };

struct rec {
	int hellos, requests, ends, errors, chunks;
	struct pvmig_hello hello;
	uint32_t last_epoch;
	struct pvmig_end end;
	uint32_t err_code;
	char reason[PVMIG_REASON_MAX + 1];
	size_t nr, cap;
	struct range *r;
};

static void cb_hello(void *o, const struct pvmig_hello *h)
{
	struct rec *r = o;

	r->hellos++;
	r->hello = *h;
}

static void cb_request(void *o, uint32_t epoch)
{
	struct rec *r = o;

	r->requests++;
	r->last_epoch = epoch;
}

static void cb_chunk_begin(void *o, uint32_t epoch, uint32_t seq, uint32_t n)
{
	struct rec *r = o;

	(void)seq;
	(void)n;
	r->chunks++;
	r->last_epoch = epoch;
}

static void cb_range(void *o, uint32_t epoch, uint64_t start, uint64_t n)
{
	struct rec *r = o;

	(void)epoch;
	if (r->nr == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->r = realloc(r->r, r->cap * sizeof(*r->r));
		assert_non_null(r->r);
	}
	r->r[r->nr].start = start;
	r->r[r->nr].n = n;
	r->nr++;
}

static void cb_end(void *o, uint32_t epoch, const struct pvmig_end *e)
{
	struct rec *r = o;

	r->ends++;
	r->last_epoch = epoch;
	r->end = *e;
}

static void cb_error(void *o, uint32_t epoch, uint32_t code, const char *why)
{
	struct rec *r = o;

	r->errors++;
	r->last_epoch = epoch;
	r->err_code = code;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
}

static const struct pvmig_decoder_ops rec_ops = {
	.hello = cb_hello,
	.request = cb_request,
	.chunk_begin = cb_chunk_begin,
	.range = cb_range,
	.end = cb_end,
	.error = cb_error,
};

static void rec_free(struct rec *r)
{
	free(r->r);
	memset(r, 0, sizeof(*r));
}

static struct pvmig_decoder *new_dec(enum pvmig_role role, struct rec *r)
{
	struct pvmig_decoder *d = malloc(sizeof(*d));

	assert_non_null(d);
	memset(r, 0, sizeof(*r));
	pvmig_decoder_init(d, role, MAX_PFN, &rec_ops, r);
	return d;
}

/* ---- a growable byte stream ---- */

struct stream { uint8_t *p; size_t len, cap; };

static void put(struct stream *s, const void *data, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
}

static void put_hello(struct stream *s, uint64_t max_pfn, uint32_t caps)
{
	struct pvmig_hello h = { 1, 4096, max_pfn, caps, 0 };
	uint8_t b[64];
	int n = pvmig_build_hello(b, sizeof(b), &h);

	assert_int_equal(n, PVMIG_HDR_SIZE + PVMIG_HELLO_SIZE);
	put(s, b, (size_t)n);
}

/* Raw message with arbitrary header fields. */
static void put_raw(struct stream *s, uint8_t version, uint8_t type,
		    uint16_t flags, uint32_t epoch, const void *pl, size_t len)
{
	struct pvmig_hdr h = { PVMIG_MAGIC, version, type, flags, epoch,
			       (uint32_t)len };
	uint8_t b[PVMIG_HDR_SIZE];

	pvmig_hdr_write(b, &h);
	put(s, b, sizeof(b));
	if (len)
		put(s, pl, len);
}

static void put_msg(struct stream *s, uint8_t type, uint32_t epoch,
		    const void *pl, size_t len)
{
	put_raw(s, PVMIG_PROTO_VERSION, type, 0, epoch, pl, len);
}

/* RANGES payload builder: header, then raw item bytes. */
struct chunk { uint8_t b[PVMIG_MAX_PAYLOAD]; size_t len; };

static void chunk_init(struct chunk *c, uint32_t seq, uint32_t nr,
		       uint64_t base)
{
	pvmig_put32(c->b, seq);
	pvmig_put32(c->b + 4, nr);
	pvmig_put64(c->b + 8, base);
	c->len = PVMIG_RANGES_HDR_SIZE;
}

static void chunk_varint(struct chunk *c, uint64_t v)
{
	c->len += pvmig_varint_put(c->b + c->len, v);
}

static void chunk_run(struct chunk *c, uint64_t gap, uint64_t n)
{
	chunk_varint(c, gap << 1);
	chunk_varint(c, n - 1);
}

static void chunk_byte(struct chunk *c, uint8_t v)
{
	c->b[c->len++] = v;
}

static void put_chunk(struct stream *s, uint32_t epoch, const struct chunk *c)
{
	put_msg(s, PVMIG_MSG_RANGES, epoch, c->b, c->len);
}

static void put_end(struct stream *s, uint32_t epoch, uint64_t ranges,
		    uint64_t pages, uint32_t chunks, uint32_t flags)
{
	uint8_t p[PVMIG_END_SIZE] = { 0 };

	pvmig_put64(p, ranges);
	pvmig_put64(p + 8, pages);
	pvmig_put32(p + 16, chunks);
	pvmig_put32(p + 20, flags);
	put_msg(s, PVMIG_MSG_END, epoch, p, sizeof(p));
}

/* Feed a stream with a slicing pattern: 0 whole, 1 bytewise, else random. */
static int feed(struct pvmig_decoder *d, const struct stream *s, int how,
		unsigned int seed)
{
	size_t pos = 0;
	int rc = 0;

	if (how == 0)
		return pvmig_decoder_feed(d, s->p, s->len);
	srand(seed);
	while (pos < s->len) {
		size_t n = how == 1 ? 1 : 1 + (size_t)rand() % 700;

		if (n > s->len - pos)
			n = s->len - pos;
		rc = pvmig_decoder_feed(d, s->p + pos, n);
		if (rc)
			return rc;
		pos += n;
	}
	return rc;
}

/* Decode a host-bound stream; return the decoder's final status. */
static int decode_host(const struct stream *s, struct rec *r, int how)
{
	struct pvmig_decoder *d = new_dec(PVMIG_ROLE_HOST, r);
	int rc = feed(d, s, how, 42);

	free(d);
	return rc;
}

/* ---- encoder helpers ---- */

static void encode_epoch(struct stream *s, uint32_t epoch, size_t cap,
			 const struct range *in, size_t n,
			 struct pvmig_encoder *enc)
{
	uint8_t *buf = malloc(cap);
	uint8_t endmsg[64];
	size_t len;
	int rc;

	assert_non_null(buf);
	assert_int_equal(pvmig_encoder_init(enc, epoch, MAX_PFN, buf, cap), 0);
	for (size_t i = 0; i < n; i++) {
		rc = pvmig_encoder_add(enc, in[i].start, in[i].n);
		if (rc == PVMIG_ENC_FULL) {
			len = pvmig_encoder_take(enc);
			assert_true(len > 0 && len <= cap);
			put(s, buf, len);
			rc = pvmig_encoder_add(enc, in[i].start, in[i].n);
		}
		assert_int_equal(rc, 0);
	}
	while ((rc = pvmig_encoder_finish(enc)) == PVMIG_ENC_FULL) {
		len = pvmig_encoder_take(enc);
		assert_true(len > 0 && len <= cap);
		put(s, buf, len);
	}
	assert_int_equal(rc, 0);
	len = pvmig_encoder_take(enc);
	if (len)
		put(s, buf, len);
	rc = pvmig_encoder_end(enc, NULL, endmsg, sizeof(endmsg));
	assert_int_equal(rc, PVMIG_HDR_SIZE + PVMIG_END_SIZE);
	put(s, endmsg, (size_t)rc);
	free(buf);
}

/* Merge adjacent input ranges: what the decoder must deliver. */
static size_t merged(const struct range *in, size_t n, struct range *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (m && out[m - 1].start + out[m - 1].n == in[i].start)
			out[m - 1].n += in[i].n;
		else
			out[m++] = in[i];
	}
	return m;
}

static void check_roundtrip(const struct range *in, size_t n, size_t cap)
{
	struct range *want = malloc((n + 1) * sizeof(*want));
	size_t m = merged(in, n, want);
	struct stream s = { 0 };
	struct pvmig_encoder enc;
	uint64_t pages = 0;

	assert_non_null(want);
	for (size_t i = 0; i < m; i++)
		pages += want[i].n;
	put_hello(&s, MAX_PFN, PVMIG_CAP_MODULE);
	encode_epoch(&s, 7, cap, in, n, &enc);

	for (int how = 0; how < 3; how++) {
		struct rec r;

		assert_int_equal(decode_host(&s, &r, how), 0);
		assert_int_equal(r.hellos, 1);
		assert_int_equal(r.ends, 1);
		assert_int_equal(r.last_epoch, 7);
		assert_int_equal(r.nr, m);
		assert_int_equal(r.end.nr_ranges, m);
		assert_int_equal(r.end.nr_pages, pages);
		assert_int_equal(r.end.nr_chunks, (uint32_t)r.chunks);
		for (size_t i = 0; i < m; i++) {
			assert_int_equal(r.r[i].start, want[i].start);
			assert_int_equal(r.r[i].n, want[i].n);
		}
		rec_free(&r);
	}
	free(s.p);
	free(want);
}

/* ---- tests: varint ---- */

static void test_varint_roundtrip(void **state)
{
	static const uint64_t v[] = { 0, 1, 127, 128, 16383, 16384,
				      UINT64_C(1) << 35, (UINT64_C(1) << 63) - 1,
				      UINT64_C(1) << 63, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t b[PVMIG_VARINT_MAX];
		size_t n = pvmig_varint_put(b, v[i]), pos = 0;
		uint64_t out = 0;

		assert_int_equal(n, pvmig_varint_len(v[i]));
		assert_int_equal(pvmig_varint_get(b, n, &pos, &out), 0);
		assert_int_equal(pos, n);
		assert_int_equal(out, v[i]);
		pos = 0;
		assert_int_equal(pvmig_varint_get(b, n - 1, &pos, &out),
				 PVMIG_E_VARINT_TRUNC);
	}
}

static void test_varint_reject(void **state)
{
	static const uint8_t nc[] = { 0x80, 0x00 };
	static const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x81, 0x00 };
	uint64_t v;
	size_t pos = 0;

	(void)state;
	assert_int_equal(pvmig_varint_get(nc, 2, &pos, &v),
			 PVMIG_E_VARINT_OVERLONG);
	pos = 0;
	assert_int_equal(pvmig_varint_get(big, 10, &pos, &v),
			 PVMIG_E_VARINT_OVERLONG);
	pos = 0;
	assert_int_equal(pvmig_varint_get(eleven, 11, &pos, &v),
			 PVMIG_E_VARINT_OVERLONG);
	pos = 0;
	assert_int_equal(pvmig_varint_get(nc, 0, &pos, &v),
			 PVMIG_E_VARINT_TRUNC);
}

/* ---- tests: fixed messages ---- */

static void test_hdr_layout(void **state)
{
	uint8_t b[PVMIG_HDR_SIZE];
	struct pvmig_hdr h;

	(void)state;
	assert_int_equal(pvmig_build_request(b, sizeof(b), 0x01020304), 16);
	assert_memory_equal(b, "PVMG\x01\x02\x00\x00\x04\x03\x02\x01\0\0\0\0",
			    16);
	pvmig_hdr_parse(b, &h);
	assert_int_equal(h.magic, PVMIG_MAGIC);
	assert_int_equal(h.type, PVMIG_MSG_REQUEST);
	assert_int_equal(h.epoch, 0x01020304);
	assert_int_equal(pvmig_build_request(b, 15, 1), PVMIG_E_NOSPACE);
	assert_int_equal(pvmig_build_request(b, 16, 0), PVMIG_E_INVAL);
}

static void test_hello_roundtrip(void **state)
{
	struct pvmig_hello h = { 1, 4096, 12345,
				 PVMIG_CAP_MODULE | PVMIG_CAP_POISONING, 0xaa };
	uint8_t b[64];
	struct stream s = { 0 };
	struct rec r;
	int n;

	(void)state;
	n = pvmig_build_hello(b, sizeof(b), &h);
	assert_int_equal(n, 40);
	assert_int_equal(pvmig_build_hello(b, 39, &h), PVMIG_E_NOSPACE);
	put(&s, b, (size_t)n);
	for (int how = 0; how < 2; how++) {
		assert_int_equal(decode_host(&s, &r, how), 0);
		assert_int_equal(r.hellos, 1);
		assert_int_equal(r.hello.proto_version, 1);
		assert_int_equal(r.hello.page_size, 4096);
		assert_int_equal(r.hello.max_pfn, 12345);
		assert_int_equal(r.hello.caps, h.caps);
		assert_int_equal(r.hello.poison_pattern, 0xaa);
	}
	free(s.p);
}

/* Every combination of the HELLO bits that decide the free-page contract. */
static void test_free_contract(void **state)
{
	const uint32_t iof = PVMIG_CAP_INIT_ON_FREE, poison = PVMIG_CAP_POISONING;

	(void)state;
	assert_int_equal(pvmig_free_contract(PVMIG_CAP_MODULE, 0), PVMIG_FREE_ANY);
	assert_int_equal(pvmig_free_contract(iof, 0), PVMIG_FREE_ZERO);
	assert_int_equal(pvmig_free_contract(poison, 0), PVMIG_FREE_ZERO);
	assert_int_equal(pvmig_free_contract(poison, 0xaa), PVMIG_FREE_PATTERN);
	assert_int_equal(pvmig_free_contract(iof | poison, 0),
			 PVMIG_FREE_CONTRADICTORY);
	assert_int_equal(pvmig_free_contract(iof | poison, 0xaa),
			 PVMIG_FREE_CONTRADICTORY);
	/* A pattern without the poisoning cap is the decoder's to reject. */
	assert_int_equal(pvmig_free_contract(0, 0xaa), PVMIG_FREE_ANY);
	assert_string_equal(pvmig_free_contract_str(PVMIG_FREE_ZERO), "zero");
	assert_string_equal(pvmig_free_contract_str((enum pvmig_free_contract)99),
			    "unknown");
}

static void test_request_error_guest(void **state)
{
	struct stream s = { 0 };
	struct pvmig_decoder *d;
	uint8_t b[300];
	char longr[300];
	struct rec r;
	int n;

	(void)state;
	n = pvmig_build_request(b, sizeof(b), 5);
	put(&s, b, (size_t)n);
	n = pvmig_build_error(b, sizeof(b), 5, PVMIG_ABORT_CANCEL, "bye\n");
	assert_int_equal(n, 16 + 4 + 4);
	put(&s, b, (size_t)n);
	memset(longr, 'x', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = 0;
	n = pvmig_build_error(b, sizeof(b), 0, 9, longr);
	assert_int_equal(n, 16 + 4 + PVMIG_REASON_MAX);
	put(&s, b, (size_t)n);
	assert_int_equal(pvmig_build_error(b, sizeof(b), 0, 0, NULL),
			 PVMIG_E_INVAL);

	d = new_dec(PVMIG_ROLE_GUEST, &r);
	assert_int_equal(feed(d, &s, 1, 0), 0);
	assert_int_equal(r.requests, 1);
	assert_int_equal(r.errors, 2);
	assert_int_equal(r.err_code, 9);	/* unknown codes allowed */
	assert_int_equal(strlen(r.reason), PVMIG_REASON_MAX);
	pvmig_decoder_reset(d);
	s.len = 16 + 24;	/* request + first error only */
	assert_int_equal(feed(d, &s, 0, 0), 0);
	assert_string_equal(r.reason, "bye?");	/* newline replaced */
	free(d);
	free(s.p);
}

/* ---- tests: round trips ---- */

static void test_rt_idle(void **state)
{
	struct range in[2000];

	(void)state;
	for (size_t i = 0; i < 2000; i++) {
		in[i].start = 1024 + i * 1100;
		in[i].n = 1024;
	}
	check_roundtrip(in, 2000, PVMIG_MAX_MSG);
	check_roundtrip(in, 2000, PVMIG_ENC_MIN_BUF);
}

static void test_rt_fragmented(void **state)
{
	size_t n = 200000;
	struct range *in = malloc(n * sizeof(*in));

	(void)state;
	for (size_t i = 0; i < n; i++) {
		in[i].start = 2 * i + 1;
		in[i].n = 1;
	}
	check_roundtrip(in, n, PVMIG_MAX_MSG);
	check_roundtrip(in, n, PVMIG_ENC_MIN_BUF);
	free(in);
}

static void test_rt_random(void **state)
{
	size_t n = 50000;
	struct range *in = malloc(n * sizeof(*in));

	(void)state;
	for (unsigned int seed = 1; seed <= 8; seed++) {
		uint64_t pfn = seed & 1 ? 0 : 3;
		size_t k = 0;

		srand(seed);
		while (k < n) {
			int mode = rand() % 10;
			uint64_t gap = mode < 6 ? (uint64_t)(rand() % 4) :
				       mode < 9 ? (uint64_t)(rand() % 100) :
						  (uint64_t)(rand() % 100000);
			uint64_t len = rand() % 3 ? 1 + (uint64_t)(rand() % 8) :
					1 + (uint64_t)(rand() % 5000);

			if (k && gap == 0 && rand() % 2)
				gap = 1;
			pfn += k ? gap : 0;
			if (pfn + len > MAX_PFN)
				break;
			in[k].start = pfn;
			in[k].n = len;
			pfn += len;
			k++;
		}
		check_roundtrip(in, k, seed & 2 ? PVMIG_ENC_MIN_BUF :
						  PVMIG_MAX_MSG);
	}
	free(in);
}

static void test_rt_edges(void **state)
{
	struct range a[] = { { 0, 1 }, { 2, 1 }, { MAX_PFN - 1, 1 } };
	struct range b[] = { { 0, MAX_PFN } };
	struct range c[] = { { 5, 1 }, { 6, 1 }, { 7, 100 }, { 107, 1 } };

	(void)state;
	check_roundtrip(a, 3, PVMIG_MAX_MSG);
	check_roundtrip(b, 1, PVMIG_MAX_MSG);
	check_roundtrip(c, 4, PVMIG_MAX_MSG);	/* merged to one range */
	check_roundtrip(NULL, 0, PVMIG_MAX_MSG);	/* END only */
}

/* ---- tests: encoder API ---- */

static void test_encoder_errors(void **state)
{
	static uint8_t buf[PVMIG_MAX_MSG];
	struct pvmig_encoder e;

	(void)state;
	assert_int_equal(pvmig_encoder_init(&e, 0, 100, buf, sizeof(buf)),
			 PVMIG_E_INVAL);
	assert_int_equal(pvmig_encoder_init(&e, 1, 0, buf, sizeof(buf)),
			 PVMIG_E_INVAL);
	assert_int_equal(pvmig_encoder_init(&e, 1, 100, buf,
					    PVMIG_ENC_MIN_BUF - 1),
			 PVMIG_E_INVAL);
	assert_int_equal(pvmig_encoder_init(&e, 1, 100, buf,
					    PVMIG_MAX_MSG + 1),
			 PVMIG_E_INVAL);

	assert_int_equal(pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf)), 0);
	assert_int_equal(pvmig_encoder_add(&e, 5, 0), PVMIG_E_RANGE_EMPTY);
	assert_int_equal(pvmig_encoder_add(&e, 5, 1), PVMIG_E_RANGE_EMPTY);

	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, 99, 2), PVMIG_E_RANGE_SPAN);
	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, UINT64_MAX, 2),
			 PVMIG_E_RANGE_SPAN);
	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, 99, 1), 0);	/* boundary */

	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, 10, 5), 0);
	assert_int_equal(pvmig_encoder_add(&e, 14, 1), PVMIG_E_RANGE_ORDER);
	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, 10, 5), 0);
	assert_int_equal(pvmig_encoder_add(&e, 3, 1), PVMIG_E_RANGE_ORDER);

	/* END before everything was taken; add after finish */
	pvmig_encoder_init(&e, 1, 100, buf, sizeof(buf));
	assert_int_equal(pvmig_encoder_add(&e, 10, 5), 0);
	assert_int_equal(pvmig_encoder_end(&e, NULL, buf, 64), PVMIG_E_INVAL);
	assert_int_equal(pvmig_encoder_finish(&e), 0);
	assert_int_equal(pvmig_encoder_end(&e, NULL, buf, 64), PVMIG_E_INVAL);
	assert_true(pvmig_encoder_take(&e) > 0);
	assert_int_equal(pvmig_encoder_end(&e, NULL, buf, 63),
			 PVMIG_E_NOSPACE);
	assert_int_equal(pvmig_encoder_add(&e, 50, 1), PVMIG_E_INVAL);
}

/* Many small chunks: each stays within cap, sequence numbers run on. */
static void test_encoder_chunking(void **state)
{
	uint8_t buf[PVMIG_ENC_MIN_BUF];
	struct pvmig_encoder e;
	uint32_t seq = 0;
	int rc;

	(void)state;
	pvmig_encoder_init(&e, 3, MAX_PFN, buf, sizeof(buf));
	for (uint64_t i = 0; i < 20000; i++) {
		rc = pvmig_encoder_add(&e, i * 50, 3);
		if (rc == PVMIG_ENC_FULL) {
			size_t n = pvmig_encoder_take(&e);

			assert_true(n > 32 && n <= sizeof(buf));
			assert_int_equal(pvmig_get32(buf + 16), seq);
			seq++;
			rc = pvmig_encoder_add(&e, i * 50, 3);
		}
		assert_int_equal(rc, 0);
	}
	assert_true(seq > 10);
}

/* ---- tests: decoder rejections ---- */

/* A stream starting with a valid HELLO; append one message and expect rc. */
static void expect_host(struct stream *s, int want)
{
	for (int how = 0; how < 3; how++) {
		struct rec r;

		assert_int_equal(decode_host(s, &r, how), want);
		rec_free(&r);
	}
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static void expect_guest(struct stream *s, int want)
{
	for (int how = 0; how < 2; how++) {
		struct rec r;
		struct pvmig_decoder *d = new_dec(PVMIG_ROLE_GUEST, &r);

		assert_int_equal(feed(d, s, how, 1), want);
		assert_int_equal(pvmig_decoder_error(d), want);
		free(d);
	}
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static void test_reject_header(void **state)
{
	struct stream s = { 0 };
	uint8_t b[64] = { 0 };

	(void)state;
	put_hello(&s, MAX_PFN, 0);
	memcpy(b, "PVMX", 4);
	put(&s, b, 16);
	expect_host(&s, PVMIG_E_MAGIC);

	put_raw(&s, 2, PVMIG_MSG_REQUEST, 0, 1, NULL, 0);
	expect_guest(&s, PVMIG_E_VERSION);
	put_raw(&s, 0, PVMIG_MSG_REQUEST, 0, 1, NULL, 0);
	expect_guest(&s, PVMIG_E_VERSION);
	put_msg(&s, 0, 1, NULL, 0);
	expect_guest(&s, PVMIG_E_TYPE);
	put_msg(&s, 6, 1, NULL, 0);
	expect_host(&s, PVMIG_E_TYPE);
	put_msg(&s, PVMIG_MSG_REQUEST, 1, NULL, 0);
	expect_host(&s, PVMIG_E_DIRECTION);
	put_hello(&s, MAX_PFN, 0);
	expect_guest(&s, PVMIG_E_DIRECTION);
	put_raw(&s, 1, PVMIG_MSG_REQUEST, 1, 1, NULL, 0);
	expect_guest(&s, PVMIG_E_RESERVED);

	/* length over the cap is refused from the header alone */
	put_raw(&s, 1, PVMIG_MSG_RANGES, 0, 1, NULL, 0);
	pvmig_put32(s.p + 12, PVMIG_MAX_PAYLOAD + 1);
	expect_host(&s, PVMIG_E_TOO_LONG);
	put_raw(&s, 1, PVMIG_MSG_RANGES, 0, 1, NULL, 0);
	pvmig_put32(s.p + 12, UINT32_MAX);
	expect_host(&s, PVMIG_E_TOO_LONG);

	put_msg(&s, PVMIG_MSG_HELLO, 0, b, PVMIG_HELLO_SIZE - 1);
	expect_host(&s, PVMIG_E_LENGTH);
	put_msg(&s, PVMIG_MSG_HELLO, 0, b, PVMIG_HELLO_SIZE + 1);
	expect_host(&s, PVMIG_E_TRAILING);
	put_msg(&s, PVMIG_MSG_REQUEST, 1, b, 1);
	expect_guest(&s, PVMIG_E_TRAILING);
	put_hello(&s, MAX_PFN, 0);
	put_msg(&s, PVMIG_MSG_END, 1, b, PVMIG_END_SIZE - 1);
	expect_host(&s, PVMIG_E_LENGTH);
	put_hello(&s, MAX_PFN, 0);
	put_msg(&s, PVMIG_MSG_END, 1, b, PVMIG_END_SIZE + 1);
	expect_host(&s, PVMIG_E_TRAILING);
	put_hello(&s, MAX_PFN, 0);
	put_msg(&s, PVMIG_MSG_RANGES, 1, b, PVMIG_RANGES_HDR_SIZE - 1);
	expect_host(&s, PVMIG_E_LENGTH);
	put_msg(&s, PVMIG_MSG_ERROR, 1, b, 3);
	expect_guest(&s, PVMIG_E_LENGTH);

	put_msg(&s, PVMIG_MSG_HELLO, 1, b, PVMIG_HELLO_SIZE);
	expect_host(&s, PVMIG_E_EPOCH);
	put_msg(&s, PVMIG_MSG_REQUEST, 0, NULL, 0);
	expect_guest(&s, PVMIG_E_EPOCH);
	put_msg(&s, PVMIG_MSG_RANGES, 0, b, 20);
	expect_host(&s, PVMIG_E_EPOCH);
	put_msg(&s, PVMIG_MSG_END, 0, b, PVMIG_END_SIZE);
	expect_host(&s, PVMIG_E_EPOCH);
}

static void hello_payload(uint8_t *p, uint32_t ver, uint32_t ps, uint64_t mp,
			  uint32_t caps, uint32_t pat)
{
	pvmig_put32(p, ver);
	pvmig_put32(p + 4, ps);
	pvmig_put64(p + 8, mp);
	pvmig_put32(p + 16, caps);
	pvmig_put32(p + 20, pat);
}

static void test_reject_hello(void **state)
{
	struct stream s = { 0 };
	uint8_t p[PVMIG_HELLO_SIZE];
	struct {
		uint32_t ver, ps;
		uint64_t mp;
		uint32_t caps, pat;
		int want;
	} t[] = {
		{ 1, 4096, MAX_PFN, PVMIG_CAP_ALL, 0x55, 0 },
		{ 7, 65536, 1, 0, 0, 0 },		/* newer agent: ok */
		{ 0, 4096, 100, 0, 0, PVMIG_E_HELLO },
		{ 1, 2048, 100, 0, 0, PVMIG_E_HELLO },
		{ 1, 4097, 100, 0, 0, PVMIG_E_HELLO },
		{ 1, 1u << 21, 100, 0, 0, PVMIG_E_HELLO },
		{ 1, 4096, 0, 0, 0, PVMIG_E_HELLO },
		{ 1, 4096, MAX_PFN + 1, 0, 0, PVMIG_E_HELLO },
		{ 1, 4096, 100, 0, 0x55, PVMIG_E_HELLO },
		{ 1, 4096, 100, 1u << 3, 0, PVMIG_E_RESERVED },
		{ 1, 4096, 100, PVMIG_CAP_POISONING, 0x155, PVMIG_E_RESERVED },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hello_payload(p, t[i].ver, t[i].ps, t[i].mp, t[i].caps,
			      t[i].pat);
		put_msg(&s, PVMIG_MSG_HELLO, 0, p, sizeof(p));
		expect_host(&s, t[i].want);
	}
}

static void test_reject_ranges(void **state)
{
	struct stream s = { 0 };
	static struct chunk c;

	(void)state;
	/* no HELLO */
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, 0, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_NO_HELLO);
	put_end(&s, 1, 0, 0, 0, 0);
	expect_host(&s, PVMIG_E_NO_HELLO);

	/* truncated varints: in the tag, in the length */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_byte(&c, 0x80);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_VARINT_TRUNC);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_byte(&c, 0x02);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_VARINT_TRUNC);
	/* overlong varint */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_byte(&c, 0x82);
	chunk_byte(&c, 0x00);
	chunk_byte(&c, 0x00);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_VARINT_OVERLONG);

	/* bitmap: bit 0 clear, last byte zero, past the payload */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, 0);
	chunk_byte(&c, 0x02);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_BITMAP);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, 1);
	chunk_byte(&c, 0x01);
	chunk_byte(&c, 0x00);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_BITMAP);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, 1);
	chunk_byte(&c, 0x01);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_BITMAP);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, UINT64_MAX);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_BITMAP);

	/* adjacent within a chunk (gap 0 after a range) */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 2, 0);
	chunk_run(&c, 5, 1);
	chunk_run(&c, 0, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_ORDER);
	/* bitmap run after a run, adjacent */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 2, 0);
	chunk_run(&c, 5, 1);
	chunk_varint(&c, 1);
	chunk_varint(&c, 0);
	chunk_byte(&c, 0x01);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_ORDER);
	/* across chunks: base below the previous end */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, 10, 10);
	put_chunk(&s, 1, &c);
	chunk_init(&c, 1, 1, 19);
	chunk_run(&c, 5, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_ORDER);
	/* across chunks: adjacent */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, 10, 10);
	put_chunk(&s, 1, &c);
	chunk_init(&c, 1, 1, 20);
	chunk_run(&c, 0, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_ORDER);

	/* zero length: n - 1 wraps */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 2);
	chunk_varint(&c, UINT64_MAX);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_EMPTY);

	/* beyond the span: init limit, HELLO span, base, wrap, bitmap */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, MAX_PFN - 1, 2);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_SPAN);
	put_hello(&s, 1000, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, 999, 2);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_SPAN);
	put_hello(&s, 1000, 0);
	chunk_init(&c, 0, 1, 1001);
	chunk_run(&c, 0, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_SPAN);
	put_hello(&s, 1000, 0);
	chunk_init(&c, 0, 1, 500);
	chunk_varint(&c, UINT64_MAX - 1);
	chunk_varint(&c, 0);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_SPAN);
	put_hello(&s, 1000, 0);
	chunk_init(&c, 0, 2, 0);
	chunk_varint(&c, (996 << 1) | 1);
	chunk_varint(&c, 0);
	chunk_byte(&c, 0x81);	/* pages 996 and 1003 */
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_RANGE_SPAN);

	/* range count: zero, fewer, more (bitmap overshoots), trailing */
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 0, 0);
	chunk_run(&c, 0, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_COUNT);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 3, 0);
	chunk_run(&c, 0, 1);
	chunk_run(&c, 1, 1);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_COUNT);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, 0);
	chunk_byte(&c, 0x05);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_COUNT);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	chunk_run(&c, 0, 1);
	chunk_byte(&c, 0x00);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_TRAILING);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 1, 0);
	put_chunk(&s, 1, &c);
	expect_host(&s, PVMIG_E_COUNT);
}

static void put_one_chunk(struct stream *s, uint32_t epoch, uint32_t seq,
			  uint64_t base, uint64_t gap, uint64_t n)
{
	static struct chunk c;

	chunk_init(&c, seq, 1, base);
	chunk_run(&c, gap, n);
	put_chunk(s, epoch, &c);
}

static void test_reject_sequence(void **state)
{
	struct stream s = { 0 };

	(void)state;
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 1);
	put_one_chunk(&s, 1, 2, 1, 1, 1);	/* gap in seq */
	expect_host(&s, PVMIG_E_SEQUENCE);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 1, 0, 0, 1);	/* no seq 0 */
	expect_host(&s, PVMIG_E_SEQUENCE);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 1);
	put_one_chunk(&s, 2, 1, 1, 1, 1);	/* epoch switch mid-stream */
	expect_host(&s, PVMIG_E_SEQUENCE);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 1);
	put_one_chunk(&s, 1, 0, 0, 5, 1);	/* restart of the epoch */
	expect_host(&s, PVMIG_E_SEQUENCE);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 1);
	put_end(&s, 1, 1, 1, 1, 0);
	put_one_chunk(&s, 1, 1, 5, 0, 1);	/* after END */
	expect_host(&s, PVMIG_E_SEQUENCE);
	/* a new HELLO forgets the stream */
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 1);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 1, 5, 0, 1);
	expect_host(&s, PVMIG_E_SEQUENCE);
}

static void test_reject_end(void **state)
{
	struct stream s = { 0 };

	(void)state;
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 4);
	put_end(&s, 1, 1, 5, 1, 0);		/* pages */
	expect_host(&s, PVMIG_E_END_TOTALS);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 4);
	put_end(&s, 1, 2, 4, 1, 0);		/* ranges */
	expect_host(&s, PVMIG_E_END_TOTALS);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 4);
	put_end(&s, 1, 1, 4, 2, 0);		/* chunks */
	expect_host(&s, PVMIG_E_END_TOTALS);
	put_hello(&s, MAX_PFN, 0);
	put_end(&s, 3, 1, 4, 1, 0);		/* nothing decoded */
	expect_host(&s, PVMIG_E_END_TOTALS);
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 4);
	put_end(&s, 1, 1, 4, 1, 2);		/* unknown flag */
	expect_host(&s, PVMIG_E_RESERVED);
	/* the good cases around them */
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 0, 4);
	put_end(&s, 1, 1, 4, 1, PVMIG_END_TRUNCATED);
	put_end(&s, 2, 0, 0, 0, 0);		/* empty epoch */
	expect_host(&s, 0);
}

static void test_reject_error_msg(void **state)
{
	struct stream s = { 0 };
	uint8_t p[4 + PVMIG_REASON_MAX + 1];

	(void)state;
	memset(p, 'a', sizeof(p));
	pvmig_put32(p, 0);
	put_msg(&s, PVMIG_MSG_ERROR, 0, p, 8);
	expect_host(&s, PVMIG_E_ABORT_CODE);
	pvmig_put32(p, 1);
	put_msg(&s, PVMIG_MSG_ERROR, 0, p, sizeof(p));
	expect_host(&s, PVMIG_E_REASON);
	p[6] = '\n';
	put_msg(&s, PVMIG_MSG_ERROR, 0, p, 8);
	expect_guest(&s, PVMIG_E_REASON);
	p[6] = 0x7f;
	put_msg(&s, PVMIG_MSG_ERROR, 0, p, 8);
	expect_guest(&s, PVMIG_E_REASON);
	p[6] = 'a';
	put_msg(&s, PVMIG_MSG_ERROR, 0, p, sizeof(p) - 1);
	expect_host(&s, 0);
}

/* ---- tests: decoder behaviour ---- */

/* A bad chunk delivers none of its ranges, even the valid first ones. */
static void test_chunk_atomic(void **state)
{
	struct stream s = { 0 };
	static struct chunk c;
	struct rec r;

	(void)state;
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, 3, 0);
	chunk_run(&c, 1, 1);
	chunk_run(&c, 1, 1);
	chunk_run(&c, 0, 1);	/* adjacent: bad */
	put_chunk(&s, 1, &c);
	assert_int_equal(decode_host(&s, &r, 1), PVMIG_E_RANGE_ORDER);
	assert_int_equal(r.nr, 0);
	assert_int_equal(r.chunks, 0);
	free(s.p);
}

static void test_sticky_reset_resync(void **state)
{
	struct stream good = { 0 }, bad = { 0 };
	struct pvmig_decoder *d;
	struct rec r;
	uint8_t b[16];

	(void)state;
	pvmig_build_request(b, sizeof(b), 9);
	put(&good, b, 16);
	put(&bad, "garbage!", 8);
	put(&bad, b, 16);

	d = new_dec(PVMIG_ROLE_GUEST, &r);
	assert_int_equal(feed(d, &bad, 0, 0), PVMIG_E_MAGIC);
	assert_int_equal(pvmig_decoder_consumed(d), 16);
	assert_int_equal(feed(d, &good, 0, 0), PVMIG_E_MAGIC);	/* sticky */
	assert_int_equal(r.requests, 0);
	pvmig_decoder_reset(d);
	assert_int_equal(feed(d, &good, 1, 0), 0);
	assert_int_equal(r.requests, 1);

	/* resync: garbage (even a partial magic) is skipped */
	pvmig_decoder_resync(d);
	bad.len = 0;
	put(&bad, "xPVPVMxxPVM", 11);
	put(&bad, b, 16);
	put(&bad, b, 16);
	assert_int_equal(feed(d, &bad, 1, 0), 0);
	assert_int_equal(r.requests, 3);
	/* once in sync, garbage is an error again */
	assert_int_equal(pvmig_decoder_feed(d, "PV", 2), 0);
	assert_int_equal(pvmig_decoder_feed(d, b, 16), PVMIG_E_MAGIC);
	assert_int_equal(r.last_epoch, 9);

	/* consumed + resync lets the agent continue after bad input */
	pvmig_decoder_reset(d);
	bad.len = 0;
	put_raw(&bad, 1, PVMIG_MSG_REQUEST, 0, 0, NULL, 0);	/* epoch 0 */
	put(&bad, b, 16);
	assert_int_equal(pvmig_decoder_feed(d, bad.p, bad.len),
			 PVMIG_E_EPOCH);
	{
		size_t used = pvmig_decoder_consumed(d);

		assert_int_equal(used, 16);
		pvmig_decoder_resync(d);
		assert_int_equal(pvmig_decoder_feed(d, bad.p + used,
						    bad.len - used), 0);
	}
	assert_int_equal(r.requests, 4);
	free(d);
	free(good.p);
	free(bad.p);
}

/* Superseded epoch: a new epoch's seq 0 replaces an unfinished stream. */
static void test_supersede(void **state)
{
	struct stream s = { 0 };
	struct rec r;
	uint8_t b[64];

	(void)state;
	put_hello(&s, MAX_PFN, 0);
	put_one_chunk(&s, 1, 0, 0, 10, 1);
	put(&s, b, (size_t)pvmig_build_error(b, sizeof(b), 1,
					     PVMIG_ABORT_SUPERSEDED, "newer"));
	put_one_chunk(&s, 2, 0, 0, 3, 2);
	put_one_chunk(&s, 3, 0, 0, 3, 2);	/* abandoned without ERROR */
	put_end(&s, 3, 1, 2, 1, 0);
	assert_int_equal(decode_host(&s, &r, 1), 0);
	assert_int_equal(r.nr, 3);
	assert_int_equal(r.errors, 1);
	assert_int_equal(r.err_code, PVMIG_ABORT_SUPERSEDED);
	assert_string_equal(r.reason, "newer");
	assert_int_equal(r.ends, 1);
	assert_int_equal(r.last_epoch, 3);
	rec_free(&r);
	free(s.p);
}

/* The largest payload is accepted; a message of exactly 32 KiB. */
static void test_max_payload(void **state)
{
	struct stream s = { 0 };
	static struct chunk c;
	size_t nbytes = PVMIG_MAX_PAYLOAD - PVMIG_RANGES_HDR_SIZE - 1 - 3;
	struct rec r;

	(void)state;
	assert_true(pvmig_varint_len(nbytes - 1) == 3);
	put_hello(&s, MAX_PFN, 0);
	chunk_init(&c, 0, (uint32_t)(nbytes * 4), 0);
	chunk_varint(&c, 1);
	chunk_varint(&c, nbytes - 1);
	for (size_t i = 0; i < nbytes; i++)
		chunk_byte(&c, 0x55);
	assert_int_equal(c.len, PVMIG_MAX_PAYLOAD);
	put_chunk(&s, 1, &c);
	put_end(&s, 1, nbytes * 4, nbytes * 4, 1, 0);
	assert_int_equal(decode_host(&s, &r, 2), 0);
	assert_int_equal(r.nr, nbytes * 4);
	assert_int_equal(r.r[r.nr - 1].start, nbytes * 8 - 2);
	rec_free(&r);
	free(s.p);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = PVMIG_E_NOSPACE; e <= PVMIG_ENC_FULL; e++) {
		assert_string_not_equal(pvmig_strerror(e), "unknown status");
		for (int f = PVMIG_E_NOSPACE; f < e; f++)
			assert_string_not_equal(pvmig_strerror(e),
						pvmig_strerror(f));
	}
	assert_string_equal(pvmig_strerror(-99), "unknown status");
	for (uint32_t c = PVMIG_ABORT_NO_MODULE; c <= PVMIG_ABORT_BUSY; c++)
		assert_string_not_equal(pvmig_abort_str(c), "unknown");
	assert_string_equal(pvmig_msg_name(3), "RANGES");
}

/* ---- corpus replay ---- */

/*
 * Files named ok-* must decode cleanly in the host role, bad-* must be
 * rejected; every file must give the same result whole and byte by byte.
 */
static void test_corpus(void **state)
{
	const char *dir = getenv("PVMIG_CORPUS");
	struct dirent *de;
	int files = 0, named = 0;
	DIR *dp;

	(void)state;
	if (!dir || !*dir)
		skip();
	dp = opendir(dir);
	assert_non_null(dp);
	while ((de = readdir(dp))) {
		char path[4096];
		struct stream s = { 0 };
		uint8_t b[4096];
		size_t n;
		FILE *f;
		struct rec r1, r2;
		int rc1, rc2;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		while ((n = fread(b, 1, sizeof(b), f)) > 0)
			put(&s, b, n);
		fclose(f);
		if (!s.len)
			put(&s, "", 0);
		rc1 = decode_host(&s, &r1, 0);
		rc2 = decode_host(&s, &r2, 1);
		assert_int_equal(rc1, rc2);
		assert_int_equal(r1.nr, r2.nr);
		if (!strncmp(de->d_name, "ok-", 3)) {
			if (rc1)
				fail_msg("%s: %s", de->d_name,
					 pvmig_strerror(rc1));
			named++;
		} else if (!strncmp(de->d_name, "bad-", 4)) {
			if (!rc1)
				fail_msg("%s: accepted", de->d_name);
			named++;
		}
		rec_free(&r1);
		rec_free(&r2);
		free(s.p);
		files++;
	}
	closedir(dp);
	assert_true(named >= 10);
	print_message("replayed %d corpus files (%d with expectations)\n",
		      files, named);
}

/*
 * The hint log's page hash must tell apart any two pages the RAM
 * comparison could see: every single-bit change, and changes confined to
 * the top bits of two words (which cancel in plain FNV over words).
 */
static void test_page_hash(void **state)
{
	static uint64_t page[512];
	uint64_t base;

	(void)state;
	memset(page, 0xa5, sizeof(page));
	base = pvmig_page_hash(page, sizeof(page));
	for (size_t bit = 0; bit < sizeof(page) * 8; bit++) {
		page[bit / 64] ^= 1ULL << (bit % 64);
		assert_true(pvmig_page_hash(page, sizeof(page)) != base);
		page[bit / 64] ^= 1ULL << (bit % 64);
	}
	page[3] ^= 1ULL << 63;
	page[7] ^= 1ULL << 63;
	assert_true(pvmig_page_hash(page, sizeof(page)) != base);
	page[3] ^= 1ULL << 63;
	page[7] ^= 1ULL << 63;
	/* Words swapped between lanes, and a different length. */
	page[0] = 1;
	page[1] = 2;
	base = pvmig_page_hash(page, sizeof(page));
	page[0] = 2;
	page[1] = 1;
	assert_true(pvmig_page_hash(page, sizeof(page)) != base);
	assert_true(pvmig_page_hash(page, 2048) != pvmig_page_hash(page, 4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_roundtrip),
		cmocka_unit_test(test_varint_reject),
		cmocka_unit_test(test_hdr_layout),
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_free_contract),
		cmocka_unit_test(test_request_error_guest),
		cmocka_unit_test(test_rt_idle),
		cmocka_unit_test(test_rt_fragmented),
		cmocka_unit_test(test_rt_random),
		cmocka_unit_test(test_rt_edges),
		cmocka_unit_test(test_encoder_errors),
		cmocka_unit_test(test_encoder_chunking),
		cmocka_unit_test(test_reject_header),
		cmocka_unit_test(test_reject_hello),
		cmocka_unit_test(test_reject_ranges),
		cmocka_unit_test(test_reject_sequence),
		cmocka_unit_test(test_reject_end),
		cmocka_unit_test(test_reject_error_msg),
		cmocka_unit_test(test_chunk_atomic),
		cmocka_unit_test(test_sticky_reset_resync),
		cmocka_unit_test(test_supersede),
		cmocka_unit_test(test_max_payload),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_page_hash),
	};

	return cmocka_run_group_tests_name("pvmig_proto", tests, NULL, NULL);
}
