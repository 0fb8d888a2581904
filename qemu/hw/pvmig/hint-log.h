/*
 * pvmig test-only hint log: built only with configure
 * --enable-pvmig-hint-log (CONFIG_PVMIG_HINT_LOG); a product build gets
 * the inline stubs below, which log nothing and cost nothing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PVMIG_HINT_LOG_H
#define HW_PVMIG_HINT_LOG_H

#ifdef CONFIG_PVMIG_HINT_LOG

bool pvmig_hint_log_enabled(void);
/* Records the guest RAM at host address @host, @len bytes, as hinted. */
void pvmig_hint_log_host(const void *host, size_t len);
void pvmig_hint_log_flush(void);
/* Time spent logging hints since QEMU started (0 without the log). */
uint64_t pvmig_hint_log_cost_ns(void);

#else

static inline bool pvmig_hint_log_enabled(void)
{
    return false;
}

static inline void pvmig_hint_log_host(const void *host, size_t len)
{
}

static inline void pvmig_hint_log_flush(void)
{
}

static inline uint64_t pvmig_hint_log_cost_ns(void)
{
    return 0;
}

#endif

#endif
