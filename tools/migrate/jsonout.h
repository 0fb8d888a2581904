/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_JSONOUT_H
#define PVMIG_MIGRATE_JSONOUT_H

#include <jansson.h>
#include <stddef.h>

/*
 * Appends @obj to the JSON array stored in @path, creating the file (as
 * "[obj]") if it is missing or empty.  The file is locked with flock() for
 * the read-modify-write, so concurrent runs appending to one results file
 * do not lose each other's objects.  A file holding anything but an array
 * is left untouched and reported as an error.
 * Returns 0, or -1 with a message in @err.
 */
int json_array_append_file(const char *path, json_t *obj, char *err,
			   size_t errlen);

#endif
