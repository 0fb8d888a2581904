// SPDX-License-Identifier: MIT
/*
 * pvmig-freeprobe: tests the guest's free-page contract across a migration.
 *
 * With init_on_free=1 the kernel zeroes a page when it is freed and does
 * not zero it again when it is allocated, __GFP_ZERO included; so the host
 * must never leave an older copy of a free page on the destination.  This
 * program makes such copies likely and then looks for them:
 *
 *   --stale-mb N   at start, fill N MiB with a pattern and hold it;
 *                  "free" on the control port frees it (PVMIG-STALE-FREED).
 *   "zerocheck"    on the control port: take fresh 4 KiB anonymous pages
 *                  (most of free memory), count those that do not read as
 *                  zero, release them (PVMIG-ZEROCHECK pages=N nonzero=M).
 *
 * The host's driver (tools/migrate/stale.c) sends "free" once the bulk pass
 * has sent the buffer, and "zerocheck" to the destination after the switch.
 * Commands arrive one per line on the control port (ttyS1 by default);
 * results go to stdout, the console.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>


#define PAGE 4096ul
#define STALE_BYTE 0xa5
/* Left free by the zero check, so the rest of the guest keeps running. */
#define ZEROCHECK_RESERVE_KB (96ul << 10)
/* How often (in pages) it looks at MemFree again while it allocates. */
#define ZEROCHECK_RECHECK_PAGES 1024

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/*
 * Anonymous memory that faults in 4 KiB pages: a transparent huge page
 * fault clears its page explicitly and would hide a stale page.
 */
static void *map_small_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

static unsigned long meminfo_kb(const char *key)
{
	char line[128];
	unsigned long v = 0, kb;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%lu kB", &kb) == 1)
			v = kb;
	fclose(f);
	return v;
}

static int page_is_zero(const uint64_t *p)
{
	for (size_t i = 0; i < PAGE / sizeof(*p); i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * Faults each page in for writing without changing it: an atomic OR of
 * zero is a write (so the kernel allocates a real page rather than mapping
 * the shared zero page) that leaves whatever the allocator handed out.
 */
static void zerocheck(void)
{
	unsigned long free_kb = meminfo_kb("MemFree");
	size_t len, pages, nonzero = 0;
	unsigned char *buf;

	if (free_kb <= ZEROCHECK_RESERVE_KB) {
		say("PVMIG-ZEROCHECK pages=0 nonzero=0 error=no-free-memory\n");
		return;
	}
	len = (free_kb - ZEROCHECK_RESERVE_KB) * 1024 / PAGE * PAGE;
	buf = map_small_pages(len);
	if (!buf) {
		say("PVMIG-ZEROCHECK pages=0 nonzero=0 error=mmap:%s\n",
		    strerror(errno));
		return;
	}
	/*
	 * The rest of the guest goes on allocating meanwhile (churn, page
	 * cache in tmpfs): stop short of the reserve rather than meet the
	 * OOM killer, which would pick this, the largest process.
	 */
	pages = len / PAGE;
	for (size_t i = 0; i < pages; i++) {
		uint64_t *p = (uint64_t *)(buf + i * PAGE);

		if (i % ZEROCHECK_RECHECK_PAGES == 0 && i &&
		    meminfo_kb("MemFree") <= ZEROCHECK_RESERVE_KB) {
			pages = i;
			break;
		}
		__atomic_fetch_or(p, 0, __ATOMIC_RELAXED);
		if (!page_is_zero(p))
			nonzero++;
	}
	munmap(buf, len);
	say("PVMIG-ZEROCHECK pages=%zu nonzero=%zu\n", pages, nonzero);
}

static int open_control(const char *path)
{
	struct termios t;
	int fd = open(path, O_RDONLY | O_NOCTTY);

	if (fd < 0)
		return -1;
	/* Whole lines, no echo back to the host, no line-ending translation. */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_lflag |= ICANON;
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvmig-freeprobe [--stale-mb N] [--control TTY]\n"
		"  --stale-mb N     fill and hold N MiB until \"free\" arrives\n"
		"  --control TTY    command port (default /dev/ttyS1)\n"
		"commands, one per line: free, zerocheck\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stale-mb", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = "/dev/ttyS1";
	unsigned long stale_mb = 0;
	unsigned char *stale = NULL;
	char line[64], *end;
	FILE *in;
	int c, fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			errno = 0;
			stale_mb = strtoul(optarg, &end, 0);
			if (errno || *end || stale_mb > (1ul << 20)) {
				fprintf(stderr, "freeprobe: bad --stale-mb '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			control = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (stale_mb) {
		stale = map_small_pages(stale_mb << 20);
		if (!stale) {
			fprintf(stderr, "freeprobe: cannot map %lu MiB: %s\n",
				stale_mb, strerror(errno));
			return 1;
		}
		memset(stale, STALE_BYTE, stale_mb << 20);
		say("PVMIG-STALE-HELD mb=%lu\n", stale_mb);
	}
	fd = open_control(control);
	if (fd < 0 || !(in = fdopen(fd, "r"))) {
		fprintf(stderr, "freeprobe: %s: %s\n", control, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!strcmp(line, "free") && stale) {
			/* init_on_free zeroes these pages as they are freed. */
			munmap(stale, stale_mb << 20);
			stale = NULL;
			say("PVMIG-STALE-FREED mb=%lu\n", stale_mb);
		} else if (!strcmp(line, "zerocheck")) {
			zerocheck();
		}
	}
	return 0;
}
