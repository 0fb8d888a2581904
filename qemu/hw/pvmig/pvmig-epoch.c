/*
 * pvmig: the device's migration and epoch state machine, without QEMU
 *
 * See pvmig-epoch.h for the interface and its locking, docs/safety.md
 * for why each check is there.  Only standard C: this file is compiled
 * into QEMU and into the unit tests in qemu/tests/unit/ alike.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "pvmig-epoch.h"

/*
 * Fields the SETUP wait reads without the device lock are stored and
 * loaded whole, with the same relaxed ordering as QEMU's qatomic_set()
 * and qatomic_read(); the wait's mutex and condition variable order them
 * against its sleep.
 */
#define EPOCH_SET(field, val) \
    __atomic_store_n(&(field), (val), __ATOMIC_RELAXED)
#define EPOCH_READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* The one table of refusal reasons: trace name and counter. */
#define PVMIG_REFUSAL(id, counter, str)                         \
    [PVMIG_REFUSED_##id] = {                                    \
        .name = str,                                            \
        .offset = offsetof(PvmigStats, rejected_##counter),     \
    },

static const struct {
    const char *name;
    size_t offset;
} pvmig_refusals[] = {
    PVMIG_REFUSAL(POSTCOPY, postcopy, "postcopy")
    PVMIG_REFUSAL(POISON, poison, "poison")
    PVMIG_REFUSAL(NO_AGENT, no_agent, "no-agent")
    PVMIG_REFUSAL(INVALID, invalid, "invalid")
    PVMIG_REFUSAL(DIRTY_LOG, dirty_log, "dirty-log")
    PVMIG_REFUSAL(CONTRACT, contract, "contract")
    PVMIG_REFUSAL(DEST_UNZEROED, dest_unzeroed, "dest-unzeroed")
    PVMIG_REFUSAL(REARM, rearm, "rearm")
};

_Static_assert(sizeof(pvmig_refusals) / sizeof(pvmig_refusals[0]) ==
               PVMIG_REFUSAL__MAX, "a refusal reason without a table row");

static bool refusal_known(PvmigRefusal why)
{
    return why > PVMIG_ALLOWED && why < PVMIG_REFUSAL__MAX &&
           pvmig_refusals[why].name;
}

const char *pvmig_refusal_str(PvmigRefusal why)
{
    if (why == PVMIG_ALLOWED) {
        return "allowed";
    }
    return refusal_known(why) ? pvmig_refusals[why].name : "unknown";
}

uint64_t *pvmig_refusal_counter(PvmigStats *stats, PvmigRefusal why)
{
    if (!refusal_known(why)) {
        return NULL;
    }
    return (uint64_t *)((char *)stats + pvmig_refusals[why].offset);
}

const char *pvmig_setup_state_str(PvmigSetupState state)
{
    switch (state) {
    case PVMIG_SETUP_NONE:
        return "no-epoch";
    case PVMIG_SETUP_WAITING:
        return "waiting";
    case PVMIG_SETUP_ANSWERED:
        return "answered";
    case PVMIG_SETUP_CLOSED:
        return "closed";
    case PVMIG_SETUP_TIMEOUT:
        return "timeout";
    }
    return "unknown";
}

const char *pvmig_dirty_log_str(PvmigDirtyLog mode)
{
    switch (mode) {
    case PVMIG_DIRTY_LOG_TCG:
        return "tcg";
    case PVMIG_DIRTY_LOG_RING:
        return "ring";
    case PVMIG_DIRTY_LOG_MANUAL:
        return "manual";
    case PVMIG_DIRTY_LOG_UNKNOWN:
        break;
    }
    return "unknown";
}

void pvmig_epoch_init(PvmigEpochState *m, const PvmigEpochOps *ops,
                      void *opaque, uint64_t epoch_bytes_cap)
{
    memset(m, 0, sizeof(*m));
    m->ops = ops;
    m->opaque = opaque;
    m->epoch_bytes_cap = epoch_bytes_cap;
}

void pvmig_epoch_count_rejected(PvmigEpochState *m, PvmigRefusal why)
{
    uint64_t *counter = pvmig_refusal_counter(&m->stats, why);

    if (!counter) {
        return;
    }
    (*counter)++;
    m->stats.rejected_messages++;
    if (m->ops->rejected) {
        m->ops->rejected(m->opaque, why);
    }
}

static void epoch_close(PvmigEpochState *m, const char *why)
{
    if (!m->window_open) {
        return;
    }
    EPOCH_SET(m->window_open, false);
    m->ops->wake(m->opaque);
    if (m->ops->closed) {
        m->ops->closed(m->opaque, m->epoch, why);
    }
}

/* Stops hinting for the rest of this migration; the first reason sticks. */
static void epoch_refuse(PvmigEpochState *m, PvmigRefusal why)
{
    if (m->active && m->refusal == PVMIG_ALLOWED) {
        EPOCH_SET(m->refusal, why);
        m->ops->wake(m->opaque);
        epoch_close(m, pvmig_refusal_str(why));
    }
}

/*
 * What the guest's free pages must read as decides how a hint may be
 * applied (docs/safety.md, "The free-page contract"): never read (any
 * older copy will do), zero (only a page never sent, on a destination
 * whose RAM starts zeroed), or a poison pattern (nothing will do).
 */
static PvmigRefusal epoch_contract(PvmigEpochState *m,
                                   const PvmigBeginFacts *f)
{
    if (f->ignore_contract) {
        return PVMIG_ALLOWED;
    }
    switch (f->contract) {
    case PVMIG_FREE_ANY:
        return PVMIG_ALLOWED;
    case PVMIG_FREE_ZERO:
        if (!f->dest_ram_zeroed) {
            return PVMIG_REFUSED_DEST_UNZEROED;
        }
        m->unsent_only = true;
        return PVMIG_ALLOWED;
    case PVMIG_FREE_PATTERN:
        return PVMIG_REFUSED_POISON;
    case PVMIG_FREE_CONTRADICTORY:
        break;
    }
    return PVMIG_REFUSED_CONTRACT;
}

/* First sync of a migration: reset counters, decide on hints. */
static void epoch_begin(PvmigEpochState *m, const PvmigBeginFacts *f)
{
    PvmigRefusal why;

    memset(&m->stats, 0, sizeof(m->stats));
    m->dirty_log = f->dirty_log;
    m->rearm = f->dirty_log == PVMIG_DIRTY_LOG_MANUAL && f->rearm;
    m->unsent_only = false;
    m->epoch_bytes = 0;
    EPOCH_SET(m->window_open, false);
    EPOCH_SET(m->first_epoch, 0);
    EPOCH_SET(m->first_epoch_done, false);

    if (f->postcopy) {
        /*
         * A postcopy destination that faults on a hinted page would wait
         * for a page the source never sends (as virtio-balloon's hints).
         */
        why = PVMIG_REFUSED_POSTCOPY;
    } else if (f->dirty_log == PVMIG_DIRTY_LOG_UNKNOWN) {
        /* No way to know that a write after the REQUEST gets logged. */
        why = PVMIG_REFUSED_DIRTY_LOG;
    } else if (m->broken) {
        why = PVMIG_REFUSED_INVALID;
    } else if (!f->agent || !f->vm_running) {
        why = PVMIG_REFUSED_NO_AGENT;
    } else {
        why = epoch_contract(m, f);
    }
    EPOCH_SET(m->refusal, why);
    EPOCH_SET(m->active, true);
    m->ops->wake(m->opaque);
    pvmig_epoch_count_rejected(m, why);
}

bool pvmig_epoch_before_sync(PvmigEpochState *m, const PvmigBeginFacts *facts)
{
    bool began = !m->active;

    if (began) {
        epoch_begin(m, facts);
    }
    epoch_close(m, "sync");
    return began;
}

uint32_t pvmig_epoch_after_sync(PvmigEpochState *m, bool vm_running)
{
    uint32_t epoch;

    if (!m->active || m->refusal != PVMIG_ALLOWED || m->broken ||
        !vm_running) {
        return 0;
    }
    if (m->rearm && !m->ops->rearm(m->opaque)) {
        pvmig_epoch_count_rejected(m, PVMIG_REFUSED_REARM);
        epoch_refuse(m, PVMIG_REFUSED_REARM);
        return 0;
    }
    /* 0 means "none" everywhere: skip it when the counter wraps. */
    epoch = m->epoch == UINT32_MAX ? 1 : m->epoch + 1;
    EPOCH_SET(m->epoch, epoch);
    m->epoch_bytes = 0;
    m->stats.epochs++;
    if (!m->first_epoch) {
        EPOCH_SET(m->first_epoch, epoch);
    }
    EPOCH_SET(m->window_open, true);
    m->ops->wake(m->opaque);
    return epoch;
}

uint32_t pvmig_epoch_complete(PvmigEpochState *m)
{
    uint32_t open = m->window_open ? m->epoch : 0;

    epoch_close(m, "complete");
    return open;
}

bool pvmig_epoch_cleanup(PvmigEpochState *m)
{
    bool was_active = m->active;

    epoch_close(m, "cleanup");
    EPOCH_SET(m->active, false);
    m->ops->wake(m->opaque);
    return was_active;
}

PvmigChunkVerdict pvmig_epoch_chunk_begin(PvmigEpochState *m, uint32_t epoch)
{
    if (pvmig_epoch_may_apply(m, epoch)) {
        return PVMIG_CHUNK_APPLY;
    }
    if (m->active && m->refusal != PVMIG_ALLOWED) {
        pvmig_epoch_count_rejected(m, m->refusal);
        return PVMIG_CHUNK_REFUSED;
    }
    m->stats.stale_messages++;
    return PVMIG_CHUNK_STALE;
}

bool pvmig_epoch_may_apply(const PvmigEpochState *m, uint32_t epoch)
{
    return m->active && m->refusal == PVMIG_ALLOWED && !m->broken &&
           m->window_open && epoch == m->epoch;
}

bool pvmig_epoch_take_bytes(PvmigEpochState *m, uint64_t len)
{
    if (!m->window_open) {
        return true;
    }
    m->epoch_bytes += len;
    return m->epoch_bytes <= m->epoch_bytes_cap;
}

void pvmig_epoch_answered(PvmigEpochState *m, uint32_t epoch)
{
    if (m->active && epoch && epoch == m->first_epoch) {
        EPOCH_SET(m->first_epoch_done, true);
        m->ops->wake(m->opaque);
    }
}

void pvmig_epoch_invalid(PvmigEpochState *m)
{
    pvmig_epoch_count_rejected(m, PVMIG_REFUSED_INVALID);
    m->broken = true;
    epoch_refuse(m, PVMIG_REFUSED_INVALID);
}

void pvmig_epoch_agent_gone(PvmigEpochState *m)
{
    m->broken = false;
    if (m->active && m->refusal == PVMIG_ALLOWED) {
        pvmig_epoch_count_rejected(m, PVMIG_REFUSED_NO_AGENT);
        epoch_refuse(m, PVMIG_REFUSED_NO_AGENT);
    }
}

bool pvmig_epoch_setup_begin(const PvmigEpochState *m)
{
    return EPOCH_READ(m->active) &&
           EPOCH_READ(m->refusal) == PVMIG_ALLOWED &&
           EPOCH_READ(m->first_epoch) != 0;
}

/*
 * The wait is for the first epoch only: once it closed (a sync, a
 * refusal, the end of the migration) its answer can no longer be applied,
 * so waiting for it would only hold the bulk pass back.  A later epoch
 * being open does not count: with extra syncs (QEMU 10.0's dirty-sync
 * timer) the first epoch may close while the wait is under way.
 */
PvmigSetupState pvmig_epoch_setup_state(const PvmigEpochState *m)
{
    if (EPOCH_READ(m->first_epoch_done)) {
        return PVMIG_SETUP_ANSWERED;
    }
    if (EPOCH_READ(m->active) && EPOCH_READ(m->window_open) &&
        EPOCH_READ(m->epoch) == EPOCH_READ(m->first_epoch)) {
        return PVMIG_SETUP_WAITING;
    }
    return PVMIG_SETUP_CLOSED;
}

/*
 * Every change of what pvmig_epoch_setup_state() reads is followed by
 * ops->wake(), which takes the wait lock held here: a change between the
 * read and the sleep waits for the sleep to begin, and then wakes it.
 */
PvmigSetupState pvmig_epoch_setup_wait(const PvmigEpochState *m,
                                       uint32_t wait_ms,
                                       const PvmigSetupClock *clock)
{
    int64_t now, deadline;
    PvmigSetupState state;

    if (!pvmig_epoch_setup_begin(m)) {
        return PVMIG_SETUP_NONE;
    }
    now = clock->now_ms(clock->opaque);
    deadline = now + wait_ms;
    state = pvmig_epoch_setup_state(m);
    while (state == PVMIG_SETUP_WAITING && now < deadline) {
        clock->sleep_ms(clock->opaque, deadline - now);
        now = clock->now_ms(clock->opaque);
        state = pvmig_epoch_setup_state(m);
    }
    return state == PVMIG_SETUP_WAITING ? PVMIG_SETUP_TIMEOUT : state;
}
