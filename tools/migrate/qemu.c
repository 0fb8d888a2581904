// SPDX-License-Identifier: MIT
#include "qemu.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void argv_add(struct argv *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->v = realloc(a->v, (size_t)a->cap * sizeof(*a->v));
		if (!a->v)
			abort();
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

void argv_addf(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	argv_add(a, s);
	free(s);
}

void argv_free(struct argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

char *argv_join(const struct argv *a)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < a->n; i++)
		len += strlen(a->v[i]) * 4 + 3;
	s = p = xmalloc(len);
	for (int i = 0; i < a->n; i++) {
		const char *q = a->v[i];
		bool plain = *q && strspn(q, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:@+") ==
				strlen(q);

		if (i)
			*p++ = ' ';
		if (plain) {
			p = stpcpy(p, q);
			continue;
		}
		*p++ = '\'';
		for (; *q; q++) {
			if (*q == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = *q;
		}
		*p++ = '\'';
	}
	*p = '\0';
	return s;
}

int qemu_spawn(struct qemu_proc *p, const struct argv *argv,
	       const char *env_add)
{
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 0644);
	pid_t pid, parent;

	if (logfd < 0) {
		warn("%s: %s", p->log_path, strerror(errno));
		return -1;
	}
	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		warn("fork: %s", strerror(errno));
		close(logfd);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		/* Its own process group: a terminal ^C reaches only us. */
		setpgid(0, 0);
		/*
		 * A driver killed outright must not leave guests running: they
		 * would hold gigabytes of RAM and never finish.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (env_add)
			putenv((char *)env_add);
		signal(SIGPIPE, SIG_DFL);
		execv(argv->v[0], argv->v);
		fprintf(stderr, "exec %s: %s\n", argv->v[0], strerror(errno));
		_exit(127);
	}
	close(logfd);
	p->pid = pid;
	p->reaped = false;
	return 0;
}

bool qemu_alive(struct qemu_proc *p)
{
	if (p->pid <= 0 || p->reaped)
		return false;
	if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
		p->reaped = true;
		return false;
	}
	return true;
}

const char *qemu_exit_reason(const struct qemu_proc *p)
{
	static char buf[64];

	if (!p->reaped)
		return "still running";
	if (WIFEXITED(p->status))
		snprintf(buf, sizeof(buf), "exited with status %d",
			 WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(buf, sizeof(buf), "killed by signal %d",
			 WTERMSIG(p->status));
	else
		snprintf(buf, sizeof(buf), "ended (status 0x%x)", p->status);
	return buf;
}

void qemu_reap(struct qemu_proc *p, int grace_ms)
{
	int64_t deadline = now_ms() + grace_ms;

	if (p->pid <= 0)
		return;
	while (qemu_alive(p) && now_ms() < deadline)
		sleep_ms(50);
	if (qemu_alive(p)) {
		kill(p->pid, SIGKILL);
		if (waitpid(p->pid, &p->status, 0) == p->pid)
			p->reaped = true;
	}
}
