/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_UTIL_H
#define PVMIG_MIGRATE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds. */
int64_t now_ms(void);
void sleep_ms(int ms);

/* Messages on stderr; info() is silenced by --quiet. */
extern bool util_quiet;
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A line redrawn in place (progress on a terminal); info(), warn() and
 * status_end() finish it first, so no message lands inside it.
 */
void status_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void status_end(void);

/* printf into a freshly allocated string; aborts on out-of-memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
char *xstrdup(const char *s);

/* Prints the last @lines lines of @path to stderr, each prefixed. */
void print_file_tail(const char *path, int lines, const char *prefix);

/*
 * Connects to the Unix stream socket @path.  Returns the descriptor, -1 if
 * nobody listens there (yet), -2 on another error; @err says which.
 */
int unix_connect(const char *path, char *err, size_t errlen);

bool file_exists(const char *path);
int mkdir_p(const char *path);

/*
 * Set by SIGINT/SIGTERM: every wait loop checks it, so an interrupted run
 * still stops its QEMUs and removes its gigabyte-sized RAM files.
 */
extern volatile int util_interrupted;
void install_signal_handlers(void);

#endif
