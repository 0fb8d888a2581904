// SPDX-License-Identifier: MIT
/* Driving the migration over QMP and collecting its figures. */
#include "run.h"

#include "pvmig_counters.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* The one-line progress display on a terminal, redrawn at each poll. */
struct progress {
	bool on;
	int64_t t0, prev_t;
	double prev_mib, rate;
};

static void progress_show(struct progress *p, json_t *q)
{
	const char *status = json_string_value(json_object_get(q, "status"));
	double sent = (double)jint(q, "ram.transferred") / 1048576;
	double left = (double)jint(q, "ram.remaining") / 1048576;
	int64_t t = now_ms();

	if (!p->on)
		return;
	if (sent < 0)
		sent = 0;
	if (left < 0)
		left = 0;
	if (t - p->prev_t >= 500) {
		p->rate = (sent - p->prev_mib) * 1000.0 / (double)(t - p->prev_t);
		p->prev_mib = sent;
		p->prev_t = t;
	}
	status_line("  migrate: %-10s %9.1f MiB sent %9.1f MiB left %8.1f MiB/s %7.1f s",
		    status ? status : "?", sent, left, p->rate,
		    (double)(t - p->t0) / 1000);
}

/* Injects @f into the running migration (test only). */
static void inject(struct run *r, struct fault *f, int64_t t0)
{
	json_t *ret = NULL;

	f->injected = true;
	f->injected_ms = now_ms() - t0;
	switch (f->kind) {
	case FAULT_CANCEL:
		warn("fault: cancelling the migration at %lld ms",
		     (long long)f->injected_ms);
		ret = side_qmp(r, &r->src, "migrate_cancel", NULL);
		break;
	case FAULT_KILL_DST:
		warn("fault: killing the destination QEMU at %lld ms",
		     (long long)f->injected_ms);
		kill(r->dst.proc.pid, SIGKILL);
		break;
	case FAULT_RESET:
		warn("fault: resetting the guest (system_reset) at %lld ms",
		     (long long)f->injected_ms);
		ret = side_qmp(r, &r->src, "system_reset", NULL);
		break;
	case FAULT_NONE:
		break;
	}
	json_decref(ret);
}

/*
 * A reset that QEMU handles only after the source stopped for the last
 * time resets the source after everything was sent (QEMU then leaves it in
 * prelaunch, not postmigrate, and reloads ROMs into its RAM): the two
 * sides no longer hold the same guest, so that attempt proves nothing and
 * is retried like a cancelled one.
 */
static bool reset_after_completion(struct run *r)
{
	char st[32];

	sleep_ms(200);	/* the reset request is handled by QEMU's main loop */
	run_status(r, &r->src, st, sizeof(st));
	if (strcmp(st, "prelaunch") != 0)
		return false;
	warn("fault: the reset hit the source after the migration completed "
	     "(source in prelaunch): retrying");
	return true;
}

/* A cancel or a dead destination ends the attempt; the source must live. */
static bool ends_attempt(const struct fault *f)
{
	return f && f->injected &&
	       (f->kind == FAULT_CANCEL || f->kind == FAULT_KILL_DST);
}

/* The limits once a test phase that needed a busy migration is over. */
#define LIFTED_BANDWIDTH_MIBS 4096
#define LIFTED_DOWNTIME_MS 2000

int lift_limits(struct run *r)
{
	json_t *ret = side_qmp(r, &r->src, "migrate-set-parameters",
			  json_pack("{s:I, s:I}", "max-bandwidth",
				    (json_int_t)LIFTED_BANDWIDTH_MIBS << 20,
				    "downtime-limit", (json_int_t)LIFTED_DOWNTIME_MS));

	if (!ret)
		return infra_fail(r, FAIL_SETUP, "cannot lift the migration's limits");
	json_decref(ret);
	return EXIT_OK;
}

/*
 * What --multifd and --file ask of one side's migration: the multifd and
 * mapped-ram capabilities, and the channel count.  Each attempt may have
 * a fresh destination (a retry, the next hop), so this runs per attempt.
 */
static int set_stream_caps(struct run *r, struct side *s)
{
	const struct opts *o = &r->o;
	json_t *caps = json_array(), *ret;

	if (o->multifd_channels)
		json_array_append_new(caps, json_pack("{s:s, s:b}", "capability",
						      "multifd", "state", 1));
	if (o->to_file)
		json_array_append_new(caps, json_pack("{s:s, s:b}", "capability",
						      "mapped-ram", "state", 1));
	if (!json_array_size(caps)) {
		json_decref(caps);
		return EXIT_OK;
	}
	ret = side_qmp(r, s, "migrate-set-capabilities",
		       json_pack("{s:o}", "capabilities", caps));
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "%s: cannot enable %s%s%s", s->tag,
				  o->multifd_channels ? "multifd" : "",
				  o->multifd_channels && o->to_file ? " and " : "",
				  o->to_file ? "mapped-ram" : "");
	json_decref(ret);
	if (!o->multifd_channels)
		return EXIT_OK;
	ret = side_qmp(r, s, "migrate-set-parameters",
		       json_pack("{s:I}", "multifd-channels",
				 (json_int_t)o->multifd_channels));
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "%s: cannot set multifd-channels",
				  s->tag);
	json_decref(ret);
	return EXIT_OK;
}

/* The migration's URI: loopback TCP, or the file --file goes through. */
static char *migration_uri(struct run *r)
{
	if (r->o.to_file)
		return xasprintf("file:%s/migration.img", r->workdir);
	return xasprintf("tcp:127.0.0.1:%d", r->port);
}

/*
 * A destination started with -incoming defer: its capabilities, then it
 * listens (multifd: before the source connects) or loads the file the
 * source has finished (--file).
 */
static int start_incoming(struct run *r)
{
	char *uri;
	json_t *ret;
	int rc = set_stream_caps(r, &r->dst);

	if (rc)
		return rc;
	uri = migration_uri(r);
	ret = side_qmp(r, &r->dst, "migrate-incoming", json_pack("{s:s}", "uri", uri));
	free(uri);
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "dst: migrate-incoming failed");
	json_decref(ret);
	return EXIT_OK;
}

/*
 * --file: the file's apparent size and what it takes on disk (mapped-ram
 * leaves a hole for every page never sent), then the destination loads it.
 */
static int load_file(struct run *r)
{
	char *path = xasprintf("%s/migration.img", r->workdir);
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		rc = infra_fail(r, FAIL_MIGRATION, "%s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	set_int(r->out, "file_bytes", (int64_t)st.st_size);
	set_int(r->out, "file_allocated_bytes", (int64_t)st.st_blocks * 512);
	info("migration file %s: %lld bytes, %lld allocated", path,
	     (long long)st.st_size, (long long)st.st_blocks * 512);
	rc = start_incoming(r);
	if (!r->o.keep)
		remove_file(path);	/* the destination has it open */
	free(path);
	return rc;
}

/* One migration attempt while it is polled. */
struct attempt {
	struct fault *f;
	struct progress progress;
	struct stale_phase stale;
	bool sweeper_hints;	/* the hint rounds are still to run */
	int64_t t0, deadline;
};

/* poll_attempt(): the migration is still running. */
#define POLL_AGAIN (-1)

/*
 * Sets the limits and starts the migration.  A test phase runs in the
 * first attempt only; a later attempt (a retry after a fault, the next
 * ping-pong hop) must not stay at the limits that kept the first one from
 * converging.
 */
static int start_attempt(struct run *r, struct attempt *a)
{
	const struct opts *o = &r->o;
	bool wants_phase = o->stale_free || o->sweeper_hints;
	bool phase = wants_phase && !r->test_phase_used;
	json_t *ret;
	char *uri;
	int rc;

	r->test_phase_used |= phase;
	a->sweeper_hints = phase && o->sweeper_hints;
	if (phase && o->stale_free) {
		a->stale.state = STALE_SENDING;
		rc = stale_wait_held(r);
		if (rc)
			return rc;
	}
	ret = side_qmp(r, &r->src, "migrate-set-parameters",
		       json_pack("{s:I, s:I}",
				 "max-bandwidth", (json_int_t)o->bandwidth_mibs << 20,
				 "downtime-limit", (json_int_t)o->downtime_ms));
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "migrate-set-parameters failed");
	json_decref(ret);
	if (wants_phase && !phase) {
		rc = lift_limits(r);
		if (rc)
			return rc;
	}
	rc = set_stream_caps(r, &r->src);
	if (!rc && o->multifd_channels && !o->to_file)
		rc = start_incoming(r);
	if (rc)
		return rc;
	uri = migration_uri(r);
	ret = side_qmp(r, &r->src, "migrate", json_pack("{s:s}", "uri", uri));
	free(uri);
	json_decref(ret);
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "migrate failed to start");
	a->t0 = a->progress.t0 = a->progress.prev_t = now_ms();
	a->deadline = a->t0 + (int64_t)o->timeout_s * 1000;
	info("migrating (max-bandwidth %lu MiB/s, downtime-limit %lu ms)",
	     o->bandwidth_mibs, o->downtime_ms);
	return EXIT_OK;
}

/* "completed": the attempt is done, unless its fault makes it a retry. */
static int on_completed(struct run *r, struct attempt *a, json_t *q,
			json_t **final)
{
	const struct fault *f = a->f;

	/*
	 * A test phase that did not run to its end proves nothing either
	 * way: the guest wrote too little to keep the migration from
	 * converging first.  Say so instead of reporting a result.
	 */
	if ((a->stale.state != STALE_OFF && a->stale.state != STALE_DONE) ||
	    a->sweeper_hints) {
		json_decref(q);
		json_object_set_new(r->out, "status", json_string("completed"));
		return infra_fail(r, FAIL_SETUP, "%s: the migration completed "
				  "before the test phase ended", a->sweeper_hints ?
				  "--x-sweeper-hints" : "--x-stale-free");
	}

	if ((f && f->injected && f->kind == FAULT_KILL_DST) ||
	    (f && f->injected && f->kind == FAULT_RESET &&
	     reset_after_completion(r))) {
		json_decref(q);
		return EXIT_RETRY;
	}
	*final = q;
	return EXIT_OK;
}

/* "failed" or "cancelled": planned by a fault (retry), or a failure. */
static int on_failed(struct run *r, struct attempt *a, json_t *q,
		     const char *status)
{
	const char *desc = json_string_value(json_object_get(q, "error-desc"));

	if (ends_attempt(a->f)) {
		info("attempt ended as planned: %s%s%s", status,
		     desc ? ": " : "", desc ? desc : "");
		json_decref(q);
		return EXIT_RETRY;
	}
	print_side_tails(r);
	json_object_set_new(r->out, "status", json_string(status));
	infra_fail(r, FAIL_MIGRATION, "migration %s: %s", status,
		   desc ? desc : "(no error-desc)");
	json_decref(q);
	return EXIT_INFRA;
}

/* The test phases that act while the migration runs. */
static int run_phases(struct run *r, struct attempt *a, json_t *q)
{
	int rc = 0;

	if (a->stale.state != STALE_OFF)
		rc = stale_step(r, &a->stale, q, a->t0);
	if (!rc && a->sweeper_hints && jint(q, "ram.dirty-sync-count") >= 2) {
		/* Once: the rounds block, then the migration may end. */
		a->sweeper_hints = false;
		rc = sweeper_hint_rounds(r);
		if (!rc)
			rc = lift_limits(r);
	}
	return rc;
}

/* Cancels the migration and marks the run @status. */
static void cancel_attempt(struct run *r, const char *status)
{
	json_decref(side_qmp(r, &r->src, "migrate_cancel", NULL));
	if (status)
		json_object_set_new(r->out, "status", json_string(status));
}

/* One look at the migration: POLL_AGAIN, or the attempt's result. */
static int poll_attempt(struct run *r, struct attempt *a, json_t **final)
{
	const char *status;
	json_t *q;
	int rc;

	if (!qemu_alive(&r->src.proc) ||
	    (!ends_attempt(a->f) && !qemu_alive(&r->dst.proc)))
		return died(r);
	if (util_interrupted) {
		cancel_attempt(r, "interrupted");
		return infra_fail(r, FAIL_INTERRUPTED,
				  "interrupted (migration cancelled)");
	}
	q = side_qmp(r, &r->src, "query-migrate", NULL);
	if (!q)
		return qemu_alive(&r->src.proc) ?
		       infra_fail(r, FAIL_SETUP, "query-migrate failed") : died(r);
	progress_show(&a->progress, q);
	status = json_string_value(json_object_get(q, "status"));
	if (status && !strcmp(status, "completed"))
		return on_completed(r, a, q, final);
	if (status && (!strcmp(status, "failed") || !strcmp(status, "cancelled")))
		return on_failed(r, a, q, status);
	rc = run_phases(r, a, q);
	json_decref(q);
	if (rc) {
		cancel_attempt(r, NULL);
		return rc;
	}
	if (a->f && a->f->kind != FAULT_NONE && !a->f->injected &&
	    now_ms() - a->t0 >= a->f->at_ms)
		inject(r, a->f, a->t0);
	if (now_ms() > a->deadline) {
		cancel_attempt(r, "timed-out");
		return infra_fail(r, FAIL_TIMEOUT,
				  "migration timed out after %lu s (cancelled)",
				  r->o.timeout_s);
	}
	return POLL_AGAIN;
}

/*
 * Runs one migration attempt.  With @f, injects that fault @f->at_ms after
 * the migrate command; a cancelled or failed attempt then returns
 * EXIT_RETRY (the caller checks the source and migrates again), as does a
 * killed destination even if the source managed to finish first.
 */
int migrate(struct run *r, json_t **final, struct fault *f)
{
	struct attempt a = {
		.f = f,
		.progress.on = !r->o.quiet && isatty(STDERR_FILENO),
		.stale.state = STALE_OFF,
	};
	int rc = start_attempt(r, &a);

	if (rc)
		return rc;
	while ((rc = poll_attempt(r, &a, final)) == POLL_AGAIN)
		sleep_ms(POLL_MS);
	status_end();
	if (rc == EXIT_OK && r->o.to_file)
		rc = load_file(r);
	return rc;
}

void record_figures(struct run *r, json_t *q)
{
	json_t *o = r->out;

	set_int(o, "total_ms", jint(q, "total-time"));
	set_int(o, "setup_ms", jint(q, "setup-time"));
	set_int(o, "downtime_ms", jint(q, "downtime"));
	set_int(o, "transferred_bytes", jint(q, "ram.transferred"));
	set_int(o, "normal_pages", jint(q, "ram.normal"));
	set_int(o, "zero_pages", jint(q, "ram.duplicate"));
	set_int(o, "syncs", jint(q, "ram.dirty-sync-count"));
	set_int(o, "normal_bytes", jint(q, "ram.normal-bytes"));
	set_int(o, "ram_total_bytes", jint(q, "ram.total"));
	set_int(o, "postcopy_requests", jint(q, "ram.postcopy-requests"));
	json_object_set(o, "mbps", json_object_get(json_object_get(q, "ram"), "mbps")
			? json_object_get(json_object_get(q, "ram"), "mbps") : json_null());
	json_object_set(o, "query_migrate", q);
}

/*
 * The device's counters (proto/pvmig_counters.h: JSON key "name", QOM
 * property "stat-" and the name with dashes), then the properties that
 * describe the migration's setting.
 */
#define COUNTER_NAME(name, desc) #name,
static const char *const pvmig_keys[] = {
	PVMIG_COUNTERS(COUNTER_NAME)
	"hint_wait_ms", "guest_caps", "guest_poison_pattern", "dirty_log",
};
#undef COUNTER_NAME
#define COUNT_ONE(name, desc) + 1 /* NOLINT(bugprone-macro-parentheses) */
enum { NR_COUNTERS = 0 PVMIG_COUNTERS(COUNT_ONE) };
#undef COUNT_ONE

/* The QOM property of pvmig_keys[@i]. */
static void pvmig_prop(size_t i, char *prop, size_t len)
{
	snprintf(prop, len, "%s%s", i < NR_COUNTERS ? "stat-" : "",
		 pvmig_keys[i]);
	for (char *p = prop; *p; p++)
		if (*p == '_')
			*p = '-';
}

/* The pvmig device's counters on the source (they describe its send). */
json_t *read_pvmig(struct run *r)
{
	json_t *all = json_object();

	for (size_t i = 0; i < sizeof(pvmig_keys) / sizeof(pvmig_keys[0]); i++) {
		const char *key = pvmig_keys[i];
		char prop[64];
		json_t *v;

		pvmig_prop(i, prop, sizeof(prop));
		v = side_qmp(r, &r->src, "qom-get",
			     json_pack("{s:s, s:s}", "path",
				       "/machine/peripheral/pvmig0",
				       "property", prop));
		if (json_is_integer(v) || json_is_string(v)) {
			json_object_set_new(all, key, v);
		} else {
			json_object_set_new(all, key, json_null());
			json_decref(v);
		}
	}
	return all;
}

void record_pvmig(struct run *r)
{
	json_t *all = read_pvmig(r);

	set_int(r->out, "pages_hinted", jint(all, "pages_hinted"));
	set_int(r->out, "pages_cleared", jint(all, "pages_cleared"));
	set_int(r->out, "pages_zero_resend", jint(all, "pages_zero_resend"));
	if (jint(all, "hint_latency_us") >= 0)
		json_object_set_new(r->out, "hint_latency_ms",
				    json_real((double)jint(all, "hint_latency_us") / 1000));
	if (jint(all, "setup_wait_us") >= 0)
		json_object_set_new(r->out, "setup_wait_ms",
				    json_real((double)jint(all, "setup_wait_us") / 1000));
	json_object_set_new(r->out, "pvmig", all);
}

/*
 * The source reports "completed" once it has sent everything; the
 * destination may still be loading.  Compare only once it has finished and
 * sits paused (-S), with the source paused in postmigrate.
 */
int wait_both_stopped(struct run *r)
{
	int64_t deadline = now_ms() + 60000;
	char sbuf[32], dbuf[32];

	for (;;) {
		json_t *q;
		const char *st;
		bool dst_done;

		if (!both_alive(r))
			return died(r);
		q = side_qmp(r, &r->dst, "query-migrate", NULL);
		st = json_string_value(json_object_get(q, "status"));
		dst_done = st && !strcmp(st, "completed");
		if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
			print_side_tails(r);
			json_decref(q);
			return infra_fail(r, FAIL_MIGRATION, "incoming migration %s on the destination",
					  st);
		}
		json_decref(q);
		if (dst_done &&
		    !strcmp(run_status(r, &r->dst, dbuf, sizeof(dbuf)), "paused") &&
		    !strcmp(run_status(r, &r->src, sbuf, sizeof(sbuf)), "postmigrate"))
			return EXIT_OK;
		if (now_ms() > deadline || util_interrupted)
			return infra_fail(r, FAIL_TIMEOUT, "sides did not stop after migration "
					  "(source %s, destination %s)",
					  run_status(r, &r->src, sbuf, sizeof(sbuf)),
					  run_status(r, &r->dst, dbuf, sizeof(dbuf)));
		sleep_ms(POLL_MS);
	}
}
