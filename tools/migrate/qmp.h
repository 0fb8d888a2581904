/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_QMP_H
#define PVMIG_MIGRATE_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A minimal synchronous QMP client on a unix socket.  Commands carry an
 * id; asynchronous events that arrive before the matching reply are kept
 * (the last few) and otherwise ignored.
 */
struct qmp {
	int fd;
	char *buf;
	size_t len, cap;
	unsigned next_id;
	bool eof;
	char last_event[64];
};

/*
 * Connects to @path, retrying until @timeout_ms passes (QEMU creates the
 * socket a little after it starts), reads the greeting and negotiates
 * capabilities.  @alive, if set, is polled so a QEMU that died is noticed
 * at once.  Returns 0, or -1 with a message in @err.
 */
int qmp_connect(struct qmp *q, const char *path, int timeout_ms,
		bool (*alive)(void *), void *opaque, char *err, size_t errlen);

/*
 * Runs @cmd with @args (stolen, may be NULL).  Returns the "return" value
 * (new reference), or NULL with the error description (or I/O failure) in
 * @err.
 */
json_t *qmp_cmd(struct qmp *q, const char *cmd, json_t *args, int timeout_ms,
		char *err, size_t errlen);

void qmp_close(struct qmp *q);

#endif
