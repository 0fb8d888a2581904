// SPDX-License-Identifier: MIT
#include "jsonout.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);

	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *bigger = realloc(buf, cap *= 2);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
		}
		r = pread(fd, buf + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static int write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, buf + done, len - done, (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static bool all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int json_array_append_file(const char *path, json_t *obj, char *err,
			   size_t errlen)
{
	json_t *arr = NULL;
	json_error_t jerr;
	char *text = NULL, *out = NULL;
	size_t len = 0;
	int fd, ret = -1;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) < 0) {
		snprintf(err, errlen, "%s: lock: %s", path, strerror(errno));
		goto out;
	}
	text = read_all(fd, &len);
	if (!text) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (all_space(text, len)) {
		arr = json_array();
	} else {
		arr = json_loadb(text, len, 0, &jerr);
		if (!arr) {
			snprintf(err, errlen, "%s:%d: not JSON: %s", path,
				 jerr.line, jerr.text);
			goto out;
		}
		if (!json_is_array(arr)) {
			snprintf(err, errlen, "%s: holds JSON but not an array",
				 path);
			goto out;
		}
	}
	json_array_append(arr, obj);
	out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!out) {
		snprintf(err, errlen, "%s: cannot serialise JSON", path);
		goto out;
	}
	/*
	 * Rewritten in place (not via rename) so the flock stays on the one
	 * inode every writer opens.
	 */
	len = strlen(out);
	if (write_all(fd, out, len) < 0 ||
	    pwrite(fd, "\n", 1, (off_t)len) != 1 ||
	    ftruncate(fd, (off_t)len + 1) < 0) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(out);
	free(text);
	json_decref(arr);
	close(fd);	/* releases the lock */
	return ret;
}
