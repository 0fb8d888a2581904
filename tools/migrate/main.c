// SPDX-License-Identifier: MIT
/*
 * pvmig-migrate: boots a source and a paused destination QEMU on one host,
 * live-migrates the guest over loopback TCP, reports query-migrate's
 * figures, then proves that no guest page was lost: both sides' RAM is
 * read back from its shared-memory backing file and compared page by page
 * (a difference is excused only for a page a hint skipped and the guest
 * left untouched since), and the resumed destination's workload must pass
 * its own data check.
 */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct run *g_run;

static void teardown(struct run *r, bool keep_workdir)
{
	struct side *sides[] = { &r->src, &r->dst };

	/* After a ^C, still ask the QEMUs to quit; a second ^C skips the waits. */
	util_interrupted = 0;

	for (int i = 0; i < 2; i++)
		quit_side(r, sides[i]);
	for (int i = 0; i < 2; i++)
		qemu_reap(&sides[i]->proc, 5000);
	for (int i = 0; i < 2; i++) {
		remove_file(sides[i]->qmp_path);
		control_close(sides[i]);
		remove_file(sides[i]->ctl_path);
		if (sides[i]->ram_fd >= 0)
			close(sides[i]->ram_fd);
		sides[i]->ram_fd = -1;
		if (!r->o.keep)
			remove_file(sides[i]->shm_path);
	}
	if (keep_workdir || r->o.keep) {
		info("work files kept in %s", r->workdir);
		return;
	}
	for (int i = 0; i < 2; i++) {
		char *f = xasprintf("%s/%s.cmdline", r->workdir, sides[i]->tag);

		remove_file(f);
		free(f);
		remove_file(sides[i]->con.path);
		remove_file(sides[i]->proc.log_path);
	}
	for (int i = 0; i < 2; i++)
		remove_file(sides[i]->hint_log);
	for (int i = 0; i < r->files.n; i++)
		remove_file(r->files.v[i]);
	if (r->workdir_made_by_us)
		rmdir(r->workdir);
}

/* Last-resort cleanup if we exit through an unexpected path. */
static void atexit_cleanup(void)
{
	struct run *r = g_run;

	if (!r)
		return;
	g_run = NULL;
	teardown(r, true);
}

/* -------------------------------------------------------------- results */

/* The guest's fault-injection counters, from every console of the run. */
static void collect_guest_faults(struct run *r)
{
	json_t *acc = json_object();
	static const char suffix[] = ".console";

	console_file_fault_counters(r->src.con.path, acc);
	console_file_fault_counters(r->dst.con.path, acc);
	for (int i = 0; i < r->files.n; i++) {
		const char *f = r->files.v[i];
		size_t n = strlen(f);

		if (n > sizeof(suffix) - 1 &&
		    !strcmp(f + n - (sizeof(suffix) - 1), suffix))
			console_file_fault_counters(f, acc);
	}
	json_object_set_new(r->out, "guest_faults", acc);
}

/* The file a path names in the end, so a result says which build ran. */
static json_t *resolved(const char *path)
{
	char *p = realpath(path, NULL);
	json_t *v = json_string(p ? p : path);

	free(p);
	return v;
}

static void init_output(struct run *r)
{
	const struct opts *o = &r->o;
	char stamp[32];
	time_t t = time(NULL);
	static const char *const later[] = {
		"total_ms", "setup_ms", "downtime_ms", "transferred_bytes",
		"normal_pages", "zero_pages", "syncs", "pages_lost",
		"pages_mismatched", "pages_excused", "guest_check", "verified",
		"failure_class", "qemu_version", "guest_kernel_version",
		"guest_used_kb", "guest_free_kb", "dst_resident_bytes",
	};

	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	r->out = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:s, s:s}",
			   "mode", mode_names[o->mode], "scenario", o->scenario,
			   "guest_mb", (json_int_t)o->mem_mb,
			   "smp", (json_int_t)o->smp, "append", o->append,
			   "bandwidth_mibs", (json_int_t)o->bandwidth_mibs,
			   "downtime_limit_ms", (json_int_t)o->downtime_ms,
			   "qemu", o->qemu, "timestamp", stamp);
	json_object_set_new(r->out, "accel", json_string(o->kvm ? "kvm" : "tcg"));
	/* Verified runs pay for the test-only hint log; production runs not. */
	json_object_set_new(r->out, "hint_log", json_boolean(o->verify));
	json_object_set_new(r->out, "dirty_log", json_string(
		!o->kvm ? "tcg" : o->dirty_ring ? "ring" : "manual"));
	json_object_set_new(r->out, "guest", json_string(o->sweeper ? "sweeper" :
							 "linux"));
	json_object_set_new(r->out, "multifd_channels",
			    json_integer((json_int_t)o->multifd_channels));
	json_object_set_new(r->out, "to_file", json_boolean(o->to_file));
	json_object_set_new(r->out, "qemu_binary", resolved(o->qemu));
	if (o->sweeper) {
		json_object_set_new(r->out, "guest_image", resolved(o->sweeper_img));
	} else {
		json_object_set_new(r->out, "guest_kernel", resolved(o->kernel));
		json_object_set_new(r->out, "guest_initrd", resolved(o->initrd));
	}
	json_object_set_new(r->out, "status", json_string("not-started"));
	/* Fixed key order; values stay null if the run never gets there. */
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		json_object_set_new(r->out, later[i], json_null());
	json_object_set_new(r->out, "verified", json_false());
	/* Fault injection and ping-pong: what was asked and what happened. */
	json_object_set_new(r->out, "hops_requested", json_integer((json_int_t)o->hops));
	json_object_set_new(r->out, "fault_options", json_pack(
		"{s:I, s:I, s:I}", "cancel_after_ms", (json_int_t)o->cancel_after_ms,
		"kill_dst_after_ms", (json_int_t)o->kill_dst_after_ms,
		"reset_after_ms", (json_int_t)o->reset_after_ms));
	json_object_set_new(r->out, "hops_done", json_integer(0));
	json_object_set_new(r->out, "attempts", json_integer(0));
	json_object_set_new(r->out, "faults", json_object());
	json_object_set_new(r->out, "fault_events", json_array());
	json_object_set_new(r->out, "hops", json_array());
}

int main(int argc, char **argv)
{
	static struct run run;
	struct run *r = &run;
	int rc;

	parse_opts(argc, argv, &r->o);
	util_quiet = r->o.quiet;
	rc = resolve_paths(r);
	if (rc)
		return rc;
	install_signal_handlers();
	init_side(r, &r->src, "src", "source");
	init_side(r, &r->dst, "dst", "destination");
	init_output(r);
	g_run = r;
	atexit(atexit_cleanup);

	rc = boot_and_wait(r);
	if (!rc)
		rc = run_hops(r);
	if (rc == EXIT_INFRA)
		json_object_set_new(r->out, "verified", json_false());
	/* A run that did not verify always says why. */
	if (rc != EXIT_OK && r->failure == FAIL_NONE)
		r->failure = FAIL_SETUP;
	json_object_set_new(r->out, "failure_class",
			    json_string(failure_class_names[rc == EXIT_OK ?
				FAIL_NONE : r->failure]));

	g_run = NULL;
	collect_guest_faults(r);
	teardown(r, rc != EXIT_OK);
	if (rc != EXIT_OK || r->o.keep)
		json_object_set_new(r->out, "workdir", json_string(r->workdir));

	/* query-migrate's raw reply goes to the JSON, not the table. */
	if (!r->o.quiet || rc != EXIT_INFRA) {
		printf("pvmig-migrate: %s / %s\n", mode_names[r->o.mode], r->o.scenario);
		report_table(stdout, r->out);
		fflush(stdout);
	}
	if (r->o.json) {
		char err[256];

		if (json_array_append_file(r->o.json, r->out, err, sizeof(err)) < 0) {
			warn("cannot write results: %s", err);
			if (rc == EXIT_OK)
				rc = EXIT_INFRA;
		}
	}
	json_decref(r->out);
	return rc;
}
