/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pvmig: user-space interface of /dev/pvmig.
 *
 * A snapshot is one pass over the buddy allocator that reports the
 * guest-physical page ranges it observed free.  The module keeps no copy
 * of the snapshot: ranges are produced while the reader reads, so the
 * module never allocates memory in proportion to the guest.
 *
 * Protocol:
 *   fd = open("/dev/pvmig", O_RDONLY);   only one opener at a time,
 *                                        others get -EBUSY
 *   read(fd, buf, n)   at file position 0 starts a new snapshot; each read
 *                      returns whole struct pvmig_range records (n must be
 *                      at least one record, else -EINVAL), ascending by
 *                      start_pfn, non-overlapping, adjacent blocks merged;
 *                      0 means the snapshot is complete.
 *   lseek(fd, 0, SEEK_SET)   rewinds: the next read starts a new snapshot.
 *   ioctl(fd, PVMIG_IOC_GET_INFO, &info)   the snapshot's header: fields
 *                      known at its start are valid at once, the totals
 *                      once PVMIG_INFO_COMPLETE is set.
 *
 * Every page in a reported range was seen free (PageBuddy under zone->lock)
 * at some moment after the snapshot started.  Pages on per-cpu lists or
 * otherwise not in the buddy allocator are simply not reported.
 */
#ifndef _UAPI_PVMIG_H
#define _UAPI_PVMIG_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * 1: first version.
 * 2: the ioctl type moved from 0xB7 (registered to remoteproc and nsfs
 *    in Documentation/userspace-api/ioctl/ioctl-number.rst) to 0xBA.
 */
#define PVMIG_UAPI_VERSION	2

struct pvmig_range {
	__u64 start_pfn;
	__u64 nr_pages;
};

/* info.flags */
#define PVMIG_INFO_COMPLETE	_BITUL(0) /* totals below are final */
#define PVMIG_INFO_POISONING	_BITUL(1) /* page poisoning is on */
#define PVMIG_INFO_INIT_ON_FREE	_BITUL(2) /* freed pages are zeroed */
#define PVMIG_INFO_TRUNCATED	_BITUL(3) /* walk stopped early (signal) */

struct pvmig_snapshot_info {
	__u32 version;		/* PVMIG_UAPI_VERSION */
	__u32 page_size;	/* bytes */
	__u64 snapshot_id;	/* 1, 2, ... per module load; 0: none yet */
	__u32 flags;		/* PVMIG_INFO_* */
	__u32 poison_pattern;	/* byte value, valid with PVMIG_INFO_POISONING */
	__u64 max_pfn;		/* end of the guest RAM span (exclusive) */
	__u64 nr_free_pages;	/* sum of zones' NR_FREE_PAGES at start */
	__u64 pages_reported;
	__u64 ranges_reported;
	__u64 walk_ns;		/* first to last zone visited */
	__u64 max_hold_ns;	/* longest zone->lock hold */
	__u64 lock_holds;	/* how many times zone->lock was taken */
	__u64 hold_limit_ns;	/* the bound on one hold (module parameter) */
	/* holds past hold_limit_ns + 25 us (a vCPU stalled by the host, or a bug) */
	__u64 holds_over_limit;
	__u64 reserved[4];
};

/*
 * The ioctl type: free in Documentation/userspace-api/ioctl/
 * ioctl-number.rst (in 6.1 and in a recent linux-next, where 0xB8 is the
 * highest of the 0xBx types taken) and used as a type by no 6.1 source
 * (DRM's 0xBA is a command number under type 'd', not a type).
 */
#define PVMIG_IOC_MAGIC		0xBA
#define PVMIG_IOC_GET_INFO	_IOR(PVMIG_IOC_MAGIC, 1, struct pvmig_snapshot_info)

#endif /* _UAPI_PVMIG_H */
