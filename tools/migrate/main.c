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
#include "console.h"
#include "hintlog.h"
#include "jsonout.h"
#include "qemu.h"
#include "qmp.h"
#include "ramcmp.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_UNVERIFIED = 1, EXIT_USAGE = 2, EXIT_INFRA = 3 };
enum mode { MODE_NONE, MODE_PVMIG, MODE_BALLOON };
static const char *const mode_names[] = { "none", "pvmig", "balloon" };

/* The block QEMU names after the memory backend's id ("info ramblock"). */
#define RAM_BLOCK "ram0"
#define POLL_MS 100

struct opts {
	const char *qemu, *kernel, *initrd, *append, *scenario;
	const char *workdir, *json;
	enum mode mode;
	unsigned long mem_mb, smp, bandwidth_mibs, downtime_ms;
	double start_delay_s;
	unsigned long timeout_s, boot_timeout_s, check_timeout_s;
	bool verify, keep, quiet;
	long long corrupt_dst;	/* test only: byte offset to flip, or -1 */
};

struct side {
	const char *tag;	/* "src" / "dst" */
	struct qemu_proc proc;
	struct qmp qmp;
	bool qmp_ok;
	struct console con;
	char *shm_path;
	char *qmp_path;
};

struct run {
	struct opts o;
	char *root, *workdir, *hint_log;
	bool workdir_made_by_us;
	struct side src, dst;
	int port;
	json_t *out;
	char err[512];
};

static struct run *g_run;

/* ------------------------------------------------------------------ CLI */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pvmig-migrate [OPTION]...\n"
"Boot a guest in QEMU, live-migrate it to a second QEMU over loopback TCP,\n"
"report the migration's figures and verify that no guest page was lost.\n"
"\n"
"  --qemu PATH          QEMU binary (default: $PVMIG_QEMU, else\n"
"                       build/qemu/qemu-system-x86_64 of the repository)\n"
"  --kernel PATH        guest kernel (default build/guest/vmlinuz)\n"
"  --initrd PATH        guest initramfs (default build/guest/initramfs.cpio.gz)\n"
"  --mem MB             guest RAM in MiB (default 2048)\n"
"  --smp N              guest vCPUs (default 1)\n"
"  --append ARGS        extra kernel command line, e.g.\n"
"                       \"pvmig.fill_mb=1200 pvmig.hold_mb=64\"\n"
"  --mode MODE          none | pvmig | balloon (default none)\n"
"  --scenario NAME      label stored with the results (default: custom)\n"
"  --bandwidth MIBS     migration max-bandwidth in MiB/s (default 4096)\n"
"  --downtime MS        migration downtime-limit in ms (default 300)\n"
"  --start-delay S      wait S seconds after the guest is ready (default 0)\n"
"  --timeout S          migration time limit (default 600)\n"
"  --boot-timeout S     time limit for the guest's ready line (default 300)\n"
"  --check-timeout S    time limit for the destination's data check (default 120)\n"
"  --workdir DIR        consoles and logs (default build/run/<time>-<pid>)\n"
"  --json FILE          append this run's result object to the JSON array in FILE\n"
"  --no-verify          skip the RAM comparison and the guest-side check\n"
"  --keep               keep the work directory and the RAM files\n"
"  --quiet              no progress or status messages\n"
"  --help               this text\n"
"  --x-corrupt-dst OFF  test only: flip one byte at RAM offset OFF of the\n"
"                       paused destination before the comparison, to prove\n"
"                       that the check catches a lost page\n"
"\n"
"Exit status: 0 migrated and verified, 1 migrated but verification failed,\n"
"2 usage error, 3 infrastructure failure (QEMU died, timeout, missing files).\n");
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!*s || *s == '-')
		return false;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		OPT_QEMU = 256, OPT_KERNEL, OPT_INITRD, OPT_MEM, OPT_SMP, OPT_APPEND,
		OPT_MODE, OPT_SCENARIO, OPT_BW, OPT_DOWNTIME, OPT_DELAY, OPT_TIMEOUT,
		OPT_BOOT_TIMEOUT, OPT_CHECK_TIMEOUT, OPT_WORKDIR, OPT_JSON,
		OPT_NO_VERIFY, OPT_KEEP, OPT_QUIET, OPT_HELP, OPT_CORRUPT,
	};
	static const struct option lo[] = {
		{ "qemu", required_argument, NULL, OPT_QEMU },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "bandwidth", required_argument, NULL, OPT_BW },
		{ "downtime", required_argument, NULL, OPT_DOWNTIME },
		{ "start-delay", required_argument, NULL, OPT_DELAY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
		{ "check-timeout", required_argument, NULL, OPT_CHECK_TIMEOUT },
		{ "workdir", required_argument, NULL, OPT_WORKDIR },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "x-corrupt-dst", required_argument, NULL, OPT_CORRUPT },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){
		.append = "", .scenario = "custom", .mode = MODE_NONE,
		.mem_mb = 2048, .smp = 1, .bandwidth_mibs = 4096,
		.downtime_ms = 300, .timeout_s = 600, .boot_timeout_s = 300,
		.check_timeout_s = 120, .verify = true, .corrupt_dst = -1,
	};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;
		bool ok = true;

		switch (c) {
		case OPT_QEMU: o->qemu = optarg; break;
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_APPEND: o->append = optarg; break;
		case OPT_SCENARIO: o->scenario = optarg; break;
		case OPT_WORKDIR: o->workdir = optarg; break;
		case OPT_JSON: o->json = optarg; break;
		case OPT_NO_VERIFY: o->verify = false; break;
		case OPT_KEEP: o->keep = true; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_MEM:
			ok = parse_ulong(optarg, 64, 1024 * 1024, &o->mem_mb);
			break;
		case OPT_SMP: ok = parse_ulong(optarg, 1, 64, &o->smp); break;
		case OPT_BW:
			ok = parse_ulong(optarg, 1, 1024 * 1024, &o->bandwidth_mibs);
			break;
		case OPT_DOWNTIME:
			/* QEMU caps downtime-limit at 2000 s. */
			ok = parse_ulong(optarg, 1, 2000000, &o->downtime_ms);
			break;
		case OPT_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->timeout_s);
			break;
		case OPT_BOOT_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->boot_timeout_s);
			break;
		case OPT_CHECK_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->check_timeout_s);
			break;
		case OPT_DELAY:
			errno = 0;
			o->start_delay_s = strtod(optarg, &end);
			ok = !errno && *optarg && !*end && o->start_delay_s >= 0 &&
			     o->start_delay_s <= 86400;
			break;
		case OPT_CORRUPT:
			errno = 0;
			o->corrupt_dst = strtoll(optarg, &end, 0);
			ok = !errno && *optarg && !*end && o->corrupt_dst >= 0;
			break;
		case OPT_MODE:
			ok = false;
			for (int m = 0; m < 3; m++) {
				if (!strcmp(optarg, mode_names[m])) {
					o->mode = (enum mode)m;
					ok = true;
				}
			}
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
		if (!ok) {
			fprintf(stderr, "pvmig-migrate: bad value for --%s: '%s'\n",
				lo[c - OPT_QEMU].name, optarg);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvmig-migrate: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		exit(EXIT_USAGE);
	}
	return 0;
}

/* ---------------------------------------------------------- environment */

/* The repository root: the nearest ancestor of the executable holding proto/. */
static char *find_root(void)
{
	char exe[PATH_MAX], *env = getenv("PVMIG_ROOT");
	ssize_t n;

	if (env && *env)
		return xstrdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (char *slash; (slash = strrchr(exe, '/')) && slash != exe; ) {
			char *probe;
			bool found;

			*slash = '\0';
			probe = xasprintf("%s/proto/pvmig_page_hash.h", exe);
			found = file_exists(probe);
			free(probe);
			if (found)
				return xstrdup(exe);
		}
	}
	return getcwd(exe, sizeof(exe)) ? xstrdup(exe) : xstrdup(".");
}

static int free_tcp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ------------------------------------------------------------- failures */

static void print_side_tails(struct run *r)
{
	struct side *sides[] = { &r->src, &r->dst };

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

static int infra_fail(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int infra_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	warn("error: %s", r->err);
	json_object_set_new(r->out, "error", json_string(r->err));
	return EXIT_INFRA;
}

/* Both QEMUs must stay up from start to the end of verification. */
static bool both_alive(struct run *r)
{
	return qemu_alive(&r->src.proc) && qemu_alive(&r->dst.proc);
}

static int died(struct run *r)
{
	struct side *s = qemu_alive(&r->src.proc) ? &r->dst : &r->src;

	print_side_tails(r);
	return infra_fail(r, "%s QEMU died (%s)", s->proc.name,
			  qemu_exit_reason(&s->proc));
}

/* ------------------------------------------------------------- launching */

static void build_argv(struct run *r, struct side *s, bool incoming,
		       struct argv *a)
{
	const struct opts *o = &r->o;

	argv_add(a, o->qemu);
	argv_addf(a, "-name");
	argv_addf(a, "pvmig-%s,debug-threads=on", s->tag);
	argv_add(a, "-accel");
	argv_add(a, "tcg");
	argv_add(a, "-nic");
	argv_add(a, "none");
	argv_add(a, "-display");
	argv_add(a, "none");
	argv_add(a, "-nodefaults");
	argv_add(a, "-L");
	argv_add(a, "/usr/share/qemu");
	argv_add(a, "-L");
	argv_add(a, "/usr/share/seabios");
	argv_add(a, "-m");
	argv_addf(a, "%luM", o->mem_mb);
	argv_add(a, "-smp");
	argv_addf(a, "%lu", o->smp);
	/*
	 * Guest RAM in a shared tmpfs file: the driver reads both sides' RAM
	 * straight from these files for the page comparison.
	 */
	argv_add(a, "-object");
	argv_addf(a, "memory-backend-file,id=" RAM_BLOCK ",size=%luM,mem-path=%s,share=on",
		  o->mem_mb, s->shm_path);
	argv_add(a, "-machine");
	argv_add(a, "pc,memory-backend=" RAM_BLOCK);
	argv_add(a, "-kernel");
	argv_add(a, o->kernel);
	argv_add(a, "-initrd");
	argv_add(a, o->initrd);
	argv_add(a, "-append");
	argv_addf(a, "console=ttyS0 quiet%s%s%s", *o->append ? " " : "", o->append,
		  o->mode == MODE_PVMIG ? " pvmig.module=1 pvmig.agent=1" :
		  o->mode == MODE_BALLOON ? " pvmig.balloon=1" : "");
	argv_add(a, "-chardev");
	argv_addf(a, "file,id=con0,path=%s", s->con.path);
	argv_add(a, "-serial");
	argv_add(a, "chardev:con0");
	argv_add(a, "-qmp");
	argv_addf(a, "unix:%s,server=on,wait=off", s->qmp_path);
	switch (o->mode) {
	case MODE_PVMIG:
		argv_add(a, "-device");
		argv_add(a, "virtio-serial-pci,id=vser0");
		argv_add(a, "-device");
		argv_add(a, "pvmig,id=pvmig0,bus=vser0.0,name=org.pvmig.0");
		break;
	case MODE_BALLOON:
		argv_add(a, "-object");
		argv_add(a, "iothread,id=io0");
		argv_add(a, "-device");
		argv_add(a, "virtio-balloon-pci,id=balloon0,free-page-hint=on,iothread=io0");
		break;
	case MODE_NONE:
		break;
	}
	if (incoming) {
		argv_add(a, "-incoming");
		argv_addf(a, "tcp:127.0.0.1:%d", r->port);
		argv_add(a, "-S");
	}
}

static int start_side(struct run *r, struct side *s, bool incoming,
		      const char *env)
{
	struct argv a = { 0 };
	char *cmd, *cmdfile;
	FILE *f;
	int ret;

	build_argv(r, s, incoming, &a);
	cmd = argv_join(&a);
	cmdfile = xasprintf("%s/%s.cmdline", r->workdir, s->tag);
	f = fopen(cmdfile, "w");
	if (f) {
		fprintf(f, "%s%s%s\n", env ? env : "", env ? " " : "", cmd);
		fclose(f);
	}
	free(cmdfile);
	free(cmd);
	ret = qemu_spawn(&s->proc, &a, env);
	argv_free(&a);
	return ret;
}

static bool proc_alive_cb(void *opaque)
{
	return qemu_alive(opaque);
}

/* ----------------------------------------------------------------- QMP */

static json_t *cmd(struct run *r, struct side *s, const char *name,
		   json_t *args)
{
	json_t *ret = qmp_cmd(&s->qmp, name, args, 10000, r->err, sizeof(r->err));

	if (!ret)
		warn("%s: %s", s->proc.name, r->err);
	return ret;
}

static const char *run_status(struct run *r, struct side *s, char *buf,
			      size_t len)
{
	json_t *st = cmd(r, s, "query-status", NULL);

	snprintf(buf, len, "%s", st && json_string_value(json_object_get(st, "status")) ?
		 json_string_value(json_object_get(st, "status")) : "?");
	json_decref(st);
	return buf;
}

/* Checks that the guest RAM block carries the name the hint log will use. */
static void check_ram_block(struct run *r)
{
	json_t *ret = cmd(r, &r->src, "human-monitor-command",
			  json_pack("{s:s}", "command-line", "info ramblock"));
	const char *text = json_string_value(ret);
	bool found = false;

	for (const char *p = text; p && *p; ) {
		const char *eol = strchr(p, '\n');
		char name[128];

		if (sscanf(p, " %127s", name) == 1 && !strcmp(name, RAM_BLOCK))
			found = true;
		p = eol ? eol + 1 : NULL;
	}
	if (!found)
		warn("guest RAM block '%s' not listed by 'info ramblock': "
		     "no hint-log entry can excuse a difference", RAM_BLOCK);
	json_object_set_new(r->out, "ram_block",
			    found ? json_string(RAM_BLOCK) : json_null());
	json_decref(ret);
}

static int64_t jint(json_t *o, const char *path)
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

static void set_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, v < 0 ? json_null() : json_integer(v));
}

/* ------------------------------------------------------------ migration */

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

static int migrate(struct run *r, json_t **final)
{
	const struct opts *o = &r->o;
	bool progress = !o->quiet && isatty(STDERR_FILENO);
	int64_t t0, deadline;
	double prev_mib = 0, rate = 0;
	int64_t prev_t;
	json_t *ret;
	char *uri;

	ret = cmd(r, &r->src, "migrate-set-parameters",
		  json_pack("{s:I, s:I}",
			    "max-bandwidth", (json_int_t)o->bandwidth_mibs << 20,
			    "downtime-limit", (json_int_t)o->downtime_ms));
	if (!ret)
		return infra_fail(r, "migrate-set-parameters failed");
	json_decref(ret);
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

		if (!both_alive(r)) {
			if (progress)
				fputc('\n', stderr);
			return died(r);
		}
		q = cmd(r, &r->src, "query-migrate", NULL);
		if (!q) {
			if (progress)
				fputc('\n', stderr);
			return both_alive(r) ? infra_fail(r, "query-migrate failed") :
					       died(r);
		}
		status = json_string_value(json_object_get(q, "status"));
		if (progress)
			progress_line(q, t0, &prev_mib, &prev_t, &rate);
		if (status && !strcmp(status, "completed")) {
			if (progress)
				fputc('\n', stderr);
			*final = q;
			return EXIT_OK;
		}
		if (status && (!strcmp(status, "failed") ||
			       !strcmp(status, "cancelled"))) {
			const char *desc = json_string_value(json_object_get(q, "error-desc"));

			if (progress)
				fputc('\n', stderr);
			print_side_tails(r);
			json_object_set_new(r->out, "status", json_string(status));
			infra_fail(r, "migration %s: %s", status,
				   desc ? desc : "(no error-desc)");
			json_decref(q);
			return EXIT_INFRA;
		}
		json_decref(q);
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

static void record_figures(struct run *r, json_t *q)
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
	"stat-pages-not-ram", "stat-bytes-received", "stat-hint-latency-us",
	"stat-setup-wait-us", "stat-stale-messages", "stat-rejected-messages",
	"stat-rejected-poison", "stat-rejected-postcopy",
	"stat-rejected-no-agent", "stat-rejected-invalid", "hint-wait-ms",
};

/* Reads the pvmig device's counters from the source (they describe its send). */
static void record_pvmig(struct run *r)
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
		json_object_set_new(all, key, json_is_integer(v) ? v : json_null());
		if (v && !json_is_integer(v))
			json_decref(v);
	}
	set_int(r->out, "pages_hinted", jint(all, "pages_hinted"));
	set_int(r->out, "pages_cleared", jint(all, "pages_cleared"));
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
static int wait_both_stopped(struct run *r)
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

static void record_dst_resident(struct run *r)
{
	struct stat st;

	if (stat(r->dst.shm_path, &st) == 0)
		set_int(r->out, "dst_resident_bytes", (int64_t)st.st_blocks * 512);
	else
		json_object_set_new(r->out, "dst_resident_bytes", json_null());
}

/* Test only: damages the destination's RAM the way a wrongly skipped page would. */
static int corrupt_dst(struct run *r)
{
	long long off = r->o.corrupt_dst;
	unsigned char b;
	int fd;

	if (off >= (long long)r->o.mem_mb << 20)
		return infra_fail(r, "--x-corrupt-dst offset beyond guest RAM");
	fd = open(r->dst.shm_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || pread(fd, &b, 1, off) != 1) {
		if (fd >= 0)
			close(fd);
		return infra_fail(r, "cannot read %s", r->dst.shm_path);
	}
	b ^= 0x5a;
	if (pwrite(fd, &b, 1, off) != 1) {
		close(fd);
		return infra_fail(r, "cannot write %s", r->dst.shm_path);
	}
	close(fd);
	warn("test: flipped bits of destination RAM byte 0x%llx", off);
	json_object_set_new(r->out, "test_corrupted_offset", json_integer(off));
	return EXIT_OK;
}

static int compare_ram(struct run *r, struct ramcmp_result *res)
{
	uint64_t size = (uint64_t)r->o.mem_mb << 20;
	struct hintlog log;
	json_t *gpas = json_array();
	char err[256];
	int rc;

	if (hintlog_load(&log, r->hint_log, RAM_BLOCK, size) < 0) {
		hintlog_free(&log);
		json_decref(gpas);
		return infra_fail(r, "cannot read hint log %s: %s", r->hint_log,
				  strerror(errno));
	}
	info("comparing %lu MiB of guest RAM (hint log: %" PRIu64 " pages)",
	     r->o.mem_mb, log.pages);
	rc = ramcmp_files(r->src.shm_path, r->dst.shm_path, size, &log, res,
			  err, sizeof(err));
	set_int(r->out, "hint_log_entries", (int64_t)log.entries);
	set_int(r->out, "hint_log_pages", (int64_t)log.pages);
	if (log.malformed || log.other_blocks)
		warn("hint log: %" PRIu64 " unusable lines, %" PRIu64
		     " for other blocks (ignored)", log.malformed, log.other_blocks);
	hintlog_free(&log);
	if (rc < 0) {
		json_decref(gpas);
		return infra_fail(r, "RAM comparison: %s", err);
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
static const char *guest_check(struct run *r, bool expect)
{
	int64_t deadline;
	json_t *ret;

	console_poll(&r->src.con);
	console_poll(&r->dst.con);
	if (r->src.con.st.checks)
		expect = true;
	if (console_failed(&r->src.con.st))
		return "fail";
	ret = cmd(r, &r->dst, "cont", NULL);
	if (!ret)
		return "fail";
	json_decref(ret);
	if (!expect)
		return "none";

	deadline = now_ms() + (int64_t)r->o.check_timeout_s * 1000;
	info("destination resumed; waiting for two clean verification sweeps");
	for (;;) {
		console_poll(&r->dst.con);
		if (console_failed(&r->dst.con.st))
			return "fail";
		if (r->dst.con.st.checks >= 2)
			return "pass";
		if (!qemu_alive(&r->dst.proc)) {
			warn("destination QEMU %s during the guest check",
			     qemu_exit_reason(&r->dst.proc));
			return "fail";
		}
		if (now_ms() > deadline || util_interrupted)
			return "timeout";
		sleep_ms(POLL_MS);
	}
}

/* ---------------------------------------------------------- tear-down */

static void quit_side(struct run *r, struct side *s)
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

static void remove_file(const char *path)
{
	if (path)
		unlink(path);
}

static void teardown(struct run *r, bool keep_workdir)
{
	struct side *sides[] = { &r->src, &r->dst };

	for (int i = 0; i < 2; i++)
		quit_side(r, sides[i]);
	for (int i = 0; i < 2; i++)
		qemu_reap(&sides[i]->proc, 5000);
	for (int i = 0; i < 2; i++) {
		remove_file(sides[i]->qmp_path);
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
	remove_file(r->hint_log);
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

/* ---------------------------------------------------------------- main */

static int resolve_paths(struct run *r)
{
	struct opts *o = &r->o;
	const char *env = getenv("PVMIG_QEMU");

	r->root = find_root();
	if (!o->qemu)
		o->qemu = env && *env ? env :
			  xasprintf("%s/build/qemu/qemu-system-x86_64", r->root);
	if (!o->kernel)
		o->kernel = xasprintf("%s/build/guest/vmlinuz", r->root);
	if (!o->initrd)
		o->initrd = xasprintf("%s/build/guest/initramfs.cpio.gz", r->root);
	if (access(o->qemu, X_OK) != 0) {
		warn("QEMU not found at %s: run 'make qemu'", o->qemu);
		return EXIT_INFRA;
	}
	if (access(o->kernel, R_OK) != 0 || access(o->initrd, R_OK) != 0) {
		warn("guest image not found (%s, %s): run 'make guest'",
		     o->kernel, o->initrd);
		return EXIT_INFRA;
	}
	if (o->workdir) {
		r->workdir = xstrdup(o->workdir);
	} else {
		char stamp[32];
		time_t t = time(NULL);

		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&t));
		r->workdir = xasprintf("%s/build/run/%s-%d", r->root, stamp,
				       (int)getpid());
	}
	r->workdir_made_by_us = !file_exists(r->workdir);
	if (mkdir_p(r->workdir) < 0) {
		warn("cannot create %s: %s", r->workdir, strerror(errno));
		return EXIT_INFRA;
	}
	r->hint_log = xasprintf("%s/hints.log", r->workdir);
	return EXIT_OK;
}

static void init_side(struct run *r, struct side *s, const char *tag,
		      const char *name)
{
	s->tag = tag;
	s->proc.name = name;
	s->proc.log_path = xasprintf("%s/%s.log", r->workdir, tag);
	s->con.name = name;
	s->con.path = xasprintf("%s/%s.console", r->workdir, tag);
	s->qmp_path = xasprintf("%s/%s.qmp", r->workdir, tag);
	s->shm_path = xasprintf("/dev/shm/pvmig-%d-%s", (int)getpid(), tag);
	s->qmp.fd = -1;
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
	json_object_set_new(r->out, "status", json_string("not-started"));
	/* Fixed key order; values stay null if the run never gets there. */
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		json_object_set_new(r->out, later[i], json_null());
	json_object_set_new(r->out, "verified", json_false());
}

static int boot_and_wait(struct run *r)
{
	const struct opts *o = &r->o;
	char *env = o->verify ? xasprintf("PVMIG_HINT_LOG=%s", r->hint_log) : NULL;
	int64_t deadline;
	char err[256];

	r->port = free_tcp_port();
	if (r->port < 0)
		return infra_fail(r, "no free TCP port on 127.0.0.1");
	remove_file(r->hint_log);
	info("starting source and destination QEMU (%s, %lu MiB, mode %s)",
	     o->qemu, o->mem_mb, mode_names[o->mode]);
	if (start_side(r, &r->dst, true, NULL) < 0 ||
	    start_side(r, &r->src, false, env) < 0)
		return infra_fail(r, "cannot start QEMU");
	free(env);
	json_object_set_new(r->out, "status", json_string("booting"));

	if (qmp_connect(&r->dst.qmp, r->dst.qmp_path, 30000, proc_alive_cb,
			&r->dst.proc, err, sizeof(err)) < 0) {
		sleep_ms(500);	/* a QEMU that refused its arguments is exiting */
		if (!both_alive(r))
			return died(r);
		print_side_tails(r);
		return infra_fail(r, "destination QMP: %s", err);
	}
	r->dst.qmp_ok = true;
	if (qmp_connect(&r->src.qmp, r->src.qmp_path, 30000, proc_alive_cb,
			&r->src.proc, err, sizeof(err)) < 0) {
		sleep_ms(500);	/* a QEMU that refused its arguments is exiting */
		if (!both_alive(r))
			return died(r);
		print_side_tails(r);
		return infra_fail(r, "source QMP: %s", err);
	}
	r->src.qmp_ok = true;
	check_ram_block(r);

	deadline = now_ms() + (int64_t)o->boot_timeout_s * 1000;
	info("waiting for the guest's PVMIG-READY line (console %s)",
	     r->src.con.path);
	for (;;) {
		console_poll(&r->src.con);
		if (r->src.con.st.ready)
			break;
		if (!both_alive(r))
			return died(r);
		if (console_failed(&r->src.con.st)) {
			print_side_tails(r);
			return infra_fail(r, "guest failed while booting: %s",
					  r->src.con.st.first_failure);
		}
		if (now_ms() > deadline || util_interrupted) {
			print_side_tails(r);
			return infra_fail(r, util_interrupted ? "interrupted" :
					  "no PVMIG-READY line within %lu s",
					  o->boot_timeout_s);
		}
		sleep_ms(POLL_MS);
	}
	set_int(r->out, "guest_used_kb", (int64_t)r->src.con.st.used_kb);
	set_int(r->out, "guest_free_kb", (int64_t)r->src.con.st.free_kb);
	info("guest ready: %" PRIu64 " KiB in use, %" PRIu64 " KiB free",
	     r->src.con.st.used_kb, r->src.con.st.free_kb);

	deadline = now_ms() + (int64_t)(o->start_delay_s * 1000);
	while (now_ms() < deadline) {
		if (!both_alive(r))
			return died(r);
		if (util_interrupted)
			return infra_fail(r, "interrupted");
		sleep_ms(POLL_MS);
	}
	return EXIT_OK;
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

static int verify(struct run *r)
{
	struct ramcmp_result res;
	const char *check;
	bool ok;
	int rc = EXIT_OK;

	stop_source(r);
	if (r->o.corrupt_dst >= 0)
		rc = corrupt_dst(r);
	if (!rc)
		rc = compare_ram(r, &res);
	if (rc)
		return rc;
	check = guest_check(r, kernel_cmdline_wants_check(r->o.append));
	console_poll(&r->src.con);
	console_poll(&r->dst.con);
	if (console_failed(&r->src.con.st) || console_failed(&r->dst.con.st))
		check = "fail";
	json_object_set_new(r->out, "guest_check", json_string(check));
	if (r->dst.con.st.checks)
		json_object_set_new(r->out, "guest_check_line",
			json_sprintf("sweep=%" PRIu64 " pages=%" PRIu64 " bad=%" PRIu64,
				     r->dst.con.st.last_sweep, r->dst.con.st.last_pages,
				     r->dst.con.st.last_bad));
	if (r->src.con.st.first_failure[0] || r->dst.con.st.first_failure[0])
		json_object_set_new(r->out, "guest_failure", json_string(
			r->src.con.st.first_failure[0] ? r->src.con.st.first_failure :
			r->dst.con.st.first_failure));
	ok = res.lost == 0 && (!strcmp(check, "pass") || !strcmp(check, "none"));
	json_object_set_new(r->out, "verified", json_boolean(ok));
	if (res.lost)
		warn("%" PRIu64 " page(s) LOST (of %" PRIu64 " differing)",
		     res.lost, res.mismatched);
	if (strcmp(check, "pass") && strcmp(check, "none"))
		warn("guest-side check: %s%s%s", check,
		     json_string_value(json_object_get(r->out, "guest_failure")) ? ": " : "",
		     json_string_value(json_object_get(r->out, "guest_failure")) ?
		     json_string_value(json_object_get(r->out, "guest_failure")) : "");
	return ok ? EXIT_OK : EXIT_UNVERIFIED;
}

int main(int argc, char **argv)
{
	static struct run run;
	struct run *r = &run;
	json_t *final = NULL;
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
	if (!rc) {
		json_object_set_new(r->out, "status", json_string("migrating"));
		rc = migrate(r, &final);
	}
	if (!rc) {
		json_object_set_new(r->out, "status", json_string("completed"));
		record_figures(r, final);
		json_decref(final);
		if (r->o.mode == MODE_PVMIG)
			record_pvmig(r);
		rc = wait_both_stopped(r);
	}
	if (!rc) {
		record_dst_resident(r);
		if (r->o.verify) {
			rc = verify(r);
		} else {
			json_object_set_new(r->out, "guest_check",
					    json_string("skipped"));
			json_object_set_new(r->out, "pages_lost", json_null());
		}
	}
	if (rc == EXIT_INFRA)
		json_object_set_new(r->out, "verified", json_false());

	g_run = NULL;
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
