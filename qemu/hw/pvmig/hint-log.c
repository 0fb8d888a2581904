/*
 * pvmig test-only hint log
 *
 * Why it exists: a free-page hint lets migration skip a page, so after a
 * hinted migration the source and destination RAM may legitimately differ
 * on pages the guest had free.  The RAM comparison in tools/ must tell
 * such a page from a lost one, so qemu_guest_free_page_hint() calls this
 * file to record every page it is asked to skip, with a hash of the page's
 * content at that moment (format and hash: proto/pvmig_page_hash.h).
 * virtio-balloon (one range at a time) and the pvmig device (batches) both
 * hint through qemu_guest_free_page_hints(), which logs its ranges here
 * before it takes the bitmap mutex.
 *
 * Compiled only into test builds (configure --enable-pvmig-hint-log);
 * hint-log.h has the product build's stubs.
 *
 * It is on only when the environment variable PVMIG_HINT_LOG names a
 * file; otherwise the hook costs one branch.  Lines are buffered and
 * flushed when a migration ends (and at exit), so hinting stays cheap.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qemu/notify.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "exec/cpu-common.h"
#include "exec/target_page.h"
#include "migration/misc.h"
#include "hw/pvmig/hint-log.h"
#include "proto/pvmig_page_hash.h"
#include "trace.h"

static FILE *hint_log;
/* Hints come from the main loop (pvmig) and an iothread (virtio-balloon). */
static QemuMutex hint_log_lock;

bool pvmig_hint_log_enabled(void)
{
    return hint_log != NULL;
}

void pvmig_hint_log_flush(void)
{
    if (!hint_log) {
        return;
    }
    qemu_mutex_lock(&hint_log_lock);
    fflush(hint_log);
    qemu_mutex_unlock(&hint_log_lock);
}

/*
 * Where the time goes, and why it is spent this way: the hash must be
 * taken now, before the hint clears the page from the bitmap (a write
 * the dirty log missed afterwards must not be excused), so the cost lands
 * on the hinting thread.  Three things keep it small:
 *
 * - A page the host never backed (a hole in the shm file of the test
 *   driver's RAM, an untouched anonymous page) reads as zeros.  mincore()
 *   tells which pages are backed without touching the others: touching a
 *   hole through a shared mapping would allocate it (shared mappings have
 *   no zero page).  Unbacked pages are logged with the zero page's hash,
 *   consecutive ones as one line.  A page that is not resident for
 *   another reason (swapped out) is logged as zero too: if it was not,
 *   the comparison finds a hash mismatch and reports a lost page, so the
 *   error can only be a false alarm, never an excuse.
 * - Backed pages are hashed in place, no copy.
 * - Lines are formatted by hand into one buffer, one write per batch.
 */
#define HINT_LOG_BATCH_PAGES 256
/* A line's size beyond the block name: three hex numbers and separators. */
#define HINT_LOG_LINE_FIXED (3 * 17 + 1)

static uint64_t hint_log_zero_hash;
static size_t hint_log_zero_hash_page;  /* the page size it was taken for */
static uint64_t hint_log_ns;
static char hint_log_text[64 * KiB];

static char *put_hex(char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}

/* "<block> <offset> <hash>[ <pages>]\n": the format of pvmig_page_hash.h */
static char *put_line(char *p, const char *name, uint64_t offset,
                      uint64_t hash, uint64_t pages)
{
    p = stpcpy(p, name);
    *p++ = ' ';
    p = put_hex(p, offset);
    *p++ = ' ';
    p = put_hex(p, hash);
    if (pages > 1) {
        *p++ = ' ';
        p = put_hex(p, pages);
    }
    *p++ = '\n';
    return p;
}

static uint64_t zero_page_hash(size_t page)
{
    if (hint_log_zero_hash_page != page) {
        void *zero = g_malloc0(page);

        hint_log_zero_hash = pvmig_page_hash(zero, page);
        hint_log_zero_hash_page = page;
        g_free(zero);
    }
    return hint_log_zero_hash;
}

/* Up to HINT_LOG_BATCH_PAGES pages from @host, @offset in block @name. */
static void hint_log_batch(const char *name, uint64_t offset,
                           const uint8_t *host, size_t pages, size_t page)
{
    unsigned char backed[HINT_LOG_BATCH_PAGES];
    size_t line_max = strlen(name) + HINT_LOG_LINE_FIXED;
    char *p = hint_log_text;
    size_t i, run;

    if (!QEMU_IS_ALIGNED((uintptr_t)host, qemu_real_host_page_size()) ||
        mincore((void *)host, pages * page, backed) < 0) {
        memset(backed, 1, pages);       /* unknown: read every page */
    }
    for (i = 0; i < pages; i += run) {
        run = 1;
        if (p + line_max > hint_log_text + sizeof(hint_log_text)) {
            fwrite(hint_log_text, 1, p - hint_log_text, hint_log);
            p = hint_log_text;
        }
        if (backed[i] & 1) {
            p = put_line(p, name, offset + i * page,
                         pvmig_page_hash(host + i * page, page), 1);
            continue;
        }
        while (i + run < pages && !(backed[i + run] & 1)) {
            run++;
        }
        p = put_line(p, name, offset + i * page, zero_page_hash(page), run);
    }
    fwrite(hint_log_text, 1, p - hint_log_text, hint_log);
}

static void hint_log_range(RAMBlock *rb, ram_addr_t offset,
                           const void *host, size_t len)
{
    size_t page = qemu_target_page_size();
    const char *name = qemu_ram_get_idstr(rb);
    int64_t t0 = get_clock();
    size_t done, n;

    if (!hint_log) {
        return;
    }
    trace_pvmig_hint_log_range(name, offset, len);
    qemu_mutex_lock(&hint_log_lock);
    for (done = 0; done + page <= len; done += n * page) {
        n = MIN((len - done) / page, HINT_LOG_BATCH_PAGES);
        hint_log_batch(name, offset + done, (const uint8_t *)host + done,
                       n, page);
    }
    hint_log_ns += get_clock() - t0;
    qemu_mutex_unlock(&hint_log_lock);
}

uint64_t pvmig_hint_log_cost_ns(void)
{
    uint64_t ns;

    if (!hint_log) {
        return 0;
    }
    qemu_mutex_lock(&hint_log_lock);
    ns = hint_log_ns;
    qemu_mutex_unlock(&hint_log_lock);
    return ns;
}

void pvmig_hint_log_host(const void *host, size_t len)
{
    ram_addr_t offset;
    RAMBlock *rb;

    if (!hint_log) {
        return;
    }
    rb = qemu_ram_block_from_host((void *)host, false, &offset);
    if (rb) {
        hint_log_range(rb, offset, host, len);
    }
}

/*
 * Any state change may be the end of a migration (completed, failed,
 * cancelled); flushing on each one is cheap and keeps the file complete
 * by the time the driver reads it.  9.0 replaced the state-change
 * notifier with one that gets the event and may fail.
 */
#if QEMU_VERSION_MAJOR >= 10
static NotifierWithReturn hint_log_migration_notifier;

static int hint_log_migration_event(NotifierWithReturn *notifier,
                                    MigrationEvent *e, Error **errp)
{
    pvmig_hint_log_flush();
    return 0;
}

static void hint_log_add_migration_notifier(void)
{
    migration_add_notifier(&hint_log_migration_notifier,
                           hint_log_migration_event);
}
#else
static Notifier hint_log_migration_notifier;

static void hint_log_migration_state(Notifier *notifier, void *data)
{
    pvmig_hint_log_flush();
}

static void hint_log_add_migration_notifier(void)
{
    hint_log_migration_notifier.notify = hint_log_migration_state;
    add_migration_state_change_notifier(&hint_log_migration_notifier);
}
#endif

static void hint_log_at_exit(void)
{
    pvmig_hint_log_flush();
}

/*
 * Runs before main(): the migration state notifier list is statically
 * initialised, and no other thread exists yet.
 */
static void __attribute__((constructor)) pvmig_hint_log_init(void)
{
    const char *path = getenv("PVMIG_HINT_LOG");

    if (!path || !*path) {
        return;
    }
    hint_log = fopen(path, "a");
    if (!hint_log) {
        fprintf(stderr, "pvmig: cannot open PVMIG_HINT_LOG %s: %s\n",
                path, strerror(errno));
        exit(1);
    }
    setvbuf(hint_log, NULL, _IOFBF, 1 << 20);
    fprintf(hint_log, "#pvmig-hint-log %d\n", PVMIG_HINT_LOG_VERSION);
    qemu_mutex_init(&hint_log_lock);
    hint_log_add_migration_notifier();
    atexit(hint_log_at_exit);
}
