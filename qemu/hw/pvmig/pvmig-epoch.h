/*
 * pvmig: the device's migration and epoch state machine, without QEMU
 *
 * Everything that decides whether a free-page hint may clear a page from
 * the migration bitmap lives here, in plain C, so that it can be tested
 * on its own (qemu/tests/unit/) and carried unchanged from one QEMU
 * version to the next.  pvmig.c only translates QEMU's events into these
 * calls and does the I/O.  The rule it enforces and why it is enough:
 * docs/safety.md ("The rule", "The epoch window", "Refusals"); where
 * each event comes from in QEMU: docs/qemu-hooks.md.
 *
 * In short: a migration begins at its first BEFORE_BITMAP_SYNC, where
 * hints are allowed or refused for all of it.  Each sync closes the open
 * epoch before the bitmap is collected (pvmig_epoch_before_sync()) and,
 * while the VM runs and hints are allowed, opens the next one after it
 * (pvmig_epoch_after_sync()).  A chunk of ranges may be applied only
 * while its own epoch is the open one.  A refusal lasts until the
 * migration ends; invalid input also makes the port ignored until the
 * guest reopens it.
 *
 * Locking: the caller serialises every call with one lock (the device
 * lock), except the SETUP wait (pvmig_epoch_setup_*()), which runs
 * without it so that its bound holds however long a chunk takes to
 * apply.  The fields the wait reads are written with atomic stores, and
 * every such write is followed by ops->wake().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PVMIG_EPOCH_H
#define HW_PVMIG_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/pvmig_counters.h"
#include "proto/pvmig_proto.h"

/* The device's counters, one uint64_t each: proto/pvmig_counters.h. */
typedef struct PvmigStats {
#define PVMIG_STAT_FIELD(name, desc) uint64_t name;
    PVMIG_COUNTERS(PVMIG_STAT_FIELD)
#undef PVMIG_STAT_FIELD
} PvmigStats;

/*
 * Why hints are refused.  Each reason has its counter, rejected_<reason>
 * in PvmigStats, and its name: one table, pvmig_refusals[] in
 * pvmig-epoch.c.  The order in which a migration's first sync checks them
 * is in epoch_begin() there and in docs/safety.md ("Refusals").
 */
typedef enum PvmigRefusal {
    PVMIG_ALLOWED,
    PVMIG_REFUSED_POSTCOPY,
    PVMIG_REFUSED_POISON,
    PVMIG_REFUSED_NO_AGENT,
    PVMIG_REFUSED_INVALID,
    PVMIG_REFUSED_DIRTY_LOG,
    PVMIG_REFUSED_CONTRACT,
    PVMIG_REFUSED_DEST_UNZEROED,
    PVMIG_REFUSED_REARM,
    PVMIG_REFUSAL__MAX,
} PvmigRefusal;

/* How the dirty log is re-armed after a bitmap sync (docs/safety.md). */
typedef enum PvmigDirtyLog {
    PVMIG_DIRTY_LOG_UNKNOWN,
    PVMIG_DIRTY_LOG_TCG,        /* the sync re-arms TCG's TLB tracking */
    PVMIG_DIRTY_LOG_RING,       /* the sync resets KVM's dirty rings */
    PVMIG_DIRTY_LOG_MANUAL,     /* KVM bitmap: re-armed lazily, per chunk */
} PvmigDirtyLog;

/* What a migration's first sync decides on; read only then. */
typedef struct PvmigBeginFacts {
    bool postcopy;              /* postcopy-ram is enabled */
    PvmigDirtyLog dirty_log;
    bool agent;                 /* port open, HELLO with the module */
    bool vm_running;
    enum pvmig_free_contract contract;  /* from the HELLO */
    bool dest_ram_zeroed;       /* property dest-ram-zeroed */
    bool ignore_contract;       /* test only: x-ignore-free-contract */
    bool rearm;                 /* test only: x-rearm=off skips re-arms */
} PvmigBeginFacts;

/* Calls back into the device; called with the device lock held. */
typedef struct PvmigEpochOps {
    /* A field the SETUP wait reads changed: wake it.  Required. */
    void (*wake)(void *opaque);
    /*
     * Under KVM's manual dirty log: write-protect what the sync just
     * collected, before the REQUEST.  False if it could not.  Required.
     */
    bool (*rearm)(void *opaque);
    /* Optional, for tracing. */
    void (*closed)(void *opaque, uint32_t epoch, const char *why);
    void (*rejected)(void *opaque, PvmigRefusal why);
} PvmigEpochOps;

typedef struct PvmigEpochState {
    const PvmigEpochOps *ops;
    void *opaque;
    uint64_t epoch_bytes_cap;   /* bytes accepted per epoch */

    PvmigStats stats;           /* reset when a migration begins */

    /* Per migration: from its first bitmap sync to CLEANUP. */
    bool active;
    PvmigRefusal refusal;
    PvmigDirtyLog dirty_log;
    bool unsent_only;           /* free pages must read as zero */
    bool rearm;                 /* re-arm the log before each REQUEST */
    uint32_t epoch;             /* last epoch issued; never reused */
    bool window_open;           /* chunks of @epoch may be applied */
    uint32_t first_epoch;       /* 0: none opened in this migration */
    bool first_epoch_done;      /* END or ERROR for first_epoch seen */
    uint64_t epoch_bytes;       /* bytes received while @epoch is open */

    /* Invalid input seen: the port is ignored until the guest reopens it. */
    bool broken;
} PvmigEpochState;

/* What to do with a chunk of ranges the decoder validated. */
typedef enum PvmigChunkVerdict {
    PVMIG_CHUNK_APPLY,          /* its epoch is the open one */
    PVMIG_CHUNK_REFUSED,        /* hints are refused in this migration */
    PVMIG_CHUNK_STALE,          /* a closed, older or future epoch */
} PvmigChunkVerdict;

/* Where the SETUP wait for the first epoch stands, or how it ended. */
typedef enum PvmigSetupState {
    PVMIG_SETUP_NONE,           /* no first epoch to wait for */
    PVMIG_SETUP_WAITING,        /* first epoch open, not answered yet */
    PVMIG_SETUP_ANSWERED,       /* its END or ERROR arrived */
    PVMIG_SETUP_CLOSED,         /* it closed unanswered: stop waiting */
    PVMIG_SETUP_TIMEOUT,        /* still unanswered at the deadline */
} PvmigSetupState;

/*
 * What the SETUP wait sleeps with.  Both are called with the caller's
 * wait lock held, the lock ops->wake() takes to wake the sleeper.
 */
typedef struct PvmigSetupClock {
    int64_t (*now_ms)(void *opaque);
    /* Sleep until woken or @ms pass, releasing the wait lock meanwhile. */
    void (*sleep_ms)(void *opaque, int64_t ms);
    void *opaque;
} PvmigSetupClock;

const char *pvmig_refusal_str(PvmigRefusal why);
const char *pvmig_setup_state_str(PvmigSetupState state);
/* The counter of refusal @why in @stats, NULL for PVMIG_ALLOWED. */
uint64_t *pvmig_refusal_counter(PvmigStats *stats, PvmigRefusal why);
const char *pvmig_dirty_log_str(PvmigDirtyLog mode);

void pvmig_epoch_init(PvmigEpochState *m, const PvmigEpochOps *ops,
                      void *opaque, uint64_t epoch_bytes_cap);

/* Counts one refused migration or dropped message under @why. */
void pvmig_epoch_count_rejected(PvmigEpochState *m, PvmigRefusal why);

/*
 * BEFORE_BITMAP_SYNC.  Begins a migration if none is active (counters
 * reset, hints allowed or refused from @facts), then closes the open
 * epoch: a chunk is never applied once the bitmap may have been
 * collected.  Returns true if a migration began.
 */
bool pvmig_epoch_before_sync(PvmigEpochState *m,
                             const PvmigBeginFacts *facts);

/*
 * AFTER_BITMAP_SYNC.  Opens the next epoch if a migration is active,
 * hints are allowed and @vm_running (a sync with the VM stopped is the
 * final one: nothing would close an epoch opened there).  Re-arms the
 * dirty log first where needed; a failed re-arm refuses hints.  Returns
 * the epoch opened, whose REQUEST the caller sends, or 0.
 */
uint32_t pvmig_epoch_after_sync(PvmigEpochState *m, bool vm_running);

/*
 * PRECOPY_NOTIFY_COMPLETE.  Closes the open epoch; returns it if one was
 * open (the caller tells the agent to stop its snapshot), else 0.
 */
uint32_t pvmig_epoch_complete(PvmigEpochState *m);

/* PRECOPY_NOTIFY_CLEANUP.  Ends the migration; true if one was active. */
bool pvmig_epoch_cleanup(PvmigEpochState *m);

/* A decoder's chunk for @epoch begins: may its ranges be applied? */
PvmigChunkVerdict pvmig_epoch_chunk_begin(PvmigEpochState *m,
                                          uint32_t epoch);

/*
 * Just before decoded ranges of @epoch are cleared from the bitmap: may
 * they be, now?  False once that epoch closed or hints were refused.
 */
bool pvmig_epoch_may_apply(const PvmigEpochState *m, uint32_t epoch);

/*
 * @len bytes arrived from the guest.  False if that takes the open epoch
 * over its cap: the caller then treats the input as invalid.
 */
bool pvmig_epoch_take_bytes(PvmigEpochState *m, uint64_t len);

/* The guest's END or ERROR for @epoch: ends the SETUP wait if it is its. */
void pvmig_epoch_answered(PvmigEpochState *m, uint32_t epoch);

/*
 * Invalid input: counted, hints refused for this migration, and the port
 * ignored (broken) until pvmig_epoch_agent_gone().
 */
void pvmig_epoch_invalid(PvmigEpochState *m);

/*
 * The guest closed the port.  Its input is trusted again from its next
 * HELLO, but hints stop for the migration under way: no answer can come
 * for the open epoch.
 */
void pvmig_epoch_agent_gone(PvmigEpochState *m);

/*
 * PRECOPY_NOTIFY_SETUP, with the caller's wait lock held and without the
 * device lock: waits at most @wait_ms for the first epoch's answer, so
 * that the bulk pass does not send pages about to be hinted.  Returns
 * NONE (nothing to wait for), ANSWERED, CLOSED or TIMEOUT.
 */
PvmigSetupState pvmig_epoch_setup_wait(const PvmigEpochState *m,
                                       uint32_t wait_ms,
                                       const PvmigSetupClock *clock);

/*
 * The reads it is made of, lock-free: is there a first epoch worth
 * waiting for, and where does it stand (WAITING, ANSWERED or CLOSED)?
 */
bool pvmig_epoch_setup_begin(const PvmigEpochState *m);
PvmigSetupState pvmig_epoch_setup_state(const PvmigEpochState *m);

#endif
