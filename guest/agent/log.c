// SPDX-License-Identifier: MIT
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static int to_syslog;
static int max_prio = LOG_INFO;

void log_init(int use_syslog, int verbose)
{
	to_syslog = use_syslog;
	max_prio = verbose ? LOG_DEBUG : LOG_INFO;
	if (to_syslog)
		openlog("pvmig-agent", LOG_PID, LOG_DAEMON);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > max_prio)
		return;
	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fputs("pvmig-agent: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
