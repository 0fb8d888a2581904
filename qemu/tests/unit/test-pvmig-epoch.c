/*
 * Unit tests of the pvmig device's migration and epoch state machine
 * (qemu/hw/pvmig/pvmig-epoch.c), without QEMU.
 *
 * The event sequences follow QEMU's precopy notifications as described
 * in docs/qemu-hooks.md: 7.2's order, where PRECOPY_NOTIFY_COMPLETE comes
 * before the final sync, and the orders QEMU 10.0 allows, where the
 * completion notification moved into migration_completion_precopy() and
 * a dirty-sync timer may add syncs at any time.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "pvmig-epoch.h"

#define CAP (1u << 20)

typedef struct Fixture {
    PvmigEpochState m;
    int wakes;
    int rearm_calls;
    bool rearm_ok;
    int closed;
    uint32_t closed_epoch;
    char closed_why[32];
    int rejected;
    PvmigRefusal rejected_why;
} Fixture;

static void fx_wake(void *opaque)
{
    ((Fixture *)opaque)->wakes++;
}

static bool fx_rearm(void *opaque)
{
    Fixture *f = opaque;

    f->rearm_calls++;
    return f->rearm_ok;
}

static void fx_closed(void *opaque, uint32_t epoch, const char *why)
{
    Fixture *f = opaque;

    f->closed++;
    f->closed_epoch = epoch;
    snprintf(f->closed_why, sizeof(f->closed_why), "%s", why);
}

static void fx_rejected(void *opaque, PvmigRefusal why)
{
    Fixture *f = opaque;

    f->rejected++;
    f->rejected_why = why;
}

static const PvmigEpochOps fx_ops = {
    .wake = fx_wake,
    .rearm = fx_rearm,
    .closed = fx_closed,
    .rejected = fx_rejected,
};

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->rearm_ok = true;
    pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* A guest with a working agent under TCG: hints allowed. */
static PvmigBeginFacts good_facts(void)
{
    PvmigBeginFacts facts = {
        .postcopy = false,
        .dirty_log = PVMIG_DIRTY_LOG_TCG,
        .agent = true,
        .vm_running = true,
        .contract = PVMIG_FREE_ANY,
        .dest_ram_zeroed = true,
        .ignore_contract = false,
        .rearm = true,
    };
    return facts;
}

/* The invariant every state must keep: an open window implies hints. */
static void check_invariants(const PvmigEpochState *m)
{
    if (m->window_open) {
        assert_true(m->active);
        assert_int_equal(m->refusal, PVMIG_ALLOWED);
        assert_false(m->broken);
        assert_int_not_equal(m->epoch, 0);
        assert_int_not_equal(m->first_epoch, 0);
    }
    if (!m->active) {
        assert_false(m->window_open);
    }
}

/*
 * One bitmap sync as QEMU raises it.  Between BEFORE and AFTER the
 * bitmap is collected: no chunk of the epoch open before may be applied
 * from then on.  Returns the epoch AFTER opened.
 */
static uint32_t sync_round(Fixture *f, const PvmigBeginFacts *facts,
                           bool vm_running)
{
    uint32_t before = f->m.epoch;

    pvmig_epoch_before_sync(&f->m, facts);
    /* The bitmap is collected here. */
    assert_false(f->m.window_open);
    assert_false(pvmig_epoch_may_apply(&f->m, before));
    check_invariants(&f->m);
    return pvmig_epoch_after_sync(&f->m, vm_running);
}

/* A migration that has just opened its first epoch (7.2's setup). */
static uint32_t start_migration(Fixture *f)
{
    PvmigBeginFacts facts = good_facts();
    uint32_t e;

    e = sync_round(f, &facts, true);
    assert_int_not_equal(e, 0);
    return e;
}

/* ---- tables ---- */

/*
 * Written out here rather than taken from the device's table, so that a
 * row with the wrong counter or name there fails.
 */
static void test_refusal_table(void **state)
{
    Fixture *f = *state;
    static const struct {
        PvmigRefusal why;
        size_t off;
        const char *name;
    } table[] = {
        { PVMIG_REFUSED_POSTCOPY, offsetof(PvmigStats, rejected_postcopy),
          "postcopy" },
        { PVMIG_REFUSED_POISON, offsetof(PvmigStats, rejected_poison),
          "poison" },
        { PVMIG_REFUSED_NO_AGENT, offsetof(PvmigStats, rejected_no_agent),
          "no-agent" },
        { PVMIG_REFUSED_INVALID, offsetof(PvmigStats, rejected_invalid),
          "invalid" },
        { PVMIG_REFUSED_DIRTY_LOG, offsetof(PvmigStats, rejected_dirty_log),
          "dirty-log" },
        { PVMIG_REFUSED_CONTRACT, offsetof(PvmigStats, rejected_contract),
          "contract" },
        { PVMIG_REFUSED_DEST_UNZEROED,
          offsetof(PvmigStats, rejected_dest_unzeroed), "dest-unzeroed" },
        { PVMIG_REFUSED_REARM, offsetof(PvmigStats, rejected_rearm),
          "rearm" },
    };
    size_t i;

    assert_int_equal(sizeof(table) / sizeof(table[0]),
                     PVMIG_REFUSAL__MAX - 1);
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const uint64_t *ctr;

        assert_string_equal(pvmig_refusal_str(table[i].why), table[i].name);
        ctr = (const uint64_t *)((const char *)&f->m.stats + table[i].off);
        assert_ptr_equal(pvmig_refusal_counter(&f->m.stats, table[i].why),
                         ctr);
        memset(&f->m.stats, 0, sizeof(f->m.stats));
        f->rejected = 0;
        pvmig_epoch_count_rejected(&f->m, table[i].why);
        assert_int_equal(*ctr, 1);
        assert_int_equal(f->m.stats.rejected_messages, 1);
        assert_int_equal(f->rejected, 1);
        assert_int_equal(f->rejected_why, table[i].why);
    }
    /* Nothing is counted for "allowed" or a value out of range. */
    memset(&f->m.stats, 0, sizeof(f->m.stats));
    f->rejected = 0;
    pvmig_epoch_count_rejected(&f->m, PVMIG_ALLOWED);
    pvmig_epoch_count_rejected(&f->m, PVMIG_REFUSAL__MAX);
    assert_int_equal(f->m.stats.rejected_messages, 0);
    assert_int_equal(f->rejected, 0);
    assert_null(pvmig_refusal_counter(&f->m.stats, PVMIG_ALLOWED));
    assert_null(pvmig_refusal_counter(&f->m.stats, PVMIG_REFUSAL__MAX));
    assert_string_equal(pvmig_refusal_str(PVMIG_ALLOWED), "allowed");
    assert_string_equal(pvmig_refusal_str(PVMIG_REFUSAL__MAX), "unknown");
    assert_string_equal(pvmig_dirty_log_str(PVMIG_DIRTY_LOG_MANUAL),
                        "manual");
    assert_string_equal(pvmig_dirty_log_str((PvmigDirtyLog)99), "unknown");
}

static void test_stats_from_counter_list(void **state)
{
    size_t n = 0;

    (void)state;
#define COUNT(name, desc) n++;
    PVMIG_COUNTERS(COUNT)
#undef COUNT
    assert_int_equal(sizeof(PvmigStats), n * sizeof(uint64_t));
}

/* ---- begin and refusals ---- */

static void test_begin_resets_and_allows(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();

    f->m.stats.pages_cleared = 123;
    f->m.stats.rejected_messages = 7;
    assert_true(pvmig_epoch_before_sync(&f->m, &facts));
    assert_true(f->m.active);
    assert_int_equal(f->m.refusal, PVMIG_ALLOWED);
    assert_int_equal(f->m.stats.pages_cleared, 0);
    assert_int_equal(f->m.stats.rejected_messages, 0);
    assert_false(f->m.window_open);
    /* A second BEFORE in the same migration does not begin again. */
    assert_false(pvmig_epoch_before_sync(&f->m, &facts));
    assert_int_equal(pvmig_epoch_after_sync(&f->m, true), 1);
    assert_true(f->m.window_open);
    assert_int_equal(f->m.first_epoch, 1);
    assert_int_equal(f->m.stats.epochs, 1);
    assert_int_equal(f->rearm_calls, 0);
    check_invariants(&f->m);
}

static void test_begin_precedence(void **state)
{
    Fixture *f = *state;
    static const struct {
        const char *what;
        bool postcopy, unknown_log, broken, no_agent, stopped;
        enum pvmig_free_contract contract;
        bool dest_unzeroed, ignore;
        PvmigRefusal want;
        bool unsent_only;
    } cases[] = {
        { "all good", 0, 0, 0, 0, 0, PVMIG_FREE_ANY, 0, 0,
          PVMIG_ALLOWED, 0 },
        { "postcopy over all", 1, 1, 1, 1, 1, PVMIG_FREE_PATTERN, 1, 0,
          PVMIG_REFUSED_POSTCOPY, 0 },
        { "unknown log over broken", 0, 1, 1, 1, 1, PVMIG_FREE_PATTERN, 1,
          0, PVMIG_REFUSED_DIRTY_LOG, 0 },
        { "broken over no agent", 0, 0, 1, 1, 0, PVMIG_FREE_ANY, 0, 0,
          PVMIG_REFUSED_INVALID, 0 },
        { "no agent over contract", 0, 0, 0, 1, 0, PVMIG_FREE_PATTERN, 0,
          0, PVMIG_REFUSED_NO_AGENT, 0 },
        { "vm stopped", 0, 0, 0, 0, 1, PVMIG_FREE_ANY, 0, 0,
          PVMIG_REFUSED_NO_AGENT, 0 },
        { "poison", 0, 0, 0, 0, 0, PVMIG_FREE_PATTERN, 0, 0,
          PVMIG_REFUSED_POISON, 0 },
        { "contradictory", 0, 0, 0, 0, 0, PVMIG_FREE_CONTRADICTORY, 0, 0,
          PVMIG_REFUSED_CONTRACT, 0 },
        { "zero, dest zeroed", 0, 0, 0, 0, 0, PVMIG_FREE_ZERO, 0, 0,
          PVMIG_ALLOWED, 1 },
        { "zero, dest unzeroed", 0, 0, 0, 0, 0, PVMIG_FREE_ZERO, 1, 0,
          PVMIG_REFUSED_DEST_UNZEROED, 0 },
        { "contract ignored", 0, 0, 0, 0, 0, PVMIG_FREE_PATTERN, 1, 1,
          PVMIG_ALLOWED, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        PvmigBeginFacts facts = good_facts();
        uint32_t e;

        pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
        /* A previous migration's zero contract must not leak into this. */
        f->m.unsent_only = true;
        f->m.broken = cases[i].broken;
        facts.postcopy = cases[i].postcopy;
        facts.dirty_log = PVMIG_DIRTY_LOG_TCG;
        if (cases[i].unknown_log) {
            facts.dirty_log = PVMIG_DIRTY_LOG_UNKNOWN;
        }
        facts.agent = !cases[i].no_agent;
        facts.vm_running = !cases[i].stopped;
        facts.contract = cases[i].contract;
        facts.dest_ram_zeroed = !cases[i].dest_unzeroed;
        facts.ignore_contract = cases[i].ignore;

        e = sync_round(f, &facts, true);
        if (f->m.refusal != cases[i].want) {
            fail_msg("%s: refusal %s, want %s", cases[i].what,
                     pvmig_refusal_str(f->m.refusal),
                     pvmig_refusal_str(cases[i].want));
        }
        assert_int_equal(f->m.unsent_only, cases[i].unsent_only);
        assert_int_equal(f->m.stats.rejected_messages,
                         cases[i].want != PVMIG_ALLOWED);
        assert_int_equal(e != 0, cases[i].want == PVMIG_ALLOWED);
        check_invariants(&f->m);
    }
}

/* Facts are read once, at the migration's first sync. */
static void test_refusal_sticky_until_cleanup(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    PvmigBeginFacts good = good_facts();
    int i;

    facts.agent = false;
    assert_int_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_NO_AGENT);
    assert_int_equal(f->m.stats.rejected_no_agent, 1);
    /* The agent connects meanwhile: still refused, every later sync. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(sync_round(f, &good, true), 0);
    }
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_NO_AGENT);
    assert_false(pvmig_epoch_setup_begin(&f->m));
    /* Its chunks are dropped and counted under the refusal. */
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, f->m.epoch),
                     PVMIG_CHUNK_REFUSED);
    assert_int_equal(f->m.stats.rejected_no_agent, 2);
    assert_int_equal(f->m.stats.stale_messages, 0);
    /* A later refusal reason does not replace the first. */
    pvmig_epoch_invalid(&f->m);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_NO_AGENT);
    pvmig_epoch_agent_gone(&f->m);

    assert_true(pvmig_epoch_cleanup(&f->m));
    assert_int_equal(sync_round(f, &good, true), 1);
    assert_int_equal(f->m.refusal, PVMIG_ALLOWED);
    assert_int_equal(f->m.stats.rejected_messages, 0);
}

static void test_invalid_mid_epoch(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);
    int wakes = f->wakes;

    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_APPLY);
    pvmig_epoch_invalid(&f->m);
    assert_true(f->m.broken);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_INVALID);
    assert_int_equal(f->m.stats.rejected_invalid, 1);
    assert_false(f->m.window_open);
    assert_string_equal(f->closed_why, "invalid");
    assert_true(f->wakes > wakes);
    /* Pieces of the chunk decoded before the refusal are dropped. */
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_CLOSED);
    assert_int_equal(sync_round(f, &facts, true), 0);
    check_invariants(&f->m);
    /* Reopening the port clears broken, not this migration's refusal. */
    pvmig_epoch_agent_gone(&f->m);
    assert_false(f->m.broken);
    assert_int_equal(f->m.stats.rejected_no_agent, 0);
    assert_int_equal(sync_round(f, &facts, true), 0);
    /* The next migration hints again. */
    pvmig_epoch_cleanup(&f->m);
    assert_int_not_equal(sync_round(f, &facts, true), 0);
}

static void test_invalid_between_migrations(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();

    pvmig_epoch_invalid(&f->m);
    assert_true(f->m.broken);
    assert_false(f->m.active);
    assert_int_equal(f->m.stats.rejected_invalid, 1);
    /* Still broken when the migration begins: refused as invalid. */
    assert_int_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_INVALID);
    assert_int_equal(f->m.stats.rejected_invalid, 1);
    pvmig_epoch_cleanup(&f->m);
    /* After the guest reopened the port it is trusted again. */
    pvmig_epoch_agent_gone(&f->m);
    assert_int_not_equal(sync_round(f, &facts, true), 0);
}

static void test_agent_gone_mid_epoch(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);

    pvmig_epoch_agent_gone(&f->m);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_NO_AGENT);
    assert_int_equal(f->m.stats.rejected_no_agent, 1);
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    /* A new agent's HELLO counts only from the next migration. */
    pvmig_epoch_agent_gone(&f->m);
    assert_int_equal(f->m.stats.rejected_no_agent, 1);
    assert_int_equal(sync_round(f, &facts, true), 0);
    /* Outside a migration a closed port refuses nothing. */
    pvmig_epoch_cleanup(&f->m);
    pvmig_epoch_agent_gone(&f->m);
    assert_int_equal(f->m.stats.rejected_no_agent, 1);
}

/* ---- the dirty-log re-arm ---- */

static void test_rearm_before_each_request(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();

    facts.dirty_log = PVMIG_DIRTY_LOG_MANUAL;
    assert_int_equal(sync_round(f, &facts, true), 1);
    assert_int_equal(f->rearm_calls, 1);
    assert_int_equal(sync_round(f, &facts, true), 2);
    assert_int_equal(f->rearm_calls, 2);
    /* No epoch, no re-arm: the final sync runs with the VM stopped. */
    assert_int_equal(sync_round(f, &facts, false), 0);
    assert_int_equal(f->rearm_calls, 2);
    pvmig_epoch_cleanup(&f->m);

    /* The sync re-arms the log itself under TCG and the dirty ring. */
    facts.dirty_log = PVMIG_DIRTY_LOG_RING;
    assert_int_not_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->rearm_calls, 2);
    pvmig_epoch_cleanup(&f->m);

    /* x-rearm=off: the test-only bug, hints without the re-arm. */
    facts.dirty_log = PVMIG_DIRTY_LOG_MANUAL;
    facts.rearm = false;
    assert_int_not_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->rearm_calls, 2);
}

static void test_rearm_failure_refuses(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e;

    facts.dirty_log = PVMIG_DIRTY_LOG_MANUAL;
    e = sync_round(f, &facts, true);
    assert_int_not_equal(e, 0);
    f->rearm_ok = false;
    assert_int_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->m.refusal, PVMIG_REFUSED_REARM);
    assert_int_equal(f->m.stats.rejected_rearm, 1);
    assert_int_equal(f->m.stats.epochs, 1);
    /* No epoch opened for the failed re-arm, none after it. */
    assert_int_equal(f->m.epoch, e);
    f->rearm_ok = true;
    assert_int_equal(sync_round(f, &facts, true), 0);
    assert_int_equal(f->rearm_calls, 2);
}

/* ---- which epoch a chunk may apply to ---- */

static void test_chunk_epochs(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e1 = start_migration(f);
    uint32_t e2;

    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e1), PVMIG_CHUNK_APPLY);
    assert_true(pvmig_epoch_may_apply(&f->m, e1));
    /* A future epoch: the guest cannot have been asked for it yet. */
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e1 + 1),
                     PVMIG_CHUNK_STALE);
    assert_false(pvmig_epoch_may_apply(&f->m, e1 + 1));
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, 0), PVMIG_CHUNK_STALE);
    assert_int_equal(f->m.stats.stale_messages, 2);

    e2 = sync_round(f, &facts, true);
    assert_int_equal(e2, e1 + 1);
    /* The closed epoch's late chunk is stale, not refused. */
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e1), PVMIG_CHUNK_STALE);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e2), PVMIG_CHUNK_APPLY);
    assert_int_equal(f->m.stats.stale_messages, 3);
    assert_int_equal(f->m.stats.rejected_messages, 0);
    assert_int_equal(f->closed_epoch, e1);
    assert_string_equal(f->closed_why, "sync");
}

/*
 * A chunk for the open epoch, then the window closes (BEFORE) before it is
 * cleared: it must not be applied, neither before nor after the next epoch
 * opens.  7.2's locks rule that interleaving out; 10.0's timer-driven
 * syncs are one more path to it.
 */
static void test_sync_while_chunk_applied(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);
    uint32_t next;

    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_APPLY);
    pvmig_epoch_before_sync(&f->m, &facts);
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    next = pvmig_epoch_after_sync(&f->m, true);
    assert_int_equal(next, e + 1);
    assert_true(f->m.window_open);
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    assert_true(pvmig_epoch_may_apply(&f->m, next));
}

static void test_chunk_after_migration(void **state)
{
    Fixture *f = *state;
    uint32_t e = start_migration(f);

    pvmig_epoch_cleanup(&f->m);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_STALE);
    /* Before any migration, too. */
    pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, 0), PVMIG_CHUNK_STALE);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, 1), PVMIG_CHUNK_STALE);
}

static void test_epoch_bytes_cap(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();

    /* No epoch open: nothing is counted against a cap. */
    assert_true(pvmig_epoch_take_bytes(&f->m, 2 * CAP));
    start_migration(f);
    assert_true(pvmig_epoch_take_bytes(&f->m, CAP - 1));
    assert_true(pvmig_epoch_take_bytes(&f->m, 1));
    assert_false(pvmig_epoch_take_bytes(&f->m, 1));
    /* Each epoch has its own budget. */
    sync_round(f, &facts, true);
    assert_true(pvmig_epoch_take_bytes(&f->m, CAP));
    pvmig_epoch_before_sync(&f->m, &facts);
    assert_true(pvmig_epoch_take_bytes(&f->m, 2 * CAP));
}

static void test_epoch_never_zero_never_reused(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();

    f->m.epoch = UINT32_MAX - 1;
    assert_int_equal(sync_round(f, &facts, true), UINT32_MAX);
    assert_int_equal(sync_round(f, &facts, true), 1);
    assert_int_equal(f->m.first_epoch, UINT32_MAX);
    /* Epochs continue across migrations (and, migrated, across hosts). */
    pvmig_epoch_cleanup(&f->m);
    assert_int_equal(sync_round(f, &facts, true), 2);
    assert_int_equal(f->m.first_epoch, 2);
}

/* ---- the end of a migration ---- */

/* QEMU 7.2: COMPLETE (VM stopped) closes the epoch, then the final sync. */
static void test_final_sync_72(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);

    e = sync_round(f, &facts, true);
    /* COMPLETE: the open epoch is returned so the agent gets a cancel. */
    assert_int_equal(pvmig_epoch_complete(&f->m), e);
    assert_false(f->m.window_open);
    assert_string_equal(f->closed_why, "complete");
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_STALE);
    /* The final sync: no begin, no epoch with the VM stopped. */
    assert_false(pvmig_epoch_before_sync(&f->m, &facts));
    assert_int_equal(pvmig_epoch_after_sync(&f->m, false), 0);
    assert_true(pvmig_epoch_cleanup(&f->m));
    assert_false(f->m.active);
    assert_false(pvmig_epoch_cleanup(&f->m));
}

/*
 * QEMU 10.0 may raise the completion notification after the final sync
 * has run: the sync closes the epoch, and COMPLETE then has none to
 * cancel, so nothing is written to the port after the final sync.
 */
static void test_final_sync_before_complete(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);

    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_APPLY);
    assert_int_equal(sync_round(f, &facts, false), 0);
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    assert_int_equal(pvmig_epoch_complete(&f->m), 0);
    assert_int_equal(f->closed_epoch, e);
    assert_string_equal(f->closed_why, "sync");
    assert_true(pvmig_epoch_cleanup(&f->m));
}

/*
 * QEMU 10.0's dirty-sync timer: an extra sync while the VM runs closes
 * the open epoch before the bitmap is re-collected (checked inside
 * sync_round()) and opens the next; one while the VM is already stopped,
 * before the final sync, opens none.
 */
static void test_extra_syncs(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e1 = start_migration(f);
    uint32_t e2, e3;

    e2 = sync_round(f, &facts, true);   /* timer */
    e3 = sync_round(f, &facts, true);   /* ram_save_pending() */
    assert_int_equal(e2, e1 + 1);
    assert_int_equal(e3, e2 + 1);
    assert_int_equal(f->m.stats.epochs, 3);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e2), PVMIG_CHUNK_STALE);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e3), PVMIG_CHUNK_APPLY);
    /* The VM stops; the timer fires once more before the final sync. */
    assert_int_equal(sync_round(f, &facts, false), 0);
    assert_int_equal(f->closed_epoch, e3);
    assert_int_equal(pvmig_epoch_complete(&f->m), 0);
    assert_int_equal(sync_round(f, &facts, false), 0);
    assert_int_equal(f->m.stats.epochs, 3);
    pvmig_epoch_cleanup(&f->m);
}

/* Both completion orders, with an extra sync in every possible slot. */
static void test_completion_orders(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    int complete_first, extra_at;

    for (complete_first = 0; complete_first < 2; complete_first++) {
        for (extra_at = -1; extra_at < 3; extra_at++) {
            uint32_t e, cancel = 0;
            int step;

            pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
            e = start_migration(f);
            for (step = 0; step < 3; step++) {
                if (step == extra_at) {
                    /* The timer's sync; VM running only before step 1. */
                    uint32_t n = sync_round(f, &facts, step == 0);

                    assert_false(pvmig_epoch_may_apply(&f->m, e));
                    if (n) {
                        e = n;
                    }
                }
                if (step == 1) {
                    if (complete_first) {
                        cancel = pvmig_epoch_complete(&f->m);
                    }
                    assert_int_equal(sync_round(f, &facts, false), 0);
                    if (!complete_first) {
                        /* After the final sync: nothing to cancel. */
                        assert_int_equal(pvmig_epoch_complete(&f->m), 0);
                    }
                }
            }
            if (complete_first) {
                /* Only an epoch still open at COMPLETE is cancelled. */
                assert_int_equal(cancel, extra_at == 1 ? 0 : e);
            }
            assert_false(f->m.window_open);
            assert_false(pvmig_epoch_may_apply(&f->m, e));
            assert_true(pvmig_epoch_cleanup(&f->m));
            check_invariants(&f->m);
        }
    }
}

/* Cancelled mid-epoch (CLEANUP without COMPLETE), then a new migration. */
static void test_cancel_then_new_migration(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e = start_migration(f);
    uint32_t e2;

    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_APPLY);
    f->m.stats.pages_cleared = 42;
    assert_true(pvmig_epoch_cleanup(&f->m));
    assert_string_equal(f->closed_why, "cleanup");
    assert_false(pvmig_epoch_may_apply(&f->m, e));
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_CLOSED);
    /* The answer arrives late: stale, and no SETUP wait of the next. */
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_STALE);
    pvmig_epoch_answered(&f->m, e);
    assert_false(f->m.first_epoch_done);
    /* Counters stay readable until the next migration begins. */
    assert_int_equal(f->m.stats.pages_cleared, 42);

    e2 = sync_round(f, &facts, true);
    assert_int_equal(e2, e + 1);
    assert_int_equal(f->m.stats.pages_cleared, 0);
    assert_int_equal(f->m.first_epoch, e2);
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_WAITING);
    pvmig_epoch_answered(&f->m, e);
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_WAITING);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e), PVMIG_CHUNK_STALE);
    assert_int_equal(pvmig_epoch_chunk_begin(&f->m, e2), PVMIG_CHUNK_APPLY);
}

/* ---- the SETUP wait ---- */

static void test_setup_wait_answered(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    uint32_t e;
    int wakes;

    /* Nothing to wait for before the first epoch opened. */
    assert_false(pvmig_epoch_setup_begin(&f->m));
    pvmig_epoch_before_sync(&f->m, &facts);
    assert_false(pvmig_epoch_setup_begin(&f->m));
    e = pvmig_epoch_after_sync(&f->m, true);
    assert_true(pvmig_epoch_setup_begin(&f->m));
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_WAITING);
    wakes = f->wakes;
    /* Another epoch's answer does not end the wait. */
    pvmig_epoch_answered(&f->m, e + 1);
    pvmig_epoch_answered(&f->m, 0);
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_WAITING);
    assert_int_equal(f->wakes, wakes);
    pvmig_epoch_answered(&f->m, e);
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_ANSWERED);
    assert_int_equal(f->wakes, wakes + 1);
    /* Answered stays answered once the epoch closes. */
    sync_round(f, &facts, true);
    assert_int_equal(pvmig_epoch_setup_state(&f->m), PVMIG_SETUP_ANSWERED);
}

/* Every way the first epoch can close wakes the wait and ends it. */
static void test_setup_wait_closed(void **state)
{
    Fixture *f = *state;
    PvmigBeginFacts facts = good_facts();
    int how;

    for (how = 0; how < 5; how++) {
        int wakes;

        pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
        start_migration(f);
        assert_int_equal(pvmig_epoch_setup_state(&f->m),
                         PVMIG_SETUP_WAITING);
        wakes = f->wakes;
        switch (how) {
        case 0:     /* an extra sync, VM running: epoch 2 opens */
            assert_int_equal(sync_round(f, &facts, true), 2);
            break;
        case 1:
            pvmig_epoch_invalid(&f->m);
            break;
        case 2:
            pvmig_epoch_agent_gone(&f->m);
            break;
        case 3:     /* cancelled */
            pvmig_epoch_cleanup(&f->m);
            break;
        case 4:
            pvmig_epoch_complete(&f->m);
            break;
        }
        assert_true(f->wakes > wakes);
        if (pvmig_epoch_setup_state(&f->m) != PVMIG_SETUP_CLOSED) {
            fail_msg("case %d: the wait goes on after its epoch closed", how);
        }
    }
}

/* ---- the SETUP wait's loop, on a clock the test drives ---- */

typedef struct FakeClock {
    Fixture *f;
    int64_t now;
    int sleeps;
    int64_t last_request;
    int64_t step;               /* ms a sleep lasts; 0: all it asked for */
    int act_at;                 /* run act() in this sleep (1-based) */
    void (*act)(Fixture *f);
} FakeClock;

static int64_t fake_now_ms(void *opaque)
{
    return ((FakeClock *)opaque)->now;
}

static void fake_sleep_ms(void *opaque, int64_t ms)
{
    FakeClock *c = opaque;

    assert_true(ms > 0);
    c->sleeps++;
    c->last_request = ms;
    c->now += c->step && c->step < ms ? c->step : ms;
    if (c->sleeps == c->act_at) {
        c->act(c->f);
    }
}

static PvmigSetupState fake_wait(Fixture *f, FakeClock *c, uint32_t ms)
{
    PvmigSetupClock clock = {
        .now_ms = fake_now_ms,
        .sleep_ms = fake_sleep_ms,
        .opaque = c,
    };

    c->f = f;
    return pvmig_epoch_setup_wait(&f->m, ms, &clock);
}

static void act_answer(Fixture *f)
{
    pvmig_epoch_answered(&f->m, f->m.first_epoch);
}

static void act_extra_sync(Fixture *f)
{
    PvmigBeginFacts facts = good_facts();

    assert_int_not_equal(sync_round(f, &facts, true), 0);
}

static void act_invalid(Fixture *f)
{
    pvmig_epoch_invalid(&f->m);
}

static void test_setup_wait_loop(void **state)
{
    Fixture *f = *state;
    FakeClock c = { 0 };
    PvmigBeginFacts facts = good_facts();

    /* Nothing to wait for: no sleep at all. */
    assert_int_equal(fake_wait(f, &c, 1000), PVMIG_SETUP_NONE);
    facts.agent = false;
    sync_round(f, &facts, true);
    assert_int_equal(fake_wait(f, &c, 1000), PVMIG_SETUP_NONE);
    assert_int_equal(c.sleeps, 0);
    pvmig_epoch_cleanup(&f->m);

    /* No answer: one sleep for the whole bound, then TIMEOUT. */
    start_migration(f);
    c = (FakeClock) { .now = 5000 };
    assert_int_equal(fake_wait(f, &c, 1000), PVMIG_SETUP_TIMEOUT);
    assert_int_equal(c.sleeps, 1);
    assert_int_equal(c.now, 6000);
    /* hint-wait-ms=0: no sleep. */
    c = (FakeClock) { 0 };
    assert_int_equal(fake_wait(f, &c, 0), PVMIG_SETUP_TIMEOUT);
    assert_int_equal(c.sleeps, 0);
    /* Wakes that change nothing: each sleep asks only for what is left. */
    c = (FakeClock) { .step = 300 };
    assert_int_equal(fake_wait(f, &c, 1000), PVMIG_SETUP_TIMEOUT);
    assert_int_equal(c.sleeps, 4);
    assert_int_equal(c.last_request, 100);
    assert_int_equal(c.now, 1000);
}

static void test_setup_wait_loop_ends(void **state)
{
    Fixture *f = *state;
    static const struct {
        void (*act)(Fixture *f);
        PvmigSetupState want;
    } cases[] = {
        { act_answer, PVMIG_SETUP_ANSWERED },
        { act_extra_sync, PVMIG_SETUP_CLOSED },
        { act_invalid, PVMIG_SETUP_CLOSED },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FakeClock c = { .step = 100, .act_at = 3, .act = cases[i].act };

        pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
        start_migration(f);
        assert_int_equal(fake_wait(f, &c, 1000), cases[i].want);
        /* It stops at the first wake after the change, not at the bound. */
        assert_int_equal(c.sleeps, 3);
        assert_int_equal(c.now, 300);
    }
    /* Answered before the wait began: no sleep. */
    {
        FakeClock c = { 0 };

        pvmig_epoch_init(&f->m, &fx_ops, f, CAP);
        start_migration(f);
        act_answer(f);
        assert_int_equal(fake_wait(f, &c, 1000), PVMIG_SETUP_ANSWERED);
        assert_int_equal(c.sleeps, 0);
    }
    assert_string_equal(pvmig_setup_state_str(PVMIG_SETUP_NONE), "no-epoch");
    assert_string_equal(pvmig_setup_state_str(PVMIG_SETUP_TIMEOUT),
                        "timeout");
}

/* ---- the SETUP wait against a real second thread ---- */

/*
 * As in pvmig.c: the answer comes from another thread, which holds the
 * device lock but not the wait lock, and wakes the waiter through
 * ops->wake().  The waiter must return on that wake, long before its
 * bound, whether the answer lands before or during its sleep.
 */
typedef struct ThreadFixture {
    PvmigEpochState m;
    pthread_mutex_t dev_lock;
    pthread_mutex_t wait_lock;
    pthread_cond_t cond;
    PvmigSetupState result;
    int64_t waited_ms;
} ThreadFixture;

static int64_t real_ms(void *opaque)
{
    struct timespec ts;

    (void)opaque;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void th_sleep_ms(void *opaque, int64_t ms)
{
    ThreadFixture *t = opaque;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&t->cond, &t->wait_lock, &ts);
}

static void th_wake(void *opaque)
{
    ThreadFixture *t = opaque;

    pthread_mutex_lock(&t->wait_lock);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->wait_lock);
}

static bool th_rearm(void *opaque)
{
    (void)opaque;
    return true;
}

static const PvmigEpochOps th_ops = {
    .wake = th_wake,
    .rearm = th_rearm,
};

static void *th_waiter(void *opaque)
{
    ThreadFixture *t = opaque;
    PvmigSetupClock clock = {
        .now_ms = real_ms,
        .sleep_ms = th_sleep_ms,
        .opaque = t,
    };
    int64_t start = real_ms(NULL);

    pthread_mutex_lock(&t->wait_lock);
    t->result = pvmig_epoch_setup_wait(&t->m, 10000, &clock);
    pthread_mutex_unlock(&t->wait_lock);
    t->waited_ms = real_ms(NULL) - start;
    return NULL;
}

static void test_setup_wait_threads(void **state)
{
    static const long delays_us[] = { 0, 1000, 20000 };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
        ThreadFixture t = { .result = PVMIG_SETUP_NONE };
        PvmigBeginFacts facts = good_facts();
        struct timespec d = { 0, delays_us[i] * 1000 };
        pthread_t th;

        pthread_mutex_init(&t.dev_lock, NULL);
        pthread_mutex_init(&t.wait_lock, NULL);
        pthread_cond_init(&t.cond, NULL);
        pvmig_epoch_init(&t.m, &th_ops, &t, CAP);
        pvmig_epoch_before_sync(&t.m, &facts);
        assert_int_equal(pvmig_epoch_after_sync(&t.m, true), 1);

        assert_int_equal(pthread_create(&th, NULL, th_waiter, &t), 0);
        nanosleep(&d, NULL);
        pthread_mutex_lock(&t.dev_lock);
        pvmig_epoch_answered(&t.m, 1);
        pthread_mutex_unlock(&t.dev_lock);
        pthread_join(th, NULL);

        assert_int_equal(t.result, PVMIG_SETUP_ANSWERED);
        /* The bound is 10 s; a missed wake would sit it out. */
        if (t.waited_ms >= 5000) {
            fail_msg("delay %ld us: waited %lld ms for a wake", delays_us[i],
                     (long long)t.waited_ms);
        }
        pthread_cond_destroy(&t.cond);
        pthread_mutex_destroy(&t.wait_lock);
        pthread_mutex_destroy(&t.dev_lock);
    }
}

/* ---- every transition, in random order ---- */

/*
 * A deterministic random walk over every event, checking after each one
 * what must always hold: the invariants, that a chunk is only applied to
 * the open epoch, that a closed epoch never reopens, and that the SETUP
 * wait was woken whenever what it reads changed.
 */
static void test_random_walk(void **state)
{
    Fixture *f = *state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint32_t last_epoch = 0;
    int i;

    for (i = 0; i < 200000; i++) {
        PvmigBeginFacts facts = good_facts();
        PvmigEpochState before;
        PvmigSetupState setup_before = pvmig_epoch_setup_state(&f->m);
        bool setup_begin_before = pvmig_epoch_setup_begin(&f->m);
        int wakes = f->wakes;
        uint32_t target, r, e;

        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        r = (uint32_t)(rng >> 32);
        facts.agent = (r >> 8) % 8 != 0;
        facts.vm_running = (r >> 11) % 8 != 0;
        facts.postcopy = (r >> 14) % 16 == 0;
        facts.dirty_log = PVMIG_DIRTY_LOG_TCG;
        if ((r >> 18) % 2) {
            facts.dirty_log = PVMIG_DIRTY_LOG_MANUAL;
        }
        f->rearm_ok = (r >> 19) % 16 != 0;
        target = f->m.epoch + ((r >> 20) % 3) - 1;
        before = f->m;

        switch (r % 11) {
        case 0:
        case 1:
            pvmig_epoch_before_sync(&f->m, &facts);
            assert_false(f->m.window_open);
            break;
        case 2:
        case 3:
            e = pvmig_epoch_after_sync(&f->m, (r >> 24) % 4 != 0);
            if (e) {
                assert_true(f->m.window_open);
                assert_int_equal(e, f->m.epoch);
                assert_int_not_equal(e, last_epoch);
                last_epoch = e;
            }
            break;
        case 4:
            e = pvmig_epoch_complete(&f->m);
            assert_int_equal(e, before.window_open ? before.epoch : 0);
            break;
        case 5:
            pvmig_epoch_cleanup(&f->m);
            break;
        case 6:
        case 7:
            if (pvmig_epoch_chunk_begin(&f->m, target) ==
                PVMIG_CHUNK_APPLY) {
                assert_true(before.window_open);
                assert_int_equal(target, before.epoch);
            }
            break;
        case 8:
            pvmig_epoch_answered(&f->m, target);
            break;
        case 9:
            if ((r >> 24) % 8 == 0) {
                pvmig_epoch_invalid(&f->m);
            } else {
                pvmig_epoch_agent_gone(&f->m);
            }
            break;
        case 10:
            if (!pvmig_epoch_take_bytes(&f->m, CAP / 4)) {
                pvmig_epoch_invalid(&f->m);
            }
            break;
        }
        check_invariants(&f->m);
        assert_int_equal(pvmig_epoch_may_apply(&f->m, target),
                         f->m.window_open && target == f->m.epoch);
        if (before.window_open && !f->m.window_open) {
            assert_false(pvmig_epoch_may_apply(&f->m, before.epoch));
        }
        if (pvmig_epoch_setup_state(&f->m) != setup_before ||
            pvmig_epoch_setup_begin(&f->m) != setup_begin_before) {
            assert_true(f->wakes > wakes);
        }
    }
    assert_true(last_epoch > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_refusal_table),
        T(test_stats_from_counter_list),
        T(test_begin_resets_and_allows),
        T(test_begin_precedence),
        T(test_refusal_sticky_until_cleanup),
        T(test_invalid_mid_epoch),
        T(test_invalid_between_migrations),
        T(test_agent_gone_mid_epoch),
        T(test_rearm_before_each_request),
        T(test_rearm_failure_refuses),
        T(test_chunk_epochs),
        T(test_sync_while_chunk_applied),
        T(test_chunk_after_migration),
        T(test_epoch_bytes_cap),
        T(test_epoch_never_zero_never_reused),
        T(test_final_sync_72),
        T(test_final_sync_before_complete),
        T(test_extra_syncs),
        T(test_completion_orders),
        T(test_cancel_then_new_migration),
        T(test_setup_wait_answered),
        T(test_setup_wait_closed),
        T(test_setup_wait_loop),
        T(test_setup_wait_loop_ends),
        T(test_setup_wait_threads),
        T(test_random_walk),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
