// SPDX-License-Identifier: MIT
/*
 * The guest's control port: its second serial line (ttyS1), a listening
 * Unix socket on the host side.  The driver's one way to tell the guest
 * when to act, for tests that need a step at a known point of the
 * migration (guest/workload/pvmig-freeprobe.c reads it).
 */
#include "run.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void control_args(struct argv *a, const struct side *s)
{
	argv_add(a, "-chardev");
	argv_addf(a, "socket,id=ctl0,path=%s,server=on,wait=off", s->ctl_path);
	argv_add(a, "-serial");
	argv_add(a, "chardev:ctl0");
}

int control_send(struct run *r, struct side *s, const char *line)
{
	char err[256];
	size_t len = strlen(line), done = 0;

	if (s->ctl_fd < 0) {
		s->ctl_fd = unix_connect(s->ctl_path, err, sizeof(err));
		if (s->ctl_fd < 0)
			return infra_fail(r, FAIL_SETUP, "%s control port: %s", s->proc.name,
					  err);
	}
	while (done < len) {
		ssize_t n = write(s->ctl_fd, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return infra_fail(r, FAIL_SETUP, "%s control port: %s", s->proc.name,
					  strerror(errno));
		done += (size_t)n;
	}
	return EXIT_OK;
}

void control_close(struct side *s)
{
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	s->ctl_fd = -1;
}
