// SPDX-License-Identifier: MIT
/* Driving the migration over QMP and collecting its figures. */
#include "run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void progress_line(json_t *q, int64_t t0, double *prev_mib,
			  int64_t *prev_t, double *rate)
{
	const char *status = json_string_value(json_object_get(q, "status"));
	double sent = (double)jint(q, "ram.transferred") / 1048576;
	double left = (double)jint(q, "ram.remaining") / 1048576;
	int64_t t = now_ms();

	if (sent < 0)
		sent = 0;
	if (left < 0)
		left = 0;
	if (t - *prev_t >= 500) {
		*rate = (sent - *prev_mib) * 1000.0 / (double)(t - *prev_t);
		*prev_mib = sent;
		*prev_t = t;
	}
	fprintf(stderr, "\r  migrate: %-10s %9.1f MiB sent %9.1f MiB left %8.1f MiB/s %7.1f s\033[K",
		status ? status : "?", sent, left, *rate, (double)(t - t0) / 1000);
	fflush(stderr);
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
		ret = cmd(r, &r->src, "migrate_cancel", NULL);
		break;
	case FAULT_KILL_DST:
		warn("fault: killing the destination QEMU at %lld ms",
		     (long long)f->injected_ms);
		kill(r->dst.proc.pid, SIGKILL);
		break;
	case FAULT_RESET:
		warn("fault: resetting the guest (system_reset) at %lld ms",
		     (long long)f->injected_ms);
		ret = cmd(r, &r->src, "system_reset", NULL);
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
	if (strcmp(st, "prelaunch"))
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
	json_t *ret = cmd(r, &r->src, "migrate-set-parameters",
			  json_pack("{s:I, s:I}", "max-bandwidth",
				    (json_int_t)LIFTED_BANDWIDTH_MIBS << 20,
				    "downtime-limit", (json_int_t)LIFTED_DOWNTIME_MS));

	if (!ret)
		return infra_fail(r, "cannot lift the migration's limits");
	json_decref(ret);
	return EXIT_OK;
}

/*
 * Runs one migration attempt.  With @f, injects that fault @f->at_ms after
 * the migrate command; a cancelled or failed attempt then returns
 * EXIT_RETRY (the caller checks the source and migrates again), as does a
 * killed destination even if the source managed to finish first.
 */
int migrate(struct run *r, json_t **final, struct fault *f)
{
	const struct opts *o = &r->o;
	bool progress = !o->quiet && isatty(STDERR_FILENO);
	int64_t t0, deadline;
	double prev_mib = 0, rate = 0;
	int64_t prev_t;
	struct stale_phase stale = { .state = STALE_OFF };
	/* A test phase runs in the first attempt only. */
	bool wants_phase = o->stale_free || o->sweeper_hints;
	bool phase = wants_phase && !r->test_phase_used;
	bool sweeper_hints = phase && o->sweeper_hints;
	json_t *ret;
	char *uri;
	int rc;

	r->test_phase_used |= phase;
	if (phase && o->stale_free) {
		stale.state = STALE_SENDING;
		rc = stale_wait_held(r);
		if (rc)
			return rc;
	}
	ret = cmd(r, &r->src, "migrate-set-parameters",
		  json_pack("{s:I, s:I}",
			    "max-bandwidth", (json_int_t)o->bandwidth_mibs << 20,
			    "downtime-limit", (json_int_t)o->downtime_ms));
	if (!ret)
		return infra_fail(r, "migrate-set-parameters failed");
	json_decref(ret);
	/*
	 * A later attempt (a retry after a fault, the next ping-pong hop) must
	 * not stay at the limits that kept the first one from converging.
	 */
	if (wants_phase && !phase) {
		rc = lift_limits(r);
		if (rc)
			return rc;
	}
	uri = xasprintf("tcp:127.0.0.1:%d", r->port);
	ret = cmd(r, &r->src, "migrate", json_pack("{s:s}", "uri", uri));
	free(uri);
	json_decref(ret);
	if (!ret)
		return infra_fail(r, "migrate failed to start");

	t0 = prev_t = now_ms();
	deadline = t0 + (int64_t)o->timeout_s * 1000;
	info("migrating (max-bandwidth %lu MiB/s, downtime-limit %lu ms)",
	     o->bandwidth_mibs, o->downtime_ms);
	for (;;) {
		json_t *q;
		const char *status;

		if (!qemu_alive(&r->src.proc) ||
		    (!ends_attempt(f) && !qemu_alive(&r->dst.proc))) {
			if (progress)
				fputc('\n', stderr);
			return died(r);
		}
		if (util_interrupted)
			q = NULL;
		else
			q = cmd(r, &r->src, "query-migrate", NULL);
		if (!q && util_interrupted) {
			if (progress)
				fputc('\n', stderr);
			json_decref(cmd(r, &r->src, "migrate_cancel", NULL));
			json_object_set_new(r->out, "status", json_string("interrupted"));
			return infra_fail(r, "interrupted (migration cancelled)");
		}
		if (!q) {
			if (progress)
				fputc('\n', stderr);
			return qemu_alive(&r->src.proc) ?
			       infra_fail(r, "query-migrate failed") : died(r);
		}
		status = json_string_value(json_object_get(q, "status"));
		if (progress)
			progress_line(q, t0, &prev_mib, &prev_t, &rate);
		if (status && !strcmp(status, "completed")) {
			if (progress)
				fputc('\n', stderr);
			if (f && f->injected && f->kind == FAULT_KILL_DST) {
				json_decref(q);
				return EXIT_RETRY;
			}
			if (f && f->injected && f->kind == FAULT_RESET &&
			    reset_after_completion(r)) {
				json_decref(q);
				return EXIT_RETRY;
			}
			*final = q;
			return EXIT_OK;
		}
		if (status && (!strcmp(status, "failed") ||
			       !strcmp(status, "cancelled"))) {
			const char *desc = json_string_value(json_object_get(q, "error-desc"));

			if (progress)
				fputc('\n', stderr);
			if (ends_attempt(f)) {
				info("attempt ended as planned: %s%s%s", status,
				     desc ? ": " : "", desc ? desc : "");
				json_decref(q);
				return EXIT_RETRY;
			}
			print_side_tails(r);
			json_object_set_new(r->out, "status", json_string(status));
			infra_fail(r, "migration %s: %s", status,
				   desc ? desc : "(no error-desc)");
			json_decref(q);
			return EXIT_INFRA;
		}
		rc = stale.state != STALE_OFF ? stale_step(r, &stale, q, t0) : 0;
		if (!rc && sweeper_hints && jint(q, "ram.dirty-sync-count") >= 2) {
			/* Once: the rounds block, then the migration may end. */
			sweeper_hints = false;
			if (progress)
				fputc('\n', stderr);
			rc = sweeper_hint_rounds(r);
			if (!rc)
				rc = lift_limits(r);
		}
		json_decref(q);
		if (rc) {
			if (progress)
				fputc('\n', stderr);
			json_decref(cmd(r, &r->src, "migrate_cancel", NULL));
			return rc;
		}
		if (f && f->kind != FAULT_NONE && !f->injected &&
		    now_ms() - t0 >= f->at_ms)
			inject(r, f, t0);
		if (now_ms() > deadline || util_interrupted) {
			if (progress)
				fputc('\n', stderr);
			json_decref(cmd(r, &r->src, "migrate_cancel", NULL));
			json_object_set_new(r->out, "status",
					    json_string(util_interrupted ? "interrupted" :
							"timed-out"));
			return infra_fail(r, util_interrupted ? "interrupted" :
					  "migration timed out after %lu s (cancelled)",
					  o->timeout_s);
		}
		sleep_ms(POLL_MS);
	}
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

static const char *const pvmig_counters[] = {
	"stat-epochs", "stat-ranges", "stat-pages-hinted", "stat-pages-cleared",
	"stat-pages-zero-resend", "stat-pages-not-ram", "stat-bytes-received", "stat-hint-latency-us",
	"stat-setup-wait-us", "stat-bitmap-wait-us", "stat-stale-messages", "stat-rejected-messages",
	"stat-rejected-poison", "stat-rejected-postcopy",
	"stat-rejected-no-agent", "stat-rejected-invalid",
	"stat-rejected-dirty-log", "stat-rejected-contract",
	"stat-rejected-dest-unzeroed", "stat-rejected-rearm", "stat-rearms",
	"stat-rearm-chunks", "stat-rearm-us", "stat-rearm-max-us",
	"hint-wait-ms", "guest-caps", "guest-poison-pattern", "dirty-log",
};

/* The pvmig device's counters on the source (they describe its send). */
json_t *read_pvmig(struct run *r)
{
	json_t *all = json_object();

	for (size_t i = 0; i < sizeof(pvmig_counters) / sizeof(pvmig_counters[0]); i++) {
		const char *prop = pvmig_counters[i];
		json_t *v = cmd(r, &r->src, "qom-get",
				json_pack("{s:s, s:s}", "path",
					  "/machine/peripheral/pvmig0",
					  "property", prop));
		char key[64], *k;

		snprintf(key, sizeof(key), "%s",
			 strncmp(prop, "stat-", 5) ? prop : prop + 5);
		for (k = key; *k; k++)
			if (*k == '-')
				*k = '_';
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
		q = cmd(r, &r->dst, "query-migrate", NULL);
		st = json_string_value(json_object_get(q, "status"));
		dst_done = st && !strcmp(st, "completed");
		if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
			print_side_tails(r);
			json_decref(q);
			return infra_fail(r, "incoming migration %s on the destination",
					  st);
		}
		json_decref(q);
		if (dst_done &&
		    !strcmp(run_status(r, &r->dst, dbuf, sizeof(dbuf)), "paused") &&
		    !strcmp(run_status(r, &r->src, sbuf, sizeof(sbuf)), "postmigrate"))
			return EXIT_OK;
		if (now_ms() > deadline || util_interrupted)
			return infra_fail(r, "sides did not stop after migration "
					  "(source %s, destination %s)",
					  run_status(r, &r->src, sbuf, sizeof(sbuf)),
					  run_status(r, &r->dst, dbuf, sizeof(dbuf)));
		sleep_ms(POLL_MS);
	}
}
