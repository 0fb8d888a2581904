// SPDX-License-Identifier: MIT
/*
 * pvmig-report: the side-by-side table of migration runs.
 *
 * Reads the JSON arrays that pvmig-migrate --json writes, groups the runs
 * by scenario, guest size and mode, and prints the median and spread of
 * each figure over the runs that passed verification.  A run that failed
 * verification is counted as a failure and never averaged in.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 4096

struct group {
	const char *scenario;
	const char *mode;
	long long guest_mb;
	json_t *runs[MAX_RUNS];
	size_t n, ok;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The guest's in-use memory, the physical limit of what a migration must
 * send: guest RAM minus what the guest has free.  MemTotal - MemFree would
 * leave out memory the kernel reserved at boot (struct pages, its image),
 * which is in use and must be sent too.
 */
static bool in_use_kb(json_t *run, double *kb)
{
	json_t *mb = json_object_get(run, "guest_mb");
	json_t *free_kb = json_object_get(run, "guest_free_kb");

	if (!json_is_number(mb) || !json_is_number(free_kb))
		return false;
	*kb = json_number_value(mb) * 1024 - json_number_value(free_kb);
	return true;
}

/*
 * Median, min and max of KEY (or of the in-use memory for "in_use_kb")
 * over the group's verified runs; false if none has it.
 */
static bool stats(const struct group *g, const char *key, double *med,
		  double *lo, double *hi)
{
	double v[MAX_RUNS];
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++) {
		json_t *r = g->runs[i], *x = json_object_get(r, key);

		if (!json_is_true(json_object_get(r, "verified")))
			continue;
		if (!strcmp(key, "in_use_kb")) {
			if (in_use_kb(r, &v[n]))
				n++;
		} else if (json_is_number(x)) {
			v[n++] = json_number_value(x);
		}
	}
	if (!n)
		return false;
	qsort(v, n, sizeof(v[0]), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
	return true;
}

static void cell(const struct group *g, const char *key, double scale,
		 bool spread)
{
	double med, lo, hi;

	if (!stats(g, key, &med, &lo, &hi)) {
		printf(" %18s", "-");
		return;
	}
	if (spread && g->ok > 1) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%.0f [%.0f-%.0f]", med / scale,
			 lo / scale, hi / scale);
		printf(" %18s", buf);
	} else {
		printf(" %18.0f", med / scale);
	}
}

static struct group *find_group(struct group *groups, size_t *ngroups,
				size_t max, json_t *run)
{
	const char *scenario = json_string_value(json_object_get(run, "scenario"));
	const char *mode = json_string_value(json_object_get(run, "mode"));
	long long mb = json_integer_value(json_object_get(run, "guest_mb"));

	if (!scenario || !mode)
		return NULL;
	for (size_t i = 0; i < *ngroups; i++)
		if (!strcmp(groups[i].scenario, scenario) &&
		    !strcmp(groups[i].mode, mode) && groups[i].guest_mb == mb)
			return &groups[i];
	if (*ngroups == max)
		return NULL;
	groups[*ngroups] = (struct group){ scenario, mode, mb, { 0 }, 0, 0 };
	return &groups[(*ngroups)++];
}

int main(int argc, char **argv)
{
	static struct group groups[64];
	size_t ngroups = 0, failed = 0;
	json_t *all = json_array();

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: pvmig-report RUNS.json...\n"
			"Prints medians [min-max] per scenario, guest size and mode over\n"
			"the runs that passed verification.\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++) {
		json_error_t err;
		json_t *a = json_load_file(argv[i], 0, &err);

		if (!json_is_array(a)) {
			fprintf(stderr, "pvmig-report: %s: %s\n", argv[i],
				a ? "not a JSON array" : err.text);
			return 1;
		}
		json_array_extend(all, a);
		json_decref(a);
	}

	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *run = json_array_get(all, i);
		struct group *g = find_group(groups, &ngroups, 64, run);

		if (!g || g->n == MAX_RUNS) {
			fprintf(stderr, "pvmig-report: run %zu skipped (no scenario/mode, or too many)\n", i);
			continue;
		}
		g->runs[g->n++] = run;
		if (json_is_true(json_object_get(run, "verified")))
			g->ok++;
		else
			failed++;
	}

	printf("%-12s %6s %-8s %6s %18s %18s %18s %18s %18s %18s %8s\n",
	       "scenario", "MiB", "mode", "ok/n", "total ms", "sent MiB",
	       "setup ms", "downtime ms", "cleared MiB", "in-use MiB",
	       "lost");
	for (size_t i = 0; i < ngroups; i++) {
		const struct group *g = &groups[i];
		double lost = 0;
		char okn[16];

		snprintf(okn, sizeof(okn), "%zu/%zu", g->ok, g->n);
		printf("%-12s %6lld %-8s %6s", g->scenario, g->guest_mb,
		       g->mode, okn);
		cell(g, "total_ms", 1, true);
		cell(g, "transferred_bytes", 1 << 20, true);
		cell(g, "setup_ms", 1, false);
		cell(g, "downtime_ms", 1, false);
		cell(g, "pages_cleared", 256, false);
		cell(g, "in_use_kb", 1024, false);
		/* Lost pages over every run, verified or not. */
		for (size_t r = 0; r < g->n; r++)
			lost += json_number_value(json_object_get(g->runs[r], "pages_lost"));
		printf(" %8.0f\n", lost);
	}
	if (failed)
		printf("%zu run(s) failed verification and are not in the medians\n",
		       failed);
	json_decref(all);
	return failed ? 1 : 0;
}
