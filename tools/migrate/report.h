/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_REPORT_H
#define PVMIG_MIGRATE_REPORT_H

#include <jansson.h>
#include <stdio.h>

/* Prints a run's JSON object as a two-column table in human units. */
void report_table(FILE *out, json_t *run);

/* "1.23 GiB" style; @buf must hold 32 bytes. */
const char *human_bytes(char *buf, double bytes);

#endif
