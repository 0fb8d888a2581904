// SPDX-License-Identifier: MIT
#include "qmp.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Returns the next complete JSON message, or NULL on timeout/EOF/error
 * (q->eof tells EOF apart).  QMP frames each message with a newline.
 */
static json_t *qmp_read_msg(struct qmp *q, int64_t deadline, char *err,
			    size_t errlen)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);

		if (nl) {
			size_t linelen = (size_t)(nl - q->buf) + 1;
			json_error_t jerr;
			json_t *msg = json_loadb(q->buf, linelen, 0, &jerr);

			memmove(q->buf, q->buf + linelen, q->len - linelen);
			q->len -= linelen;
			if (!msg) {
				snprintf(err, errlen, "bad QMP message: %s",
					 jerr.text);
				return NULL;
			}
			return msg;
		}
		if (q->eof) {
			snprintf(err, errlen, "QMP connection closed");
			return NULL;
		}

		int64_t left = deadline - now_ms();
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int r;

		if (left <= 0 || util_interrupted) {
			snprintf(err, errlen, util_interrupted ? "interrupted" :
				 "QMP reply timed out");
			return NULL;
		}
		r = poll(&pfd, 1, left > 200 ? 200 : (int)left);
		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return NULL;
		}
		if (r <= 0)
			continue;
		if (q->cap - q->len < 4096) {
			q->cap = q->cap ? q->cap * 2 : 65536;
			q->buf = realloc(q->buf, q->cap);
			if (!q->buf) {
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
		}
		ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "QMP read: %s", strerror(errno));
			q->eof = true;
			return NULL;
		}
		if (n == 0)
			q->eof = true;
		q->len += (size_t)n;
	}
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

json_t *qmp_cmd(struct qmp *q, const char *cmd, json_t *args, int timeout_ms,
		char *err, size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	unsigned id = ++q->next_id;
	json_t *req = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)id);
	char *text;

	if (args)
		json_object_set_new(req, "arguments", args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		snprintf(err, errlen, "cannot encode %s", cmd);
		return NULL;
	}
	if (send_all(q->fd, text, strlen(text)) < 0 ||
	    send_all(q->fd, "\n", 1) < 0) {
		snprintf(err, errlen, "QMP %s: send: %s", cmd, strerror(errno));
		free(text);
		return NULL;
	}
	free(text);

	for (;;) {
		json_t *msg = qmp_read_msg(q, deadline, err, errlen), *v;

		if (!msg)
			return NULL;
		if ((v = json_object_get(msg, "event")) != NULL) {
			snprintf(q->last_event, sizeof(q->last_event), "%s",
				 json_string_value(v) ? json_string_value(v) : "");
			json_decref(msg);
			continue;
		}
		v = json_object_get(msg, "id");
		if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)id) {
			json_decref(msg);	/* reply to an abandoned command */
			continue;
		}
		if ((v = json_object_get(msg, "return")) != NULL) {
			json_incref(v);
			json_decref(msg);
			return v;
		}
		v = json_object_get(json_object_get(msg, "error"), "desc");
		snprintf(err, errlen, "QMP %s: %s", cmd,
			 json_string_value(v) ? json_string_value(v) : "error");
		json_decref(msg);
		return NULL;
	}
}

int qmp_connect(struct qmp *q, const char *path, int timeout_ms,
		bool (*alive)(void *), void *opaque, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	json_t *msg, *ret;

	memset(q, 0, sizeof(*q));
	for (;;) {
		q->fd = unix_connect(path, err, errlen);
		if (q->fd >= 0)
			break;
		if (q->fd == -2)
			return -1;
		if (alive && !alive(opaque)) {
			snprintf(err, errlen, "QEMU exited before its QMP socket opened");
			return -1;
		}
		if (now_ms() > deadline || util_interrupted) {
			snprintf(err, errlen, "cannot connect to %s", path);
			return -1;
		}
		sleep_ms(50);
	}
	msg = qmp_read_msg(q, deadline + 5000, err, errlen);
	if (!msg)
		return -1;
	if (!json_object_get(msg, "QMP")) {
		json_decref(msg);
		snprintf(err, errlen, "no QMP greeting on %s", path);
		return -1;
	}
	json_decref(msg);
	ret = qmp_cmd(q, "qmp_capabilities", NULL, 5000, err, errlen);
	if (!ret)
		return -1;
	json_decref(ret);
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	q->fd = -1;
	q->buf = NULL;
	q->len = q->cap = 0;
}
