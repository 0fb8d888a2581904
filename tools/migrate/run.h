/* SPDX-License-Identifier: MIT */
#ifndef PVMIG_MIGRATE_RUN_H
#define PVMIG_MIGRATE_RUN_H

/*
 * One pvmig-migrate run: options, the two QEMU sides, and the JSON result
 * object that every phase fills in.
 */
#include "console.h"
#include "hintlog.h"
#include "jsonout.h"
#include "qemu.h"
#include "qmp.h"
#include "ramcmp.h"
#include "report.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_UNVERIFIED = 1, EXIT_USAGE = 2, EXIT_INFRA = 3 };
/* Internal only: an injected fault ended this attempt; migrate again. */
#define EXIT_RETRY 100
/*
 * none: no hints.  pvmig: our device and agent.  balloon: virtio-balloon's
 * free-page-hint.  reporting: virtio-balloon's free page reporting (the
 * guest reports free blocks, QEMU discards them, they migrate as zero).
 */
enum mode { MODE_NONE, MODE_PVMIG, MODE_BALLOON, MODE_REPORTING, NR_MODES };
extern const char *const mode_names[];

/* What the guest-side check saw: results' "guest_check". */
enum guest_check {
	CHECK_PASS,	/* the workload's sweeps (or zero check) passed */
	CHECK_NONE,	/* nothing to check; the guest ran on without failing */
	CHECK_FAIL,
	CHECK_TIMEOUT,
	CHECK_SKIPPED,	/* --no-verify */
};
extern const char *const guest_check_names[];

/*
 * Why a run did not verify: results' "failure_class", which the soak
 * classifies on.  The last failure a run records is its class.
 */
#define FAILURE_CLASSES(X)						\
	X(FAIL_NONE, "none")						\
	X(FAIL_LOST_PAGES, "lost_pages")	/* the RAM comparison */	\
	X(FAIL_GUEST_CHECK, "guest_check")	/* failed or timed out */	\
	X(FAIL_QEMU_CRASH, "qemu_crash")	/* a QEMU died */		\
	X(FAIL_MIGRATION, "migration_failed")	/* QEMU's status failed */	\
	X(FAIL_TIMEOUT, "timeout")		/* boot or migration */		\
	X(FAIL_SOURCE_STOPPED, "source_stopped") /* after a fault */	\
	X(FAIL_INTERRUPTED, "interrupted")	/* a signal to the driver */	\
	X(FAIL_SETUP, "setup")			/* files, ports, QMP, phases */
#define FAILURE_ENUM(e, name) e,
enum failure_class { FAILURE_CLASSES(FAILURE_ENUM) };
#undef FAILURE_ENUM
extern const char *const failure_class_names[];

/* The block QEMU names after the memory backend's id ("info ramblock"). */
#define RAM_BLOCK "ram0"
#define POLL_MS 100

struct opts {
	const char *qemu, *kernel, *initrd, *append, *scenario;
	const char *workdir, *json;
	enum mode mode;
	unsigned long mem_mb, smp, bandwidth_mibs, downtime_ms;
	double start_delay_s;
	unsigned long timeout_s, boot_timeout_s, check_timeout_s;
	bool verify, keep, quiet;	/* verify: hint log and RAM comparison */
	long long corrupt_dst;	/* test only: byte offset to flip, or -1 */
	/* Fault injection (test only): ms after the migration starts, or -1. */
	long cancel_after_ms, kill_dst_after_ms, reset_after_ms;
	unsigned long hops;	/* ping-pong: migrations in a row, each verified */
	bool stale_free;	/* --x-stale-free (stale.c) */
	const char *pvmig_opts;	/* appended to -device pvmig */
	struct argv qemu_args;	/* --qemu-arg, for both QEMUs */
	bool kvm;		/* --accel kvm */
	unsigned long dirty_ring;	/* --dirty-ring entries, 0: bitmap */
	bool sweeper;		/* --guest sweeper (sweeper.c) */
	unsigned long sweeper_hints;	/* --x-sweeper-hints rounds */
	unsigned long multifd_channels;	/* --multifd channels, 0: off */
	bool to_file;		/* --file: through a mapped-ram file */
	const char *sweeper_img;
};

struct side {
	const char *tag;	/* "src" / "dst" */
	struct qemu_proc proc;
	struct qmp qmp;
	bool qmp_ok;
	struct console con;
	char *shm_path;
	int ram_fd;		/* the RAM file, kept open once unlinked */
	char *qmp_path;
	char *ctl_path;		/* the guest's control port (control.c) */
	int ctl_fd;
	char *hint_log;		/* PVMIG_HINT_LOG of this QEMU */
};

struct run {
	struct opts o;
	char *root, *workdir;
	bool workdir_made_by_us;
	struct side src, dst;
	int port;
	unsigned spawned;	/* destinations started so far */
	bool test_phase_used;	/* --x-stale-free / --x-sweeper-hints ran (once) */
	struct argv files;	/* work files of retired QEMUs, for teardown */
	json_t *out;
	enum failure_class failure;
	int64_t pages_lost;	/* of the last verified hop, -1: unknown */
	char err[512];
};

/*
 * The destination listens only once the run has set what must be set
 * before (multifd) or reads a file the source has finished (--file).
 */
static inline bool incoming_deferred(const struct opts *o)
{
	return o->multifd_channels || o->to_file;
}

/* cli.c: exits with usage on bad input. */
int parse_opts(int argc, char **argv, struct opts *o);

/* session.c */
void print_side_tails(struct run *r);
/* Records the failure (error message and class); returns EXIT_INFRA. */
int infra_fail(struct run *r, enum failure_class why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool both_alive(struct run *r);
int died(struct run *r);
/* Runs a QMP command on @s (10 s limit); NULL, warned, on failure. */
json_t *side_qmp(struct run *r, struct side *s, const char *name, json_t *args);
const char *run_status(struct run *r, struct side *s, char *buf, size_t len);
int64_t jint(json_t *o, const char *path);
void set_int(json_t *o, const char *key, int64_t v);
void quit_side(struct run *r, struct side *s);
void remove_file(const char *path);

/* launch.c */
int resolve_paths(struct run *r);
void init_side(struct run *r, struct side *s, const char *tag,
	       const char *name);
int boot_and_wait(struct run *r);
int start_destination(struct run *r);
void retire_side(struct run *r, struct side *s);

/* hops.c: faults that need a new destination, and ping-pong. */
int migrate_hop(struct run *r, unsigned hop, json_t **final);
int next_hop(struct run *r);
int run_hops(struct run *r);

/* control.c: the guest's control port. */
void control_args(struct argv *a, const struct side *s);
/* Writes @line (with its newline) to the guest; fails the run if it cannot. */
int control_send(struct run *r, struct side *s, const char *line);
void control_close(struct side *s);

/* stale.c: --x-stale-free, the init_on_free reproduction. */
enum stale_state {
	STALE_OFF, STALE_SENDING, STALE_FREEING, STALE_SETTLING, STALE_DONE,
};
struct stale_phase {
	enum stale_state state;
	int64_t since_ms;	/* when "free" went to the guest */
	int64_t freed_at_sync;	/* dirty-sync-count when it had freed */
};
/* Waits for the guest to hold its stale buffer, before the migration. */
int stale_wait_held(struct run *r);
/* Advances the phase from one query-migrate reply @q. */
int stale_step(struct run *r, struct stale_phase *ph, json_t *q, int64_t t0);

/* sweeper.c: the bare-metal guest (--guest sweeper). */
void sweeper_args(struct run *r, struct side *s, struct argv *a);
bool sweeper_ready(struct run *r);
/* --x-sweeper-hints: write R, hint R, in that many epochs. */
int sweeper_hint_rounds(struct run *r);
/* abcheck on both sides, then the resumed destination must sweep on. */
enum guest_check sweeper_check(struct run *r);

/* migration.c */
enum fault_kind { FAULT_NONE, FAULT_CANCEL, FAULT_KILL_DST, FAULT_RESET };
struct fault {
	enum fault_kind kind;
	long at_ms;		/* after the migrate command */
	bool injected;
	int64_t injected_ms;	/* when, relative to the migrate command */
};
int migrate(struct run *r, json_t **final, struct fault *f);
/* Raises max-bandwidth and downtime-limit so the migration can finish. */
int lift_limits(struct run *r);
void record_figures(struct run *r, json_t *q);
void record_pvmig(struct run *r);
json_t *read_pvmig(struct run *r);
int wait_both_stopped(struct run *r);

/* verify.c */
void record_dst_resident(struct run *r);
int verify(struct run *r);

#endif
