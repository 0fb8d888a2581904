/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_CONSOLE_H
#define PVMIG_MIGRATE_CONSOLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What the guest said on its serial console, as far as the driver cares:
 * the ready line, the workload's verification sweeps, and signs of failure.
 */
struct console_state {
	bool ready;
	uint64_t used_kb, free_kb;
	char kernel[65];	/* the guest's uname -r, from PVMIG-READY */

	unsigned checks;	/* PVMIG-CHECK sweep lines seen */
	unsigned checks_bad;	/* ... of which with bad != 0 */
	uint64_t last_sweep, last_pages, last_bad;
	bool check_fail;	/* "PVMIG-CHECK FAIL" */
	/* pvmig-freeprobe: the free-page contract probe. */
	bool stale_held, stale_freed;	/* PVMIG-STALE-HELD / -FREED */
	bool zerocheck_done;		/* PVMIG-ZEROCHECK */
	uint64_t zerocheck_pages, zerocheck_nonzero;
	bool kernel_bug;	/* BUG, oops or panic */
	char first_failure[160];	/* the first line that failed */
};

/* Tails a console file that QEMU appends to. */
struct console {
	const char *name;	/* "source" / "destination", for messages */
	char *path;
	off_t pos;
	char line[1024];
	size_t len;
	struct console_state st;
};

void console_scan_line(struct console_state *st, const char *line);
/* Reads what was appended since the last call and scans complete lines. */
void console_poll(struct console *c);
bool console_failed(const struct console_state *st);

/*
 * Guest-side fault injection reports its counters as
 * "PVMIG-FAULT key=value ...", cumulative since boot.  Folds such a line
 * into @acc, keeping the largest value per key (the guest keeps counting
 * across hops, so the largest is the total).  Returns false for other lines.
 */
bool console_fault_counters(const char *line, json_t *acc);
/* Folds every PVMIG-FAULT line of a console file into @acc. */
void console_file_fault_counters(const char *path, json_t *acc);

#endif
