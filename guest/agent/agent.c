// SPDX-License-Identifier: MIT
/*
 * The agent's session with the host: connect, HELLO, answer REQUESTs.
 *
 * One thread.  While a snapshot streams out, input from the host is still
 * read between chunks and whenever a write would block, so a newer REQUEST
 * (or the host's CANCEL) stops the old epoch at the next chunk boundary.
 * Only whole messages are ever abandoned: once a message has started
 * going out it is finished, unless the host end goes away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "port.h"

/* Records per read(2) of the snapshot: 32 KiB. */
#define READ_BATCH	2048
/* How long SIGTERM lets a started message finish. */
#define STOP_GRACE_MS	2000

volatile sig_atomic_t agent_stop;

enum { IO_OK = 0, IO_DISCONNECT = -1, IO_STOP = -2 };

struct agent {
	const struct agent_opts *o;
	int fd;
	struct pvmig_decoder dec;
	struct snap_caps caps;		/* as last said in HELLO */
	uint32_t want_epoch;		/* newest REQUEST not yet started */
	uint32_t cur_epoch;		/* epoch being answered */
	uint32_t cancelled;		/* host cancelled this epoch */
	int bad_input;			/* host sent garbage: report it */
	int bad_code;
	int was_absent;			/* to log state changes only once */
	int host_wait_logged;
	int up;				/* HELLO went out on this open */
	int said_bye;			/* ERROR(SHUTDOWN) already sent */
	uint8_t out[PVMIG_MAX_MSG];
	uint8_t msg[512];
	struct pvmig_range recs[READ_BATCH];
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void on_request(void *opaque, uint32_t epoch)
{
	struct agent *a = opaque;

	/* The same epoch again while answering it: the answer is coming. */
	if (epoch == a->cur_epoch)
		return;
	if (a->want_epoch)
		log_debug("request %u replaces unstarted %u", epoch,
			  a->want_epoch);
	a->want_epoch = epoch;
}

static void on_host_error(void *opaque, uint32_t epoch, uint32_t code,
			  const char *reason)
{
	struct agent *a = opaque;

	log_info("host: epoch %u: %s%s%s", epoch, pvmig_abort_str(code),
		 *reason ? ": " : "", reason);
	if (code == PVMIG_ABORT_CANCEL && epoch) {
		a->cancelled = epoch;
		if (a->want_epoch == epoch)
			a->want_epoch = 0;
	}
}

static const struct pvmig_decoder_ops ops = {
	.request = on_request,
	.error = on_host_error,
};

static void disconnect(struct agent *a, const char *why)
{
	if (a->fd < 0)
		return;
	if (a->up)
		log_info("port closed: %s", why);
	close(a->fd);
	a->fd = -1;
	a->up = 0;
	a->want_epoch = 0;
}

/* Feed input; on bad input report once, then hunt for the next message. */
static void feed(struct agent *a, const uint8_t *p, size_t n)
{
	while (n) {
		int rc = pvmig_decoder_feed(&a->dec, p, n);
		size_t used;

		if (!rc)
			return;
		used = pvmig_decoder_consumed(&a->dec);
		if (!a->bad_input)
			log_warn("bad input from host: %s, resyncing",
				 pvmig_strerror(rc));
		a->bad_input = 1;
		a->bad_code = rc;
		pvmig_decoder_resync(&a->dec);
		if (!used || used > n)
			return;	/* cannot happen; never loop forever */
		p += used;
		n -= used;
	}
}

/* Read what is there; IO_DISCONNECT when the host end is gone. */
static int drain(struct agent *a)
{
	uint8_t buf[4096];

	for (;;) {
		ssize_t n = read(a->fd, buf, sizeof(buf));

		if (n > 0) {
			feed(a, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return IO_DISCONNECT;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return IO_OK;
		return IO_DISCONNECT;
	}
}

/*
 * Wait for input up to timeout_ms (-1: forever, until a signal) and
 * process it.
 */
static int pump(struct agent *a, int timeout_ms)
{
	struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? IO_OK : IO_DISCONNECT;
	if (!n)
		return IO_OK;
	if (pfd.revents & POLLIN)
		return drain(a);
	if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
		return IO_DISCONNECT;
	return IO_OK;
}

/*
 * Write one whole message, in pieces of at most PVMIG_MAX_MSG bytes,
 * reading input while the port is full.
 */
static int send_msg(struct agent *a, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t stop_at = 0;

	while (len) {
		size_t n = len < PVMIG_MAX_MSG ? len : PVMIG_MAX_MSG;
		ssize_t w = write(a->fd, p, n);
		struct pollfd pfd;

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || errno != EAGAIN)
			return IO_DISCONNECT;
		if (agent_stop) {
			if (!stop_at)
				stop_at = now_ns() + STOP_GRACE_MS * 1000000ull;
			else if (now_ns() > stop_at)
				return IO_STOP;
		}
		pfd = (struct pollfd){ .fd = a->fd, .events = POLLIN | POLLOUT };
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			return IO_DISCONNECT;
		if ((pfd.revents & POLLIN) && drain(a) == IO_DISCONNECT)
			return IO_DISCONNECT;
		if ((pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
		    !(pfd.revents & POLLOUT))
			return IO_DISCONNECT;
	}
	return IO_OK;
}

static int send_error(struct agent *a, uint32_t epoch, uint32_t code,
		      const char *reason)
{
	int n = pvmig_build_error(a->msg, sizeof(a->msg), epoch, code, reason);

	return n < 0 ? IO_OK : send_msg(a, a->msg, (size_t)n);
}

/* What HELLO should say now. */
static void current_caps(const struct agent *a, struct snap_caps *c)
{
	snap_probe(&a->o->src, c);
	if (a->o->max_pfn)
		c->max_pfn = a->o->max_pfn;
}

static int send_hello(struct agent *a)
{
	struct pvmig_hello h;
	int n, io;

	current_caps(a, &a->caps);
	h = (struct pvmig_hello){
		.proto_version = PVMIG_PROTO_VERSION,
		.page_size = a->caps.page_size,
		.max_pfn = a->caps.max_pfn,
		.caps = a->caps.caps,
		.poison_pattern = a->caps.poison_pattern,
	};
	n = pvmig_build_hello(a->msg, sizeof(a->msg), &h);
	if (n < 0)
		return IO_DISCONNECT;
	io = send_msg(a, a->msg, (size_t)n);
	if (io == IO_OK)
		log_info("HELLO sent: %s, page size %u, max_pfn %llu%s%s",
			 a->caps.present ? "module present" : "no module",
			 h.page_size, (unsigned long long)h.max_pfn,
			 h.caps & PVMIG_CAP_POISONING ? ", page poisoning" : "",
			 h.caps & PVMIG_CAP_INIT_ON_FREE ? ", init_on_free" : "");
	return io;
}

/* Why the epoch being streamed must stop now, if it must. */
static uint32_t interrupted(struct agent *a, uint32_t epoch)
{
	if (agent_stop)
		return PVMIG_ABORT_SHUTDOWN;
	if (a->cancelled == epoch)
		return PVMIG_ABORT_CANCEL;
	if (a->want_epoch)
		return PVMIG_ABORT_SUPERSEDED;
	return 0;
}

struct epoch_stats {
	uint64_t t0, read_ns, ranges_in;
	size_t bytes;
};

static int send_chunk(struct agent *a, struct pvmig_encoder *enc,
		      struct epoch_stats *st)
{
	size_t n = pvmig_encoder_take(enc);

	st->bytes += n;
	return n ? send_msg(a, a->out, n) : IO_OK;
}

/*
 * Stream one snapshot.  Returns IO_* for the port; a snapshot problem is
 * reported to the host with ERROR and is not a port problem.
 */
static int answer(struct agent *a, uint32_t epoch)
{
	const struct agent_opts *o = a->o;
	struct snap_src src = o->src;
	struct pvmig_snapshot_info info;
	struct pvmig_encoder enc;
	struct epoch_stats st = { .t0 = now_ns() };
	struct pvmig_end end = { 0 };
	struct snap_caps now;
	uint32_t why = 0;
	char reason[128];
	int rc, io;

	a->cur_epoch = epoch;
	current_caps(a, &now);
	if (now.present != a->caps.present || now.caps != a->caps.caps ||
	    now.max_pfn != a->caps.max_pfn) {
		/* The module came, went or learnt the span: tell the host. */
		io = send_hello(a);
		if (io)
			return io;
	}
	if (!a->caps.present) {
		log_info("epoch %u: no module, answering ERROR", epoch);
		return send_error(a, epoch, PVMIG_ABORT_NO_MODULE,
				  "no /dev/pvmig");
	}
	rc = snap_begin(&src);
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "open: %s", strerror(-rc));
		log_warn("epoch %u: snapshot %s", epoch, reason);
		return send_error(a, epoch, rc == -EBUSY ? PVMIG_ABORT_BUSY :
					    PVMIG_ABORT_SNAPSHOT, reason);
	}
	pvmig_encoder_init(&enc, epoch, a->caps.max_pfn, a->out, o->chunk);

	for (;;) {
		uint64_t t = now_ns();
		long n = snap_read(&src, a->recs, READ_BATCH);

		st.read_ns += now_ns() - t;
		if (n < 0) {
			snprintf(reason, sizeof(reason), "read: %s",
				 strerror((int)-n));
			why = PVMIG_ABORT_SNAPSHOT;
			break;
		}
		if (n == 0)
			break;
		st.ranges_in += (uint64_t)n;
		for (long i = 0; i < n && !why; i++) {
			const struct pvmig_range *r = &a->recs[i];

			rc = pvmig_encoder_add(&enc, r->start_pfn, r->nr_pages);
			if (rc == PVMIG_ENC_FULL) {
				io = send_chunk(a, &enc, &st);
				if (io)
					goto out_io;
				why = interrupted(a, epoch);
				if (why)
					break;
				rc = pvmig_encoder_add(&enc, r->start_pfn,
						       r->nr_pages);
			}
			if (rc < 0) {
				snprintf(reason, sizeof(reason),
					 "range %llu+%llu: %s",
					 (unsigned long long)r->start_pfn,
					 (unsigned long long)r->nr_pages,
					 pvmig_strerror(rc));
				why = PVMIG_ABORT_SNAPSHOT;
			}
		}
		if (why)
			break;
		/* Look for a newer request between batches too. */
		io = drain(a);
		if (io)
			goto out_io;
		why = interrupted(a, epoch);
		if (why)
			break;
	}

	while (!why && (rc = pvmig_encoder_finish(&enc)) == PVMIG_ENC_FULL) {
		io = send_chunk(a, &enc, &st);
		if (io)
			goto out_io;
	}
	if (!why) {
		io = send_chunk(a, &enc, &st);
		if (io)
			goto out_io;
		if (snap_info(&src, &info) == 0) {
			end.walk_ns = info.walk_ns;
			end.max_hold_ns = info.max_hold_ns;
			if (info.flags & PVMIG_INFO_TRUNCATED)
				end.flags |= PVMIG_END_TRUNCATED;
		}
	}
	snap_end(&src);

	if (why) {
		if (why != PVMIG_ABORT_SNAPSHOT)
			snprintf(reason, sizeof(reason), "%s",
				 pvmig_abort_str(why));
		log_info("epoch %u: abandoned after %llu ranges: %s", epoch,
			 (unsigned long long)enc.nr_ranges, reason);
		a->cur_epoch = 0;
		a->said_bye = why == PVMIG_ABORT_SHUTDOWN;
		/* The host cancelled: it needs no answer. */
		return why == PVMIG_ABORT_CANCEL ? IO_OK :
		       send_error(a, epoch, why, reason);
	}

	end.agent_ns = now_ns() - st.t0;
	rc = pvmig_encoder_end(&enc, &end, a->msg, sizeof(a->msg));
	if (rc < 0)
		return IO_DISCONNECT;	/* cannot happen after finish */
	io = send_msg(a, a->msg, (size_t)rc);
	st.bytes += (size_t)rc;
	log_info("epoch %u: %llu ranges, %llu pages, %u chunks, %zu bytes; "
		 "read %.3f ms, encode+send %.3f ms%s", epoch,
		 (unsigned long long)enc.nr_ranges,
		 (unsigned long long)enc.nr_pages, enc.nr_chunks, st.bytes,
		 (double)st.read_ns / 1e6,
		 (double)(end.agent_ns - st.read_ns) / 1e6,
		 end.flags & PVMIG_END_TRUNCATED ? " (walk truncated)" : "");
	a->cur_epoch = 0;
	return io;

out_io:
	snap_end(&src);
	a->cur_epoch = 0;
	return io;
}

static int connect_port(struct agent *a)
{
	int fd = port_open(a->o->port);

	if (fd < 0) {
		if (!a->was_absent)
			log_info("waiting for %s: %s", a->o->port,
				 strerror(-fd));
		a->was_absent = 1;
		return -1;
	}
	a->fd = fd;
	a->was_absent = 0;
	a->want_epoch = 0;
	a->cancelled = 0;
	a->bad_input = 0;
	pvmig_decoder_init(&a->dec, PVMIG_ROLE_GUEST, 0, &ops, a);
	log_debug("port %s open", a->o->port);
	if (send_hello(a)) {
		/* Open but nobody on the host side (POLLHUP): poll slowly. */
		if (!a->host_wait_logged)
			log_info("%s: host end not connected, retrying every %u ms",
				 a->o->port, a->o->retry_ms);
		a->host_wait_logged = 1;
		disconnect(a, "host end absent");
		return -1;
	}
	a->up = 1;
	a->host_wait_logged = 0;
	log_info("connected to the host on %s", a->o->port);
	return 0;
}

int agent_run(const struct agent_opts *o)
{
	static struct agent ag;
	struct agent *a = &ag;
	int io = IO_OK;

	memset(a, 0, sizeof(*a));
	a->o = o;
	a->fd = -1;

	while (!agent_stop) {
		if (a->fd < 0) {
			if (connect_port(a) < 0) {
				poll(NULL, 0, (int)o->retry_ms);
				continue;
			}
		}
		if (a->bad_input) {
			a->bad_input = 0;
			io = send_error(a, 0, PVMIG_ABORT_BAD_MESSAGE,
					pvmig_strerror(a->bad_code));
		} else if (a->want_epoch) {
			uint32_t e = a->want_epoch;

			a->want_epoch = 0;
			io = answer(a, e);
		} else {
			/* Bounded: a signal just before poll is seen within 1 s. */
			io = pump(a, 1000);
		}
		if (io == IO_DISCONNECT) {
			disconnect(a, "host end went away");
			/* A hung-up port polls readable at once: pace it. */
			poll(NULL, 0, (int)o->retry_ms);
		}
	}
	if (a->fd >= 0) {
		if (io != IO_STOP && !a->said_bye)
			send_error(a, a->cur_epoch, PVMIG_ABORT_SHUTDOWN,
				   "SIGTERM");
		close(a->fd);
	}
	log_info("exiting");
	return 0;
}
