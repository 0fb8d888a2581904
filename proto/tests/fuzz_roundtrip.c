// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for encoder + decoder together: the input becomes an
 * ascending list of ranges (varint gap, varint length - 1 pairs) and a
 * chunk size; what the decoder delivers must equal the list with adjacent
 * ranges merged, and every chunk must respect the size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvmig_proto.h"

#define MAX_PFN (UINT64_C(1) << 40)
#define MAX_RANGES 20000

struct range { uint64_t s, n; };

static struct range want[MAX_RANGES];
static size_t nwant, ngot;
static int bad;
static uint8_t buf[PVMIG_MAX_MSG];
static uint8_t stream[1 << 21];
static size_t slen;
static struct pvmig_decoder dec;

static void on_range(void *o, uint32_t e, uint64_t s, uint64_t n)
{
	(void)o;
	(void)e;
	if (ngot >= nwant || want[ngot].s != s || want[ngot].n != n)
		bad = 1;
	ngot++;
}

static const struct pvmig_decoder_ops ops = { .range = on_range };

static uint64_t get_varint(const uint8_t *d, size_t size, size_t *pos)
{
	uint64_t v = 0;

	for (int i = 0; i < 5 && *pos < size; i++) {
		uint8_t b = d[(*pos)++];

		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	return v;
}

static void keep(size_t n)
{
	if (n > slen + n || slen + n > sizeof(stream))
		abort();
	memcpy(stream + slen, buf, n);
	slen += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvmig_encoder enc;
	struct pvmig_hello h = { 1, 4096, MAX_PFN, PVMIG_CAP_MODULE, 0 };
	size_t pos = 2, cap, n;
	uint64_t pfn = 0;
	int rc;

	if (size < 2)
		return 0;
	cap = PVMIG_ENC_MIN_BUF +
	      (((size_t)data[0] << 8 | data[1]) % (PVMIG_MAX_MSG - PVMIG_ENC_MIN_BUF + 1));
	nwant = ngot = 0;
	bad = 0;
	slen = 0;
	if (pvmig_encoder_init(&enc, 1, MAX_PFN, buf, cap))
		abort();
	while (pos < size && nwant < MAX_RANGES) {
		uint64_t gap = get_varint(data, size, &pos) % 100000;
		uint64_t len = 1 + get_varint(data, size, &pos) % 100000;

		pfn += gap;	/* gap 0 after a range: adjacent, merged */
		if (pfn + len > MAX_PFN)
			break;
		if (nwant && want[nwant - 1].s + want[nwant - 1].n == pfn)
			want[nwant - 1].n += len;
		else
			want[nwant++] = (struct range){ pfn, len };
		rc = pvmig_encoder_add(&enc, pfn, len);
		if (rc == PVMIG_ENC_FULL) {
			n = pvmig_encoder_take(&enc);
			if (!n || n > cap)
				abort();
			keep(n);
			rc = pvmig_encoder_add(&enc, pfn, len);
		}
		if (rc)
			abort();
		pfn += len;
	}
	while ((rc = pvmig_encoder_finish(&enc)) == PVMIG_ENC_FULL) {
		n = pvmig_encoder_take(&enc);
		if (!n || n > cap)
			abort();
		keep(n);
	}
	if (rc)
		abort();
	n = pvmig_encoder_take(&enc);
	if (n > cap)
		abort();
	keep(n);
	rc = pvmig_encoder_end(&enc, NULL, buf, sizeof(buf));
	if (rc < 0)
		abort();
	keep((size_t)rc);

	pvmig_decoder_init(&dec, PVMIG_ROLE_HOST, MAX_PFN, &ops, NULL);
	n = (size_t)pvmig_build_hello(buf, sizeof(buf), &h);
	if (pvmig_decoder_feed(&dec, buf, n))
		abort();
	if (pvmig_decoder_feed(&dec, stream, slen) || bad || ngot != nwant)
		abort();
	return 0;
}
