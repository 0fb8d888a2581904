// SPDX-License-Identifier: MIT
/* Helpers every phase of a run shares: QMP commands, failures, JSON fields. */
#include "run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void print_side_tails(struct run *r)
{
	struct side *sides[] = { &r->src, &r->dst };

	status_end();
	for (int i = 0; i < 2; i++) {
		struct side *s = sides[i];
		char *pfx = xasprintf("  [%s console] ", s->tag);

		if (s->proc.reaped)
			warn("%s QEMU %s", s->proc.name, qemu_exit_reason(&s->proc));
		fprintf(stderr, "  --- %s QEMU log (%s), last lines:\n",
			s->proc.name, s->proc.log_path);
		print_file_tail(s->proc.log_path, 15, "  [qemu] ");
		fprintf(stderr, "  --- %s console (%s), last lines:\n",
			s->proc.name, s->con.path);
		print_file_tail(s->con.path, 10, pfx);
		free(pfx);
	}
}

#define FAILURE_NAME(e, name) [e] = name, /* NOLINT(bugprone-macro-parentheses) */
const char *const failure_class_names[] = { FAILURE_CLASSES(FAILURE_NAME) };
#undef FAILURE_NAME

const char *const guest_check_names[] = {
	[CHECK_PASS] = "pass", [CHECK_NONE] = "none", [CHECK_FAIL] = "fail",
	[CHECK_TIMEOUT] = "timeout", [CHECK_SKIPPED] = "skipped",
};

/* ------------------------------------------------------------- failures */

int infra_fail(struct run *r, enum failure_class why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	warn("error: %s", r->err);
	json_object_set_new(r->out, "error", json_string(r->err));
	r->failure = why;
	return EXIT_INFRA;
}

/* Both QEMUs must stay up from start to the end of verification. */
bool both_alive(struct run *r)
{
	return qemu_alive(&r->src.proc) && qemu_alive(&r->dst.proc);
}

int died(struct run *r)
{
	struct side *s = qemu_alive(&r->src.proc) ? &r->dst : &r->src;

	print_side_tails(r);
	return infra_fail(r, FAIL_QEMU_CRASH, "%s QEMU died (%s)", s->proc.name,
			  qemu_exit_reason(&s->proc));
}

/* ----------------------------------------------------------- QMP, JSON */

json_t *side_qmp(struct run *r, struct side *s, const char *name,
		 json_t *args)
{
	json_t *ret = qmp_cmd(&s->qmp, name, args, 10000, r->err, sizeof(r->err));

	if (!ret)
		warn("%s: %s", s->proc.name, r->err);
	return ret;
}

const char *run_status(struct run *r, struct side *s, char *buf,
			      size_t len)
{
	json_t *st = side_qmp(r, s, "query-status", NULL);

	snprintf(buf, len, "%s", st && json_string_value(json_object_get(st, "status")) ?
		 json_string_value(json_object_get(st, "status")) : "?");
	json_decref(st);
	return buf;
}

int64_t jint(json_t *o, const char *path)
{
	char key[64];
	const char *dot = strchr(path, '.');

	if (dot) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		return jint(json_object_get(o, key), dot + 1);
	}
	json_t *v = json_object_get(o, path);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

void set_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, v < 0 ? json_null() : json_integer(v));
}

/* ------------------------------------------------------------- teardown */

void quit_side(struct run *r, struct side *s)
{
	if (s->proc.pid > 0 && qemu_alive(&s->proc) && s->qmp_ok) {
		json_t *ret = qmp_cmd(&s->qmp, "quit", NULL, 3000, r->err,
				      sizeof(r->err));

		json_decref(ret);
	}
	if (s->qmp_ok)
		qmp_close(&s->qmp);
	s->qmp_ok = false;
}

void remove_file(const char *path)
{
	if (path)
		unlink(path);
}
