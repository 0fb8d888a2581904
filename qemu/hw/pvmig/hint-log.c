/*
 * pvmig test-only hint log
 *
 * Why it exists: a free-page hint lets migration skip a page, so after a
 * hinted migration the source and destination RAM may legitimately differ
 * on pages the guest had free.  The RAM comparison in tools/ must tell
 * such a page from a lost one, so qemu_guest_free_page_hint() calls this
 * file to record every page it is asked to skip, with a hash of the page's
 * content at that moment (format and hash: proto/pvmig_page_hash.h).
 * virtio-balloon's free-page hinting goes through that function; the pvmig
 * device hints in batches (qemu_guest_free_page_hint_locked()) and logs
 * its pieces itself through pvmig_hint_log_host(), before it takes the
 * bitmap mutex.
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
#include "qemu/units.h"
#include "exec/target_page.h"
#include "migration/misc.h"
#include "hw/pvmig/hint-log.h"
#include "proto/pvmig_page_hash.h"
#include "trace.h"

static FILE *hint_log;
/* Hints come from the main loop (pvmig) and an iothread (virtio-balloon). */
static QemuMutex hint_log_lock;
static Notifier hint_log_migration_notifier;

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
 * A shared file-backed block (the test driver's RAM in /dev/shm) is read
 * through its file: a hole in a tmpfs file reads as zeros without being
 * allocated, while touching it through the mapping would allocate it
 * (shared mappings have no zero page) and cost more than the hashing.
 * Private mappings and anonymous RAM are read in place.
 */
#define HINT_LOG_CHUNK (256 * KiB)
static uint8_t *hint_log_buf;

static void hint_log_pages(const char *name, uint64_t offset,
                           const uint8_t *data, size_t len, size_t page)
{
    size_t done;

    for (done = 0; done + page <= len; done += page) {
        fprintf(hint_log, "%s %" PRIx64 " %" PRIx64 "\n", name,
                offset + done, pvmig_page_hash(data + done, page));
    }
}

void pvmig_hint_log_range(RAMBlock *rb, ram_addr_t offset,
                          const void *host, size_t len)
{
    size_t page = qemu_target_page_size();
    const char *name = qemu_ram_get_idstr(rb);
    int fd = qemu_ram_get_fd(rb);
    bool via_file = fd >= 0 && qemu_ram_is_shared(rb);
    size_t done, n;
    ssize_t got;

    if (!hint_log) {
        return;
    }
    trace_pvmig_hint_log_range(name, offset, len);
    qemu_mutex_lock(&hint_log_lock);
    for (done = 0; done < len; done += n) {
        n = MIN(len - done, HINT_LOG_CHUNK);
        got = -1;
        if (via_file) {
            if (!hint_log_buf) {
                hint_log_buf = g_malloc(HINT_LOG_CHUNK);
            }
            got = pread(fd, hint_log_buf, n, offset + done);
        }
        if (got == (ssize_t)n) {
            hint_log_pages(name, offset + done, hint_log_buf, n, page);
        } else {
            hint_log_pages(name, offset + done,
                           (const uint8_t *)host + done, n, page);
        }
    }
    qemu_mutex_unlock(&hint_log_lock);
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
        pvmig_hint_log_range(rb, offset, host, len);
    }
}

/*
 * Any state change may be the end of a migration (completed, failed,
 * cancelled); flushing on each one is cheap and keeps the file complete
 * by the time the driver reads it.
 */
static void hint_log_migration_state(Notifier *notifier, void *data)
{
    pvmig_hint_log_flush();
}

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
    qemu_mutex_init(&hint_log_lock);
    hint_log_migration_notifier.notify = hint_log_migration_state;
    add_migration_state_change_notifier(&hint_log_migration_notifier);
    atexit(hint_log_at_exit);
}
