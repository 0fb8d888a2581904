// SPDX-License-Identifier: MIT
/*
 * The agent's session with the host: connect, HELLO, answer REQUESTs.
 *
 * Layers, bottom up: port.c opens the port, transport.c moves bytes
 * (whole messages out, any slice in), the proto library frames and
 * checks messages, and this file is the session on top of them.
 *
 * One thread.  While a snapshot streams out, input from the host is still
 * read between chunks and whenever a write would block, so a newer REQUEST
 * (or the host's CANCEL) stops the old epoch at the next chunk boundary.
 * Only whole messages are ever abandoned: once a message has started
 * going out it is finished, unless the host end goes away.  An epoch the
 * agent cannot complete is answered with ERROR, never with END: the host
 * drops the chunks it already has.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "port.h"
#include "transport.h"

/* Records per read(2) of the snapshot: 32 KiB. */
#define READ_BATCH	2048

volatile sig_atomic_t agent_stop;

struct agent {
	const struct agent_opts *o;
	struct transport tr;
	struct pvmig_decoder dec;
	struct pvmig_hello hello;	/* as last said */
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

/* One epoch being answered. */
struct epoch {
	uint32_t epoch;
	struct snap_src src;
	struct pvmig_encoder enc;
	struct pvmig_end end;		/* the module's figures for END */
	uint64_t t0, read_ns;
	size_t bytes;			/* sent for this epoch */
	uint32_t why;			/* PVMIG_ABORT_*: abandoned */
	char reason[128];		/* for ERROR and the log */
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The signal that stopped the agent, for the log and ERROR(SHUTDOWN). */
static const char *stop_reason(void)
{
	switch (agent_stop) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "stopped";
	}
}

/* ---- input from the host ---- */

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

/* Transport input: decode; on bad input report once, then resync. */
static void feed(void *opaque, const uint8_t *p, size_t n)
{
	struct agent *a = opaque;

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

/* ---- messages to the host ---- */

static int send_error(struct agent *a, uint32_t epoch, uint32_t code,
		      const char *reason)
{
	int n = pvmig_build_error(a->msg, sizeof(a->msg), epoch, code, reason);

	if (n < 0) {
		log_err("cannot build ERROR: %s", pvmig_strerror(n));
		return IO_OK;
	}
	return transport_send(&a->tr, a->msg, (size_t)n);
}

/* What HELLO should say now. */
static void current_hello(const struct agent *a, struct pvmig_hello *h)
{
	snap_probe(&a->o->src, h);
	if (a->o->max_pfn)
		h->max_pfn = a->o->max_pfn;
}

static int send_hello(struct agent *a)
{
	struct pvmig_hello *h = &a->hello;
	int n, io;

	current_hello(a, h);
	n = pvmig_build_hello(a->msg, sizeof(a->msg), h);
	if (n < 0) {
		log_err("cannot build HELLO: %s", pvmig_strerror(n));
		return IO_DISCONNECT;
	}
	io = transport_send(&a->tr, a->msg, (size_t)n);
	if (io == IO_OK)
		log_info("HELLO sent: %s, page size %u, max_pfn %llu%s%s",
			 h->caps & PVMIG_CAP_MODULE ? "module present" :
						      "no module",
			 h->page_size, (unsigned long long)h->max_pfn,
			 h->caps & PVMIG_CAP_POISONING ? ", page poisoning" : "",
			 h->caps & PVMIG_CAP_INIT_ON_FREE ? ", init_on_free" : "");
	return io;
}

/* The module came, went or learnt the span: tell the host first. */
static int refresh_hello(struct agent *a)
{
	struct pvmig_hello now;

	current_hello(a, &now);
	if (now.caps == a->hello.caps && now.max_pfn == a->hello.max_pfn &&
	    now.page_size == a->hello.page_size &&
	    now.poison_pattern == a->hello.poison_pattern)
		return IO_OK;
	return send_hello(a);
}

/* ---- one epoch ---- */

/* Mark the epoch abandoned; the first reason given is the one reported. */
__attribute__((format(printf, 3, 4)))
static void abandon(struct epoch *ep, uint32_t why, const char *fmt, ...)
{
	va_list ap;

	if (ep->why)
		return;
	ep->why = why;
	va_start(ap, fmt);
	vsnprintf(ep->reason, sizeof(ep->reason), fmt, ap);
	va_end(ap);
}

/* Why the epoch being streamed must stop now, if it must. */
static void check_interrupted(struct agent *a, struct epoch *ep)
{
	if (agent_stop)
		abandon(ep, PVMIG_ABORT_SHUTDOWN, "%s", stop_reason());
	else if (a->cancelled == ep->epoch)
		abandon(ep, PVMIG_ABORT_CANCEL, "cancelled by the host");
	else if (a->want_epoch)
		abandon(ep, PVMIG_ABORT_SUPERSEDED, "superseded by %u",
			a->want_epoch);
}

/* Start the snapshot and the encoder; 0, or -1 with the epoch abandoned. */
static int open_epoch(struct agent *a, struct epoch *ep)
{
	int rc;

	if (!(a->hello.caps & PVMIG_CAP_MODULE)) {
		abandon(ep, PVMIG_ABORT_NO_MODULE, "no /dev/pvmig");
		return -1;
	}
	rc = snap_begin(&ep->src);
	if (rc < 0) {
		abandon(ep, rc == -EBUSY ? PVMIG_ABORT_BUSY :
			PVMIG_ABORT_SNAPSHOT, "open: %s", strerror(-rc));
		log_warn("epoch %u: snapshot %s", ep->epoch, ep->reason);
		return -1;
	}
	rc = pvmig_encoder_init(&ep->enc, ep->epoch, a->hello.max_pfn, a->out,
				a->o->chunk);
	if (rc < 0) {
		abandon(ep, PVMIG_ABORT_SNAPSHOT, "encoder: %s",
			pvmig_strerror(rc));
		log_err("epoch %u: %s", ep->epoch, ep->reason);
		snap_end(&ep->src);
		return -1;
	}
	return 0;
}

/* Send the chunk the encoder has filled, if it holds anything. */
static int send_chunk(struct agent *a, struct epoch *ep)
{
	size_t n = pvmig_encoder_take(&ep->enc);

	ep->bytes += n;
	return n ? transport_send(&a->tr, a->out, n) : IO_OK;
}

/* Encode one range, sending the chunk first if it is full. */
static int put_range(struct agent *a, struct epoch *ep,
		     const struct pvmig_range *r)
{
	int rc = pvmig_encoder_add(&ep->enc, r->start_pfn, r->nr_pages);
	int io;

	if (rc == PVMIG_ENC_FULL) {
		io = send_chunk(a, ep);
		if (io)
			return io;
		/* A chunk boundary: the one place an epoch may stop. */
		check_interrupted(a, ep);
		if (ep->why)
			return IO_OK;
		rc = pvmig_encoder_add(&ep->enc, r->start_pfn, r->nr_pages);
	}
	if (rc < 0)
		abandon(ep, PVMIG_ABORT_SNAPSHOT, "range %llu+%llu: %s",
			(unsigned long long)r->start_pfn,
			(unsigned long long)r->nr_pages, pvmig_strerror(rc));
	return IO_OK;
}

/* Read the snapshot to its end and encode it, chunks going out as they fill. */
static int stream_ranges(struct agent *a, struct epoch *ep)
{
	while (!ep->why) {
		uint64_t t = now_ns();
		long n = snap_read(&ep->src, a->recs, READ_BATCH);
		int io;

		ep->read_ns += now_ns() - t;
		if (n < 0) {
			abandon(ep, PVMIG_ABORT_SNAPSHOT, "read: %s",
				strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		for (long i = 0; i < n && !ep->why; i++) {
			io = put_range(a, ep, &a->recs[i]);
			if (io)
				return io;
		}
		if (ep->why)
			break;
		/* Look for a newer request between batches too. */
		io = transport_drain(&a->tr);
		if (io)
			return io;
		check_interrupted(a, ep);
	}
	return IO_OK;
}

/* Emit what the encoder still holds and send the last chunk. */
static int flush_ranges(struct agent *a, struct epoch *ep)
{
	int rc, io;

	while ((rc = pvmig_encoder_finish(&ep->enc)) == PVMIG_ENC_FULL) {
		io = send_chunk(a, ep);
		if (io)
			return io;
	}
	if (rc < 0) {
		abandon(ep, PVMIG_ABORT_SNAPSHOT, "encoder finish: %s",
			pvmig_strerror(rc));
		log_err("epoch %u: %s", ep->epoch, ep->reason);
		return IO_OK;
	}
	return send_chunk(a, ep);
}

/* The module's own figures for END, once its snapshot is complete. */
static void read_module_stats(struct epoch *ep)
{
	struct pvmig_snapshot_info info;

	if (snap_info(&ep->src, &info) != 0)
		return;
	ep->end.walk_ns = info.walk_ns;
	ep->end.max_hold_ns = info.max_hold_ns;
	if (info.flags & PVMIG_INFO_TRUNCATED)
		ep->end.flags |= PVMIG_END_TRUNCATED;
}

/* Complete the epoch with END; an END that cannot be built abandons it. */
static int send_end(struct agent *a, struct epoch *ep)
{
	const struct pvmig_encoder *enc = &ep->enc;
	int n, io;

	ep->end.agent_ns = now_ns() - ep->t0;
	n = pvmig_encoder_end(enc, &ep->end, a->msg, sizeof(a->msg));
	if (n < 0) {
		abandon(ep, PVMIG_ABORT_SNAPSHOT, "encoder end: %s",
			pvmig_strerror(n));
		log_err("epoch %u: %s", ep->epoch, ep->reason);
		return IO_OK;
	}
	io = transport_send(&a->tr, a->msg, (size_t)n);
	ep->bytes += (size_t)n;
	log_info("epoch %u: %llu ranges, %llu pages, %u chunks, %zu bytes; "
		 "read %.3f ms, encode+send %.3f ms%s", ep->epoch,
		 (unsigned long long)enc->nr_ranges,
		 (unsigned long long)enc->nr_pages, enc->nr_chunks, ep->bytes,
		 (double)ep->read_ns / 1e6,
		 (double)(ep->end.agent_ns - ep->read_ns) / 1e6,
		 ep->end.flags & PVMIG_END_TRUNCATED ? " (walk truncated)" : "");
	return io;
}

/* Tell the host the epoch will not be completed. */
static int send_abandon(struct agent *a, struct epoch *ep)
{
	log_info("epoch %u: abandoned after %llu ranges: %s: %s", ep->epoch,
		 (unsigned long long)ep->enc.nr_ranges,
		 pvmig_abort_str(ep->why), ep->reason);
	/* The host cancelled: it needs no answer. */
	if (ep->why == PVMIG_ABORT_CANCEL)
		return IO_OK;
	if (ep->why == PVMIG_ABORT_SHUTDOWN)
		a->said_bye = 1;
	return send_error(a, ep->epoch, ep->why, ep->reason);
}

/*
 * Answer REQUEST(epoch) with RANGES... END, or with ERROR.  Returns IO_*
 * for the port; a snapshot problem is reported to the host with ERROR
 * and is not a port problem.
 */
static int answer(struct agent *a, uint32_t epoch)
{
	struct epoch ep = { .epoch = epoch, .src = a->o->src, .t0 = now_ns() };
	int io;

	a->cur_epoch = epoch;
	io = refresh_hello(a);
	if (io == IO_OK && open_epoch(a, &ep) == 0) {
		io = stream_ranges(a, &ep);
		if (io == IO_OK && !ep.why)
			io = flush_ranges(a, &ep);
		if (io == IO_OK && !ep.why)
			read_module_stats(&ep);
		snap_end(&ep.src);
	}
	if (io == IO_OK && !ep.why)
		io = send_end(a, &ep);
	if (io == IO_OK && ep.why)
		io = send_abandon(a, &ep);
	a->cur_epoch = 0;
	return io;
}

/* ---- the connection ---- */

static void disconnect(struct agent *a, const char *why)
{
	if (a->tr.fd < 0)
		return;
	if (a->up)
		log_info("port closed: %s", why);
	close(a->tr.fd);
	a->tr.fd = -1;
	a->up = 0;
	a->want_epoch = 0;
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
	a->tr.fd = fd;
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

/*
 * Leaving: ERROR(SHUTDOWN) for the REQUEST still waiting, so the host does
 * not wait for it; with none waiting and nothing said yet, for no epoch.
 */
static void say_goodbye(struct agent *a)
{
	if (a->want_epoch)
		send_error(a, a->want_epoch, PVMIG_ABORT_SHUTDOWN,
			   stop_reason());
	else if (!a->said_bye)
		send_error(a, 0, PVMIG_ABORT_SHUTDOWN, stop_reason());
}

/* One step of the session: the next thing to answer, or wait for input. */
static int step(struct agent *a)
{
	uint32_t e;

	if (a->bad_input) {
		a->bad_input = 0;
		return send_error(a, 0, PVMIG_ABORT_BAD_MESSAGE,
				  pvmig_strerror(a->bad_code));
	}
	if (a->want_epoch) {
		e = a->want_epoch;
		a->want_epoch = 0;
		return answer(a, e);
	}
	/* Bounded: a signal just before poll is seen within 1 s. */
	return transport_pump(&a->tr, 1000);
}

int agent_run(const struct agent_opts *o)
{
	static struct agent ag;
	struct agent *a = &ag;
	int io = IO_OK;

	memset(a, 0, sizeof(*a));
	a->o = o;
	a->tr = (struct transport){
		.fd = -1, .input = feed, .opaque = a, .stop = &agent_stop,
	};

	while (!agent_stop) {
		if (a->tr.fd < 0 && connect_port(a) < 0) {
			poll(NULL, 0, (int)o->retry_ms);
			continue;
		}
		io = step(a);
		if (io == IO_DISCONNECT) {
			disconnect(a, "host end went away");
			/* A hung-up port polls readable at once: pace it. */
			poll(NULL, 0, (int)o->retry_ms);
		}
	}
	if (a->tr.fd >= 0) {
		/* IO_STOP: a message was left half-written, say nothing more. */
		if (io != IO_STOP)
			say_goodbye(a);
		close(a->tr.fd);
	}
	log_info("exiting on %s", stop_reason());
	return 0;
}
