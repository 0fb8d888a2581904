// SPDX-License-Identifier: MIT
/* Snapshot sources: /dev/pvmig or a file of struct pvmig_range records. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pvmig_proto.h"
#include "snapshot.h"

/*
 * Span of guest RAM when the module cannot tell: the end of the highest
 * "System RAM" resource.  /proc/iomem shows zeros to non-root readers; then
 * the number of RAM pages is a lower bound, good enough for a HELLO that
 * says no ranges will follow.
 */
static uint64_t fallback_max_pfn(uint32_t page_size)
{
	FILE *f = fopen("/proc/iomem", "re");
	unsigned long long start, end, top = 0;
	char line[256];
	long pages;

	while (f && fgets(line, sizeof(line), f)) {
		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%llx-%llx", &start, &end) == 2 && end > top)
			top = end;
	}
	if (f)
		fclose(f);
	if (top)
		return (top + 1) / page_size;
	pages = sysconf(_SC_PHYS_PAGES);
	return pages > 0 ? (uint64_t)pages : 1;
}

void snap_probe(const struct snap_src *s, struct pvmig_hello *h)
{
	struct pvmig_snapshot_info info;
	long ps = sysconf(_SC_PAGESIZE);
	int fd;

	memset(h, 0, sizeof(*h));
	h->proto_version = PVMIG_PROTO_VERSION;
	h->page_size = ps > 0 ? (uint32_t)ps : 4096;
	if (s->file) {
		h->caps = access(s->file, R_OK) == 0 ? PVMIG_CAP_MODULE : 0;
		h->max_pfn = fallback_max_pfn(h->page_size);
		return;
	}
	fd = open(s->device, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* EBUSY: the module is there, another reader holds it. */
		h->caps = errno == EBUSY ? PVMIG_CAP_MODULE : 0;
		h->max_pfn = fallback_max_pfn(h->page_size);
		return;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, PVMIG_IOC_GET_INFO, &info) == 0 && info.page_size) {
		h->page_size = info.page_size;
		/* Known only once a snapshot has started. */
		h->max_pfn = info.max_pfn ? info.max_pfn :
			     fallback_max_pfn(info.page_size);
		h->caps = PVMIG_CAP_MODULE;
		if (info.flags & PVMIG_INFO_POISONING) {
			h->caps |= PVMIG_CAP_POISONING;
			h->poison_pattern = (uint8_t)info.poison_pattern;
		}
		if (info.flags & PVMIG_INFO_INIT_ON_FREE)
			h->caps |= PVMIG_CAP_INIT_ON_FREE;
	} else {
		/* A device we cannot query is not one we trust for ranges. */
		h->max_pfn = fallback_max_pfn(h->page_size);
	}
	close(fd);
}

int snap_begin(struct snap_src *s)
{
	const char *path = s->file ? s->file : s->device;

	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	/* Position 0 starts a new snapshot (module); rewinds (file). */
	if (lseek(s->fd, 0, SEEK_SET) < 0) {
		int err = -errno;

		snap_end(s);
		return err;
	}
	return 0;
}

long snap_read(struct snap_src *s, struct pvmig_range *r, size_t max)
{
	ssize_t n;

	if (s->delay_ms)
		poll(NULL, 0, (int)s->delay_ms);
	do {
		n = read(s->fd, r, max * sizeof(*r));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n % (ssize_t)sizeof(*r))
		return -EPROTO;	/* the ABI returns whole records only */
	return (long)(n / (ssize_t)sizeof(*r));
}

int snap_info(struct snap_src *s, struct pvmig_snapshot_info *info)
{
	memset(info, 0, sizeof(*info));
	if (s->file || s->fd < 0)
		return 0;
	if (ioctl(s->fd, PVMIG_IOC_GET_INFO, info) < 0)
		return -errno;
	return 0;
}

void snap_end(struct snap_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
