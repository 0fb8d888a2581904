// SPDX-License-Identifier: MIT
/*
 * pvmig-hostile: a guest that lies to the host on purpose.
 *
 * It takes the agent's place on the pvmig port and answers the host's
 * requests with what a broken or malicious guest might send: garbage,
 * oversized frames, ranges beyond the guest's RAM, overlapping ranges,
 * answers for an epoch that is already closed, or a flood.  The host must
 * stay up, reject or drop all of it, count why, and migrate the guest
 * correctly without hints.  Test-only: it is never installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "pvmig_internal.h"
#include "pvmig_proto.h"

enum attack {
	GARBAGE, OVERSIZED, OUT_OF_RANGE, OVERLAP, STALE, FLOOD,
	FUTURE, WRAP, DRIBBLE, TRUNCATE, CONTRADICT, NR_ATTACKS
};

static const char *const attack_names[NR_ATTACKS] = {
	"garbage", "oversized", "out-of-range", "overlap", "stale", "flood",
	"future", "wrap", "dribble", "truncate", "contradict",
};

static int port = -1;
static uint64_t max_pfn;

/* Write everything; a closed host end is not an error for a liar. */
static void send_all(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(port, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/*
 * The "contradict" attack claims init_on_free together with a poison
 * pattern, which no Linux reports (it turns init_on_free off when
 * poisoning is on): the host must refuse to hint such a guest at all.
 */
static void send_hello(bool contradict)
{
	struct pvmig_hello h = {
		.proto_version = PVMIG_PROTO_VERSION,
		.page_size = 4096,
		.max_pfn = max_pfn,
		.caps = PVMIG_CAP_MODULE,
	};

	if (contradict) {
		h.caps |= PVMIG_CAP_INIT_ON_FREE | PVMIG_CAP_POISONING;
		h.poison_pattern = 0xaa;
	}
	uint8_t buf[64];
	int n = pvmig_build_hello(buf, sizeof(buf), &h);

	if (n > 0)
		send_all(buf, (size_t)n);
}

/* One RANGES message with run items, built by hand so it can be wrong. */
static size_t ranges_msg(uint8_t *buf, uint32_t epoch, uint32_t seq,
			 uint64_t base, const uint64_t (*runs)[2], int nr)
{
	struct pvmig_hdr h = {
		.magic = PVMIG_MAGIC, .version = PVMIG_PROTO_VERSION,
		.type = PVMIG_MSG_RANGES, .epoch = epoch,
	};
	uint8_t *p = buf + PVMIG_HDR_SIZE;
	uint64_t prev = base;

	pvmig_put32(p, seq);
	pvmig_put32(p + 4, (uint32_t)nr);
	pvmig_put64(p + 8, base);
	p += PVMIG_RANGES_HDR_SIZE;
	for (int i = 0; i < nr; i++) {
		uint64_t gap = runs[i][0] >= prev ? runs[i][0] - prev : 0;

		p += pvmig_varint_put(p, gap << 1);
		p += pvmig_varint_put(p, runs[i][1] - 1);
		prev = runs[i][0] + runs[i][1];
	}
	h.length = (uint32_t)(p - buf - PVMIG_HDR_SIZE);
	pvmig_hdr_write(buf, &h);
	return (size_t)(p - buf);
}

static void attack(enum attack a, uint32_t epoch)
{
	static uint8_t buf[PVMIG_MAX_MSG * 2];
	struct pvmig_hdr h = {
		.magic = PVMIG_MAGIC, .version = PVMIG_PROTO_VERSION,
		.type = PVMIG_MSG_RANGES, .epoch = epoch,
	};
	size_t n;

	fprintf(stderr, "pvmig-hostile: epoch %u: %s\n", epoch,
		attack_names[a]);
	switch (a) {
	case GARBAGE:
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rand();
		send_all(buf, sizeof(buf));
		break;
	case OVERSIZED:
		h.length = 1u << 30;
		pvmig_hdr_write(buf, &h);
		memset(buf + PVMIG_HDR_SIZE, 0x41, PVMIG_MAX_MSG);
		send_all(buf, PVMIG_HDR_SIZE + PVMIG_MAX_MSG);
		break;
	case OUT_OF_RANGE: {
		const uint64_t runs[1][2] = { { max_pfn - 16, 4096 } };

		n = ranges_msg(buf, epoch, 0, max_pfn - 16, runs, 1);
		send_all(buf, n);
		break;
	}
	case OVERLAP: {
		const uint64_t first[1][2] = { { 0x10000, 256 } };
		const uint64_t second[1][2] = { { 0x10080, 256 } };

		n = ranges_msg(buf, epoch, 0, 0x10000, first, 1);
		n += ranges_msg(buf + n, epoch, 1, 0x10080, second, 1);
		send_all(buf, n);
		break;
	}
	case STALE: {
		/* Well-formed, but for the previous epoch: must be dropped. */
		const uint64_t runs[1][2] = { { 0x20000, 512 } };

		n = ranges_msg(buf, epoch - 1, 0, 0x20000, runs, 1);
		send_all(buf, n);
		break;
	}
	case FLOOD: {
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			send_hello(false);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < 2);
		break;
	}
	case FUTURE: {
		/* An epoch the host has not opened yet: must not be applied. */
		const uint64_t runs[1][2] = { { 0x30000, 512 } };

		n = ranges_msg(buf, epoch + 1, 0, 0x30000, runs, 1);
		send_all(buf, n);
		break;
	}
	case WRAP: {
		/* base + length overflows 64 bits. */
		const uint64_t runs[1][2] = { { UINT64_MAX - 8, 4096 } };

		n = ranges_msg(buf, epoch, 0, UINT64_MAX - 8, runs, 1);
		send_all(buf, n);
		break;
	}
	case DRIBBLE: {
		/*
		 * A stale-epoch message one byte per write: the host gets it in
		 * as many slices and must still frame it (and drop it).
		 */
		const uint64_t runs[1][2] = { { 0x20000, 512 } };
		const struct timespec gap = { 0, 2000000 };

		n = ranges_msg(buf, epoch - 1, 0, 0x20000, runs, 1);
		for (size_t i = 0; i < n; i++) {
			send_all(buf + i, 1);
			nanosleep(&gap, NULL);
		}
		break;
	}
	case TRUNCATE:
		/*
		 * Half a header, then hang up: the host must forget the partial
		 * message, or the HELLO after the reopen is misframed.
		 */
		pvmig_hdr_write(buf, &h);
		send_all(buf, PVMIG_HDR_SIZE / 2);
		close(port);
		port = -1;
		break;
	case CONTRADICT: {
		/* Well-formed ranges; only the HELLO lied (send_hello()). */
		const uint64_t runs[1][2] = { { 0x20000, 0x100 } };

		send_all(buf, ranges_msg(buf, epoch, 0, 0x20000, runs, 1));
		break;
	}
	case NR_ATTACKS:
		break;
	}
}

static uint64_t guest_max_pfn(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long kb = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	/* A span that covers RAM whatever the hole below 4 GiB. */
	return kb / 4 + (1ULL << 20);
}

struct requests {
	uint32_t epoch;
	int seen;
};

static void on_request(void *opaque, uint32_t epoch)
{
	struct requests *r = opaque;

	r->epoch = epoch;
	r->seen = 1;
}

int main(int argc, char **argv)
{
	static struct pvmig_decoder dec;
	static const struct pvmig_decoder_ops ops = { .request = on_request };
	const char *path = "/dev/virtio-ports/" PVMIG_PORT_NAME;
	struct requests req = { 0 };
	int mode = -1;		/* -1: a different attack for each request */
	int next = 0;

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: pvmig-hostile [ATTACK|all] [PORT]\n"
		       "       pvmig-hostile --list    the attacks, one per line\n"
		       "attacks:");
		for (int i = 0; i < NR_ATTACKS; i++)
			printf(" %s", attack_names[i]);
		printf("\n");
		return 0;
	}
	/* The one list of attacks: the soak draws from it (tools/pvmigtools). */
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (int i = 0; i < NR_ATTACKS; i++)
			printf("%s\n", attack_names[i]);
		return fflush(stdout) ? 1 : 0;
	}
	if (argc > 1 && strcmp(argv[1], "all") != 0) {
		for (int i = 0; i < NR_ATTACKS; i++)
			if (!strcmp(argv[1], attack_names[i]))
				mode = i;
		if (mode < 0) {
			fprintf(stderr, "pvmig-hostile: unknown attack '%s'\n",
				argv[1]);
			return 2;
		}
	}
	if (argc > 2)
		path = argv[2];
	srand(1);
	max_pfn = guest_max_pfn();

	for (;;) {
		uint8_t in[4096];
		struct pollfd pfd;
		ssize_t n;

		if (port < 0) {
			port = open(path, O_RDWR | O_NONBLOCK);
			if (port < 0) {
				sleep(1);
				continue;
			}
			pvmig_decoder_init(&dec, PVMIG_ROLE_GUEST, 0, &ops, &req);
			send_hello(mode == CONTRADICT);
		}
		pfd = (struct pollfd){ .fd = port, .events = POLLIN };
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		n = read(port, in, sizeof(in));
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				continue;
			close(port);	/* host end went away: reopen */
			port = -1;
			sleep(1);
			continue;
		}
		if (pvmig_decoder_feed(&dec, in, (size_t)n) < 0)
			pvmig_decoder_resync(&dec);
		if (req.seen) {
			req.seen = 0;
			attack(mode >= 0 ? (enum attack)mode :
			       /* contradict needs its own HELLO: not in turn */
			       (enum attack)(next++ % CONTRADICT), req.epoch);
		}
	}
}
