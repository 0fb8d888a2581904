// SPDX-License-Identifier: MIT
/*
 * --guest sweeper: the bare-metal test guest of guest/sweeper/, which boots
 * where Linux cannot (this project's nested KVM).  It sweeps region B of
 * its RAM forever and region R once per 'W' on its control port; the
 * marker page at 0x9000 says where the regions are and how many sweeps of
 * each it made (guest/sweeper/README.md).
 *
 * With --x-sweeper-hints N the device runs its test agent (x-test-agent):
 * the driver hints R itself (x-inject) in N epochs, each time right after
 * having the guest write R at the start of that epoch.  Those writes land
 * between the bitmap sync and the hint, the window in which KVM's manual
 * dirty log leaves pages writable unless the device re-arms it; a lost
 * write leaves R on the destination older than on the source.  Since the
 * injected hints name pages in use, the RAM comparison takes no hint-log
 * excuses for this guest: every page must arrive.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARKER_GPA 0x9000
#define MARKER_MAGIC "PVMIGSWP"
#define PAGE 4096u
/* The migration thread's pace while a round's writes and hint happen. */
#define SLOW_BANDWIDTH_MIBS 16
#define ROUND_TIMEOUT_MS 60000

struct marker {
	uint32_t b_sweeps, start, end, version, r_sweeps, mid;
};

/* Reads the guest's marker from a RAM file; false if there is none yet. */
static bool read_marker(int fd, struct marker *m)
{
	unsigned char buf[32];

	if (pread(fd, buf, sizeof(buf), MARKER_GPA) != (ssize_t)sizeof(buf) ||
	    memcmp(buf, MARKER_MAGIC, 8) != 0)
		return false;
	memcpy(&m->b_sweeps, buf + 8, 4);
	memcpy(&m->start, buf + 12, 4);
	memcpy(&m->end, buf + 16, 4);
	memcpy(&m->version, buf + 20, 4);
	memcpy(&m->r_sweeps, buf + 24, 4);
	memcpy(&m->mid, buf + 28, 4);
	return m->version >= 2 && m->start < m->mid && m->mid < m->end;
}

void sweeper_args(struct run *r, struct side *s, struct argv *a)
{
	char *img = xasprintf("%s/%s.img", r->workdir, s->tag);
	FILE *in = fopen(r->o.sweeper_img, "rb"), *out = fopen(img, "wb");
	char buf[512];
	size_t n = in ? fread(buf, 1, sizeof(buf), in) : 0;

	/* A private copy per QEMU: two writers of one image would need locks. */
	if (!out || n != sizeof(buf) || fwrite(buf, 1, n, out) != n)
		warn("cannot copy %s to %s", r->o.sweeper_img, img);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	argv_add(a, "-cpu");
	/* KVM rewrites kvmclock's page in the BIOS area after a migration. */
	argv_add(a, "qemu64,-kvmclock");
	/*
	 * Lazy dirty-log clears in 256 KiB chunks, not 1 GiB: one page sent
	 * then re-protects only its own chunk, so a test's write window is not
	 * closed by chance by the migration thread sending a neighbour.
	 */
	argv_add(a, "-global");
	argv_add(a, "migration.x-clear-bitmap-shift=6");
	argv_add(a, "-drive");
	argv_addf(a, "file=%s,format=raw,if=ide", img);
	argv_add(&r->files, img);
	free(img);
}

bool sweeper_ready(struct run *r)
{
	struct marker m;

	return read_marker(r->src.ram_fd, &m);
}

static int64_t qom_int(struct run *r, const char *prop)
{
	json_t *v = side_qmp(r, &r->src, "qom-get",
			json_pack("{s:s, s:s}", "path", "/machine/peripheral/pvmig0",
				  "property", prop));
	int64_t n = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(v);
	return n;
}

static int set_bandwidth(struct run *r, unsigned long mibs)
{
	json_t *ret = side_qmp(r, &r->src, "migrate-set-parameters",
			  json_pack("{s:I}", "max-bandwidth", (json_int_t)mibs << 20));

	if (!ret)
		return infra_fail(r, FAIL_SETUP, "migrate-set-parameters failed");
	json_decref(ret);
	return EXIT_OK;
}

/* Has the guest write R once and waits until it has. */
static int write_r(struct run *r)
{
	struct marker m;
	uint32_t before;
	int64_t deadline = now_ms() + ROUND_TIMEOUT_MS;
	int rc;

	if (!read_marker(r->src.ram_fd, &m))
		return infra_fail(r, FAIL_SETUP, "sweeper: no marker in the source's RAM");
	before = m.r_sweeps;
	rc = control_send(r, &r->src, "W");
	while (!rc && read_marker(r->src.ram_fd, &m) && m.r_sweeps == before) {
		if (now_ms() > deadline || util_interrupted)
			return infra_fail(r, FAIL_SETUP, "sweeper: R was not written");
		sleep_ms(5);
	}
	return rc;
}

/* The device's last epoch, or without the device the sync count. */
static int64_t epoch_now(struct run *r)
{
	json_t *q;
	int64_t n;

	if (r->o.mode == MODE_PVMIG)
		return qom_int(r, "epoch");
	q = side_qmp(r, &r->src, "query-migrate", NULL);
	n = jint(q, "ram.dirty-sync-count");
	json_decref(q);
	return n;
}

/* Waits for the next epoch (or sync) after @epoch; returns it, or -1. */
static int64_t next_epoch(struct run *r, int64_t epoch)
{
	int64_t deadline = now_ms() + ROUND_TIMEOUT_MS, e;

	while ((e = epoch_now(r)) == epoch) {
		if (e < 0 || now_ms() > deadline || util_interrupted ||
		    !both_alive(r))
			return -1;
		sleep_ms(10);
	}
	return e;
}

/*
 * One round: R written in one epoch (so the next sync collects it dirty,
 * and under manual protect leaves it writable), then at the start of the
 * next epoch written again and hinted.  The migration thread runs slowly
 * meanwhile, so its lazy per-chunk clears do not re-protect R first.
 */
static int hint_round(struct run *r, const struct marker *m, unsigned round)
{
	int64_t e = epoch_now(r), cleared_before;
	char *ranges;
	json_t *ret;
	int rc;

	if (e < 0)
		return infra_fail(r, FAIL_SETUP, "sweeper: cannot read the device's epoch");
	rc = write_r(r);
	if (!rc && (e = next_epoch(r, e)) < 0)
		rc = infra_fail(r, FAIL_SETUP, "sweeper: no new epoch");
	if (!rc)
		rc = set_bandwidth(r, SLOW_BANDWIDTH_MIBS);
	if (!rc)
		rc = write_r(r);
	if (rc)
		return rc;
	if (r->o.mode != MODE_PVMIG) {
		info("sweeper: round %u: sync %" PRId64 ", R written (no hints)",
		     round, e);
		return set_bandwidth(r, r->o.bandwidth_mibs);
	}
	cleared_before = qom_int(r, "stat-pages-cleared");
	ranges = xasprintf("%" PRId64 ":0x%x+0x%x", e, m->mid / PAGE,
			   (m->end - m->mid) / PAGE);
	ret = side_qmp(r, &r->src, "qom-set",
		  json_pack("{s:s, s:s, s:s}", "path", "/machine/peripheral/pvmig0",
			    "property", "x-inject", "value", ranges));
	free(ranges);
	if (!ret)
		return infra_fail(r, FAIL_SETUP, "sweeper: x-inject failed (is this QEMU's "
				  "device built with the test agent?)");
	json_decref(ret);
	info("sweeper: round %u: epoch %" PRId64 ", R written and hinted, "
	     "%" PRId64 " pages cleared", round, e,
	     qom_int(r, "stat-pages-cleared") - cleared_before);
	return set_bandwidth(r, r->o.bandwidth_mibs);
}

int sweeper_hint_rounds(struct run *r)
{
	struct marker m;
	int rc = EXIT_OK;

	if (!read_marker(r->src.ram_fd, &m))
		return infra_fail(r, FAIL_SETUP, "sweeper: no marker in the source's RAM");
	for (unsigned i = 1; i <= r->o.sweeper_hints && !rc; i++)
		rc = hint_round(r, &m, i);
	set_int(r->out, "sweeper_r_pages", (m.end - m.mid) / PAGE);
	return rc;
}

/* pvmig-abcheck on one side's RAM; returns its exit status. */
static int abcheck(struct run *r, struct side *s, const char *key)
{
	char *tool = xasprintf("%s/build/tools/pvmig-abcheck", r->root);
	/* The file is unlinked; our descriptor is not inherited (O_CLOEXEC). */
	char *path = xasprintf("/proc/%d/fd/%d", (int)getpid(), s->ram_fd);
	char *cmdline = xasprintf("'%s' '%s' %lu 2>&1", tool, path, r->o.mem_mb);
	char line[512] = "";
	FILE *p = popen(cmdline, "r");
	int status = -1;

	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		line[strcspn(line, "\n")] = '\0';
		status = pclose(p);
	}
	json_object_set_new(r->out, key, json_string(line));
	info("%s: %s", key, line);
	free(cmdline);
	free(path);
	free(tool);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * The guest's own check: both RAM images hold a consistent a-b pattern,
 * and the resumed destination goes on sweeping.
 */
enum guest_check sweeper_check(struct run *r)
{
	struct marker before, now;
	int64_t deadline;
	json_t *ret;

	if (abcheck(r, &r->src, "abcheck_source") != 0 ||
	    abcheck(r, &r->dst, "abcheck_destination") != 0)
		return CHECK_FAIL;
	if (!read_marker(r->dst.ram_fd, &before))
		return CHECK_FAIL;
	ret = side_qmp(r, &r->dst, "cont", NULL);
	if (!ret)
		return CHECK_FAIL;
	json_decref(ret);
	deadline = now_ms() + (int64_t)r->o.check_timeout_s * 1000;
	while (read_marker(r->dst.ram_fd, &now) &&
	       now.b_sweeps < before.b_sweeps + 2) {
		if (now_ms() > deadline || util_interrupted ||
		    !qemu_alive(&r->dst.proc))
			return CHECK_TIMEOUT;
		sleep_ms(POLL_MS);
	}
	return now.b_sweeps >= before.b_sweeps + 2 ? CHECK_PASS : CHECK_FAIL;
}
