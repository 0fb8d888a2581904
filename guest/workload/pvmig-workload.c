// SPDX-License-Identifier: MIT
/*
 * pvmig-workload: puts guest memory into the state a scenario needs, then
 * checks, for as long as the guest runs, that the data it keeps is intact.
 *
 * The memory states are the ones hints are about: pages dirtied and then
 * freed (stale non-zero content in the buddy allocator), free memory
 * fragmented into single pages, data held across the migration (checked on
 * the destination), and churn (blocks allocated, written, checked and
 * freed while the migration runs).  Every page the workload owns carries a
 * pattern derived from the seed, its index and a generation number, so a
 * page that migration lost (zero or stale on the destination) is caught.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define MB		(1024UL * 1024UL)
#define CHURN_SLOTS	64
#define CHURN_MAX_PAGES	1024	/* 4 MiB: the largest buddy block */

struct options {
	unsigned long fill_mb;
	unsigned long frag_mb;
	unsigned long hold_mb;
	unsigned long churn_mb;
	unsigned long write_kbps;	/* held pages rewritten per second, KiB */
	uint64_t seed;
	unsigned int sweep_ms;
};

struct block {
	uint64_t *mem;
	size_t pages;
	uint64_t tag;			/* seeds this block's pattern */
	uint8_t *held;			/* fragmented block: page still held? */
};

static uint64_t rng_state;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t rng_next(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return mix64(rng_state);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Never zero, so a page the destination left zero-filled cannot pass. */
static uint64_t page_value(uint64_t seed, uint64_t tag, uint64_t index,
			   uint64_t gen)
{
	return mix64(seed ^ mix64(tag ^ mix64(index ^ (gen << 40)))) | 1;
}

static void fill_page(uint64_t *page, uint64_t v)
{
	for (size_t i = 0; i < WORDS; i++)
		page[i] = v + i;
}

static bool page_ok(const uint64_t *page, uint64_t v)
{
	for (size_t i = 0; i < WORDS; i++)
		if (page[i] != v + i)
			return false;
	return true;
}

static void *map_pages(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Small pages, so that freeing one page frees exactly one page. */
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

static void read_meminfo(unsigned long *total_kb, unsigned long *free_kb)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];

	*total_kb = *free_kb = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %lu kB", total_kb);
		sscanf(line, "MemFree: %lu kB", free_kb);
	}
	fclose(f);
}

/* Dirty memory with non-zero data and give it back to the buddy allocator. */
static int fill_and_free(const struct options *o)
{
	size_t pages = o->fill_mb * MB / PAGE;
	uint64_t *mem;

	if (!pages)
		return 0;
	mem = map_pages(pages);
	if (!mem) {
		fprintf(stderr, "workload: cannot map %lu MB to fill\n",
			o->fill_mb);
		return -1;
	}
	for (size_t p = 0; p < pages; p++)
		fill_page(mem + p * WORDS, page_value(o->seed, 1, p, 0));
	munmap(mem, pages * PAGE);
	return 0;
}

/*
 * Leave free memory in small orders: touch every page, then release runs
 * of 1..8 pages separated by held pages, so the freed runs cannot merge.
 * The held pages become part of the verified set.
 */
static int fragment(const struct options *o, struct block *held)
{
	size_t pages = o->frag_mb * MB / PAGE;
	uint64_t *mem;
	size_t p = 0;

	if (!pages)
		return 0;
	mem = map_pages(pages);
	held->held = calloc(pages, 1);
	if (!mem || !held->held) {
		fprintf(stderr, "workload: cannot map %lu MB to fragment\n",
			o->frag_mb);
		return -1;
	}
	for (size_t i = 0; i < pages; i++)
		fill_page(mem + i * WORDS, page_value(o->seed, 2, i, 0));
	while (p < pages) {
		size_t run = 1 + rng_next() % 8;

		if (p + run > pages)
			run = pages - p;
		madvise(mem + p * WORDS, run * PAGE, MADV_DONTNEED);
		p += run;
		/* The held page that keeps the freed runs from merging. */
		if (p < pages)
			held->held[p++] = 1;
	}
	held->mem = mem;
	held->pages = pages;
	held->tag = 2;
	return 0;
}

struct state {
	struct options o;
	struct block hold;
	uint64_t *hold_gen;		/* generation of each held page */
	struct block frag;
	struct block churn[CHURN_SLOTS];
	size_t churn_pages;
	size_t write_cursor;
	uint64_t sweep;
	uint64_t bad_total;
};

static void report_bad(const char *what, size_t index, const uint64_t *page,
		       uint64_t expect)
{
	printf("PVMIG-CHECK FAIL %s page=%zu got=%016" PRIx64
	       " want=%016" PRIx64 "\n", what, index, page[0], expect);
	fflush(stdout);
}

static int churn_step(struct state *s)
{
	struct block *b = &s->churn[rng_next() % CHURN_SLOTS];
	size_t max_pages = s->o.churn_mb * MB / PAGE;
	int bad = 0;

	if (b->mem) {
		for (size_t p = 0; p < b->pages; p++) {
			uint64_t v = page_value(s->o.seed, b->tag, p, 0);

			if (!page_ok(b->mem + p * WORDS, v)) {
				report_bad("churn", p, b->mem + p * WORDS, v);
				bad++;
				break;
			}
		}
		munmap(b->mem, b->pages * PAGE);
		s->churn_pages -= b->pages;
		b->mem = NULL;
		return bad;
	}
	/* Sizes of every order, so blocks come from every free list. */
	b->pages = 1UL << (rng_next() % 11);
	if (b->pages > CHURN_MAX_PAGES)
		b->pages = CHURN_MAX_PAGES;
	if (s->churn_pages + b->pages > max_pages)
		return 0;
	b->mem = map_pages(b->pages);
	if (!b->mem)
		return 0;
	b->tag = rng_next() | (1ULL << 63);
	for (size_t p = 0; p < b->pages; p++)
		fill_page(b->mem + p * WORDS,
			  page_value(s->o.seed, b->tag, p, 0));
	s->churn_pages += b->pages;
	return 0;
}

/* Rewrite a slice of the held pages with their next generation. */
static void write_step(struct state *s, size_t pages)
{
	for (size_t i = 0; i < pages && s->hold.pages; i++) {
		size_t p = s->write_cursor++ % s->hold.pages;
		uint64_t gen = ++s->hold_gen[p];

		fill_page(s->hold.mem + p * WORDS,
			  page_value(s->o.seed, s->hold.tag, p, gen));
	}
}

static uint64_t verify_held(struct state *s, uint64_t *pages)
{
	uint64_t bad = 0;

	for (size_t p = 0; p < s->hold.pages; p++) {
		uint64_t v = page_value(s->o.seed, s->hold.tag, p,
					s->hold_gen[p]);

		if (!page_ok(s->hold.mem + p * WORDS, v)) {
			if (bad++ < 8)
				report_bad("hold", p, s->hold.mem + p * WORDS, v);
		}
	}
	*pages += s->hold.pages;
	for (size_t p = 0; p < s->frag.pages; p++) {
		const uint64_t *page = s->frag.mem + p * WORDS;
		uint64_t v = page_value(s->o.seed, s->frag.tag, p, 0);

		if (!s->frag.held[p])
			continue;
		(*pages)++;
		if (!page_ok(page, v) && bad++ < 8)
			report_bad("frag", p, page, v);
	}
	return bad;
}

static void run(struct state *s)
{
	uint64_t next_sweep = now_ms() + s->o.sweep_ms;
	uint64_t last_write = now_ms();

	for (;;) {
		uint64_t t = now_ms();

		if (s->o.churn_mb)
			s->bad_total += churn_step(s);
		if (s->o.write_kbps && s->hold.pages) {
			size_t pages = (t - last_write) * s->o.write_kbps /
				       4 / 1000;
			if (pages) {
				write_step(s, pages);
				last_write = t;
			}
		}
		if (t >= next_sweep) {
			uint64_t pages = 0, bad = verify_held(s, &pages);

			s->bad_total += bad;
			printf("PVMIG-CHECK sweep=%" PRIu64 " pages=%" PRIu64
			       " bad=%" PRIu64 "\n", ++s->sweep, pages,
			       s->bad_total);
			fflush(stdout);
			next_sweep = now_ms() + s->o.sweep_ms;
		}
		if (!s->o.churn_mb)
			usleep(10000);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvmig-workload [options]\n"
		"  --fill-mb N     write N MiB of non-zero data, then free it\n"
		"  --frag-mb N     touch N MiB, free runs of 1-8 pages between held pages\n"
		"  --hold-mb N     keep N MiB of seeded data, verified every sweep\n"
		"  --churn-mb N    keep allocating, writing, verifying and freeing up to N MiB\n"
		"  --write-kbps N  rewrite held data at N KiB/s (new generation)\n"
		"  --seed N        pattern and random seed (default 1)\n"
		"  --sweep-ms N    time between verification sweeps (default 1000)\n"
		"Prints 'PVMIG-READY used_kb=U free_kb=F kernel=R' once memory is set up, then\n"
		"'PVMIG-CHECK sweep=N pages=P bad=B' after each sweep while it holds data.\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "fill-mb", required_argument, NULL, 'f' },
		{ "frag-mb", required_argument, NULL, 'g' },
		{ "hold-mb", required_argument, NULL, 'h' },
		{ "churn-mb", required_argument, NULL, 'c' },
		{ "write-kbps", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 's' },
		{ "sweep-ms", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*o = (struct options){ .seed = 1, .sweep_ms = 1000 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		if (c == 'H') {
			usage(stdout);
			exit(0);
		}
		if (c == '?')
			return -1;
		errno = 0;
		v = strtoul(optarg, &end, 0);
		if (errno || *end || end == optarg) {
			fprintf(stderr, "workload: bad number '%s'\n", optarg);
			return -1;
		}
		switch (c) {
		case 'f': o->fill_mb = v; break;
		case 'g': o->frag_mb = v; break;
		case 'h': o->hold_mb = v; break;
		case 'c': o->churn_mb = v; break;
		case 'w': o->write_kbps = v; break;
		case 's': o->seed = v; break;
		case 'm': o->sweep_ms = v ? v : 1; break;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "workload: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct state s;
	unsigned long total_kb, free_kb;
	struct utsname uts;

	if (parse(argc, argv, &s.o)) {
		usage(stderr);
		return 2;
	}
	rng_state = s.o.seed;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (s.o.hold_mb) {
		s.hold.pages = s.o.hold_mb * MB / PAGE;
		s.hold.mem = map_pages(s.hold.pages);
		s.hold_gen = calloc(s.hold.pages, sizeof(*s.hold_gen));
		if (!s.hold.mem || !s.hold_gen) {
			fprintf(stderr, "workload: cannot hold %lu MB\n",
				s.o.hold_mb);
			return 1;
		}
		s.hold.tag = 3;
		for (size_t p = 0; p < s.hold.pages; p++)
			fill_page(s.hold.mem + p * WORDS,
				  page_value(s.o.seed, 3, p, 0));
	}
	if (fragment(&s.o, &s.frag) || fill_and_free(&s.o))
		return 1;

	read_meminfo(&total_kb, &free_kb);
	if (uname(&uts))
		snprintf(uts.release, sizeof(uts.release), "unknown");
	printf("PVMIG-READY used_kb=%lu free_kb=%lu kernel=%s\n",
	       total_kb - free_kb, free_kb, uts.release);
	fflush(stdout);

	if (!s.hold.pages && !s.frag.pages && !s.o.churn_mb)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	run(&s);
	return 0;
}
