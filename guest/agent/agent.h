/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_AGENT_AGENT_H
#define PVMIG_AGENT_AGENT_H

#include <signal.h>
#include <stdint.h>

#include "pvmig_proto.h"
#include "snapshot.h"

struct agent_opts {
	const char *port;		/* device node or unix:PATH */
	unsigned int retry_ms;		/* reconnect interval */
	size_t chunk;			/* bytes per RANGES message */
	uint64_t max_pfn;		/* 0: from the module / the system */
	struct snap_src src;
};

/* The signal that asks the agent to stop (0: none); the loops check it. */
extern volatile sig_atomic_t agent_stop;

/* Runs until agent_stop; returns the exit status. */
int agent_run(const struct agent_opts *o);

#endif
