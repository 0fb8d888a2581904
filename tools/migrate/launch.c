// SPDX-License-Identifier: MIT
/* Finding the artifacts, starting both QEMUs, waiting for the guest. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

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

/* ---------------------------------------------------- QEMU command line */

static void build_argv(struct run *r, struct side *s, bool incoming,
		       struct argv *a)
{
	const struct opts *o = &r->o;

	argv_add(a, o->qemu);
	argv_addf(a, "-name");
	argv_addf(a, "pvmig-%s,debug-threads=on", s->tag);
	argv_add(a, "-accel");
	if (o->dirty_ring)
		argv_addf(a, "kvm,dirty-ring-size=%lu", o->dirty_ring);
	else
		argv_add(a, o->kvm ? "kvm" : "tcg");
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
	if (o->sweeper) {
		sweeper_args(r, s, a);
	} else {
		argv_add(a, "-kernel");
		argv_add(a, o->kernel);
		argv_add(a, "-initrd");
		argv_add(a, o->initrd);
		argv_add(a, "-append");
		/* The mode's defaults first, so --append can override them. */
		argv_addf(a, "console=ttyS0 quiet%s%s%s",
			  o->mode == MODE_PVMIG ? " pvmig.module=1 pvmig.agent=1" :
			  o->mode == MODE_BALLOON || o->mode == MODE_REPORTING ?
			  " pvmig.balloon=1" : "",
			  *o->append ? " " : "", o->append);
	}
	argv_add(a, "-chardev");
	argv_addf(a, "file,id=con0,path=%s", s->con.path);
	argv_add(a, "-serial");
	argv_add(a, "chardev:con0");
	argv_add(a, "-qmp");
	argv_addf(a, "unix:%s,server=on,wait=off", s->qmp_path);
	control_args(a, s);
	switch (o->mode) {
	case MODE_PVMIG:
		argv_add(a, "-device");
		argv_add(a, "virtio-serial-pci,id=vser0");
		argv_add(a, "-device");
		/* The sweeper runs no agent: the device's test agent stands in. */
		argv_addf(a, "pvmig,id=pvmig0,bus=vser0.0,name=org.pvmig.0%s%s%s",
			  o->sweeper ? ",x-test-agent=on,hint-wait-ms=0" : "",
			  *o->pvmig_opts ? "," : "", o->pvmig_opts);
		break;
	case MODE_BALLOON:
		argv_add(a, "-object");
		argv_add(a, "iothread,id=io0");
		argv_add(a, "-device");
		argv_add(a, "virtio-balloon-pci,id=balloon0,free-page-hint=on,iothread=io0");
		break;
	case MODE_REPORTING:
		argv_add(a, "-device");
		argv_add(a, "virtio-balloon-pci,id=balloon0,free-page-reporting=on");
		break;
	case MODE_NONE:
	case NR_MODES:
		break;
	}
	for (int i = 0; i < o->qemu_args.n; i++)
		argv_add(a, o->qemu_args.v[i]);
	if (incoming) {
		argv_add(a, "-incoming");
		if (incoming_deferred(o))
			argv_add(a, "defer");
		else
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

/* Checks that the guest RAM block carries the name the hint log will use. */
static void check_ram_block(struct run *r)
{
	json_t *ret = side_qmp(r, &r->src, "human-monitor-command",
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

/*
 * Both guests' RAM files may end up fully allocated (a migration reads
 * every source page and writes every page it sends); tmpfs accepts the
 * sparse files and a QEMU would die of SIGBUS midway when it runs out.
 */
static int check_shm_space(unsigned long mem_mb)
{
	struct statvfs sv;
	unsigned long long need = 2ULL * mem_mb << 20, avail;

	if (statvfs("/dev/shm", &sv) < 0) {
		warn("/dev/shm: %s", strerror(errno));
		return EXIT_INFRA;
	}
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail < need) {
		warn("/dev/shm has %llu MiB free, two %lu MiB guests need %llu MiB",
		     avail >> 20, mem_mb, need >> 20);
		return EXIT_INFRA;
	}
	return EXIT_OK;
}

/*
 * --accel kvm needs /dev/kvm to open and speak KVM's API; say which part is
 * missing rather than let QEMU fail later.  (Whether a Linux guest boots
 * under a nested KVM is another matter: the boot timeout shows that.)
 */
static bool kvm_unusable(struct run *r)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), api;

	(void)r;
	if (fd < 0) {
		warn("--accel kvm: cannot open /dev/kvm: %s", strerror(errno));
		return true;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (api != KVM_API_VERSION) {
		warn("--accel kvm: /dev/kvm answers API version %d, not %d",
		     api, KVM_API_VERSION);
		return true;
	}
	return false;
}

int resolve_paths(struct run *r)
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
	if (o->kvm && kvm_unusable(r))
		return EXIT_INFRA;
	if (o->sweeper) {
		o->sweeper_img = xasprintf("%s/build/guest/sweeper.img", r->root);
		if (access(o->sweeper_img, R_OK) != 0) {
			warn("sweeper guest not found at %s: run 'make sweeper'",
			     o->sweeper_img);
			return EXIT_INFRA;
		}
	} else if (access(o->kernel, R_OK) != 0 || access(o->initrd, R_OK) != 0) {
		warn("guest image not found (%s, %s): run 'make guest'",
		     o->kernel, o->initrd);
		return EXIT_INFRA;
	}
	if (check_shm_space(o->mem_mb))
		return EXIT_INFRA;
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
	return EXIT_OK;
}

void init_side(struct run *r, struct side *s, const char *tag,
		      const char *name)
{
	s->tag = tag;
	s->proc.name = name;
	s->proc.log_path = xasprintf("%s/%s.log", r->workdir, tag);
	s->con.name = name;
	s->con.path = xasprintf("%s/%s.console", r->workdir, tag);
	s->qmp_path = xasprintf("%s/%s.qmp", r->workdir, tag);
	s->ctl_path = xasprintf("%s/%s.ctl", r->workdir, tag);
	s->ctl_fd = -1;
	s->shm_path = xasprintf("/dev/shm/pvmig-%d-%s", (int)getpid(), tag);
	/*
	 * Every QEMU logs its own hints: in a ping-pong a destination becomes
	 * the next source, and only the sending side ever hints.
	 */
	s->hint_log = xasprintf("%s/%s.hints.log", r->workdir, tag);
	s->qmp.fd = -1;
	s->ram_fd = -1;
}

/*
 * Both QEMUs have created and mapped their RAM files by the time QMP
 * answers.  Holding a descriptor and unlinking the name means a driver
 * killed by SIGKILL cannot leave gigabytes behind in /dev/shm: the memory
 * goes with the last process that maps or holds it.
 */
static int open_ram_file(struct run *r, struct side *s)
{
	bool rw = s == &r->dst && r->o.corrupt_dst >= 0;

	s->ram_fd = open(s->shm_path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (s->ram_fd < 0)
		return -1;
	if (!r->o.keep)
		unlink(s->shm_path);
	return 0;
}

static int open_ram_files(struct run *r)
{
	return open_ram_file(r, &r->src) < 0 || open_ram_file(r, &r->dst) < 0 ?
	       -1 : 0;
}

/* The hint-log environment of a side, or NULL without verification. */
static char *hint_env(struct run *r, struct side *s)
{
	if (!r->o.verify)
		return NULL;
	remove_file(s->hint_log);
	return xasprintf("PVMIG_HINT_LOG=%s", s->hint_log);
}

/* query-version as "major.minor.micro", into the results. */
static void record_qemu_version(struct run *r)
{
	json_t *v = side_qmp(r, &r->src, "query-version", NULL);
	json_t *q = json_object_get(v, "qemu");

	if (q)
		json_object_set_new(r->out, "qemu_version", json_sprintf(
			"%" PRId64 ".%" PRId64 ".%" PRId64, jint(q, "major"),
			jint(q, "minor"), jint(q, "micro")));
	json_decref(v);
}

/*
 * Connects to @s's QMP socket.  A QEMU that refused its arguments exits
 * meanwhile: then the run failed because it died, with its log shown.
 */
static int connect_side(struct run *r, struct side *s)
{
	char err[256];

	if (qmp_connect(&s->qmp, s->qmp_path, 30000, proc_alive_cb, &s->proc,
			err, sizeof(err)) == 0) {
		s->qmp_ok = true;
		return EXIT_OK;
	}
	sleep_ms(500);
	if (!both_alive(r))
		return died(r);
	print_side_tails(r);
	return infra_fail(r, FAIL_SETUP, "%s QMP: %s", s->proc.name, err);
}

int boot_and_wait(struct run *r)
{
	const struct opts *o = &r->o;
	char *src_env = hint_env(r, &r->src), *dst_env = hint_env(r, &r->dst);
	int64_t deadline;
	int started, rc;

	r->port = free_tcp_port();
	if (r->port < 0)
		return infra_fail(r, FAIL_SETUP, "no free TCP port on 127.0.0.1");
	info("starting source and destination QEMU (%s, %lu MiB, mode %s)",
	     o->qemu, o->mem_mb, mode_names[o->mode]);
	started = start_side(r, &r->dst, true, dst_env) == 0 &&
		  start_side(r, &r->src, false, src_env) == 0;
	free(src_env);
	free(dst_env);
	if (!started)
		return infra_fail(r, FAIL_SETUP, "cannot start QEMU");
	json_object_set_new(r->out, "status", json_string("booting"));

	rc = connect_side(r, &r->dst);
	if (!rc)
		rc = connect_side(r, &r->src);
	if (rc)
		return rc;
	record_qemu_version(r);
	if (open_ram_files(r) < 0)
		return infra_fail(r, FAIL_SETUP, "cannot open the guest RAM files: %s",
				  strerror(errno));
	check_ram_block(r);

	deadline = now_ms() + (int64_t)o->boot_timeout_s * 1000;
	info("waiting for the guest's %s (console %s)",
	     o->sweeper ? "marker in RAM" : "PVMIG-READY line", r->src.con.path);
	for (;;) {
		console_poll(&r->src.con);
		if (o->sweeper ? sweeper_ready(r) : r->src.con.st.ready)
			break;
		if (!both_alive(r))
			return died(r);
		if (console_failed(&r->src.con.st)) {
			print_side_tails(r);
			return infra_fail(r, FAIL_SETUP, "guest failed while booting: %s",
					  r->src.con.st.first_failure);
		}
		if (now_ms() > deadline || util_interrupted) {
			print_side_tails(r);
			return infra_fail(r, util_interrupted ? FAIL_INTERRUPTED : FAIL_TIMEOUT,
					  util_interrupted ? "interrupted" :
					  "no PVMIG-READY line within %lu s",
					  o->boot_timeout_s);
		}
		sleep_ms(POLL_MS);
	}
	if (r->src.con.st.kernel[0])
		json_object_set_new(r->out, "guest_kernel_version",
				    json_string(r->src.con.st.kernel));
	set_int(r->out, "guest_used_kb", (int64_t)r->src.con.st.used_kb);
	set_int(r->out, "guest_free_kb", (int64_t)r->src.con.st.free_kb);
	info("guest ready: %" PRIu64 " KiB in use, %" PRIu64 " KiB free",
	     r->src.con.st.used_kb, r->src.con.st.free_kb);

	deadline = now_ms() + (int64_t)(o->start_delay_s * 1000);
	while (now_ms() < deadline) {
		if (!both_alive(r))
			return died(r);
		if (util_interrupted)
			return infra_fail(r, FAIL_INTERRUPTED, "interrupted");
		sleep_ms(POLL_MS);
	}
	return EXIT_OK;
}

/*
 * Stops a QEMU that the run no longer needs (a destination a fault took
 * away, or the source of a finished ping-pong hop) and frees its RAM at
 * once; its console and log stay for the report until teardown.
 */
void retire_side(struct run *r, struct side *s)
{
	quit_side(r, s);
	qemu_reap(&s->proc, 5000);
	if (s->ram_fd >= 0)
		close(s->ram_fd);
	s->ram_fd = -1;
	remove_file(s->qmp_path);
	control_close(s);
	remove_file(s->ctl_path);
	if (!r->o.keep)
		remove_file(s->shm_path);
	argv_add(&r->files, s->con.path);
	argv_add(&r->files, s->proc.log_path);
	argv_add(&r->files, s->hint_log);
	argv_addf(&r->files, "%s/%s.cmdline", r->workdir, s->tag);
}

/*
 * A fresh paused destination on a new port, for a retry after a fault or
 * the next ping-pong hop.  The caller has retired the old one.
 */
int start_destination(struct run *r)
{
	char *tag = xasprintf("dst%u", ++r->spawned + 1);
	char *env;
	int ret;

	r->dst = (struct side){ 0 };
	init_side(r, &r->dst, tag, "destination");
	r->port = free_tcp_port();
	if (r->port < 0)
		return infra_fail(r, FAIL_SETUP, "no free TCP port on 127.0.0.1");
	env = hint_env(r, &r->dst);
	info("starting a new destination QEMU (%s)", tag);
	ret = start_side(r, &r->dst, true, env);
	free(env);
	if (ret < 0)
		return infra_fail(r, FAIL_SETUP, "cannot start QEMU");
	ret = connect_side(r, &r->dst);
	if (ret)
		return ret;
	if (open_ram_file(r, &r->dst) < 0)
		return infra_fail(r, FAIL_SETUP, "cannot open the destination RAM file: %s",
				  strerror(errno));
	return EXIT_OK;
}
