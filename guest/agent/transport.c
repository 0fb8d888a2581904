// SPDX-License-Identifier: MIT
/* Non-blocking message I/O on the port; see transport.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "pvmig_proto.h"
#include "transport.h"

/* How long a stop lets a started message finish. */
#define STOP_GRACE_MS	2000

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int transport_drain(struct transport *t)
{
	uint8_t buf[4096];

	for (;;) {
		ssize_t n = read(t->fd, buf, sizeof(buf));

		if (n > 0) {
			t->input(t->opaque, buf, (size_t)n);
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

int transport_pump(struct transport *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? IO_OK : IO_DISCONNECT;
	if (!n)
		return IO_OK;
	if (pfd.revents & POLLIN)
		return transport_drain(t);
	if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
		return IO_DISCONNECT;
	return IO_OK;
}

/* The port is full: wait for room, reading input meanwhile. */
static int wait_writable(struct transport *t)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN | POLLOUT };

	if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
		return IO_DISCONNECT;
	if ((pfd.revents & POLLIN) && transport_drain(t) == IO_DISCONNECT)
		return IO_DISCONNECT;
	if ((pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
	    !(pfd.revents & POLLOUT))
		return IO_DISCONNECT;
	return IO_OK;
}

int transport_send(struct transport *t, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t stop_at = 0;

	while (len) {
		/* One virtio-serial write carries at most one message. */
		size_t n = len < PVMIG_MAX_MSG ? len : PVMIG_MAX_MSG;
		ssize_t w = write(t->fd, p, n);
		int io;

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || errno != EAGAIN)
			return IO_DISCONNECT;
		if (*t->stop) {
			if (!stop_at)
				stop_at = now_ns() + STOP_GRACE_MS * 1000000ull;
			else if (now_ns() > stop_at)
				return IO_STOP;
		}
		io = wait_writable(t);
		if (io)
			return io;
	}
	return IO_OK;
}
