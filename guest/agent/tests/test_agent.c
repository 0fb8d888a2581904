// SPDX-License-Identifier: MIT
/*
 * Host-side tests of pvmig-agent: the real binary ($PVMIG_AGENT) runs with
 * --port unix:SOCK and --snapshot-file; this program plays the host,
 * decodes everything with the host-role decoder (which validates every
 * message) and checks the ranges against the file.
 *
 * The encoder's failures cannot be caused from outside the agent, so for
 * those tests the agent's own objects are linked in and run in a child
 * process, with the encoder calls wrapped (ld --wrap) to fail once.
 *
 * PVMIG_MEASURE=1: instead, time 8 GiB worth of ranges (idle, fragmented).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "log.h"
#include "pvmig_proto.h"
#include "pvmig_uapi.h"

#define MAX_PFN (UINT64_C(9) << 18)

static const char *agent_bin;
static char tmp[512];
static char sock_path[600];
static char log_path[600];
static int test_no;

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- encoder faults (ld --wrap), for agents run by run_agent_here() ---- */

int __real_pvmig_encoder_init(struct pvmig_encoder *enc, uint32_t epoch,
			      uint64_t max_pfn, void *buf, size_t cap);
int __real_pvmig_encoder_finish(struct pvmig_encoder *enc);
int __real_pvmig_encoder_end(const struct pvmig_encoder *enc,
			     const struct pvmig_end *stats, void *out,
			     size_t cap);
int __wrap_pvmig_encoder_init(struct pvmig_encoder *enc, uint32_t epoch,
			      uint64_t max_pfn, void *buf, size_t cap);
int __wrap_pvmig_encoder_finish(struct pvmig_encoder *enc);
int __wrap_pvmig_encoder_end(const struct pvmig_encoder *enc,
			     const struct pvmig_end *stats, void *out,
			     size_t cap);

/* Status the next call returns instead of doing its work; 0: none. */
static int fault_init, fault_finish, fault_end;

static int take_fault(int *f)
{
	int rc = *f;

	*f = 0;
	return rc;
}

int __wrap_pvmig_encoder_init(struct pvmig_encoder *enc, uint32_t epoch,
			      uint64_t max_pfn, void *buf, size_t cap)
{
	int rc = __real_pvmig_encoder_init(enc, epoch, max_pfn, buf, cap);

	return fault_init ? take_fault(&fault_init) : rc;
}

int __wrap_pvmig_encoder_finish(struct pvmig_encoder *enc)
{
	return fault_finish ? take_fault(&fault_finish) :
	       __real_pvmig_encoder_finish(enc);
}

int __wrap_pvmig_encoder_end(const struct pvmig_encoder *enc,
			     const struct pvmig_end *stats, void *out,
			     size_t cap)
{
	return fault_end ? take_fault(&fault_end) :
	       __real_pvmig_encoder_end(enc, stats, out, cap);
}

/* ---- snapshot files ---- */

static struct pvmig_range *ranges;
static size_t nr_ranges;

static void gen_idle(size_t n)
{
	free(ranges);
	ranges = calloc(n, sizeof(*ranges));
	assert_non_null(ranges);
	for (size_t i = 0; i < n; i++)
		ranges[i] = (struct pvmig_range){ 4096 + i * 1040, 1024 };
	nr_ranges = n;
}

static void gen_singles(size_t n)
{
	free(ranges);
	ranges = calloc(n, sizeof(*ranges));
	assert_non_null(ranges);
	for (size_t i = 0; i < n; i++)
		ranges[i] = (struct pvmig_range){ 1 + 2 * i, 1 };
	nr_ranges = n;
}

static void write_file(const char *name, const void *p, size_t len)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char *snap_path(const char *name)
{
	static char path[700];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	return path;
}

/* ---- the host side ---- */

struct host {
	int lfd, cfd;
	pid_t pid;
	struct pvmig_decoder dec;
	int hellos, ends, errors, eof;
	int rc;				/* decoder status */
	struct pvmig_hello hello;
	uint32_t end_epoch, err_epoch, err_code, range_epoch;
	char err_reason[PVMIG_REASON_MAX + 1];
	struct pvmig_end end;
	size_t got, chunks;
	int mismatch;			/* a range differed from `ranges` */
	uint64_t agent_ns[64];
	int nr_agent_ns;
};

static struct host H;

static void cb_hello(void *o, const struct pvmig_hello *h)
{
	struct host *x = o;

	x->hellos++;
	x->hello = *h;
}

static void cb_chunk(void *o, uint32_t epoch, uint32_t seq, uint32_t n)
{
	struct host *x = o;

	(void)n;
	if (seq == 0) {		/* a stream is one epoch, seq 0 to END */
		x->got = 0;
		x->mismatch = 0;
		x->range_epoch = epoch;
	}
	x->chunks++;
}

static void cb_range(void *o, uint32_t epoch, uint64_t start, uint64_t n)
{
	struct host *x = o;

	(void)epoch;
	if (x->got >= nr_ranges || ranges[x->got].start_pfn != start ||
	    ranges[x->got].nr_pages != n)
		x->mismatch = 1;
	x->got++;
}

static void cb_end(void *o, uint32_t epoch, const struct pvmig_end *e)
{
	struct host *x = o;

	if (x->nr_agent_ns < 64)
		x->agent_ns[x->nr_agent_ns++] = e->agent_ns;
	x->ends++;
	x->end_epoch = epoch;
	x->end = *e;
	if (epoch != x->range_epoch) {
		x->got = 0;	/* an empty epoch */
		x->mismatch = 0;
	}
}

static void cb_error(void *o, uint32_t epoch, uint32_t code, const char *r)
{
	struct host *x = o;

	snprintf(x->err_reason, sizeof(x->err_reason), "%s", r);
	x->errors++;
	x->err_epoch = epoch;
	x->err_code = code;
}

static const struct pvmig_decoder_ops host_ops = {
	.hello = cb_hello,
	.chunk_begin = cb_chunk,
	.range = cb_range,
	.end = cb_end,
	.error = cb_error,
};

static void host_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_true(strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	unlink(sock_path);
	H.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(H.lfd >= 0);
	assert_int_equal(bind(H.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(H.lfd, 4), 0);
}

/* Accept the agent's connection and start a fresh decoder for it. */
static int host_accept(int timeout_ms)
{
	struct pollfd p = { .fd = H.lfd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	H.cfd = accept4(H.lfd, NULL, NULL, SOCK_CLOEXEC);
	if (H.cfd < 0)
		return -1;
	H.hellos = H.ends = H.errors = H.eof = 0;
	H.rc = 0;
	H.got = H.chunks = 0;
	H.mismatch = 0;
	pvmig_decoder_init(&H.dec, PVMIG_ROLE_HOST, MAX_PFN, &host_ops, &H);
	return 0;
}

static void host_close(void)
{
	if (H.cfd >= 0)
		close(H.cfd);
	H.cfd = -1;
}

/* Read and decode until cond() holds, EOF, a decode error or timeout. */
static int host_until(int (*cond)(void), int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	static uint8_t buf[65536];

	while (!cond()) {
		struct pollfd p = { .fd = H.cfd, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		ssize_t n;

		if (left <= 0 || H.rc || H.eof)
			return -1;
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(H.cfd, buf, sizeof(buf));
		if (n <= 0) {
			H.eof = 1;
			continue;
		}
		H.rc = pvmig_decoder_feed(&H.dec, buf, (size_t)n);
		if (H.rc)
			fprintf(stderr, "host decoder: %s\n",
				pvmig_strerror(H.rc));
	}
	return 0;
}

static void host_send(const void *p, size_t n)
{
	assert_int_equal(write(H.cfd, p, n), (ssize_t)n);
}

static void host_request(uint32_t epoch)
{
	uint8_t b[16];

	assert_int_equal(pvmig_build_request(b, sizeof(b), epoch), 16);
	host_send(b, 16);
}

static int want_hello(void) { return H.hellos > 0; }
static int want_end(void) { return H.ends > 0; }
static int want_error(void) { return H.errors > 0; }
static int want_chunk(void) { return H.chunks > 0; }
static int want_eof(void) { return H.eof; }
static int want_end_or_error(void) { return H.ends > 0 || H.errors > 0; }

/* ---- the agent process ---- */

static void start_agent(const char *first, ...)
{
	const char *argv[32];
	char port[700];
	int n = 0;
	va_list ap;

	snprintf(port, sizeof(port), "unix:%s", sock_path);
	argv[n++] = agent_bin;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--retry-ms";
	argv[n++] = "50";
	argv[n++] = "--max-pfn";
	argv[n++] = "2359296";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	snprintf(log_path, sizeof(log_path), "%s/agent-%d.log", tmp,
		 ++test_no);
	H.pid = fork();
	assert_true(H.pid >= 0);
	if (H.pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		execv(agent_bin, (char *const *)argv);
		_exit(127);
	}
}

static void on_stop(int sig)
{
	agent_stop = sig;
}

/*
 * Run the agent's own code (not the binary) in a child, so that the
 * encoder faults above apply to it.  Same options as start_agent()'s
 * defaults, reading @snap.
 */
static void run_agent_here(const char *snap, size_t chunk)
{
	static char port[700];
	struct agent_opts o = {
		.port = port,
		.retry_ms = 50,
		.chunk = chunk,
		.max_pfn = MAX_PFN,
		.src = { .device = "/nonexistent", .file = snap, .fd = -1 },
	};

	snprintf(port, sizeof(port), "unix:%s", sock_path);
	snprintf(log_path, sizeof(log_path), "%s/agent-%d.log", tmp,
		 ++test_no);
	H.pid = fork();
	assert_true(H.pid >= 0);
	if (H.pid == 0) {
		struct sigaction sa = { .sa_handler = on_stop };
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		log_init(0, 1);
		_exit(agent_run(&o));
	}
}

/* Stop with @sig; returns the exit status (or -1). */
static int stop_agent_with(int sig)
{
	int st = 0;
	uint64_t deadline = now_ms() + 5000;

	if (H.pid <= 0)
		return -1;
	kill(H.pid, sig);
	while (waitpid(H.pid, &st, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(H.pid, SIGKILL);
			waitpid(H.pid, &st, 0);
			H.pid = 0;
			return -1;
		}
		poll(NULL, 0, 10);
	}
	H.pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int stop_agent(void)
{
	return stop_agent_with(SIGTERM);
}

static int agent_alive(void)
{
	return H.pid > 0 && waitpid(H.pid, NULL, WNOHANG) == 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	H.cfd = -1;
	fault_init = fault_finish = fault_end = 0;
	host_listen();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (H.pid > 0)
		stop_agent();
	host_close();
	close(H.lfd);
	unlink(sock_path);
	return 0;
}

/* Start the agent, take its connection and HELLO. */
static void connect_agent(void)
{
	assert_int_equal(host_accept(5000), 0);
	assert_int_equal(host_until(want_hello, 5000), 0);
}

/* Request an epoch and check it arrives complete and equal to `ranges`. */
static void expect_epoch(uint32_t epoch)
{
	uint64_t pages = 0;

	for (size_t i = 0; i < nr_ranges; i++)
		pages += ranges[i].nr_pages;
	H.ends = 0;
	host_request(epoch);
	assert_int_equal(host_until(want_end, 20000), 0);
	assert_int_equal(H.rc, 0);
	assert_int_equal(H.end_epoch, epoch);
	assert_int_equal(H.got, nr_ranges);
	assert_false(H.mismatch);
	assert_int_equal(H.end.nr_ranges, nr_ranges);
	assert_int_equal(H.end.nr_pages, pages);
	assert_true(H.end.agent_ns > 0);
}

/* ---- tests ---- */

static void test_help(void **state)
{
	char cmd[1200];
	FILE *p;
	char line[256];
	int seen = 0;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --help", agent_bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		seen += strstr(line, "--snapshot-file") != NULL ||
			strstr(line, "SIGTERM") != NULL ||
			strstr(line, "org.pvmig.0") != NULL;
	assert_int_equal(WEXITSTATUS(pclose(p)), 0);
	assert_true(seen >= 3);
	snprintf(cmd, sizeof(cmd), "%s --chunk-size 10 2>/dev/null", agent_bin);
	assert_int_equal(WEXITSTATUS(system(cmd)), 2);
	snprintf(cmd, sizeof(cmd), "%s --bogus 2>/dev/null", agent_bin);
	assert_int_equal(WEXITSTATUS(system(cmd)), 2);
}

static void test_idle_roundtrip(void **state)
{
	(void)state;
	gen_idle(2000);
	write_file("idle.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("idle.snap"), NULL);
	connect_agent();
	assert_int_equal(H.hello.max_pfn, MAX_PFN);
	assert_int_equal(H.hello.caps & PVMIG_CAP_MODULE, PVMIG_CAP_MODULE);
	assert_int_equal(H.hello.proto_version, PVMIG_PROTO_VERSION);
	expect_epoch(1);
	expect_epoch(2);
	expect_epoch(7);
	assert_int_equal(H.errors, 0);
	H.errors = 0;
	assert_int_equal(stop_agent(), 0);
	assert_int_equal(host_until(want_error, 2000), 0);
	assert_int_equal(H.err_code, PVMIG_ABORT_SHUTDOWN);
	assert_int_equal(H.err_epoch, 0);	/* no epoch was open */
	assert_string_equal(H.err_reason, "SIGTERM");
}

/* The shutdown ERROR names the signal that stopped the agent. */
static void test_sigint_named(void **state)
{
	(void)state;
	start_agent("--device", "/nonexistent", NULL);
	connect_agent();
	H.errors = 0;
	assert_int_equal(stop_agent_with(SIGINT), 0);
	assert_int_equal(host_until(want_error, 2000), 0);
	assert_int_equal(H.errors, 1);
	assert_int_equal(H.err_code, PVMIG_ABORT_SHUTDOWN);
	assert_int_equal(H.err_epoch, 0);
	assert_string_equal(H.err_reason, "SIGINT");
}

/* Stopped while streaming: ERROR(SHUTDOWN) for that epoch, no END. */
static void test_sigterm_midstream(void **state)
{
	(void)state;
	gen_singles(100000);
	write_file("t.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("t.snap"),
		    "--chunk-size", "1024", "--delay-ms", "20", NULL);
	connect_agent();
	host_request(3);
	assert_int_equal(host_until(want_chunk, 5000), 0);
	H.errors = 0;
	assert_int_equal(stop_agent(), 0);
	assert_int_equal(host_until(want_eof, 5000), 0);
	assert_int_equal(H.rc, 0);
	assert_int_equal(H.ends, 0);
	assert_int_equal(H.errors, 1);	/* one goodbye, for epoch 3 */
	assert_int_equal(H.err_code, PVMIG_ABORT_SHUTDOWN);
	assert_int_equal(H.err_epoch, 3);
	assert_string_equal(H.err_reason, "SIGTERM");
}

/*
 * An encoder failure (*@fault) at @stage abandons the epoch with
 * ERROR(snapshot) naming the stage,
 * after any chunks already sent and without END; the next epoch is whole.
 */
static void encoder_fault(int *fault, const char *stage, int chunks_first)
{
	char want[PVMIG_REASON_MAX + 1];

	gen_singles(chunks_first ? 20000 : 100);
	write_file("f.snap", ranges, nr_ranges * sizeof(*ranges));
	/* Not a status the real encoder would give at that point. */
	*fault = PVMIG_E_NOSPACE;
	snprintf(want, sizeof(want), "%s: %s", stage,
		 pvmig_strerror(PVMIG_E_NOSPACE));
	run_agent_here(snap_path("f.snap"), 1024);
	connect_agent();
	H.ends = 0;
	host_request(1);
	assert_int_equal(host_until(want_end_or_error, 10000), 0);
	assert_int_equal(H.rc, 0);
	assert_int_equal(H.ends, 0);
	assert_int_equal(H.err_epoch, 1);
	assert_int_equal(H.err_code, PVMIG_ABORT_SNAPSHOT);
	assert_string_equal(H.err_reason, want);
	if (chunks_first)
		assert_true(H.chunks > 1);
	else
		assert_int_equal(H.chunks, 0);
	H.errors = 0;
	expect_epoch(2);
	assert_int_equal(H.errors, 0);
	assert_true(agent_alive());
	assert_int_equal(stop_agent(), 0);
}

static void test_encoder_init_fails(void **state)
{
	(void)state;
	encoder_fault(&fault_init, "encoder", 0);
}

static void test_encoder_finish_fails(void **state)
{
	(void)state;
	encoder_fault(&fault_finish, "encoder finish", 1);
}

static void test_encoder_end_fails(void **state)
{
	(void)state;
	encoder_fault(&fault_end, "encoder end", 1);
}

static void test_fragmented_small_chunks(void **state)
{
	(void)state;
	gen_singles(300000);
	write_file("frag.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("frag.snap"),
		    "--chunk-size", "1024", NULL);
	connect_agent();
	expect_epoch(3);
	assert_true(H.end.nr_chunks > 30);
}

/*
 * A host that reads late and slowly: the agent's writes hit a full socket
 * (EAGAIN, short writes) and must still deliver whole, valid messages.
 */
static void test_slow_host(void **state)
{
	int small = 4096;

	(void)state;
	gen_singles(1000000);
	write_file("slow.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("slow.snap"), NULL);
	connect_agent();
	assert_int_equal(setsockopt(H.cfd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	host_request(4);
	poll(NULL, 0, 500);	/* let the agent fill the socket and wait */
	H.ends = 0;
	assert_int_equal(host_until(want_end, 20000), 0);
	assert_int_equal(H.end_epoch, 4);
	assert_int_equal(H.got, nr_ranges);
	assert_false(H.mismatch);
	assert_true(H.end.nr_chunks >= 8);
}

static void test_empty_snapshot(void **state)
{
	(void)state;
	nr_ranges = 0;
	write_file("empty.snap", "", 0);
	start_agent("--snapshot-file", snap_path("empty.snap"), NULL);
	connect_agent();
	expect_epoch(1);
	assert_int_equal(H.end.nr_chunks, 0);
}

static void test_no_module(void **state)
{
	(void)state;
	start_agent("--device", "/nonexistent/pvmig", NULL);
	connect_agent();
	assert_int_equal(H.hello.caps & PVMIG_CAP_MODULE, 0);
	for (uint32_t e = 1; e <= 3; e++) {
		H.errors = 0;
		host_request(e);
		assert_int_equal(host_until(want_error, 5000), 0);
		assert_int_equal(H.err_epoch, e);
		assert_int_equal(H.err_code, PVMIG_ABORT_NO_MODULE);
	}
	assert_int_equal(H.ends, 0);
	assert_true(agent_alive());
	assert_int_equal(stop_agent(), 0);
}

static void test_garbage_from_host(void **state)
{
	uint8_t junk[3000];
	uint8_t b[16];

	(void)state;
	gen_idle(100);
	write_file("g.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("g.snap"), NULL);
	connect_agent();

	srand(3);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	host_send(junk, sizeof(junk));
	expect_epoch(5);
	assert_true(H.errors >= 1);
	assert_int_equal(H.err_code, PVMIG_ABORT_BAD_MESSAGE);

	/* a future protocol version, a host-bound type, a huge length */
	pvmig_build_request(b, sizeof(b), 9);
	b[4] = 2;
	host_send(b, 16);
	pvmig_build_request(b, sizeof(b), 9);
	b[5] = PVMIG_MSG_RANGES;
	host_send(b, 16);
	pvmig_build_request(b, sizeof(b), 9);
	b[12] = 0xff;
	b[13] = 0xff;
	b[14] = 0xff;
	host_send(b, 16);
	expect_epoch(6);

	/* one byte at a time */
	pvmig_build_request(b, sizeof(b), 8);
	H.ends = 0;
	for (int i = 0; i < 16; i++) {
		host_send(b + i, 1);
		poll(NULL, 0, 2);
	}
	assert_int_equal(host_until(want_end, 5000), 0);
	assert_int_equal(H.end_epoch, 8);
	assert_true(agent_alive());
}

static void test_disconnect_midstream(void **state)
{
	(void)state;
	gen_singles(200000);
	write_file("d.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("d.snap"),
		    "--chunk-size", "1024", "--delay-ms", "5", NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_chunk, 5000), 0);
	assert_int_equal(H.ends, 0);
	host_close();		/* the host goes away in the middle */

	connect_agent();	/* it comes back, and so does the agent */
	assert_int_equal(H.hellos, 1);
	expect_epoch(2);
	assert_true(agent_alive());
}

static void test_supersede(void **state)
{
	(void)state;
	gen_singles(100000);
	write_file("s.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("s.snap"),
		    "--chunk-size", "1024", "--delay-ms", "20", NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_chunk, 5000), 0);
	expect_epoch(2);	/* sent while epoch 1 streams */
	assert_true(H.errors >= 1);
	assert_int_equal(H.err_epoch, 1);
	assert_int_equal(H.err_code, PVMIG_ABORT_SUPERSEDED);
	assert_int_equal(H.ends, 1);	/* only epoch 2 ended */
}

static void test_host_cancel(void **state)
{
	uint8_t b[64];
	int n;

	(void)state;
	gen_singles(100000);
	write_file("c.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("c.snap"),
		    "--chunk-size", "1024", "--delay-ms", "20", NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_chunk, 5000), 0);
	n = pvmig_build_error(b, sizeof(b), 1, PVMIG_ABORT_CANCEL, "window");
	host_send(b, (size_t)n);
	expect_epoch(2);
	assert_int_equal(H.errors, 0);	/* a cancelled epoch needs no answer */
}

static void test_port_appears_later(void **state)
{
	(void)state;
	close(H.lfd);
	unlink(sock_path);
	gen_idle(10);
	write_file("l.snap", ranges, nr_ranges * sizeof(*ranges));
	start_agent("--snapshot-file", snap_path("l.snap"), NULL);
	poll(NULL, 0, 300);
	assert_true(agent_alive());
	host_listen();
	connect_agent();
	expect_epoch(1);
}

static void test_bad_snapshots(void **state)
{
	struct pvmig_range bad[3] = { { 100, 5 }, { 50, 1 }, { 200, 1 } };
	struct pvmig_range over[1] = { { MAX_PFN - 1, 2 } };

	(void)state;
	write_file("desc.snap", bad, sizeof(bad));
	write_file("over.snap", over, sizeof(over));
	write_file("odd.snap", bad, sizeof(bad) - 3);

	start_agent("--snapshot-file", snap_path("desc.snap"), NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_end_or_error, 5000), 0);
	assert_int_equal(H.ends, 0);
	assert_int_equal(H.err_code, PVMIG_ABORT_SNAPSHOT);
	assert_int_equal(stop_agent(), 0);
	host_close();

	start_agent("--snapshot-file", snap_path("over.snap"), NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_end_or_error, 5000), 0);
	assert_int_equal(H.ends, 0);
	assert_int_equal(H.err_code, PVMIG_ABORT_SNAPSHOT);
	assert_int_equal(stop_agent(), 0);
	host_close();

	start_agent("--snapshot-file", snap_path("odd.snap"), NULL);
	connect_agent();
	host_request(1);
	assert_int_equal(host_until(want_end_or_error, 5000), 0);
	assert_int_equal(H.ends, 0);
	assert_int_equal(H.err_code, PVMIG_ABORT_SNAPSHOT);
	assert_true(agent_alive());
}

static void test_sigterm_idle(void **state)
{
	(void)state;
	start_agent("--device", "/nonexistent", NULL);
	connect_agent();
	assert_int_equal(stop_agent(), 0);
	assert_int_equal(host_until(want_eof, 2000), 0);
	/* with nobody listening at all, too */
	host_close();
	close(H.lfd);
	unlink(sock_path);
	start_agent("--device", "/nonexistent", NULL);
	poll(NULL, 0, 200);
	assert_int_equal(stop_agent(), 0);
	host_listen();
}

/* ---- measurement ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Parse the agent's per-epoch log lines: read ms, encode+send ms. */
static void log_times(double *rd, double *enc, int *n)
{
	FILE *f = fopen(log_path, "r");
	char line[512];

	*n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "read ");

		if (p && sscanf(p, "read %lf ms, encode+send %lf ms",
				&rd[*n], &enc[*n]) == 2)
			(*n)++;
	}
	if (f)
		fclose(f);
}

static double median_d(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

static void measure(const char *name, const char *file, int reps)
{
	double rd[64], enc[64];
	int n;

	start_agent("--snapshot-file", snap_path(file), NULL);
	connect_agent();
	H.nr_agent_ns = 0;
	for (int i = 0; i < reps; i++)
		expect_epoch((uint32_t)i + 1);
	assert_int_equal(H.nr_agent_ns, reps);
	qsort(H.agent_ns, (size_t)reps, sizeof(H.agent_ns[0]), cmp_u64);
	stop_agent();
	log_times(rd, enc, &n);
	printf("| %s | %zu | %u | %.3f | %.3f | %.3f |\n", name, nr_ranges,
	       H.end.nr_chunks, median_d(rd, n), median_d(enc, n),
	       (double)H.agent_ns[reps / 2] / 1e6);
	host_close();
}

static int run_measure(void)
{
	setup(NULL);
	printf("| snapshot (8 GiB guest) | ranges | chunks | file read ms | "
	       "encode+send ms | agent total ms |\n|---|---:|---:|---:|---:|---:|\n");
	gen_idle(2000);
	write_file("m-idle.snap", ranges, nr_ranges * sizeof(*ranges));
	measure("idle: 2000 x 1024 pages", "m-idle.snap", 11);
	gen_singles(1000000);
	write_file("m-frag.snap", ranges, nr_ranges * sizeof(*ranges));
	measure("fragmented: 1M single pages", "m-frag.snap", 11);
	teardown(NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test_setup_teardown(test_idle_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragmented_small_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_from_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_appears_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoder_init_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoder_finish_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encoder_end_fails, setup, teardown),
	};
	const char *t = getenv("PVMIG_TMP");

	agent_bin = getenv("PVMIG_AGENT");
	if (!agent_bin || !t) {
		fprintf(stderr, "set PVMIG_AGENT and PVMIG_TMP\n");
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s", t);
	mkdir(tmp, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/port.sock", tmp);
	if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(sock_path, sizeof(sock_path), "/tmp/pvmig-agent-test-%d.sock",
			 (int)getpid());
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("PVMIG_MEASURE"))
		return run_measure();
	return cmocka_run_group_tests_name("pvmig_agent", tests, NULL, NULL);
}
