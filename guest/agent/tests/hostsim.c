// SPDX-License-Identifier: MIT
/*
 * hostsim: plays the pvmig host device on a Unix socket that QEMU's
 * virtserialport chardev (server=on) exposes, so the agent and the module
 * can be tested in a real guest with an unpatched QEMU.  Every message
 * goes through the host-role decoder, which validates it.
 *
 *   hostsim SOCKET LIMIT_PFN EPOCHS [INTERVAL_MS]
 *
 * Waits for HELLO, then sends REQUEST 1..EPOCHS, each after the previous
 * one ended, plus garbage and a superseding pair at the end.  Prints one
 * line per epoch; exits 0 if every epoch ended with valid totals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pvmig_proto.h"

static int fd = -1;
static struct pvmig_decoder dec;
static int hellos, ends, errors, dec_rc;
static struct pvmig_hello hello;
static struct pvmig_end last_end;
static uint32_t end_epoch, err_epoch, err_code;
static uint64_t ranges, pages, chunks, bytes;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void on_hello(void *o, const struct pvmig_hello *h)
{
	(void)o;
	hellos++;
	hello = *h;
}

static void on_chunk(void *o, uint32_t e, uint32_t seq, uint32_t n)
{
	(void)o;
	(void)e;
	(void)n;
	if (seq == 0)
		ranges = pages = chunks = 0;
	chunks++;
}

static void on_range(void *o, uint32_t e, uint64_t s, uint64_t n)
{
	(void)o;
	(void)e;
	(void)s;
	ranges++;
	pages += n;
}

static void on_end(void *o, uint32_t e, const struct pvmig_end *x)
{
	(void)o;
	ends++;
	end_epoch = e;
	last_end = *x;
}

static void on_error(void *o, uint32_t e, uint32_t code, const char *r)
{
	(void)o;
	errors++;
	err_epoch = e;
	err_code = code;
	printf("guest ERROR epoch %u: %s (%s)\n", e, pvmig_abort_str(code), r);
}

static const struct pvmig_decoder_ops ops = {
	.hello = on_hello, .chunk_begin = on_chunk, .range = on_range,
	.end = on_end, .error = on_error,
};

/* Read until cond or timeout; 0 when cond holds. */
static int until(int (*cond)(void), int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	uint8_t buf[65536];

	while (!cond()) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (dec_rc || now_ms() > deadline)
			return -1;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		bytes += (uint64_t)n;
		dec_rc = pvmig_decoder_feed(&dec, buf, (size_t)n);
		if (dec_rc)
			printf("DECODE ERROR: %s\n", pvmig_strerror(dec_rc));
	}
	return 0;
}

static int got_hello(void) { return hellos > 0; }
static int got_end(void) { return ends > 0; }

static void request(uint32_t e)
{
	uint8_t b[16];

	pvmig_build_request(b, sizeof(b), e);
	if (write(fd, b, 16) != 16)
		perror("write");
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t limit;
	int epochs, interval = 0, failed = 0;
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: hostsim SOCKET LIMIT_PFN EPOCHS [INTERVAL_MS]\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	limit = strtoull(argv[2], NULL, 0);
	epochs = atoi(argv[3]);
	if (argc > 4)
		interval = atoi(argv[4]);

	for (int i = 0; i < 300 && fd < 0; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
			usleep(100000);
		}
	}
	if (fd < 0) {
		perror("connect");
		return 1;
	}
	pvmig_decoder_init(&dec, PVMIG_ROLE_HOST, limit, &ops, NULL);
	if (until(got_hello, 120000)) {
		printf("no HELLO\n");
		return 1;
	}
	printf("HELLO: version %u, page size %u, max_pfn %llu, caps 0x%x\n",
	       hello.proto_version, hello.page_size,
	       (unsigned long long)hello.max_pfn, hello.caps);

	for (int e = 1; e <= epochs; e++) {
		ends = 0;
		bytes = 0;
		t0 = now_ms();
		request((uint32_t)e);
		if (until(got_end, 60000) || end_epoch != (uint32_t)e) {
			printf("epoch %d: no END\n", e);
			failed = 1;
			break;
		}
		printf("epoch %d: %llu ranges, %llu pages (%llu MiB), %llu chunks, "
		       "%llu bytes; request->END %.2f ms; module walk %.3f ms, "
		       "max hold %.1f us; agent %.3f ms%s\n", e,
		       (unsigned long long)ranges, (unsigned long long)pages,
		       (unsigned long long)(pages * hello.page_size >> 20),
		       (unsigned long long)chunks, (unsigned long long)bytes,
		       now_ms() - t0, (double)last_end.walk_ns / 1e6,
		       (double)last_end.max_hold_ns / 1e3,
		       (double)last_end.agent_ns / 1e6,
		       last_end.flags & PVMIG_END_TRUNCATED ? " TRUNCATED" : "");
		if (!pages)
			failed = 1;
		if (interval)
			usleep((useconds_t)interval * 1000);
	}

	if (!failed) {
		/* garbage, then a pair where the second supersedes the first */
		static const char junk[] = "this is not a pvmig message";
		uint32_t e = (uint32_t)epochs + 1;

		if (write(fd, junk, sizeof(junk)) != sizeof(junk))
			perror("write");
		request(e);
		request(e + 1);
		ends = 0;
		if (until(got_end, 60000) || end_epoch != e + 1) {
			/* epoch e may have ended before e+1 arrived */
			if (end_epoch == e && !until(got_end, 60000) &&
			    end_epoch == e + 1)
				goto ok;
			printf("after garbage: no END for epoch %u\n", e + 1);
			failed = 1;
		}
ok:
		if (!failed)
			printf("after garbage + superseding pair: END epoch %u, "
			       "%llu ranges; guest errors seen: %d\n", end_epoch,
			       (unsigned long long)ranges, errors);
	}
	printf("hostsim: %s\n", failed || dec_rc ? "FAILED" : "ok");
	return failed || dec_rc;
}
