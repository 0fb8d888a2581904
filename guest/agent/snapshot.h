/* SPDX-License-Identifier: MIT */
/*
 * Where the free ranges come from: /dev/pvmig (the module, ABI in
 * guest/module/pvmig_uapi.h) or, for tests and measurements, a regular
 * file of struct pvmig_range records.
 */
#ifndef PVMIG_AGENT_SNAPSHOT_H
#define PVMIG_AGENT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "pvmig_proto.h"
#include "pvmig_uapi.h"

struct snap_src {
	const char *device;	/* /dev/pvmig */
	const char *file;	/* fake snapshot, or NULL */
	unsigned int delay_ms;	/* test only: pause between reads */
	int fd;
};

/*
 * What HELLO should say right now.  PVMIG_CAP_MODULE in h->caps: ranges
 * can be produced.
 */
void snap_probe(const struct snap_src *s, struct pvmig_hello *h);
/* Start a snapshot: 0, or -errno (ENOENT: no module, EBUSY: in use). */
int snap_begin(struct snap_src *s);
/* Up to max records; returns how many, 0 at the end, -errno on error. */
long snap_read(struct snap_src *s, struct pvmig_range *r, size_t max);
/* After the end: the module's statistics; 0 if it has none. */
int snap_info(struct snap_src *s, struct pvmig_snapshot_info *info);
void snap_end(struct snap_src *s);

#endif
