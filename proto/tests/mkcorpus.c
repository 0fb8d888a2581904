// SPDX-License-Identifier: MIT
/*
 * Writes the fuzzer's seed corpus: whole host-bound streams (what a guest
 * sends), deterministic.  ok-* files are valid, bad-* files each break one
 * rule; test_proto replays them and checks that split.
 *
 *   mkcorpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvmig_internal.h"

/* Must match the limit the fuzzer and the replay test give the decoder. */
#define MAX_PFN (UINT64_C(9) << 18)

static uint8_t out[1 << 20];
static size_t out_len;
static const char *dir;

static void put(const void *p, size_t n)
{
	if (out_len + n > sizeof(out)) {
		fprintf(stderr, "mkcorpus: stream too big\n");
		exit(1);
	}
	memcpy(out + out_len, p, n);
	out_len += n;
}

static void save(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f)) {
		perror(path);
		exit(1);
	}
	out_len = 0;
}

static void hello(uint64_t max_pfn, uint32_t caps, uint8_t pattern)
{
	struct pvmig_hello h = { 1, 4096, max_pfn, caps, pattern };
	uint8_t b[64];

	put(b, (size_t)pvmig_build_hello(b, sizeof(b), &h));
}

static void raw(uint8_t version, uint8_t type, uint16_t flags, uint32_t epoch,
		const void *pl, uint32_t len)
{
	struct pvmig_hdr h = { PVMIG_MAGIC, version, type, flags, epoch, len };
	uint8_t b[PVMIG_HDR_SIZE];

	pvmig_hdr_write(b, &h);
	put(b, sizeof(b));
	put(pl, len);
}

static void error_msg(uint32_t epoch, uint32_t code, const char *why)
{
	uint8_t b[256];

	put(b, (size_t)pvmig_build_error(b, sizeof(b), epoch, code, why));
}

struct range { uint64_t s, n; };

static void epoch_stream(uint32_t epoch, size_t cap, const struct range *r,
			 size_t n)
{
	static uint8_t buf[PVMIG_MAX_MSG];
	struct pvmig_encoder e;
	uint8_t end[64];
	int rc;

	pvmig_encoder_init(&e, epoch, MAX_PFN, buf, cap);
	for (size_t i = 0; i < n; i++) {
		rc = pvmig_encoder_add(&e, r[i].s, r[i].n);
		if (rc == PVMIG_ENC_FULL) {
			put(buf, pvmig_encoder_take(&e));
			rc = pvmig_encoder_add(&e, r[i].s, r[i].n);
		}
		if (rc) {
			fprintf(stderr, "mkcorpus: %s\n", pvmig_strerror(rc));
			exit(1);
		}
	}
	while (pvmig_encoder_finish(&e) == PVMIG_ENC_FULL)
		put(buf, pvmig_encoder_take(&e));
	put(buf, pvmig_encoder_take(&e));
	put(end, (size_t)pvmig_encoder_end(&e, NULL, end, sizeof(end)));
}

/* One RANGES message from raw item bytes. */
static void chunk(uint32_t epoch, uint32_t seq, uint32_t nr, uint64_t base,
		  const uint8_t *items, size_t len)
{
	uint8_t p[256];

	pvmig_put32(p, seq);
	pvmig_put32(p + 4, nr);
	pvmig_put64(p + 8, base);
	memcpy(p + 16, items, len);
	raw(1, PVMIG_MSG_RANGES, 0, epoch, p, (uint32_t)(16 + len));
}

static void end_msg(uint32_t epoch, uint64_t ranges, uint64_t pages,
		    uint32_t chunks, uint32_t flags)
{
	uint8_t p[PVMIG_END_SIZE] = { 0 };

	pvmig_put64(p, ranges);
	pvmig_put64(p + 8, pages);
	pvmig_put32(p + 16, chunks);
	pvmig_put32(p + 20, flags);
	raw(1, PVMIG_MSG_END, 0, epoch, p, sizeof(p));
}

static struct range rs[20000];

int main(int argc, char **argv)
{
	size_t n;
	uint64_t pfn;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	dir = argv[1];

	hello(MAX_PFN, PVMIG_CAP_MODULE | PVMIG_CAP_INIT_ON_FREE, 0);
	save("ok-hello");

	hello(MAX_PFN, 0, 0);
	error_msg(1, PVMIG_ABORT_NO_MODULE, "no /dev/pvmig");
	save("ok-no-module");

	/* idle: 4 MiB blocks */
	hello(MAX_PFN, PVMIG_CAP_MODULE, 0);
	for (n = 0; n < 300; n++)
		rs[n] = (struct range){ 4096 + n * 1536, 1024 };
	epoch_stream(1, PVMIG_MAX_MSG, rs, n);
	save("ok-idle");

	/* fragmented: every other page, then every third */
	hello(MAX_PFN, PVMIG_CAP_MODULE, 0);
	for (n = 0; n < 3000; n++)
		rs[n] = (struct range){ 1 + 2 * n, 1 };
	for (; n < 6000; n++)
		rs[n] = (struct range){ 100000 + 3 * n, 1 };
	epoch_stream(2, PVMIG_MAX_MSG, rs, n);
	save("ok-fragmented");

	/* mixed, in small chunks, with pfn 0 and the last pfn */
	hello(MAX_PFN, PVMIG_CAP_MODULE | PVMIG_CAP_POISONING, 0xaa);
	srand(7);
	pfn = 0;
	for (n = 0; n < 4000; n++) {
		uint64_t len = rand() % 4 ? 1 + (uint64_t)(rand() % 6) :
			       1 + (uint64_t)(rand() % 3000);

		rs[n] = (struct range){ pfn, len };
		pfn += len + 1 + (uint64_t)(rand() % (rand() % 5 ? 4 : 400));
	}
	rs[n++] = (struct range){ MAX_PFN - 1, 1 };
	epoch_stream(3, PVMIG_ENC_MIN_BUF, rs, n);
	save("ok-mixed-small-chunks");

	/* superseded epoch, full epoch, empty epoch, host-bound errors */
	hello(MAX_PFN, PVMIG_CAP_MODULE, 0);
	for (n = 0; n < 50; n++)
		rs[n] = (struct range){ 10 + n * 7, 2 };
	epoch_stream(4, PVMIG_MAX_MSG, rs, n);
	out_len -= PVMIG_HDR_SIZE + PVMIG_END_SIZE;	/* drop its END */
	error_msg(4, PVMIG_ABORT_SUPERSEDED, "epoch 5 arrived");
	epoch_stream(5, PVMIG_MAX_MSG, rs, n);
	epoch_stream(6, PVMIG_MAX_MSG, NULL, 0);
	error_msg(0, PVMIG_ABORT_SHUTDOWN, "");
	hello(MAX_PFN, PVMIG_CAP_MODULE, 0);
	save("ok-epochs");

	/* hand-made items: runs and a bitmap */
	{
		static const uint8_t it[] = { 0x00, 0x00, 0x04, 0x02,
					      0x03, 0x01, 0xa5, 0x81 };

		hello(MAX_PFN, PVMIG_CAP_MODULE, 0);
		chunk(9, 0, 7, 0, it, sizeof(it));
		end_msg(9, 7, 1 + 3 + 6, 1, PVMIG_END_TRUNCATED);
		save("ok-handmade");
	}

	/* one rule broken per file */
	hello(MAX_PFN, 0, 0);
	put("PVMX", 4);
	put(out, 12);
	save("bad-magic");

	raw(2, PVMIG_MSG_HELLO, 0, 0, out, 0);
	save("bad-version");

	raw(1, 9, 0, 0, NULL, 0);
	save("bad-type");

	raw(1, PVMIG_MSG_REQUEST, 0, 1, NULL, 0);
	save("bad-direction");

	raw(1, PVMIG_MSG_HELLO, 0x8000, 0, NULL, 0);
	save("bad-flags");

	{
		uint8_t h[PVMIG_HDR_SIZE];
		struct pvmig_hdr hd = { PVMIG_MAGIC, 1, PVMIG_MSG_RANGES, 0, 1,
					PVMIG_MAX_PAYLOAD + 1 };

		pvmig_hdr_write(h, &hd);
		put(h, sizeof(h));
		save("bad-too-long");
	}

	{
		static const uint8_t it[] = { 0x00, 0x00, 0x00 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, sizeof(it));
		save("bad-trailing");
	}
	{
		static const uint8_t it[] = { 0x80, 0x00, 0x00 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, sizeof(it));
		save("bad-varint-overlong");
	}
	{
		static const uint8_t it[] = { 0x00, 0x80 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, sizeof(it));
		save("bad-varint-truncated");
	}
	{
		static const uint8_t it[] = { 0x01, 0x01, 0x01, 0x00 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, sizeof(it));
		save("bad-bitmap");
	}
	{
		static const uint8_t it[] = { 0x02, 0x00, 0x00, 0x00 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 2, 0, it, sizeof(it));
		save("bad-adjacent");
	}
	{
		static const uint8_t a[] = { 0x14, 0x09 };
		static const uint8_t b[] = { 0x02, 0x00 };

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, a, sizeof(a));
		chunk(1, 1, 1, 5, b, sizeof(b));
		save("bad-order-across-chunks");
		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, a, sizeof(a));
		chunk(1, 2, 1, 30, b, sizeof(b));
		save("bad-sequence-gap");
		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, a, sizeof(a));
		end_msg(1, 1, 11, 1, 0);
		save("bad-end-totals");
		chunk(1, 0, 1, 0, a, sizeof(a));
		save("bad-no-hello");
		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 2, 0, a, sizeof(a));
		save("bad-count");
	}
	{
		uint8_t it[16];
		size_t k = pvmig_varint_put(it, (MAX_PFN - 1) << 1);

		k += pvmig_varint_put(it + k, 1);
		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, k);
		save("bad-span");
	}
	{
		uint8_t it[16] = { 0x02 };
		size_t k = 1 + pvmig_varint_put(it + 1, UINT64_MAX);

		hello(MAX_PFN, 0, 0);
		chunk(1, 0, 1, 0, it, k);
		save("bad-empty-range");
	}
	{
		uint8_t p[8] = { 1, 0, 0, 0, 'a', 0x07, 'b', 'c' };

		raw(1, PVMIG_MSG_ERROR, 0, 0, p, sizeof(p));
		save("bad-reason");
	}
	{
		uint8_t p[PVMIG_HELLO_SIZE] = { 1, 0, 0, 0, 0, 0x30, 0, 0,
						1, 0, 0, 0, 0, 0, 0, 0 };

		raw(1, PVMIG_MSG_HELLO, 0, 0, p, sizeof(p));
		save("bad-hello-page-size");
	}
	return 0;
}
