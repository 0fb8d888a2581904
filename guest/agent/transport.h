/* SPDX-License-Identifier: MIT */
/*
 * The byte stream to the host over an open, non-blocking port: whole
 * messages out, whatever arrives in.  It knows nothing of the wire
 * format; every byte read goes to the input callback, which does the
 * framing (agent.c feeds the decoder).
 */
#ifndef PVMIG_AGENT_TRANSPORT_H
#define PVMIG_AGENT_TRANSPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Results of the transport calls. */
enum {
	IO_OK = 0,
	IO_DISCONNECT = -1,	/* the host end is gone: close the port */
	IO_STOP = -2,		/* stopping, and a message could not finish */
};

struct transport {
	int fd;					/* -1: not connected */
	void (*input)(void *opaque, const uint8_t *p, size_t n);
	void *opaque;
	/* Non-zero once the agent should stop (a signal handler sets it). */
	const volatile sig_atomic_t *stop;
};

/* Read everything there is now; IO_DISCONNECT at EOF or on error. */
int transport_drain(struct transport *t);
/* Wait up to timeout_ms (-1: until input or a signal), then drain. */
int transport_pump(struct transport *t, int timeout_ms);
/*
 * Write one whole message, reading input while the port is full.  Once
 * *stop is set, a message that cannot finish within a grace period is
 * left half-written and IO_STOP returned: the port must be closed.
 */
int transport_send(struct transport *t, const void *buf, size_t len);

#endif
