/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_TEST_UTIL_H
#define PVMIG_MIGRATE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh file name under $TMPDIR; the caller unlinks it. */
static inline char *test_tmpfile(const char *tag)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path = malloc(strlen(dir) + strlen(tag) + 32);
	int fd;

	sprintf(path, "%s/pvmig-%s-XXXXXX", dir, tag);
	fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	return path;
}

static inline void test_write_file(const char *path, const void *data,
				   size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		abort();
	}
	fclose(f);
}

#endif
