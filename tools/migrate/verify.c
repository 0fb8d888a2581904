// SPDX-License-Identifier: MIT
/*
 * Proof that no page was lost: both sides' RAM compared page by page
 * (hint-log excuses only), then the resumed destination's own data check.
 */
#include "run.h"

#include "pvmig_page_hash.h"

#include "pvmig_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void record_dst_resident(struct run *r)
{
	struct stat st;

	if (fstat(r->dst.ram_fd, &st) == 0)
		set_int(r->out, "dst_resident_bytes", (int64_t)st.st_blocks * 512);
	else
		json_object_set_new(r->out, "dst_resident_bytes", json_null());
}

/* Test only: damages the destination's RAM the way a wrongly skipped page would. */
static int corrupt_dst(struct run *r)
{
	long long off = r->o.corrupt_dst;
	int fd = r->dst.ram_fd;
	unsigned char b;

	if (off >= (long long)r->o.mem_mb << 20)
		return infra_fail(r, FAIL_SETUP, "--x-corrupt-dst offset beyond guest RAM");
	if (pread(fd, &b, 1, off) != 1)
		return infra_fail(r, FAIL_SETUP, "cannot read destination RAM");
	b ^= 0x5a;
	if (pwrite(fd, &b, 1, off) != 1)
		return infra_fail(r, FAIL_SETUP, "cannot write destination RAM");
	warn("test: flipped bits of destination RAM byte 0x%llx", off);
	json_object_set_new(r->out, "test_corrupted_offset", json_integer(off));
	return EXIT_OK;
}

/*
 * Whether the guest's free pages must read as zero: its kernel command line
 * asks for init_on_free, or its agent's HELLO (as the source's device saw
 * it) says so.  Either one is enough to hold the comparison to it.
 */
static bool free_reads_zero(struct run *r)
{
	json_t *pv = json_object_get(r->out, "pvmig");
	int64_t caps = jint(pv, "guest_caps");
	int64_t pattern = jint(pv, "guest_poison_pattern");

	if (strstr(r->o.append, "init_on_free=1"))
		return true;
	return caps >= 0 && pattern >= 0 &&
	       pvmig_free_contract((uint32_t)caps, (uint8_t)pattern) ==
	       PVMIG_FREE_ZERO;
}

static int compare_ram(struct run *r, struct ramcmp_result *res)
{
	uint64_t size = (uint64_t)r->o.mem_mb << 20;
	struct hintlog log;
	json_t *gpas = json_array();
	char err[256];
	int rc;

	/*
	 * The sweeper's hints (--x-sweeper-hints) name pages in use, written
	 * after the hint's epoch began: every one of them must arrive, so
	 * its comparison takes no excuses at all.
	 */
	if (r->o.sweeper) {
		hintlog_init(&log, size);
	} else if ((rc = hintlog_load(&log, r->src.hint_log, RAM_BLOCK, size)) < 0) {
		int version = log.version;

		hintlog_free(&log);
		json_decref(gpas);
		if (rc == -2)
			return infra_fail(r, FAIL_SETUP, "hint log %s is of version %d, "
					  "this comparison reads %d: QEMU and the driver "
					  "were built from different sources", r->src.hint_log,
					  version, PVMIG_HINT_LOG_VERSION);
		return infra_fail(r, FAIL_SETUP, "cannot read hint log %s: %s",
				  r->src.hint_log, strerror(errno));
	}
	log.free_reads_zero = free_reads_zero(r);
	json_object_set_new(r->out, "free_reads_zero",
			    json_boolean(log.free_reads_zero));
	info("comparing %lu MiB of guest RAM (hint log: %" PRIu64 " pages%s)",
	     r->o.mem_mb, log.pages,
	     log.free_reads_zero ? ", free pages must read as zero" : "");
	rc = ramcmp_fds(r->src.ram_fd, r->dst.ram_fd, size, &log, res,
			err, sizeof(err));
	set_int(r->out, "hint_log_entries", (int64_t)log.entries);
	set_int(r->out, "hint_log_pages", (int64_t)log.pages);
	if (log.malformed || log.other_blocks)
		warn("hint log: %" PRIu64 " unusable lines, %" PRIu64
		     " for other blocks (ignored)", log.malformed, log.other_blocks);
	hintlog_free(&log);
	if (rc < 0) {
		json_decref(gpas);
		return infra_fail(r, FAIL_SETUP, "RAM comparison: %s", err);
	}
	set_int(r->out, "pages_lost", (int64_t)res->lost);
	set_int(r->out, "pages_mismatched", (int64_t)res->mismatched);
	set_int(r->out, "pages_excused", (int64_t)res->excused);
	set_int(r->out, "compare_ms", res->ms);
	for (unsigned i = 0; i < res->nlost_off; i++)
		json_array_append_new(gpas, json_sprintf("0x%" PRIx64,
			pc_ram_offset_to_gpa(res->lost_off[i], size)));
	json_object_set_new(r->out, "lost_gpas", gpas);
	return EXIT_OK;
}

#define GUEST_SETTLE_MS 3000

static bool kernel_cmdline_wants_check(const char *append)
{
	const char *p;
	unsigned long v;

	if ((p = strstr(append, "pvmig.hold_mb=")) != NULL &&
	    sscanf(p + 14, "%lu", &v) == 1 && v > 0)
		return true;
	return (p = strstr(append, "pvmig.churn=")) != NULL && p[12] != '0';
}

/*
 * Resumes the destination and waits for its workload's verdict.  The
 * first sweep it reports may have started on the source; the second was
 * run entirely on the destination, so that one must come and be clean.
 */
/*
 * The fresh-page zero check runs on guests that run pvmig-freeprobe: those
 * whose free pages must read as zero (guest/image/init starts it for them).
 */
static bool wants_zerocheck(const char *append)
{
	return strstr(append, "init_on_free=1") || strstr(append, "pvmig.stale_mb=");
}

static void record_zerocheck(struct run *r)
{
	const struct console_state *st = &r->dst.con.st;

	if (!st->zerocheck_done)
		return;
	set_int(r->out, "fresh_pages_checked", (int64_t)st->zerocheck_pages);
	set_int(r->out, "fresh_pages_nonzero", (int64_t)st->zerocheck_nonzero);
}

static enum guest_check guest_check(struct run *r, bool expect)
{
	bool zerocheck = wants_zerocheck(r->o.append);
	int64_t deadline;
	json_t *ret;

	console_poll(&r->src.con);
	console_poll(&r->dst.con);
	if (r->src.con.st.checks)
		expect = true;
	if (console_failed(&r->src.con.st))
		return CHECK_FAIL;
	ret = side_qmp(r, &r->dst, "cont", NULL);
	if (!ret)
		return CHECK_FAIL;
	json_decref(ret);
	if (zerocheck) {
		/* Fresh pages on the destination, before anything else frees. */
		expect = true;
		info("destination resumed; checking that fresh pages read as zero");
		if (control_send(r, &r->dst, "zerocheck\n"))
			return CHECK_FAIL;
	}

	/* Without a workload, only watch the resumed guest briefly for a crash. */
	deadline = now_ms() + (expect ? (int64_t)r->o.check_timeout_s * 1000 :
				GUEST_SETTLE_MS);
	if (expect)
		info("destination resumed; waiting for two clean verification sweeps");
	for (;;) {
		console_poll(&r->dst.con);
		if (console_failed(&r->dst.con.st))
			return CHECK_FAIL;
		if (zerocheck && r->dst.con.st.zerocheck_done &&
		    (r->dst.con.st.zerocheck_nonzero ||
		     !r->dst.con.st.zerocheck_pages))
			return CHECK_FAIL;
		if (expect && r->dst.con.st.checks >= 2 &&
		    (!zerocheck || r->dst.con.st.zerocheck_done))
			return CHECK_PASS;
		if (zerocheck && r->dst.con.st.zerocheck_done &&
		    !kernel_cmdline_wants_check(r->o.append))
			return CHECK_PASS;
		if (!expect && now_ms() > deadline)
			return CHECK_NONE;
		if (!qemu_alive(&r->dst.proc)) {
			warn("destination QEMU %s during the guest check",
			     qemu_exit_reason(&r->dst.proc));
			r->failure = FAIL_QEMU_CRASH;
			return CHECK_FAIL;
		}
		if (now_ms() > deadline || util_interrupted)
			return CHECK_TIMEOUT;
		sleep_ms(POLL_MS);
	}
}

/*
 * QEMU buffers the hint log and flushes it from a bottom half after the
 * migration ends, and at exit; the driver can see "completed" before that
 * bottom half runs.  Quitting the source makes the log complete, and the
 * source's RAM stays readable in its backing file.  A source that has to
 * be killed may leave the log short: that can only turn an excused page
 * into a lost one, never the reverse.
 */
static void stop_source(struct run *r)
{
	quit_side(r, &r->src);
	qemu_reap(&r->src.proc, 10000);
	if (!r->src.proc.reaped || !WIFEXITED(r->src.proc.status) ||
	    WEXITSTATUS(r->src.proc.status) != 0)
		warn("source QEMU did not quit cleanly (%s): hint log may be "
		     "incomplete", qemu_exit_reason(&r->src.proc));
}

/* The guest's first failure line, from either console, or NULL. */
static const char *guest_failure(struct run *r)
{
	if (r->src.con.st.first_failure[0])
		return r->src.con.st.first_failure;
	return r->dst.con.st.first_failure[0] ? r->dst.con.st.first_failure :
	       NULL;
}

static void record_check(struct run *r, enum guest_check check)
{
	const char *failure = guest_failure(r);

	json_object_set_new(r->out, "guest_check",
			    json_string(guest_check_names[check]));
	if (r->dst.con.st.checks)
		json_object_set_new(r->out, "guest_check_line",
			json_sprintf("sweep=%" PRIu64 " pages=%" PRIu64 " bad=%" PRIu64,
				     r->dst.con.st.last_sweep, r->dst.con.st.last_pages,
				     r->dst.con.st.last_bad));
	if (failure)
		json_object_set_new(r->out, "guest_failure", json_string(failure));
	if (check != CHECK_PASS && check != CHECK_NONE)
		warn("guest-side check: %s%s%s", guest_check_names[check],
		     failure ? ": " : "", failure ? failure : "");
}

int verify(struct run *r)
{
	struct ramcmp_result res;
	enum guest_check check;
	bool check_ok;
	int rc = EXIT_OK;

	stop_source(r);
	if (r->o.corrupt_dst >= 0)
		rc = corrupt_dst(r);
	if (!rc)
		rc = compare_ram(r, &res);
	if (rc)
		return rc;
	r->pages_lost = (int64_t)res.lost;
	check = r->o.sweeper ? sweeper_check(r) :
		guest_check(r, kernel_cmdline_wants_check(r->o.append));
	record_zerocheck(r);
	console_poll(&r->src.con);
	console_poll(&r->dst.con);
	if (console_failed(&r->src.con.st) || console_failed(&r->dst.con.st))
		check = CHECK_FAIL;
	record_check(r, check);
	check_ok = check == CHECK_PASS || check == CHECK_NONE;
	if (!check_ok && r->failure != FAIL_QEMU_CRASH)
		r->failure = FAIL_GUEST_CHECK;
	if (res.lost) {
		warn("%" PRIu64 " page(s) LOST (of %" PRIu64 " differing)",
		     res.lost, res.mismatched);
		r->failure = FAIL_LOST_PAGES;
	}
	json_object_set_new(r->out, "verified",
			    json_boolean(!res.lost && check_ok));
	return !res.lost && check_ok ? EXIT_OK : EXIT_UNVERIFIED;
}
