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
enum mode { MODE_NONE, MODE_PVMIG, MODE_BALLOON };
extern const char *const mode_names[];

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
	bool verify, keep, quiet;
	long long corrupt_dst;	/* test only: byte offset to flip, or -1 */
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
};

struct run {
	struct opts o;
	char *root, *workdir, *hint_log;
	bool workdir_made_by_us;
	struct side src, dst;
	int port;
	json_t *out;
	char err[512];
};

/* cli.c: exits with usage on bad input. */
int parse_opts(int argc, char **argv, struct opts *o);

/* session.c */
void print_side_tails(struct run *r);
int infra_fail(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool both_alive(struct run *r);
int died(struct run *r);
json_t *cmd(struct run *r, struct side *s, const char *name, json_t *args);
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

/* migration.c */
int migrate(struct run *r, json_t **final);
void record_figures(struct run *r, json_t *q);
void record_pvmig(struct run *r);
int wait_both_stopped(struct run *r);

/* verify.c */
void record_dst_resident(struct run *r);
int verify(struct run *r);

#endif
