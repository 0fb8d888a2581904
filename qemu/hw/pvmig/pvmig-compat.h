/*
 * pvmig: the QEMU APIs that differ between the versions the device builds
 * against, 7.2 (Debian 12) and 10.0 (Debian 13), in one place, so that
 * the device's own code reads the same for both.
 *
 * QEMU_VERSION_MAJOR comes from config-host.h (qemu/osdep.h), which both
 * versions generate.  Each wrapper names the version that changed the API;
 * docs/qemu-hooks.md ("QEMU 10.0") lists the changes as read in 10.0.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PVMIG_COMPAT_H
#define HW_PVMIG_COMPAT_H

#if QEMU_VERSION_MAJOR != 7 && QEMU_VERSION_MAJOR != 10
#error "pvmig supports QEMU 7.2 and 10.0 (qemu/patches/ and qemu/patches/10.0/)"
#endif

#include "qemu/main-loop.h"
#include "migration/misc.h"

#if QEMU_VERSION_MAJOR >= 10

/* 8.x moved sysemu/ to system/; migration options became public there. */
#include "system/kvm.h"
#include "system/runstate.h"
#include "system/tcg.h"
#include "migration/client-options.h"

/* 9.0 renamed the iothread mutex to the BQL. */
static inline bool pvmig_bql_locked(void)
{
    return bql_locked();
}

static inline void pvmig_bql_lock(void)
{
    bql_lock();
}

static inline void pvmig_bql_unlock(void)
{
    bql_unlock();
}

/*
 * 8.2 made migration/migration.h internal: whether a RAM block is left
 * out of the stream (not migratable, or shared with ignore-shared) is
 * migrate_ram_is_ignored().
 */
static inline bool pvmig_ram_block_migrated(RAMBlock *rb)
{
    return !migrate_ram_is_ignored(rb);
}

/*
 * 9.2 made property tables const and sized by the array, so a table has
 * no end marker (the device's table ends in one only before 10); 10.0's
 * PropertyInfo names its type in .type.
 */
typedef const Property PvmigProperty;
#define PVMIG_PROPERTY_INFO_TYPE(t) .type = (t)

/* 9.0's notifiers with a return value also take an Error **. */
#define PVMIG_NOTIFIER_ERRP_PARAM , Error **errp

#else /* QEMU 7.2 */

#include "sysemu/kvm.h"
#include "sysemu/runstate.h"
#include "sysemu/tcg.h"
#include "migration/migration.h"

static inline bool pvmig_bql_locked(void)
{
    return qemu_mutex_iothread_locked();
}

static inline void pvmig_bql_lock(void)
{
    qemu_mutex_lock_iothread();
}

static inline void pvmig_bql_unlock(void)
{
    qemu_mutex_unlock_iothread();
}

static inline bool pvmig_ram_block_migrated(RAMBlock *rb)
{
    return qemu_ram_is_migratable(rb) &&
           !(migrate_ignore_shared() && qemu_ram_is_shared(rb));
}

typedef Property PvmigProperty;
#define PVMIG_PROPERTY_INFO_TYPE(t) .name = (t)

#define PVMIG_NOTIFIER_ERRP_PARAM

#endif

#endif
