// SPDX-License-Identifier: MIT
#include "console.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool field(const char *line, const char *key, uint64_t *out)
{
	const char *p = strstr(line, key);
	unsigned long long v;

	if (!p || sscanf(p + strlen(key), "%llu", &v) != 1)
		return false;
	*out = v;
	return true;
}

static void note_failure(struct console_state *st, const char *line)
{
	if (!st->first_failure[0])
		snprintf(st->first_failure, sizeof(st->first_failure), "%s",
			 line);
}

/*
 * Lines the kernel prints only when something is broken.  A BUG() reads
 * "kernel BUG at ...", an oops header "invalid opcode: 0000 [#1]" or
 * "general protection fault", neither says "Oops".
 */
static bool kernel_failure(const char *line)
{
	static const char *const marks[] = {
		"BUG:", "kernel BUG at", "Oops", "Kernel panic",
		"general protection fault", "invalid opcode:",
	};

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(line, marks[i]))
			return true;
	return false;
}

void console_scan_line(struct console_state *st, const char *line)
{
	const char *p;

	if ((p = strstr(line, "PVMIG-READY")) != NULL) {
		const char *k = strstr(p, " kernel=");

		if (field(p, "used_kb=", &st->used_kb) &&
		    field(p, "free_kb=", &st->free_kb))
			st->ready = true;
		if (k)
			sscanf(k, " kernel=%64s", st->kernel);
	}
	if ((p = strstr(line, "PVMIG-CHECK")) != NULL) {
		uint64_t sweep, pages, bad;

		if (strstr(p, "PVMIG-CHECK FAIL")) {
			st->check_fail = true;
			note_failure(st, line);
		} else if (field(p, "sweep=", &sweep) &&
			   field(p, "pages=", &pages) &&
			   field(p, "bad=", &bad)) {
			st->checks++;
			st->last_sweep = sweep;
			st->last_pages = pages;
			st->last_bad = bad;
			if (bad) {
				st->checks_bad++;
				note_failure(st, line);
			}
		}
	}
	if (strstr(line, "PVMIG-STALE-HELD"))
		st->stale_held = true;
	if (strstr(line, "PVMIG-STALE-FREED"))
		st->stale_freed = true;
	if ((p = strstr(line, "PVMIG-ZEROCHECK")) != NULL &&
	    field(p, "pages=", &st->zerocheck_pages) &&
	    field(p, "nonzero=", &st->zerocheck_nonzero)) {
		st->zerocheck_done = true;
		if (st->zerocheck_nonzero || strstr(p, "error="))
			note_failure(st, line);
	}
	if (kernel_failure(line)) {
		st->kernel_bug = true;
		note_failure(st, line);
	}
}

bool console_failed(const struct console_state *st)
{
	return st->check_fail || st->kernel_bug || st->checks_bad;
}

void console_poll(struct console *c)
{
	char buf[8192];
	ssize_t n;
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((n = pread(fd, buf, sizeof(buf), c->pos)) > 0) {
		c->pos += n;
		for (ssize_t i = 0; i < n; i++) {
			char ch = buf[i];

			if (ch == '\n' || c->len == sizeof(c->line) - 1) {
				c->line[c->len] = '\0';
				console_scan_line(&c->st, c->line);
				c->len = 0;
				if (ch == '\n')
					continue;
			}
			if (ch != '\r')
				c->line[c->len++] = ch;
		}
	}
	close(fd);
}

bool console_fault_counters(const char *line, json_t *acc)
{
	const char *p = strstr(line, "PVMIG-FAULT ");

	if (!p)
		return false;
	p += strlen("PVMIG-FAULT ");
	while (*p) {
		char key[32];
		size_t n = 0;
		unsigned long long v;
		char *end;
		json_t *old;

		while (*p == ' ')
			p++;
		while ((isalnum((unsigned char)*p) || *p == '_') && n < sizeof(key) - 1)
			key[n++] = *p++;
		key[n] = '\0';
		if (!n || *p != '=' || !isdigit((unsigned char)p[1]))
			break;	/* not key=number: ignore the rest */
		v = strtoull(p + 1, &end, 10);
		p = end;
		old = json_object_get(acc, key);
		if (!old || json_integer_value(old) < (json_int_t)v)
			json_object_set_new(acc, key, json_integer((json_int_t)v));
	}
	return true;
}

void console_file_fault_counters(const char *path, json_t *acc)
{
	char line[1024];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		console_fault_counters(line, acc);
	fclose(f);
}
