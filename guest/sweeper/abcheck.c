/*
 * pvmig-abcheck RAMFILE MEM_MB: check the sweeper guest's a-b pattern in a
 * guest RAM dump (a memory-backend-file, where file offset == guest
 * physical address below 4 GiB).
 *
 * The sweeper (sweeper.S) increments the first byte of every 4 KiB page in
 * [START, END) over and over.  A snapshot of a correct VM -- in particular
 * a migration destination -- must therefore look like an interrupted sweep:
 * pages before the sweep position hold v+1, pages from it on hold v (mod
 * 256), so at most one boundary, where the value drops by exactly one.  A
 * dirty page that migration failed to resend keeps an older value and
 * shows up as extra boundaries.
 *
 * Since marker version 2 the range is split at MID: B = [START, MID) is
 * swept forever as above, R = [MID, END) is swept once per 'W' the host
 * sends on COM2.  Each region is checked on its own against its own
 * counter; for R that means all pages hold the R count, except that an R
 * sweep under way leaves one boundary (count+1 before it, count after).
 *
 * If the guest's marker (0x9000, "PVMIGSWP") is present its ranges are
 * used and its counters must agree with the pages; a version-1 marker has
 * no R (the whole range is B).  Without a marker the range is [1 MiB,
 * min(MEM_MB, 3 GiB)), all B, as the guest would compute for a pc machine.
 *
 * Exit: 0 consistent (B and R), 1 not, 2 usage or I/O error or an
 * unknown marker version.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE     4096u
#define START    0x100000u
#define CAP      0xc0000000u
#define MARKER   0x9000u
#define MAGIC    "PVMIGSWP"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

struct fit {
	size_t bad;	/* pages not matching the pattern */
	size_t pos;	/* first page holding lo */
	uint8_t lo;
};

/* best pos for "[0, pos) = lo+1, [pos, n) = lo", in one pass over v */
static struct fit fit(const uint8_t *v, size_t n, uint8_t lo)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += v[i] != lo;
	struct fit f = { m, 0, lo };
	for (size_t p = 0; p < n; p++) {
		m += v[p] != (uint8_t)(lo + 1);	/* page p moves to the lo+1 side */
		m -= v[p] != lo;
		if (m < f.bad) {
			f.bad = m;
			f.pos = p + 1;
		}
	}
	return f;
}

/* one region (B or R) swept in the a-b pattern; filled by check() */
struct region {
	const char *name;
	uint64_t start, end;	/* [start, end), page aligned */
	int have_count;		/* count is the marker's counter for it */
	uint32_t count;
	uint64_t count_addr;	/* where that counter lives, for reports */
	size_t n;		/* pages */
	uint64_t boundaries;
	struct fit best;
	int marker_bad;		/* pattern fine but not at count */
	int ok;
	uint64_t first_bad;
};

static int check(const uint8_t *ram, struct region *r)
{
	/* one byte per page, copied once: the fits below pass over it often */
	size_t n = (size_t)((r->end - r->start) / PAGE);
	uint8_t *v = malloc(n ? n : 1);
	if (!v) {
		fprintf(stderr, "pvmig-abcheck: out of memory\n");
		return -1;
	}
	r->n = n;
	r->boundaries = 0;
	for (size_t i = 0; i < n; i++) {
		v[i] = ram[r->start + (uint64_t)i * PAGE];
		r->boundaries += i && v[i] != v[i - 1];
	}

	/*
	 * An interrupted sweep is: pages [0, pos) hold L+1, pages [pos, n)
	 * hold L.  The counter is bumped after a sweep, so with the marker
	 * L = count (mod 256), and pos = 0 / pos = n cover a VM stopped just
	 * before a sweep / just before the counter update.  Without the
	 * marker try every L.  The fit with the fewest mismatching pages
	 * locates the damage instead of blaming everything after a lost page.
	 */
	struct fit best = { SIZE_MAX, 0, 0 };
	if (r->have_count)
		best = fit(v, n, (uint8_t)r->count);
	r->marker_bad = 0;
	if (!r->have_count || best.bad) {
		struct fit any = { SIZE_MAX, 0, 0 };
		for (unsigned l = 0; l < 256 && any.bad; l++) {
			struct fit f = fit(v, n, (uint8_t)l);
			if (f.bad < any.bad)
				any = f;
		}
		r->marker_bad = r->have_count && any.bad == 0;
		if (!r->have_count || r->marker_bad)
			best = any;	/* pattern fine, only the counter is off */
	}
	r->best = best;
	r->ok = best.bad == 0 && !r->marker_bad;
	r->first_bad = r->marker_bad ? r->count_addr : 0;
	for (size_t i = 0; i < n && !r->first_bad && best.bad; i++)
		if (v[i] != (uint8_t)(best.lo + (i < best.pos)))
			r->first_bad = r->start + (uint64_t)i * PAGE;
	free(v);
	return 0;
}

static void report(const struct region *r)
{
	/* without a marker only the low byte of the count is known */
	printf("%s: sweeps%s%" PRIu64 " pages=%zu boundaries=%" PRIu64 " %s",
	       r->name, r->have_count ? "=" : "\u2248",
	       r->have_count ? (uint64_t)r->count : r->best.lo, r->n,
	       r->boundaries, r->ok ? "ok" : "BAD");
	if (!r->ok)
		printf(" first_bad=0x%" PRIx64 " bad_pages=%zu%s", r->first_bad,
		       r->best.bad, r->marker_bad ? " (marker count disagrees)" : "");
	printf(" range=0x%" PRIx64 "-0x%" PRIx64 " pos=0x%" PRIx64 " v=%u",
	       r->start, r->end, r->start + (uint64_t)r->best.pos * PAGE,
	       r->best.lo);
}

static int usage(void)
{
	fprintf(stderr, "usage: pvmig-abcheck RAMFILE MEM_MB\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	char *endp;
	errno = 0;
	unsigned long mem_mb = strtoul(argv[2], &endp, 10);
	if (errno || *endp || endp == argv[2] || mem_mb == 0 || mem_mb > (1ul << 22))
		return usage();
	uint64_t mem = (uint64_t)mem_mb << 20;

	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "pvmig-abcheck: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (size < MARKER + PAGE) {
		fprintf(stderr, "pvmig-abcheck: %s: too small (%" PRIu64 " bytes)\n",
			argv[1], size);
		return 2;
	}
	if (size < mem) {
		fprintf(stderr, "pvmig-abcheck: %s: %" PRIu64 " bytes, less than %lu MiB\n",
			argv[1], size, mem_mb);
		return 2;
	}
	uint64_t maplen = mem;
	const uint8_t *ram = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, 0);
	if (ram == MAP_FAILED) {
		fprintf(stderr, "pvmig-abcheck: mmap: %s\n", strerror(errno));
		return 2;
	}
	close(fd);

	const uint8_t *mk = ram + MARKER;
	int have_marker = memcmp(mk, MAGIC, 8) == 0;
	uint32_t version = 0;
	uint64_t start = START, end = mem < CAP ? mem : CAP, mid = end;
	struct region b = { .name = "B", .count_addr = MARKER + 8 };
	struct region r = { .name = "R", .count_addr = MARKER + 24 };
	if (have_marker) {
		version = rd32(mk + 20);
		if (version != 1 && version != 2) {
			fprintf(stderr, "pvmig-abcheck: unsupported marker version %"
				PRIu32 " (this checker knows 1 and 2)\n", version);
			return 2;
		}
		b.have_count = 1;
		b.count = rd32(mk + 8);
		start = rd32(mk + 12);
		end = rd32(mk + 16);
		mid = end;
		if (version >= 2) {
			r.have_count = 1;
			r.count = rd32(mk + 24);
			mid = rd32(mk + 28);
		}
	}
	if (start != START || end <= start || end % PAGE || end > maplen ||
	    mid < start || mid > end || mid % PAGE) {
		fprintf(stderr, "pvmig-abcheck: bad range [0x%" PRIx64 ", 0x%" PRIx64
			") mid 0x%" PRIx64 " for %" PRIu64 " bytes of RAM%s\n", start,
			end, mid, maplen, have_marker ? " (from the marker)" : "");
		return 2;
	}
	b.start = start;
	b.end = mid;
	r.start = mid;
	r.end = end;

	if (check(ram, &b) < 0 || (version >= 2 && check(ram, &r) < 0))
		return 2;
	int ok = b.ok && (version < 2 || r.ok);
	report(&b);
	if (version >= 2) {
		putchar(' ');
		report(&r);
	}
	printf("%s\n", have_marker ? (version == 1 ? " marker=v1" : "")
				   : " marker=none");
	return ok ? 0 : 1;
}
