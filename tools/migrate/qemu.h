/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_QEMU_H
#define PVMIG_MIGRATE_QEMU_H

#include <stdbool.h>
#include <sys/types.h>

/* A growable NULL-terminated argv. */
struct argv {
	char **v;
	int n, cap;
};

void argv_add(struct argv *a, const char *s);
void argv_addf(struct argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void argv_free(struct argv *a);
/* The command line quoted for a shell, for the log. */
char *argv_join(const struct argv *a);

struct qemu_proc {
	const char *name;	/* "source" / "destination" */
	pid_t pid;
	bool reaped;
	int status;
	char *log_path;		/* QEMU's stdout+stderr */
};

/*
 * Starts @argv with stdout/stderr to @p->log_path, stdin from /dev/null,
 * and @env_add ("NAME=value", may be NULL) added to the environment.
 * Returns 0, or -1 (message printed).
 */
int qemu_spawn(struct qemu_proc *p, const struct argv *argv,
	       const char *env_add);
bool qemu_alive(struct qemu_proc *p);
/* Describes how it ended, e.g. "exited with status 1" (static buffer). */
const char *qemu_exit_reason(const struct qemu_proc *p);
/* Waits up to @grace_ms for it to exit, then SIGKILLs and reaps it. */
void qemu_reap(struct qemu_proc *p, int grace_ms);

#endif
