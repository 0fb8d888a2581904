// SPDX-License-Identifier: MIT
/*
 * pvmig-encsize: encoded size and encode/decode time of the range
 * encoding for synthetic free-memory states of an 8 GiB x86 guest, against
 * a plain bitmap of the guest RAM span.  Prints a Markdown table.
 *
 *   pvmig-encsize [--reps N] [--seed N]
 *
 * Guest layout: 8 GiB on QEMU's pc machine: 3 GiB below the PCI hole,
 * 5 GiB from 4 GiB up, so max_pfn = 0x240000 (9 GiB span).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvmig_internal.h"

#define LOW_END		UINT64_C(0xc0000)	/* 3 GiB */
#define HIGH_START	UINT64_C(0x100000)	/* 4 GiB */
#define MAX_PFN		UINT64_C(0x240000)	/* 9 GiB */

struct range { uint64_t s, n; };

static struct range *rs;
static size_t nr, cap;
static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, no libc state */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

static double frand(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint64_t geo(double mean)
{
	uint64_t n = 1;

	while (frand() > 1.0 / mean)
		n++;
	return n;
}

static void add(uint64_t s, uint64_t n)
{
	if (nr && rs[nr - 1].s + rs[nr - 1].n == s) {
		rs[nr - 1].n += n;
		return;
	}
	if (nr == cap) {
		cap = cap ? cap * 2 : 4096;
		rs = realloc(rs, cap * sizeof(*rs));
		if (!rs)
			abort();
	}
	rs[nr].s = s;
	rs[nr].n = n;
	nr++;
}

static int is_ram(uint64_t pfn)
{
	return pfn < LOW_END || (pfn >= HIGH_START && pfn < MAX_PFN);
}

/* Idle: 4 MiB blocks, each kept apart by a few used pages. */
static void gen_idle_blocks(void)
{
	uint64_t p = 16384;

	while (p + 1024 <= MAX_PFN) {
		if (!is_ram(p) || !is_ram(p + 1023)) {
			p = p < HIGH_START ? HIGH_START : p + 1024;
			continue;
		}
		add(p, 1024);
		p += 1024 + 1 + rnd() % 64;
	}
}

/* Idle, merged: free 4 MiB blocks (95 % of them), some small ranges. */
static void gen_idle(void)
{
	for (uint64_t b = 16384; b < MAX_PFN; b += 1024) {
		if (!is_ram(b))
			continue;
		if (frand() < 0.95)
			add(b, 1024);
		else if (frand() < 0.5)
			add(b + 512 + rnd() % 256, 1 + rnd() % 64);
	}
}

/* Freed after use: long free runs broken by a few used pages. */
static void gen_freed_dirty(void)
{
	uint64_t pfn = 16384;

	while (pfn < MAX_PFN) {
		uint64_t f = geo(400), u = geo(6);

		if (!is_ram(pfn)) {
			pfn = HIGH_START;
			continue;
		}
		if (pfn + f > MAX_PFN || (pfn < LOW_END && pfn + f > LOW_END))
			f = (pfn < LOW_END ? LOW_END : MAX_PFN) - pfn;
		add(pfn, f);
		pfn += f + u;
	}
}

/* Fragmented: every other page free (1.1M single-page ranges). */
static void gen_frag_alternate(void)
{
	for (uint64_t p = 16385; p < MAX_PFN; p += 2)
		if (is_ram(p))
			add(p, 1);
}

/* Fragmented: each page free with probability 1/2. */
static void gen_frag_random(void)
{
	for (uint64_t p = 16384; p < MAX_PFN; p++)
		if (is_ram(p) && (rnd() & 1))
			add(p, 1);
}

/* Sparse: 5 % of pages free, scattered. */
static void gen_sparse(void)
{
	for (uint64_t p = 16384; p < MAX_PFN; p++)
		if (is_ram(p) && frand() < 0.05)
			add(p, 1);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint8_t buf[PVMIG_MAX_MSG];
static uint8_t *stream;
static size_t stream_len, stream_cap;

static void keep(const uint8_t *p, size_t n)
{
	if (!stream)
		return;
	if (stream_len + n > stream_cap)
		abort();
	memcpy(stream + stream_len, p, n);
	stream_len += n;
}

/* Encode all ranges; returns bytes on the wire, chunks in *chunks. */
static size_t encode(uint32_t *chunks)
{
	struct pvmig_encoder e;
	uint8_t end[64];
	size_t total = 0, n;
	int rc;

	pvmig_encoder_init(&e, 1, MAX_PFN, buf, sizeof(buf));
	for (size_t i = 0; i < nr; i++) {
		rc = pvmig_encoder_add(&e, rs[i].s, rs[i].n);
		if (rc == PVMIG_ENC_FULL) {
			n = pvmig_encoder_take(&e);
			keep(buf, n);
			total += n;
			rc = pvmig_encoder_add(&e, rs[i].s, rs[i].n);
		}
		if (rc)
			abort();
	}
	while (pvmig_encoder_finish(&e) == PVMIG_ENC_FULL) {
		n = pvmig_encoder_take(&e);
		keep(buf, n);
		total += n;
	}
	n = pvmig_encoder_take(&e);
	keep(buf, n);
	total += n;
	rc = pvmig_encoder_end(&e, NULL, end, sizeof(end));
	if (rc < 0)
		abort();
	keep(end, (size_t)rc);
	*chunks = e.nr_chunks;
	return total + (size_t)rc;
}

/* Bytes if every range were a run item (no bitmaps), chunk headers aside. */
static size_t runs_only(void)
{
	uint64_t prev = 0;
	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		n += pvmig_varint_len((rs[i].s - prev) << 1) +
		     pvmig_varint_len(rs[i].n - 1);
		prev = rs[i].s + rs[i].n;
	}
	return n;
}

static uint64_t dec_ranges;

static void on_range(void *o, uint32_t epoch, uint64_t s, uint64_t n)
{
	(void)o;
	(void)epoch;
	(void)s;
	(void)n;
	dec_ranges++;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*gen)(void);
	} states[] = {
		{ "idle, separate 4 MiB blocks", gen_idle_blocks },
		{ "idle, adjacent 4 MiB blocks merged", gen_idle },
		{ "freed-dirty (long runs, small holes)", gen_freed_dirty },
		{ "fragmented, alternate pages", gen_frag_alternate },
		{ "fragmented, random p=0.5", gen_frag_random },
		{ "sparse, random p=0.05", gen_sparse },
	};
	static const struct pvmig_decoder_ops ops = { .range = on_range };
	static struct pvmig_decoder dec;
	uint64_t seed = 1;
	int reps = 21;
	size_t bitmap = (size_t)(MAX_PFN / 8);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--reps N] [--seed N]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1 || reps > 1000)
		reps = 21;

	printf("guest: 8 GiB, max_pfn 0x%llx; plain bitmap of the span: %zu bytes\n\n",
	       (unsigned long long)MAX_PFN, bitmap);
	printf("| state | ranges | free pages | encoded bytes | chunks | vs bitmap | runs only | encode ms median / min | decode ms median / min |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		double enc_t[1000], dec_t[1000];
		uint64_t pages = 0;
		uint32_t chunks = 0;
		size_t bytes = 0;

		rng = seed * 0x9e3779b97f4a7c15ULL + k;
		nr = 0;
		states[k].gen();
		for (size_t i = 0; i < nr; i++)
			pages += rs[i].n;

		for (int r = 0; r < reps; r++) {
			double t0 = now_ns();

			bytes = encode(&chunks);
			enc_t[r] = now_ns() - t0;
		}
		stream_cap = bytes;
		stream_len = 0;
		stream = malloc(stream_cap + 64);
		encode(&chunks);
		for (int r = 0; r < reps; r++) {
			struct pvmig_hello h = { 1, 4096, MAX_PFN, 1, 0 };
			uint8_t hb[64];
			int hn = pvmig_build_hello(hb, sizeof(hb), &h);
			double t0;

			pvmig_decoder_init(&dec, PVMIG_ROLE_HOST, MAX_PFN,
					   &ops, NULL);
			pvmig_decoder_feed(&dec, hb, (size_t)hn);
			dec_ranges = 0;
			t0 = now_ns();
			if (pvmig_decoder_feed(&dec, stream, stream_len) ||
			    dec_ranges != nr)
				abort();
			dec_t[r] = now_ns() - t0;
		}
		free(stream);
		stream = NULL;

		{
			double em = median(enc_t, reps), dm = median(dec_t, reps);

			/* median() sorted them: [0] is the minimum */
			printf("| %s | %zu | %llu | %zu | %u | %.1f %% | %zu | %.3f / %.3f | %.3f / %.3f |\n",
			       states[k].name, nr, (unsigned long long)pages,
			       bytes, chunks,
			       100.0 * (double)bytes / (double)bitmap,
			       runs_only(), em / 1e6, enc_t[0] / 1e6, dm / 1e6,
			       dec_t[0] / 1e6);
		}
	}
	printf("\nmedian / minimum of %d runs; encode = ranges in -> all messages out "
	       "(memory only); decode = whole stream -> range callbacks\n",
	       reps);
	free(rs);
	return 0;
}
