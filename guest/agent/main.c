// SPDX-License-Identifier: MIT
/*
 * pvmig-agent: answers the pvmig host device's requests for the guest's
 * free page ranges over a virtio-serial port.  Options in usage() and in
 * pvmig-agent(8).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

#ifndef PVMIG_AGENT_VERSION
#define PVMIG_AGENT_VERSION "1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pvmig-agent [OPTION]...\n"
"Tell the host which guest pages are free, so live migration can skip them.\n"
"\n"
"The agent opens the pvmig virtio-serial port, says HELLO (protocol version,\n"
"page size, guest RAM span, whether /dev/pvmig is there, page poisoning and\n"
"init_on_free state) and then answers every REQUEST(epoch) from the host with\n"
"a fresh snapshot of free page ranges from /dev/pvmig, streamed as RANGES\n"
"chunks of at most 32 KiB and an END message with totals.  A newer request\n"
"replaces one still being answered.  Without the module it still runs, says\n"
"so in HELLO and answers requests with ERROR.  If the port is missing or the\n"
"host end is closed it waits and reconnects.  Invalid input from the host is\n"
"reported (ERROR) and skipped.  SIGTERM or SIGINT: clean exit, status 0.\n"
"\n"
"Options:\n"
"  -p, --port PATH         port to use (default /dev/virtio-ports/%s);\n"
"                          unix:PATH connects to a Unix socket (tests)\n"
"  -d, --device PATH       snapshot device (default /dev/pvmig)\n"
"  -f, --snapshot-file F   read struct pvmig_range records (16 bytes: u64\n"
"                          start_pfn, u64 nr_pages, host order) from file F\n"
"                          instead of the device: a fake module, for tests\n"
"  -m, --max-pfn N         guest RAM span to announce (default: from the\n"
"                          module, else the end of System RAM in /proc/iomem)\n"
"  -c, --chunk-size BYTES  bytes per RANGES message, %u..%u (default %u)\n"
"  -r, --retry-ms MS       wait between reconnect attempts (default 1000)\n"
"  -s, --syslog            log to syslog (daemon facility) instead of stderr\n"
"  -v, --verbose           log more\n"
"      --delay-ms MS       test only: pause MS between snapshot reads\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT, 2 on bad usage.\n"
"See pvmig-agent(8).\n",
		PVMIG_PORT_NAME, PVMIG_ENC_MIN_BUF, PVMIG_MAX_MSG, PVMIG_MAX_MSG);
}

static int parse_num(const char *s, unsigned long long max,
		     unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' || *out > max ? -1 : 0;
}

static void on_signal(int sig)
{
	/* Its number, so that ERROR(SHUTDOWN) and the log can name it. */
	agent_stop = sig;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "snapshot-file", required_argument, NULL, 'f' },
		{ "max-pfn", required_argument, NULL, 'm' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "retry-ms", required_argument, NULL, 'r' },
		{ "syslog", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "delay-ms", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_opts o = {
		.port = "/dev/virtio-ports/" PVMIG_PORT_NAME,
		.retry_ms = 1000,
		.chunk = PVMIG_MAX_MSG,
		.src = { .device = "/dev/pvmig", .fd = -1 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long v;
	int use_syslog = 0, verbose = 0, c;

	while ((c = getopt_long(argc, argv, "p:d:f:m:c:r:svhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'p':
			o.port = optarg;
			break;
		case 'd':
			o.src.device = optarg;
			break;
		case 'f':
			o.src.file = optarg;
			break;
		case 'm':
			if (parse_num(optarg, UINT64_C(1) << 52, &v) || !v)
				goto bad;
			o.max_pfn = v;
			break;
		case 'c':
			if (parse_num(optarg, PVMIG_MAX_MSG, &v) ||
			    v < PVMIG_ENC_MIN_BUF)
				goto bad;
			o.chunk = (size_t)v;
			break;
		case 'r':
			if (parse_num(optarg, 3600000, &v) || !v)
				goto bad;
			o.retry_ms = (unsigned int)v;
			break;
		case 'D':
			if (parse_num(optarg, 60000, &v))
				goto bad;
			o.src.delay_ms = (unsigned int)v;
			break;
		case 's':
			use_syslog = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pvmig-agent %s (protocol %u)\n",
			       PVMIG_AGENT_VERSION, PVMIG_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pvmig-agent: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}

	log_init(use_syslog, verbose);
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must wake poll(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return agent_run(&o);

bad:
	fprintf(stderr, "pvmig-agent: invalid value '%s' for -%c\n", optarg, c);
	return 2;
}
