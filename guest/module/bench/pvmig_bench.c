/*
 * pvmig-bench-module: snapshot time and longest zone->lock hold of
 * /dev/pvmig on this guest, idle and then with fragmented free memory.
 * Prints one "PVMIG-BENCH key=value ..." line per scenario (medians over
 * --snaps=N snapshots) for bench/run.sh on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvmig_lib.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static int run(const char *scenario, int snaps)
{
	uint64_t walk[64], hold[64], pages[64], free_pages[64], ranges[64];
	uint64_t holds[64];
	int fd = open(PVMIG_DEV, O_RDONLY | O_CLOEXEC);
	struct snap s;

	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", PVMIG_DEV, strerror(errno));
		return -1;
	}
	for (int i = 0; i < snaps; i++) {
		if (snapshot(fd, 1 << 16, NULL, NULL, &s)) {
			fprintf(stderr, "snapshot: %s %s\n", strerror(s.err), s.why);
			close(fd);
			return -1;
		}
		walk[i] = s.info.walk_ns;
		hold[i] = s.info.max_hold_ns;
		pages[i] = s.pages;
		free_pages[i] = s.info.nr_free_pages;
		ranges[i] = s.ranges;
		holds[i] = s.info.lock_holds;
	}
	close(fd);
	printf("PVMIG-BENCH mem_total_kb=%ld scenario=%s snapshot_us=%.1f max_hold_us=%.1f reported_pages=%llu free_pages=%llu ranges=%llu lock_holds=%llu snaps=%d\n",
	       meminfo_kb("MemTotal"), scenario,
	       median(walk, snaps) / 1000.0, median(hold, snaps) / 1000.0,
	       (unsigned long long)median(pages, snaps),
	       (unsigned long long)median(free_pages, snaps),
	       (unsigned long long)median(ranges, snaps),
	       (unsigned long long)median(holds, snaps), snaps);
	return 0;
}

int main(int argc, char **argv)
{
	int snaps = 9, frag_pct = 50;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--snaps=", 8))
			snaps = atoi(argv[i] + 8);
		else if (!strncmp(argv[i], "--frag-pct=", 11))
			frag_pct = atoi(argv[i] + 11);
	}
	if (snaps < 1 || snaps > 64)
		snaps = 9;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (run("idle", snaps))
		return 1;
	if (!fragment((size_t)meminfo_kb("MemFree") * 1024 / 100 * (size_t)frag_pct)) {
		fprintf(stderr, "fragment: %s\n", strerror(errno));
		return 1;
	}
	if (run("fragmented", snaps))
		return 1;
	return 0;
}
