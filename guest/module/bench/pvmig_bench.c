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

static int set_bound(unsigned int us)
{
	FILE *f = fopen("/sys/module/pvmig/parameters/max_hold_us", "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%u", us) < 0;
	return fclose(f) || rc ? -1 : 0;
}

static int run(const char *tag, const char *scenario, int snaps)
{
	uint64_t walk[64], hold[64], pages[64], free_pages[64], ranges[64];
	uint64_t holds[64], over[64];
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
		over[i] = s.info.holds_over_limit;
	}
	close(fd);
	printf("%s mem_total_kb=%ld scenario=%s snapshot_us=%.1f max_hold_us=%.1f reported_pages=%llu free_pages=%llu ranges=%llu lock_holds=%llu holds_over_limit=%llu hold_limit_us=%llu snaps=%d\n",
	       tag, meminfo_kb("MemTotal"), scenario,
	       median(walk, snaps) / 1000.0, median(hold, snaps) / 1000.0,
	       (unsigned long long)median(pages, snaps),
	       (unsigned long long)median(free_pages, snaps),
	       (unsigned long long)median(ranges, snaps),
	       (unsigned long long)median(holds, snaps),
	       (unsigned long long)median(over, snaps),
	       (unsigned long long)s.info.hold_limit_ns / 1000, snaps);
	return 0;
}

static unsigned long read_param(const char *name)
{
	char path[128], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/pvmig_listwalk/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoul(buf, NULL, 10);
}

/*
 * The design alternative, for comparison on the same memory: a free-list
 * walk prototype (count only, one hold per list) in pvmig_listwalk.ko.
 */
static void run_listwalk(const char *scenario, int snaps)
{
	char ko[512], params[32];

	module_path("pvmig_listwalk", ko, sizeof(ko));
	snprintf(params, sizeof(params), "runs=%d", snaps > 15 ? 15 : snaps);
	if (load_module(ko, params)) {
		fprintf(stderr, "load %s: %s\n", ko, strerror(errno));
		return;
	}
	printf("PVMIG-LISTWALK scenario=%s walk_us=%.1f max_hold_us=%.1f entries=%lu pages=%lu\n",
	       scenario, read_param("walk_ns") / 1000.0,
	       read_param("max_hold_ns") / 1000.0, read_param("entries"),
	       read_param("pages"));
	if (unload_module("pvmig_listwalk"))
		fprintf(stderr, "unload pvmig_listwalk: %s\n", strerror(errno));
}

/* how the bound trades hold time against walk time; restores the default */
static int sweep_bounds(const char *scenario, int snaps)
{
	static const unsigned int sweep[] = { 10, 20, 50, 100, 200, 1000 };
	unsigned int old = 0;
	FILE *f = fopen("/sys/module/pvmig/parameters/max_hold_us", "r");
	int rc = 0;

	if (!f || fscanf(f, "%u", &old) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(sweep) / sizeof(sweep[0]) && !rc; i++)
		rc = set_bound(sweep[i]) || run("PVMIG-SWEEP", scenario, snaps);
	if (set_bound(old))
		rc = -1;
	return rc;
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
	if (run("PVMIG-BENCH", "idle", snaps))
		return 1;
	run_listwalk("idle", snaps);
	if (sweep_bounds("idle", snaps))
		return 1;
	if (!fragment((size_t)meminfo_kb("MemFree") * 1024 / 100 * (size_t)frag_pct)) {
		fprintf(stderr, "fragment: %s\n", strerror(errno));
		return 1;
	}
	if (run("PVMIG-BENCH", "fragmented", snaps))
		return 1;
	run_listwalk("fragmented", snaps);

	if (sweep_bounds("fragmented", snaps))
		return 1;
	return 0;
}
