/*
 * pvmig test-only hint log
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PVMIG_HINT_LOG_H
#define HW_PVMIG_HINT_LOG_H

#include "exec/cpu-common.h"

bool pvmig_hint_log_enabled(void);
void pvmig_hint_log_range(RAMBlock *rb, ram_addr_t offset,
                          const void *host, size_t len);
/* The same for a host address inside guest RAM (callers outside ram.c). */
void pvmig_hint_log_host(const void *host, size_t len);
void pvmig_hint_log_flush(void);
/* Time spent logging hints since QEMU started (0 without the log). */
uint64_t pvmig_hint_log_cost_ns(void);

#endif
