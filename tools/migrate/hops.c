// SPDX-License-Identifier: MIT
/*
 * Migrations that need more than one destination (test only): a fault
 * that takes the migration down (cancel, destination killed) is followed
 * by a retry into a fresh destination, and a ping-pong migrates the guest
 * on and on, each hop into a fresh QEMU and each hop verified.
 *
 * What must hold after a failed attempt: the source QEMU is alive and its
 * guest runs again (resumed by us if the destination died after the source
 * had finished); the retry then has to lose nothing like any other run.
 */
#include "run.h"

#include "pvmig_page_hash.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const fault_names[] = {
	[FAULT_NONE] = "none", [FAULT_CANCEL] = "cancel",
	[FAULT_KILL_DST] = "kill_dst", [FAULT_RESET] = "reset",
};

/* The faults of the first hop, one per attempt, in this order. */
static int plan_faults(const struct opts *o, struct fault *plan)
{
	int n = 0;

	if (o->cancel_after_ms >= 0)
		plan[n++] = (struct fault){ .kind = FAULT_CANCEL, .at_ms = o->cancel_after_ms };
	if (o->kill_dst_after_ms >= 0)
		plan[n++] = (struct fault){ .kind = FAULT_KILL_DST, .at_ms = o->kill_dst_after_ms };
	/* Last: the attempt that is meant to complete carries the reset. */
	if (o->reset_after_ms >= 0)
		plan[n++] = (struct fault){ .kind = FAULT_RESET, .at_ms = o->reset_after_ms };
	return n;
}

static void count_fault(struct run *r, const char *kind)
{
	json_t *faults = json_object_get(r->out, "faults");
	json_t *v = json_object_get(faults, kind);

	json_object_set_new(faults, kind,
			    json_integer(json_integer_value(v) + 1));
}

/*
 * Empties a hint log and writes its version line again (QEMU wrote it
 * once, at start, and appends after it).  No hint is being logged: the
 * attempt is over and QEMU flushed its log when it ended.
 */
static int reset_hint_log(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "#pvmig-hint-log %d\n", PVMIG_HINT_LOG_VERSION);
	return fclose(f);
}

/*
 * After a cancelled or failed attempt: the source must still be there and
 * its guest running (QEMU restarts a VM whose migration did not finish).
 */
static int recover(struct run *r, json_t *ev)
{
	int64_t deadline = now_ms() + 5000;
	char st[32];
	json_t *q;

	for (;;) {
		if (!qemu_alive(&r->src.proc))
			return died(r);
		run_status(r, &r->src, st, sizeof(st));
		if (!strcmp(st, "running") || now_ms() > deadline)
			break;
		/*
		 * A source whose destination died after it had sent everything
		 * waits in postmigrate (QEMU will not migrate it from there),
		 * one reset after completion in prelaunch: the source still
		 * holds the guest, so resume it, as management software would.
		 */
		if (!strcmp(st, "postmigrate") || !strcmp(st, "prelaunch")) {
			json_object_set_new(ev, "src_status_before_cont",
					    json_string(st));
			json_decref(side_qmp(r, &r->src, "cont", NULL));
		}
		sleep_ms(POLL_MS);
	}
	json_object_set_new(ev, "src_status_after", json_string(st));
	q = side_qmp(r, &r->src, "query-migrate", NULL);
	json_object_set(ev, "migration_status", json_object_get(q, "status") ?
			json_object_get(q, "status") : json_null());
	if (json_object_get(q, "error-desc"))
		json_object_set(ev, "error_desc", json_object_get(q, "error-desc"));
	json_decref(q);
	if (r->o.mode == MODE_PVMIG)
		json_object_set_new(ev, "pvmig", read_pvmig(r));
	if (strcmp(st, "running") != 0)
		return infra_fail(r, FAIL_SOURCE_STOPPED, "source is '%s', not running, after the "
				  "interrupted migration", st);

	/*
	 * QEMU flushes the hint log when the attempt's cleanup runs; give it
	 * that moment, then forget the attempt's hints: only the retry's may
	 * excuse a difference (the stricter choice; the log is O_APPEND).
	 */
	sleep_ms(1000);
	if (r->o.verify && reset_hint_log(r->src.hint_log) < 0)
		return infra_fail(r, FAIL_SETUP, "cannot reset the hint log: %s",
				  strerror(errno));
	retire_side(r, &r->dst);
	return start_destination(r);
}

int migrate_hop(struct run *r, unsigned hop, json_t **final)
{
	struct fault plan[3];
	int nplan = hop == 1 ? plan_faults(&r->o, plan) : 0;
	int rc;

	for (int attempt = 1;; attempt++) {
		struct fault f = attempt <= nplan ? plan[attempt - 1] :
				 (struct fault){ .kind = FAULT_NONE, .at_ms = -1 };
		json_t *ev;

		rc = migrate(r, final, &f);
		json_object_set_new(r->out, "attempts", json_integer(
			json_integer_value(json_object_get(r->out, "attempts")) + 1));
		if (f.kind == FAULT_NONE)
			return rc;
		ev = json_pack("{s:I, s:i, s:s, s:I, s:b}", "hop", (json_int_t)hop,
			       "attempt", attempt, "kind", fault_names[f.kind],
			       "planned_ms", (json_int_t)f.at_ms,
			       "injected", f.injected);
		json_array_append_new(json_object_get(r->out, "fault_events"), ev);
		if (f.injected) {
			json_object_set_new(ev, "injected_ms",
					    json_integer(f.injected_ms));
			count_fault(r, fault_names[f.kind]);
		} else {
			/* The migration finished first; later faults are dropped. */
			info("fault %s not injected: migration ended first",
			     fault_names[f.kind]);
		}
		json_object_set_new(ev, "outcome", json_string(
			rc == EXIT_RETRY && f.kind == FAULT_RESET ?
			"reset after completion, retried" :
			rc == EXIT_RETRY ? "retried" : rc == EXIT_OK ?
			"completed" : "failed"));
		if (rc != EXIT_RETRY)
			return rc;
		rc = recover(r, ev);
		if (rc)
			return rc;
	}
}

/*
 * Ping-pong: the verified destination (resumed by the guest check) is the
 * next source; the old source goes, a fresh destination comes.
 */
int next_hop(struct run *r)
{
	if (!r->o.verify) {
		json_t *ret;

		quit_side(r, &r->src);
		ret = side_qmp(r, &r->dst, "cont", NULL);
		if (!ret)
			return infra_fail(r, FAIL_SETUP, "cannot resume the destination");
		json_decref(ret);
	}
	retire_side(r, &r->src);
	r->src = r->dst;
	r->src.proc.name = r->src.con.name = "source";
	if (!qemu_alive(&r->src.proc))
		return died(r);
	return start_destination(r);
}

/* One hop's figures, kept when a run has several hops or faults. */
static void record_hop(struct run *r, unsigned hop, int rc)
{
	static const char *const keys[] = {
		"status", "total_ms", "downtime_ms", "transferred_bytes",
		"normal_pages", "pages_hinted", "pages_cleared", "pages_lost",
		"pages_mismatched", "pages_excused", "guest_check", "verified",
		"error",
	};
	json_t *h = json_pack("{s:I, s:i}", "hop", (json_int_t)hop, "rc", rc);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(r->out, keys[i]);

		json_object_set(h, keys[i], v ? v : json_null());
	}
	json_array_append_new(json_object_get(r->out, "hops"), h);
}

/* One migration from start to verification (main.c's path for one hop). */
static int one_hop(struct run *r, unsigned hop)
{
	json_t *final = NULL;
	int rc;

	json_object_set_new(r->out, "status", json_string("migrating"));
	json_object_set_new(r->out, "verified", json_false());
	r->pages_lost = -1;
	rc = migrate_hop(r, hop, &final);
	if (rc)
		return rc;
	json_object_set_new(r->out, "status", json_string("completed"));
	record_figures(r, final);
	json_decref(final);
	if (r->o.mode == MODE_PVMIG)
		record_pvmig(r);
	rc = wait_both_stopped(r);
	if (rc)
		return rc;
	record_dst_resident(r);
	if (!r->o.verify) {
		json_object_set_new(r->out, "guest_check",
				    json_string(guest_check_names[CHECK_SKIPPED]));
		json_object_set_new(r->out, "pages_lost", json_null());
		return EXIT_OK;
	}
	return verify(r);
}

/*
 * Every hop: migrate (with the first hop's faults), verify.  The run's
 * pages_lost is the sum over the hops and it is verified only if every
 * hop was; the per-hop figures go to "hops".  Stops at the first hop that
 * fails.
 */
int run_hops(struct run *r)
{
	int64_t lost = 0;
	bool lost_known = true;
	int rc = EXIT_OK;

	for (unsigned hop = 1; hop <= r->o.hops && !rc; hop++) {
		if (hop > 1) {
			info("ping-pong: hop %u of %lu", hop, r->o.hops);
			rc = next_hop(r);
			if (rc)
				break;
		}
		rc = one_hop(r, hop);
		if (r->pages_lost >= 0)
			lost += r->pages_lost;
		else
			lost_known = false;
		record_hop(r, hop, rc);
		json_object_set_new(r->out, "hops_done", json_integer(hop));
	}
	if (r->o.hops > 1 && lost_known)
		set_int(r->out, "pages_lost", lost);
	return rc;
}
