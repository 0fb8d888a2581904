/* In-guest helpers shared by pvmig-test-module and pvmig-bench-module. */
#include "pvmig_lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int broken(struct snap *s, const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->err = EPROTO;
	return -1;
}

int snapshot(int fd, size_t bufsz, range_fn fn, void *arg, struct snap *s)
{
	size_t cap = bufsz / sizeof(struct pvmig_range);
	struct pvmig_range *buf;
	uint64_t prev_end = 0, t0;
	int stop = 0, rc = 0;

	memset(s, 0, sizeof(*s));
	if (cap == 0)
		cap = 1;
	buf = malloc(cap * sizeof(*buf));
	if (!buf) {
		s->err = ENOMEM;
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		s->err = errno;
		free(buf);
		return -1;
	}
	t0 = now_ns();
	while (!stop) {
		ssize_t n = read(fd, buf, cap * sizeof(*buf));

		if (n < 0) {
			s->err = errno;
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (n % sizeof(*buf)) {
			rc = broken(s, "read returned a partial record");
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(*buf); i++) {
			const struct pvmig_range *r = &buf[i];

			if (r->nr_pages == 0) {
				rc = broken(s, "empty range");
				break;
			}
			if (s->ranges && r->start_pfn <= prev_end) {
				snprintf(s->why, sizeof(s->why),
					 "range %llu+%llu not above previous end %llu (unsorted, overlapping or unmerged)",
					 (unsigned long long)r->start_pfn,
					 (unsigned long long)r->nr_pages,
					 (unsigned long long)prev_end);
				s->err = EPROTO;
				rc = -1;
				break;
			}
			prev_end = r->start_pfn + r->nr_pages;
			s->ranges++;
			s->pages += r->nr_pages;
			if (fn && fn(r, arg)) {
				stop = 1;
				break;
			}
		}
		if (rc)
			break;
	}
	s->elapsed_ns = now_ns() - t0;
	free(buf);
	if (rc || stop)
		return rc;
	if (ioctl(fd, PVMIG_IOC_GET_INFO, &s->info) != 0) {
		s->err = errno;
		return -1;
	}
	if (!(s->info.flags & PVMIG_INFO_COMPLETE))
		return broken(s, "info not COMPLETE after read returned 0");
	if (s->info.pages_reported != s->pages ||
	    s->info.ranges_reported != s->ranges)
		return broken(s, "info totals differ from the ranges read");
	if (s->ranges && prev_end > s->info.max_pfn)
		return broken(s, "range beyond max_pfn");
	if (s->info.version != PVMIG_UAPI_VERSION ||
	    s->info.page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return broken(s, "bad version or page_size");
	return 0;
}

long meminfo_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long zoneinfo_pcp_pages(void)
{
	char line[256];
	long sum = 0, v;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " count: %ld", &v) == 1)
			sum += v;
	}
	fclose(f);
	return sum;
}

void *fragment(size_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *p;

	bytes -= bytes % (2 * pg);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* order-0 pages, so that freeing half of them leaves order-0 holes */
	madvise(p, bytes, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < bytes; off += pg)
		p[off] = 1;
	for (size_t off = pg; off < bytes; off += 2 * pg)
		madvise(p + off, pg, MADV_DONTNEED);
	return p;
}

int pagemap_pfns(const void *addr, size_t npages, uint64_t *pfns)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	off_t off = (off_t)((uintptr_t)addr / pg) * 8;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < npages) {
		ssize_t n = pread(fd, pfns + done, (npages - done) * 8,
				  off + (off_t)done * 8);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n / 8;
	}
	close(fd);
	for (size_t i = 0; i < npages; i++) {
		uint64_t e = pfns[i];

		/* bit 63: present; bits 0-54: PFN (root only) */
		pfns[i] = (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
	}
	return 0;
}

void module_path(const char *name, char *buf, size_t len)
{
	struct utsname u;

	if (!strcmp(name, "pvmig") && getenv("PVMIG_KO")) {
		snprintf(buf, len, "%s", getenv("PVMIG_KO"));
		return;
	}
	uname(&u);
	snprintf(buf, len, "/lib/modules/%s/extra/%s.ko", u.release, name);
}

int load_module(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	long rc;

	if (fd < 0)
		return -1;
	rc = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return rc ? -1 : 0;
}

int unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -1 : 0;
}
