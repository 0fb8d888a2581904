// SPDX-License-Identifier: MIT
#include "report.h"

#include <inttypes.h>
#include <string.h>

enum unit { U_STR, U_BOOL, U_INT, U_MS, U_BYTES, U_PAGES, U_KB, U_MBPS };

struct row {
	const char *key;
	const char *label;
	enum unit unit;
};

static const struct row rows[] = {
	{ "mode",		"mode",				U_STR },
	{ "scenario",		"scenario",			U_STR },
	{ "guest_mb",		"guest RAM (MiB)",		U_INT },
	{ "status",		"migration status",		U_STR },
	{ "error",		"error",			U_STR },
	{ "qemu_version",	"QEMU version",			U_STR },
	{ "guest_kernel_version", "guest kernel",		U_STR },
	{ "guest_used_kb",	"guest in use at start",	U_KB },
	{ "total_ms",		"total time",			U_MS },
	{ "setup_ms",		"setup time",			U_MS },
	{ "downtime_ms",	"downtime",			U_MS },
	{ "transferred_bytes",	"transferred",			U_BYTES },
	{ "normal_pages",	"normal pages",			U_PAGES },
	{ "zero_pages",		"zero pages",			U_PAGES },
	{ "syncs",		"dirty syncs",			U_INT },
	{ "mbps",		"throughput",			U_MBPS },
	{ "dst_resident_bytes",	"destination resident",		U_BYTES },
	{ "pages_hinted",	"pvmig pages hinted",		U_PAGES },
	{ "pages_cleared",	"pvmig pages cleared",		U_PAGES },
	{ "hint_latency_ms",	"pvmig hint latency",		U_MS },
	{ "setup_wait_ms",	"pvmig setup wait",		U_MS },
	{ "hint_log_pages",	"hint log pages",		U_PAGES },
	{ "pages_mismatched",	"pages mismatched",		U_PAGES },
	{ "pages_excused",	"pages excused (hinted)",	U_PAGES },
	{ "pages_lost",		"pages lost",			U_PAGES },
	{ "compare_ms",		"RAM comparison time",		U_MS },
	{ "guest_check",	"guest-side check",		U_STR },
	{ "verified",		"verified",			U_BOOL },
	{ "failure_class",	"failure class",		U_STR },
};

const char *human_bytes(char *buf, double b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, 32, u ? "%.2f %s" : "%.0f %s", b, units[u]);
	return buf;
}

static double num(json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) :
				    json_real_value(v);
}

void report_table(FILE *out, json_t *run)
{
	char b[32];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *v = json_object_get(run, rows[i].key);
		double d;

		if (!v || json_is_null(v))
			continue;
		fprintf(out, "  %-26s ", rows[i].label);
		d = num(v);
		switch (rows[i].unit) {
		case U_STR:
			fprintf(out, "%s\n", json_string_value(v) ?
				json_string_value(v) : "?");
			break;
		case U_BOOL:
			fprintf(out, "%s\n", json_is_true(v) ? "true" : "false");
			break;
		case U_INT:
			fprintf(out, "%.0f\n", d);
			break;
		case U_MS:
			if (d >= 10000)
				fprintf(out, "%.2f s\n", d / 1000);
			else
				fprintf(out, "%.*f ms\n", json_is_integer(v) ? 0 : 1, d);
			break;
		case U_BYTES:
			fprintf(out, "%s\n", human_bytes(b, d));
			break;
		case U_PAGES:
			fprintf(out, "%.0f (%s)\n", d, human_bytes(b, d * 4096));
			break;
		case U_KB:
			fprintf(out, "%s\n", human_bytes(b, d * 1024));
			break;
		case U_MBPS:
			fprintf(out, "%.1f MiB/s\n", d * 1e6 / 8 / 1048576);
			break;
		}
	}
	json_t *lost = json_object_get(run, "lost_gpas");

	if (json_array_size(lost)) {
		size_t i;
		json_t *v;

		fprintf(out, "  %-26s", "first lost pages (GPA)");
		json_array_foreach(lost, i, v)
			fprintf(out, " %s", json_string_value(v));
		fputc('\n', out);
	}
}
