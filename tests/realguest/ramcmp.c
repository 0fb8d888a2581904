// SPDX-License-Identifier: MIT
/*
 * pvmig-realguest-ramcmp SRC DST HINTLOG: the migration driver's RAM
 * comparison (tools/migrate/ramcmp.c, hintlog.c) for two RAM files of the
 * real-guest test, so that it judges with the very hash and log reader the
 * driver uses.  Prints one JSON object; exit 0 if no page was lost, 1 if
 * some were, 2 on bad input or a read error.
 */
#include "hintlog.h"
#include "ramcmp.h"
#include "pvmig_page_hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	struct ramcmp_result res = { 0 };
	struct hintlog log;
	struct stat st_src, st_dst;
	char err[256] = "";
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SRC DST HINTLOG\n", argv[0]);
		return 2;
	}
	if (stat(argv[1], &st_src) < 0 || stat(argv[2], &st_dst) < 0) {
		fprintf(stderr, "ramcmp: %s\n", strerror(errno));
		return 2;
	}
	if (st_src.st_size != st_dst.st_size || st_src.st_size % PVMIG_PAGE_SIZE) {
		fprintf(stderr, "ramcmp: RAM files of %jd and %jd bytes\n",
			(intmax_t)st_src.st_size, (intmax_t)st_dst.st_size);
		return 2;
	}
	ret = hintlog_load(&log, argv[3], "ram0", (uint64_t)st_src.st_size);
	if (ret == -2) {
		fprintf(stderr, "ramcmp: %s: not a version %d hint log\n", argv[3],
			PVMIG_HINT_LOG_VERSION);
		return 2;
	}
	if (ret < 0) {
		fprintf(stderr, "ramcmp: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	if (ramcmp_files(argv[1], argv[2], (uint64_t)st_src.st_size, &log, &res,
			 err, sizeof(err)) < 0) {
		fprintf(stderr, "ramcmp: %s\n", err);
		hintlog_free(&log);
		return 2;
	}
	printf("{\"pages\": %" PRIu64 ", \"differ\": %" PRIu64 ", \"excused\": %" PRIu64
	       ", \"lost\": %" PRIu64 ", \"hint_log_pages\": %" PRIu64
	       ", \"hint_log_bad\": %" PRIu64 ", \"ms\": %" PRId64 ", \"lost_off\": [",
	       res.pages, res.mismatched, res.excused, res.lost, log.pages,
	       log.malformed, res.ms);
	for (unsigned i = 0; i < res.nlost_off; i++)
		printf("%s%" PRIu64, i ? ", " : "", res.lost_off[i]);
	printf("]}\n");
	hintlog_free(&log);
	return res.lost ? 1 : 0;
}
