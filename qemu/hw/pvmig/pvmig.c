/*
 * pvmig: a virtio-serial port through which the guest tells the host which
 * of its pages are free, so that live migration can skip them.
 *
 *   -device virtio-serial-pci,id=vser0
 *   -device pvmig,id=pvmig0,bus=vser0.0[,name=org.pvmig.0][,hint-wait-ms=N]
 *
 * The guest agent (pvmig-agent) opens the port and sends HELLO.  During a
 * precopy migration this device asks it for a snapshot of the free pages
 * after every dirty-bitmap sync (REQUEST(epoch)), and clears the ranges it
 * answers from the migration bitmap.  Wire format: proto/pvmig_proto.h and
 * docs/wire-format.md.
 *
 * Data safety (docs/safety.md): a page may be skipped only if the guest
 * saw it free after the dirty log last write-protected it, and the hint is
 * applied before the next dirty-bitmap sync.  So each epoch opens just
 * after a sync and closes just before the next one, and ranges of a closed
 * or other epoch are dropped.  Those decisions, and the refusals, are the
 * QEMU-free state machine in pvmig-epoch.c; this file turns QEMU's precopy
 * notifications into its calls and does the I/O.
 *
 * Where each notification comes from in QEMU 7.2, with which locks, is in
 * docs/qemu-hooks.md.  In short: the first BEFORE_BITMAP_SYNC of a
 * migration (inside ram_save_setup(), before PRECOPY_NOTIFY_SETUP) starts
 * it; SETUP only waits, bounded, for the first epoch's answer, without the
 * BQL and without s->lock (see PvmigState.wait_lock), so its bound holds
 * however long a chunk takes; BEFORE/AFTER_BITMAP_SYNC and have_data() all
 * run with the BQL, and s->lock makes explicit that closing an epoch never
 * interleaves with applying its ranges.
 * Lock order: BQL, s->lock, wait_lock / ram_state->bitmap_mutex.
 *
 * The migration thread holds ram_state->bitmap_mutex for long stretches
 * while it sends (up to migration/ram.c's MAX_WAIT at a time), so ranges
 * are not hinted one by one: each slice of input is decoded into host
 * pieces first, then all of them are cleared in one call, which takes
 * that mutex once (qemu_guest_free_page_hints()).  Why, with the stall a
 * per-range lock caused: docs/qemu-hooks.md, "The bitmap hint functions".
 *
 * The guest is untrusted (docs/threat-model.md): every message is
 * validated by the proto decoder (fixed-size state, ranges ascending
 * within an epoch and below the RAM span), every range is mapped piece by
 * piece and only plain migratable RAM is hinted, and the bytes accepted
 * per epoch are capped.  A message that fails validation stops hinting for
 * the rest of the migration and the port's input is ignored until the
 * agent reconnects.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "exec/memory.h"
#include "exec/address-spaces.h"
#include "exec/target_page.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-serial.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "hw/pvmig/hint-log.h"
#include "hw/pvmig/pvmig-compat.h"
#include "hw/pvmig/pvmig-epoch.h"
#include "proto/pvmig_proto.h"
#include "trace.h"

#define TYPE_PVMIG "pvmig"
OBJECT_DECLARE_SIMPLE_TYPE(PvmigState, PVMIG)

/* Wire PFNs are in units of the guest page size, 4 KiB on x86. */
#define PVMIG_PAGE_SHIFT 12

/*
 * hint-wait-ms: how long PRECOPY_NOTIFY_SETUP waits for the first epoch's
 * answer, so that the bulk pass does not send pages about to be hinted.
 * The default covers the first answer of a large guest with the
 * test-only hint log on (measurements: qemu/README.md, "hint-wait-ms");
 * a later answer only costs the pages sent before it arrives, since its
 * ranges still apply until the epoch closes.
 *
 * The wait blocks the migration thread before it has sent a page, and
 * nothing but the first epoch's answer or close ends it early: not the
 * guest's other traffic, not migrate_cancel, which takes effect once the
 * thread moves on.  A hung or hostile agent costs all of it on every
 * migration.  The maximum caps that cost at 10 s, ten times the default,
 * which leaves room for a loaded host without letting a setting turn the
 * setup into a stall.  0 disables the wait.
 */
#define PVMIG_DEFAULT_HINT_WAIT_MS 1000
#define PVMIG_MAX_HINT_WAIT_MS 10000

/* Bytes accepted per epoch beyond the RAM span's worst-case bitmap size. */
#define PVMIG_EPOCH_BYTES_SLACK (4 * MiB)

/* Room for a REQUEST and an ERROR that the guest has not taken yet. */
#define PVMIG_OUT_BUF 512

/*
 * Input is decoded this many bytes at a time and the pieces hinted after
 * each slice, which bounds s->pieces whatever the guest puts in one
 * virtio-serial buffer: the chunks completed by one slice hold at most
 * 64 KiB of items (one begun earlier plus the slice), a byte of bitmap
 * item encodes at most 4 ranges, so at most 256 Ki pieces (4 MiB).
 */
#define PVMIG_FEED_SLICE PVMIG_MAX_MSG

struct PvmigState {
    VirtIOSerialPort parent_obj;

    uint32_t hint_wait_ms;
    bool dest_ram_zeroed;
    bool x_ignore_free_contract;    /* test only: see the property */
    bool x_rearm;                   /* test only: off shows the bug */
    bool x_test_agent;              /* test only: see pvmig_inject() */
    NotifierWithReturn precopy_notifier;

    /*
     * Guards the migration and epoch state below; held while a chunk's
     * ranges are applied.  The SETUP wait must keep its bound even while
     * a long chunk is being applied, so it never takes this lock: it
     * reads the flags it needs atomically and sleeps under wait_lock,
     * which writers take only to wake it (lock order: lock, wait_lock).
     */
    QemuMutex lock;
    QemuMutex wait_lock;
    QemuCond first_epoch_cond;

    /*
     * Migration, epoch and refusal state, and the counters: the QEMU-free
     * state machine in pvmig-epoch.c, called with s->lock held.
     */
    PvmigEpochState mig;
    int64_t first_request_ns;
    uint64_t hint_log_ns_at_begin;  /* the hint log's cost before it */

    /* The chunk being delivered by the decoder. */
    bool chunk_apply;
    uint32_t pieces_epoch;      /* the epoch of the chunks in @pieces */
    uint64_t chunk_ranges;
    uint64_t chunk_pages;
    uint64_t chunk_not_ram;

    /* Last RAM section looked up, valid during one have_data() call. */
    MemoryRegionSection cached;
    /* Decoded, not yet hinted; only ever filled and emptied in have_data. */
    GArray *pieces;

    /* Connection with the agent. */
    bool have_hello;
    struct pvmig_hello hello;
    bool hunting;               /* after incoming migration: resync */
    uint64_t limit_pfn;
    struct pvmig_decoder dec;

    uint8_t out[PVMIG_OUT_BUF];
    size_t out_len;
};

/* ---- sending (BQL held: virtio_serial_write touches the virtqueue) ---- */

static void pvmig_flush_out(PvmigState *s)
{
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(s);
    ssize_t n;

    if (!s->out_len) {
        return;
    }
    n = virtio_serial_write(port, s->out, s->out_len);
    if (n <= 0) {
        return;
    }
    memmove(s->out, s->out + n, s->out_len - n);
    s->out_len -= n;
}

/*
 * Queues a whole message or nothing, so the stream stays framed; what the
 * guest cannot take now goes out from guest_writable().  A dropped
 * REQUEST only means that epoch gets no answer.
 */
static bool pvmig_send(PvmigState *s, const uint8_t *msg, size_t len)
{
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(s);

    assert(pvmig_bql_locked());
    if (!port->guest_connected || s->out_len + len > sizeof(s->out)) {
        return false;
    }
    memcpy(s->out + s->out_len, msg, len);
    s->out_len += len;
    pvmig_flush_out(s);
    if (s->out_len) {
        trace_pvmig_send_deferred(s->out_len);
    }
    return true;
}

static void pvmig_send_request(PvmigState *s, uint32_t epoch)
{
    uint8_t msg[PVMIG_HDR_SIZE];
    int n = pvmig_build_request(msg, sizeof(msg), epoch);
    int sent;

    assert(n > 0);
    sent = pvmig_send(s, msg, n);
    trace_pvmig_request_sent(epoch, sent);
}

/* Main loop: sends the REQUEST of the epoch still open, if any. */
static void pvmig_request_bh(void *opaque)
{
    PvmigState *s = opaque;
    uint32_t epoch;
    bool open;

    qemu_mutex_lock(&s->lock);
    open = s->mig.window_open;
    epoch = s->mig.epoch;
    qemu_mutex_unlock(&s->lock);
    if (open) {
        pvmig_send_request(s, epoch);
    }
}

static void pvmig_send_cancel(PvmigState *s, uint32_t epoch)
{
    uint8_t msg[PVMIG_HDR_SIZE + 64];
    int n = pvmig_build_error(msg, sizeof(msg), epoch, PVMIG_ABORT_CANCEL,
                              "epoch window closed");

    if (n > 0) {
        pvmig_send(s, msg, n);
    }
}

/* ---- the state machine's calls back into the device (s->lock held) ---- */

/* Wakes the SETUP wait after one of the fields it reads changed. */
static void pvmig_mig_wake(void *opaque)
{
    PvmigState *s = opaque;

    qemu_mutex_lock(&s->wait_lock);
    qemu_cond_broadcast(&s->first_epoch_cond);
    qemu_mutex_unlock(&s->wait_lock);
}

/*
 * Under KVM's manual dirty-log protect the sync just done left every page
 * it collected writable (docs/safety.md, "Dirty-log modes"): write-protect
 * them all again before the REQUEST goes out, so that whatever the guest
 * writes after it sees a page free is logged for the next sync.  Runs in
 * the migration thread (AFTER_BITMAP_SYNC) with the BQL and s->lock held;
 * takes bitmap_mutex.  False if there was no migration to re-arm.
 */
static bool pvmig_mig_rearm(void *opaque)
{
    PvmigState *s = opaque;
    PvmigStats *st = &s->mig.stats;
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t chunks = qemu_guest_free_page_hint_rearm();
    uint64_t us = (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - t0) / SCALE_US;

    trace_pvmig_rearm(chunks, us);
    if (chunks < 0) {
        return false;
    }
    st->rearms++;
    st->rearm_chunks += chunks;
    st->rearm_us += us;
    st->rearm_max_us = MAX(st->rearm_max_us, us);
    return true;
}

static void pvmig_mig_closed(void *opaque, uint32_t epoch, const char *why)
{
    trace_pvmig_epoch_closed(epoch, why);
}

static void pvmig_mig_rejected(void *opaque, PvmigRefusal why)
{
    trace_pvmig_rejected(pvmig_refusal_str(why));
}

static const PvmigEpochOps pvmig_mig_ops = {
    .wake = pvmig_mig_wake,
    .rearm = pvmig_mig_rearm,
    .closed = pvmig_mig_closed,
    .rejected = pvmig_mig_rejected,
};

/* Bad input from the guest: count it, then ignore the port until reconnect. */
static void pvmig_invalid(PvmigState *s, const char *what)
{
    qemu_log_mask(LOG_GUEST_ERROR, "pvmig: %s; ignoring the port until the "
                  "guest reopens it\n", what);
    trace_pvmig_invalid(what);
    pvmig_epoch_invalid(&s->mig);
}

/* ---- precopy notifications ---- */

static PvmigDirtyLog pvmig_dirty_log_mode(void)
{
    if (tcg_enabled()) {
        return PVMIG_DIRTY_LOG_TCG;
    }
    if (kvm_enabled()) {
        return kvm_dirty_ring_enabled() ? PVMIG_DIRTY_LOG_RING :
                                          PVMIG_DIRTY_LOG_MANUAL;
    }
    return PVMIG_DIRTY_LOG_UNKNOWN;
}

/* What a migration's first sync decides on (pvmig_epoch_before_sync()). */
static void pvmig_begin_facts(PvmigState *s, PvmigBeginFacts *f)
{
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(s);

    *f = (PvmigBeginFacts) {
        .postcopy = migrate_postcopy_ram(),
        .dirty_log = pvmig_dirty_log_mode(),
        .agent = (port->guest_connected || s->x_test_agent) &&
                 s->have_hello && (s->hello.caps & PVMIG_CAP_MODULE),
        .vm_running = runstate_is_running(),
        .contract = pvmig_free_contract(s->hello.caps,
                                        s->hello.poison_pattern),
        .dest_ram_zeroed = s->dest_ram_zeroed,
        .ignore_contract = s->x_ignore_free_contract,
        .rearm = s->x_rearm,
    };
}

/* BEFORE_BITMAP_SYNC: migration thread, BQL held. */
static void pvmig_before_sync(PvmigState *s)
{
    PvmigBeginFacts facts;

    pvmig_begin_facts(s, &facts);
    qemu_mutex_lock(&s->lock);
    if (pvmig_epoch_before_sync(&s->mig, &facts)) {
        s->hint_log_ns_at_begin = pvmig_hint_log_cost_ns();
        trace_pvmig_migration_begin(pvmig_refusal_str(s->mig.refusal),
                                    pvmig_dirty_log_str(s->mig.dirty_log));
    }
    qemu_mutex_unlock(&s->lock);
}

/* AFTER_BITMAP_SYNC: a new epoch, if the guest can still answer. */
static void pvmig_after_sync(PvmigState *s)
{
    uint32_t epoch;

    qemu_mutex_lock(&s->lock);
    epoch = pvmig_epoch_after_sync(&s->mig, runstate_is_running());
    if (epoch && epoch == s->mig.first_epoch) {
        s->first_request_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    }
    qemu_mutex_unlock(&s->lock);
    if (!epoch) {
        return;
    }
    /*
     * 7.2 raises AFTER_BITMAP_SYNC with the BQL held (docs/qemu-hooks.md),
     * so the REQUEST goes out at once.  Should a caller ever come without
     * it, defer to the main loop: a late REQUEST only shortens the window.
     */
    if (pvmig_bql_locked()) {
        pvmig_send_request(s, epoch);
    } else {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), pvmig_request_bh, s);
    }
}

static int64_t pvmig_setup_now_ms(void *opaque)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/* Called with wait_lock held; pvmig_mig_wake() ends it early. */
static void pvmig_setup_sleep_ms(void *opaque, int64_t ms)
{
    PvmigState *s = opaque;

    qemu_cond_timedwait(&s->first_epoch_cond, &s->wait_lock, ms);
}

/*
 * PRECOPY_NOTIFY_SETUP: migration thread, without s->lock, so that its
 * bound holds however long a chunk takes to apply.  The answer reaches
 * the device through the main loop (have_data(), with the BQL): 7.2 calls
 * this without the BQL, 10.0 with it, and then it is dropped for the wait
 * (docs/qemu-hooks.md, "Notifier order in 10.0"), or the main loop would
 * stall and the wait run to its bound every time.
 */
static void pvmig_setup_wait(PvmigState *s)
{
    const PvmigSetupClock clock = {
        .now_ms = pvmig_setup_now_ms,
        .sleep_ms = pvmig_setup_sleep_ms,
        .opaque = s,
    };
    int64_t start_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    PvmigSetupState state;
    uint64_t waited_us;
    bool bql = pvmig_bql_locked();

    if (bql) {
        pvmig_bql_unlock();
    }
    qemu_mutex_lock(&s->wait_lock);
    state = pvmig_epoch_setup_wait(&s->mig, qatomic_read(&s->hint_wait_ms),
                                   &clock);
    qemu_mutex_unlock(&s->wait_lock);
    if (bql) {
        pvmig_bql_lock();
    }
    if (state == PVMIG_SETUP_NONE) {
        trace_pvmig_setup_wait(0, 0, pvmig_setup_state_str(state));
        return;
    }
    waited_us = (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start_ns) / SCALE_US;
    qatomic_set(&s->mig.stats.setup_wait_us, waited_us);
    trace_pvmig_setup_wait(qatomic_read(&s->mig.first_epoch), waited_us,
                           pvmig_setup_state_str(state));
}

/* PRECOPY_NOTIFY_COMPLETE: VM stopped, BQL held. */
static void pvmig_complete(PvmigState *s)
{
    uint32_t open;

    qemu_mutex_lock(&s->lock);
    open = pvmig_epoch_complete(&s->mig);
    qemu_mutex_unlock(&s->lock);
    if (open && pvmig_bql_locked()) {
        /*
         * Tell the agent to stop a snapshot nobody will read.  In 7.2
         * this comes before the final sync, which collects the write.
         */
        pvmig_send_cancel(s, open);
    }
    pvmig_hint_log_flush();
}

/* PRECOPY_NOTIFY_CLEANUP: main loop, BQL held; also after a cancel. */
static void pvmig_cleanup(PvmigState *s)
{
    PvmigStats *st = &s->mig.stats;

    qemu_mutex_lock(&s->lock);
    if (pvmig_epoch_cleanup(&s->mig)) {
        trace_pvmig_migration_end(st->epochs, st->ranges, st->pages_hinted,
                                  st->pages_cleared);
    }
    qemu_mutex_unlock(&s->lock);
    pvmig_hint_log_flush();
}

static int pvmig_precopy_notify(NotifierWithReturn *n, void *data
                                PVMIG_NOTIFIER_ERRP_PARAM)
{
    PvmigState *s = container_of(n, PvmigState, precopy_notifier);
    PrecopyNotifyData *pnd = data;

    switch (pnd->reason) {
    case PRECOPY_NOTIFY_BEFORE_BITMAP_SYNC:
        pvmig_before_sync(s);
        break;
    case PRECOPY_NOTIFY_AFTER_BITMAP_SYNC:
        pvmig_after_sync(s);
        break;
    case PRECOPY_NOTIFY_SETUP:
        pvmig_setup_wait(s);
        break;
    case PRECOPY_NOTIFY_COMPLETE:
        pvmig_complete(s);
        break;
    case PRECOPY_NOTIFY_CLEANUP:
        pvmig_cleanup(s);
        break;
    default:
        break;
    }
    /* Hints are an optimisation: never fail the migration. */
    return 0;
}

/* ---- applying ranges (have_data, BQL and s->lock held) ---- */

static void pvmig_drop_cached(PvmigState *s)
{
    if (s->cached.mr) {
        memory_region_unref(s->cached.mr);
        s->cached.mr = NULL;
    }
}

static bool pvmig_section_hintable(MemoryRegionSection *sec)
{
    MemoryRegion *mr = sec->mr;

    return memory_region_is_ram(mr) && !memory_region_is_rom(mr) &&
           !memory_region_is_romd(mr) && !memory_region_is_ram_device(mr) &&
           mr->ram_block && pvmig_ram_block_migrated(mr->ram_block);
}

/*
 * Finds the section holding @gpa, or the next one below @gpa + @len.
 * Returns false if there is none.
 */
static bool pvmig_lookup(PvmigState *s, hwaddr gpa, uint64_t len)
{
    MemoryRegionSection *c = &s->cached;

    if (c->mr && gpa >= c->offset_within_address_space &&
        gpa - c->offset_within_address_space < int128_get64(c->size)) {
        return true;
    }
    pvmig_drop_cached(s);
    *c = memory_region_find(get_system_memory(), gpa, len);
    return c->mr != NULL;
}

/* Queues [gpa, gpa + len) for hinting: plain RAM only, the rest counted. */
static void pvmig_apply_range(PvmigState *s, hwaddr gpa, uint64_t len)
{
    const uint64_t page = 1ULL << PVMIG_PAGE_SHIFT;

    while (len) {
        MemoryRegionSection *c = &s->cached;
        uint64_t sec_start, sec_len, piece;

        if (!pvmig_lookup(s, gpa, len)) {
            s->chunk_not_ram += len / page;
            return;
        }
        sec_start = c->offset_within_address_space;
        if (sec_start > gpa) {
            /* A hole before the next section. */
            piece = MIN(sec_start - gpa, len);
            s->chunk_not_ram += piece / page;
            gpa += piece;
            len -= piece;
            continue;
        }
        sec_len = int128_get64(c->size) - (gpa - sec_start);
        piece = MIN(sec_len, len);
        if (pvmig_section_hintable(c)) {
            /* A hintable run of guest RAM, in host terms. */
            struct iovec p = {
                .iov_base = (uint8_t *)memory_region_get_ram_ptr(c->mr) +
                            c->offset_within_region + (gpa - sec_start),
                .iov_len = piece,
            };

            g_array_append_val(s->pieces, p);
            s->chunk_pages += piece / page;
        } else {
            s->chunk_not_ram += piece / page;
        }
        gpa += piece;
        len -= piece;
    }
}

/*
 * Clears the queued pieces from the migration bitmap.  Only called from
 * have_data() right after the slice that produced them was decoded, with
 * the BQL and s->lock held throughout, so no bitmap sync (which needs the
 * BQL) can fall between the epoch check at chunk_begin and the clearing.
 * The check is repeated here all the same (pvmig_epoch_may_apply()), so
 * that safety does not rest on that lock alone.
 */
static void pvmig_hint_pieces(PvmigState *s)
{
    FreePageHintStats hinted;
    int64_t t0, t1;

    if (!s->pieces->len) {
        return;
    }
    if (!pvmig_epoch_may_apply(&s->mig, s->pieces_epoch)) {
        /* Closed or refused since: when in doubt, send. */
        g_array_set_size(s->pieces, 0);
        return;
    }
    t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    if (qemu_guest_free_page_hints((const struct iovec *)s->pieces->data,
                                   s->pieces->len, s->mig.unsent_only,
                                   &hinted)) {
        t1 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        s->mig.stats.bitmap_wait_us += hinted.mutex_wait_ns / SCALE_US;
        trace_pvmig_pieces_hinted(s->pieces->len, hinted.cleared, hinted.kept,
                                  hinted.mutex_wait_ns / SCALE_US,
                                  (t1 - t0) / SCALE_US);
    }
    /* A test build's hint log hashed the pages inside that call. */
    s->mig.stats.hint_log_us = (pvmig_hint_log_cost_ns() -
                                s->hint_log_ns_at_begin) / SCALE_US;
    s->mig.stats.pages_cleared += hinted.cleared;
    s->mig.stats.pages_zero_resend += hinted.kept;
    if (s->pieces_epoch == s->mig.first_epoch) {
        s->mig.stats.hint_latency_us =
            (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - s->first_request_ns) /
            SCALE_US;
    }
    g_array_set_size(s->pieces, 0);
}

static void pvmig_dec_hello(void *opaque, const struct pvmig_hello *hello)
{
    PvmigState *s = opaque;

    s->hunting = false;
    trace_pvmig_hello(hello->proto_version, hello->page_size,
                      hello->max_pfn, hello->caps, hello->poison_pattern);
    if (hello->page_size != (1u << PVMIG_PAGE_SHIFT)) {
        pvmig_invalid(s, "HELLO page size is not 4 KiB");
        return;
    }
    s->hello = *hello;
    s->have_hello = true;
}

static void pvmig_dec_chunk_begin(void *opaque, uint32_t epoch, uint32_t seq,
                                  uint32_t nr_ranges)
{
    PvmigState *s = opaque;

    s->hunting = false;
    s->chunk_ranges = s->chunk_pages = s->chunk_not_ram = 0;
    switch (pvmig_epoch_chunk_begin(&s->mig, epoch)) {
    case PVMIG_CHUNK_APPLY:
        s->chunk_apply = true;
        s->pieces_epoch = epoch;
        break;
    case PVMIG_CHUNK_STALE:
        trace_pvmig_stale_dropped(epoch, seq, s->mig.epoch,
                                  s->mig.window_open);
        /* fall through */
    case PVMIG_CHUNK_REFUSED:
        s->chunk_apply = false;
        break;
    }
}

static void pvmig_dec_range(void *opaque, uint32_t epoch, uint64_t start_pfn,
                            uint64_t nr_pages)
{
    PvmigState *s = opaque;

    if (!s->chunk_apply) {
        return;
    }
    /* The decoder keeps ranges below min(limit_pfn, HELLO max_pfn). */
    pvmig_apply_range(s, start_pfn << PVMIG_PAGE_SHIFT,
                      nr_pages << PVMIG_PAGE_SHIFT);
    s->chunk_ranges++;
}

static void pvmig_dec_chunk_end(void *opaque, uint32_t epoch, uint32_t seq)
{
    PvmigState *s = opaque;

    if (!s->chunk_apply) {
        return;
    }
    s->mig.stats.ranges += s->chunk_ranges;
    s->mig.stats.pages_hinted += s->chunk_pages;
    s->mig.stats.pages_not_ram += s->chunk_not_ram;
    trace_pvmig_ranges_decoded(epoch, seq, s->chunk_ranges, s->chunk_pages,
                               s->chunk_not_ram);
}

static void pvmig_dec_end(void *opaque, uint32_t epoch,
                          const struct pvmig_end *end)
{
    PvmigState *s = opaque;

    s->hunting = false;
    trace_pvmig_epoch_end(epoch, end->nr_ranges, end->nr_pages, end->flags,
                          end->walk_ns, end->agent_ns);
    if (epoch && epoch == s->mig.first_epoch) {
        /* The guest's own figures: reported, never acted upon. */
        s->mig.stats.walk_us = end->walk_ns / SCALE_US;
        s->mig.stats.agent_us = end->agent_ns / SCALE_US;
    }
    pvmig_epoch_answered(&s->mig, epoch);
}

static void pvmig_dec_error(void *opaque, uint32_t epoch, uint32_t code,
                            const char *reason)
{
    PvmigState *s = opaque;

    s->hunting = false;
    trace_pvmig_guest_error(epoch, code, reason);
    /* That epoch will not be answered: stop waiting for it. */
    pvmig_epoch_answered(&s->mig, epoch);
}

static const struct pvmig_decoder_ops pvmig_decoder_ops = {
    .hello = pvmig_dec_hello,
    .chunk_begin = pvmig_dec_chunk_begin,
    .range = pvmig_dec_range,
    .chunk_end = pvmig_dec_chunk_end,
    .end = pvmig_dec_end,
    .error = pvmig_dec_error,
};

/* Guest wrote to the port; @buf is any slice of the stream. */
static ssize_t pvmig_have_data(VirtIOSerialPort *port, const uint8_t *buf,
                               ssize_t len)
{
    PvmigState *s = PVMIG(port);
    size_t off = 0;
    int ret;

    qemu_mutex_lock(&s->lock);
    s->mig.stats.bytes_received += len;
    if (s->mig.broken) {
        goto out;
    }
    if (!pvmig_epoch_take_bytes(&s->mig, len)) {
        pvmig_invalid(s, "too many bytes in one epoch");
        goto out;
    }
    while (off < (size_t)len) {
        size_t n = MIN((size_t)len - off, PVMIG_FEED_SLICE);

        ret = pvmig_decoder_feed(&s->dec, buf + off, n);
        pvmig_hint_pieces(s);
        if (ret == 0) {
            off += n;
            continue;
        }
        if (s->hunting) {
            /*
             * Just after an incoming migration or a reconnect the stream
             * may resume in the middle of a message (the tail of what the
             * old side wrote): count it, skip to the next header.  Ranges
             * still need a whole validated chunk of an open epoch.
             */
            pvmig_epoch_count_rejected(&s->mig, PVMIG_REFUSED_INVALID);
            trace_pvmig_invalid(pvmig_strerror(ret));
            off += MAX(pvmig_decoder_consumed(&s->dec), 1);
            pvmig_decoder_resync(&s->dec);
            continue;
        }
        pvmig_invalid(s, pvmig_strerror(ret));
        break;
    }
out:
    pvmig_drop_cached(s);
    qemu_mutex_unlock(&s->lock);
    /* Always consume: throttling would let the guest stall its own port. */
    return len;
}

/* ---- test only: an agent inside QEMU (x-test-agent=on) ---- */

/*
 * Parses "EPOCH:PFN+PAGES[,PFN+PAGES...]" (numbers in C notation) into
 * @epoch and ranges for @enc.  Ranges are added as given: ordering and
 * bounds are the decoder's to check, as for a guest.
 */
static bool pvmig_inject_parse(const char *str, uint32_t *epoch,
                               struct pvmig_encoder *enc, void *buf,
                               uint64_t max_pfn, Error **errp)
{
    const char *p = str;
    uint64_t v, start, n;

    if (qemu_strtou64(p, &p, 0, &v) || *p != ':' || !v || v > UINT32_MAX) {
        error_setg(errp, "x-inject: expected EPOCH:PFN+PAGES,..., got '%s'",
                   str);
        return false;
    }
    *epoch = v;
    if (pvmig_encoder_init(enc, *epoch, max_pfn, buf, PVMIG_MAX_MSG)) {
        error_setg(errp, "x-inject: cannot start epoch %u", *epoch);
        return false;
    }
    do {
        p++;
        if (qemu_strtou64(p, &p, 0, &start) || *p != '+' ||
            qemu_strtou64(p + 1, &p, 0, &n) || (*p && *p != ',')) {
            error_setg(errp, "x-inject: bad range in '%s'", str);
            return false;
        }
        if (pvmig_encoder_add(enc, start, n) == PVMIG_ENC_FULL) {
            error_setg(errp, "x-inject: too many ranges for one message");
            return false;
        }
    } while (*p == ',');
    return true;
}

/*
 * Test only.  Hints guest-physical ranges as if the agent had sent them
 * for @epoch: they are encoded as RANGES and END messages and fed to the
 * same decoder and checks as the guest's own input, so only the transport
 * is skipped.  This lets a test hint a guest that runs no agent (a
 * bare-metal guest under KVM) at a moment of its choosing, e.g. right
 * after the guest wrote those pages.
 */
static void pvmig_inject(Object *obj, const char *str, Error **errp)
{
    PvmigState *s = PVMIG(obj);
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(obj);
    g_autofree struct pvmig_encoder *enc = g_new0(struct pvmig_encoder, 1);
    g_autofree uint8_t *buf = g_malloc(PVMIG_MAX_MSG);
    uint8_t end[PVMIG_HDR_SIZE + PVMIG_END_SIZE];
    uint32_t epoch;
    size_t len;
    int n;

    if (!s->x_test_agent) {
        error_setg(errp, "x-inject needs x-test-agent=on");
        return;
    }
    if (!pvmig_inject_parse(str, &epoch, enc, buf, s->limit_pfn, errp)) {
        return;
    }
    n = pvmig_encoder_finish(enc);
    if (n != 0) {
        error_setg(errp, "x-inject: ranges rejected by the encoder (%s)",
                   pvmig_strerror(n));
        return;
    }
    len = pvmig_encoder_take(enc);
    if (len) {
        pvmig_have_data(port, buf, len);
    }
    n = pvmig_encoder_end(enc, NULL, end, sizeof(end));
    if (n > 0) {
        pvmig_have_data(port, end, n);
    }
}

/* The HELLO a test agent would send: RAM of this machine, no contract. */
static void pvmig_test_agent_hello(PvmigState *s)
{
    struct pvmig_hello hello = {
        .proto_version = PVMIG_PROTO_VERSION,
        .page_size = 1u << PVMIG_PAGE_SHIFT,
        .max_pfn = s->limit_pfn,
        .caps = PVMIG_CAP_MODULE,
    };
    uint8_t msg[PVMIG_HDR_SIZE + PVMIG_HELLO_SIZE];
    int n = pvmig_build_hello(msg, sizeof(msg), &hello);

    assert(n > 0);
    pvmig_have_data(VIRTIO_SERIAL_PORT(s), msg, n);
}

static void pvmig_set_guest_connected(VirtIOSerialPort *port, int connected)
{
    PvmigState *s = PVMIG(port);

    trace_pvmig_guest_connected(connected);
    if (connected) {
        /* The agent sends HELLO after opening; nothing to do until then. */
        return;
    }
    qemu_mutex_lock(&s->lock);
    s->have_hello = false;
    s->out_len = 0;
    /*
     * Bytes the old agent wrote may still arrive after the close (data and
     * control queues are not ordered): hunt for the next message start.
     */
    pvmig_decoder_reset(&s->dec);
    pvmig_decoder_resync(&s->dec);
    s->hunting = true;
    /*
     * The agent went away (killed, restarted): no answer can come for the
     * open epoch, and a new agent's HELLO is only trusted from the next
     * migration on, so hinting stops here for this one.
     */
    pvmig_epoch_agent_gone(&s->mig);
    qemu_mutex_unlock(&s->lock);
}

static void pvmig_guest_writable(VirtIOSerialPort *port)
{
    pvmig_flush_out(PVMIG(port));
}

/* ---- migration of the device itself ---- */

/*
 * The agent sends HELLO once per open, so the destination inherits it
 * (and the epoch counter, which must never repeat) from the source.
 */
static int pvmig_post_load(void *opaque, int version_id)
{
    PvmigState *s = opaque;
    uint8_t msg[PVMIG_HDR_SIZE + PVMIG_HELLO_SIZE];
    int n;

    pvmig_decoder_reset(&s->dec);
    if (s->have_hello) {
        /* Replay the HELLO so the decoder accepts the agent's ranges. */
        n = pvmig_build_hello(msg, sizeof(msg), &s->hello);
        if (n < 0 || pvmig_decoder_feed(&s->dec, msg, n) != 0) {
            s->have_hello = false;
            pvmig_decoder_reset(&s->dec);
        }
    }
    pvmig_decoder_resync(&s->dec);
    s->hunting = true;
    return 0;
}

static const VMStateDescription vmstate_pvmig = {
    .name = "pvmig",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = pvmig_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig.epoch, PvmigState),
        VMSTATE_BOOL(have_hello, PvmigState),
        VMSTATE_BOOL(mig.broken, PvmigState),
        VMSTATE_UINT32(hello.proto_version, PvmigState),
        VMSTATE_UINT32(hello.page_size, PvmigState),
        VMSTATE_UINT64(hello.max_pfn, PvmigState),
        VMSTATE_UINT32(hello.caps, PvmigState),
        VMSTATE_UINT8(hello.poison_pattern, PvmigState),
        VMSTATE_END_OF_LIST()
    },
};

/* ---- QOM ---- */

static bool pvmig_hint_wait_ms_valid(uint32_t ms, Error **errp)
{
    ERRP_GUARD();

    if (ms > PVMIG_MAX_HINT_WAIT_MS) {
        error_setg(errp, "hint-wait-ms must be at most %u ms, not %" PRIu32,
                   PVMIG_MAX_HINT_WAIT_MS, ms);
        error_append_hint(errp, "The migration thread blocks for that long "
                          "at setup, waiting for the guest's first answer.\n");
        return false;
    }
    return true;
}

static void pvmig_get_hint_wait_ms(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    uint32_t *ptr = object_field_prop_ptr(obj, opaque);
    uint32_t ms = qatomic_read(ptr);

    visit_type_uint32(v, name, &ms, errp);
}

/*
 * Before realize the value is only stored: pvmig_realize() checks it, as
 * for any qdev property.  After realize (qom-set at run time) a value out
 * of bounds is refused and the old one kept.  The SETUP wait reads it once
 * per migration, without s->lock.
 */
static void pvmig_set_hint_wait_ms(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    uint32_t *ptr = object_field_prop_ptr(obj, opaque);
    uint32_t ms;

    if (!visit_type_uint32(v, name, &ms, errp)) {
        return;
    }
    if (DEVICE(obj)->realized && !pvmig_hint_wait_ms_valid(ms, errp)) {
        return;
    }
    qatomic_set(ptr, ms);
}

static void pvmig_hint_wait_ms_default(ObjectProperty *op,
                                       const Property *prop)
{
    object_property_set_default_uint(op, prop->defval.u);
}

/* A uint32 property that may also be set on the realized device. */
static const PropertyInfo pvmig_prop_hint_wait_ms = {
    PVMIG_PROPERTY_INFO_TYPE("uint32"),
    .description = "ms the migration setup waits for the first free-page "
                   "snapshot, 0-" stringify(PVMIG_MAX_HINT_WAIT_MS),
    .get = pvmig_get_hint_wait_ms,
    .set = pvmig_set_hint_wait_ms,
    .set_default_value = pvmig_hint_wait_ms_default,
    .realized_set_allowed = true,
};

static void pvmig_realize(DeviceState *dev, Error **errp)
{
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(dev);
    PvmigState *s = PVMIG(dev);
    MachineState *ms = MACHINE(qdev_get_machine());
    uint64_t ram_pfns;

    if (port->id == 0) {
        error_setg(errp, "port number 0 is reserved for virtconsole");
        return;
    }
    if (qemu_target_page_size() != (1u << PVMIG_PAGE_SHIFT)) {
        error_setg(errp, "pvmig needs a 4 KiB target page size");
        return;
    }
    if (!pvmig_hint_wait_ms_valid(s->hint_wait_ms, errp)) {
        return;
    }
#ifndef CONFIG_PVMIG_HINT_LOG
    if (getenv("PVMIG_HINT_LOG")) {
        /* A RAM comparison would then count every hinted page as lost. */
        warn_report("pvmig: PVMIG_HINT_LOG is set, but this QEMU was built "
                    "without --enable-pvmig-hint-log: no hint log is kept");
    }
#endif
    /*
     * An upper bound of the guest RAM span: on x86, RAM above the PCI
     * hole continues at 4 GiB.  Ranges beyond real RAM are still mapped
     * and skipped piece by piece.
     */
    ram_pfns = (ms->maxram_size + 4 * GiB) >> PVMIG_PAGE_SHIFT;
    s->limit_pfn = ram_pfns;
    /* Worst honest case: a few bytes per range, ranges at most pfns/2. */
    pvmig_epoch_init(&s->mig, &pvmig_mig_ops, s,
                     ram_pfns * 2 + PVMIG_EPOCH_BYTES_SLACK);

    s->pieces = g_array_new(false, false, sizeof(struct iovec));
    qemu_mutex_init(&s->lock);
    qemu_mutex_init(&s->wait_lock);
    qemu_cond_init(&s->first_epoch_cond);
    pvmig_decoder_init(&s->dec, PVMIG_ROLE_HOST, s->limit_pfn,
                       &pvmig_decoder_ops, s);
    s->precopy_notifier.notify = pvmig_precopy_notify;
    precopy_add_notifier(&s->precopy_notifier);
    virtio_serial_open(port);
    if (s->x_test_agent) {
        pvmig_test_agent_hello(s);
    }
}

static void pvmig_unrealize(DeviceState *dev)
{
    PvmigState *s = PVMIG(dev);

    precopy_remove_notifier(&s->precopy_notifier);
    pvmig_drop_cached(s);
    g_array_free(s->pieces, true);
    qemu_cond_destroy(&s->first_epoch_cond);
    qemu_mutex_destroy(&s->wait_lock);
    qemu_mutex_destroy(&s->lock);
}

static char *pvmig_get_dirty_log(Object *obj, Error **errp)
{
    return g_strdup(pvmig_dirty_log_str(PVMIG(obj)->mig.dirty_log));
}

/*
 * The counters' read-only QOM properties, "stat-" and the name with
 * dashes: one row per entry of proto/pvmig_counters.h, the list the
 * migration driver reads them by.
 */
#define PVMIG_COUNTER_ROW(name_, desc_) {               \
        .name = #name_,                                 \
        .desc = desc_,                                  \
        .offset = offsetof(PvmigStats, name_),          \
    },

static const struct {
    const char *name;
    const char *desc;
    size_t offset;
} pvmig_counters[] = {
    PVMIG_COUNTERS(PVMIG_COUNTER_ROW)
};

#undef PVMIG_COUNTER_ROW

static void pvmig_instance_init(Object *obj)
{
    PvmigState *s = PVMIG(obj);
    VirtIOSerialPort *port = VIRTIO_SERIAL_PORT(obj);
    size_t i;

    /* The port name the agent looks for, unless name= overrides it. */
    port->name = g_strdup(PVMIG_PORT_NAME);

    for (i = 0; i < ARRAY_SIZE(pvmig_counters); i++) {
        g_autofree char *prop = g_strdup_printf("stat-%s",
                                                pvmig_counters[i].name);

        g_strdelimit(prop, "_", '-');
        object_property_add_uint64_ptr(obj, prop,
                                       (uint64_t *)((uint8_t *)&s->mig.stats +
                                                    pvmig_counters[i].offset),
                                       OBJ_PROP_FLAG_READ);
        object_property_set_description(obj, prop, pvmig_counters[i].desc);
    }
    /* What the agent's HELLO claimed, for tools that check the contract. */
    object_property_add_uint32_ptr(obj, "guest-caps", &s->hello.caps,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint8_ptr(obj, "guest-poison-pattern",
                                  &s->hello.poison_pattern,
                                  OBJ_PROP_FLAG_READ);
    /* The last epoch issued, and how this migration re-arms its log. */
    object_property_add_uint32_ptr(obj, "epoch", &s->mig.epoch,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_str(obj, "dirty-log", pvmig_get_dirty_log, NULL);
    object_property_add_str(obj, "x-inject", NULL, pvmig_inject);
}

static PvmigProperty pvmig_properties[] = {
    DEFINE_PROP_UNSIGNED("hint-wait-ms", PvmigState, hint_wait_ms,
                         PVMIG_DEFAULT_HINT_WAIT_MS, pvmig_prop_hint_wait_ms,
                         uint32_t),
    /*
     * Whether the destination's guest RAM reads as zero before the stream
     * fills it (fresh anonymous memory, shm, hugetlbfs: yes; a reused file
     * backend: no).  Guests whose free pages must read as zero are hinted
     * only when it does.
     */
    DEFINE_PROP_BOOL("dest-ram-zeroed", PvmigState, dest_ram_zeroed, true),
    /*
     * Test only: hint every guest as if its free pages were never read,
     * the bug the free-page contract guards against, so a test can show
     * that the check catches it.
     */
    DEFINE_PROP_BOOL("x-ignore-free-contract", PvmigState,
                     x_ignore_free_contract, false),
    /*
     * Test only: off skips the re-arm under KVM's manual dirty log yet
     * still hints, the bug the re-arm guards against.
     */
    DEFINE_PROP_BOOL("x-rearm", PvmigState, x_rearm, true),
    /*
     * Test only: act as if an agent had said HELLO and take ranges from
     * the x-inject property instead of the port (pvmig_inject()).
     */
    DEFINE_PROP_BOOL("x-test-agent", PvmigState, x_test_agent, false),
#if QEMU_VERSION_MAJOR < 10
    DEFINE_PROP_END_OF_LIST(),
#endif
};

static void pvmig_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtIOSerialPortClass *k = VIRTIO_SERIAL_PORT_CLASS(klass);

    dc->desc = "pvmig free-page hints for live migration";
    dc->vmsd = &vmstate_pvmig;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, pvmig_properties);
    k->realize = pvmig_realize;
    k->unrealize = pvmig_unrealize;
    k->have_data = pvmig_have_data;
    k->set_guest_connected = pvmig_set_guest_connected;
    k->guest_writable = pvmig_guest_writable;
}

static const TypeInfo pvmig_info = {
    .name = TYPE_PVMIG,
    .parent = TYPE_VIRTIO_SERIAL_PORT,
    .instance_size = sizeof(PvmigState),
    .instance_init = pvmig_instance_init,
    .class_init = pvmig_class_init,
};

static void pvmig_register_types(void)
{
    type_register_static(&pvmig_info);
}

type_init(pvmig_register_types)
