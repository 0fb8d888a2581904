/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmig: the kernel API differences between the kernels the module is
 * built for (Debian 12's 6.1 and Debian 13's 6.12), all in this one file.
 * The module's other files use only what is the same in both, or the
 * PVMIG_* names defined here.  Where a feature test is possible it is
 * preferred to LINUX_VERSION_CODE, which a backport would fool.
 */
#ifndef _PVMIG_COMPAT_H
#define _PVMIG_COMPAT_H

#include <linux/log2.h>
#include <linux/mmzone.h>
#include <linux/version.h>

/*
 * Number of buddy orders.  6.4 changed MAX_ORDER from the count to the
 * largest order, and 6.8 renamed it MAX_PAGE_ORDER and added
 * NR_PAGE_ORDERS, but MAX_ORDER_NR_PAGES (the size of the largest block)
 * kept its meaning throughout, so derive it from that where
 * NR_PAGE_ORDERS is missing.
 */
#ifdef NR_PAGE_ORDERS
#define PVMIG_NR_ORDERS		NR_PAGE_ORDERS
#else
#define PVMIG_NR_ORDERS		(ilog2(MAX_ORDER_NR_PAGES) + 1)
#endif

#endif /* _PVMIG_COMPAT_H */
