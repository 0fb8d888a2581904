// SPDX-License-Identifier: MIT
/* Command line of pvmig-migrate. */
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mode_names[] = {
	[MODE_NONE] = "none", [MODE_PVMIG] = "pvmig", [MODE_BALLOON] = "balloon",
	[MODE_REPORTING] = "reporting",
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pvmig-migrate [OPTION]...\n"
"Boot a guest in QEMU, live-migrate it to a second QEMU over loopback TCP,\n"
"report the migration's figures and verify that no guest page was lost.\n"
"\n"
"  --qemu PATH          QEMU binary (default: $PVMIG_QEMU, else\n"
"                       build/qemu/qemu-system-x86_64 of the repository)\n"
"  --kernel PATH        guest kernel (default build/guest/vmlinuz)\n"
"  --initrd PATH        guest initramfs (default build/guest/initramfs.cpio.gz)\n"
"  --mem MB             guest RAM in MiB (default 2048)\n"
"  --smp N              guest vCPUs (default 1)\n"
"  --append ARGS        extra kernel command line, e.g.\n"
"                       \"pvmig.fill_mb=1200 pvmig.hold_mb=64\"\n"
"  --mode MODE          none | pvmig | balloon | reporting (default none)\n"
"  --scenario NAME      label stored with the results (default: custom)\n"
"  --bandwidth MIBS     migration max-bandwidth in MiB/s (default 4096)\n"
"  --downtime MS        migration downtime-limit in ms (default 300)\n"
"  --start-delay S      wait S seconds after the guest is ready (default 0)\n"
"  --timeout S          migration time limit (default 600)\n"
"  --boot-timeout S     time limit for the guest's ready line (default 300)\n"
"  --check-timeout S    time limit for the destination's data check (default 120)\n"
"  --workdir DIR        consoles and logs (default build/run/<time>-<pid>)\n"
"  --json FILE          append this run's result object to the JSON array in FILE\n"
"  --no-verify          skip the RAM comparison and the guest-side check\n"
"  --keep               keep the work directory and the RAM files\n"
"  --quiet              no progress or status messages\n"
"  --help               this text\n"
"  --x-corrupt-dst OFF  test only: flip one byte at RAM offset OFF of the\n"
"                       paused destination before the comparison, to prove\n"
"                       that the check catches a lost page\n"
"  --accel tcg|kvm      accelerator (default tcg); kvm needs a usable /dev/kvm\n"
"  --dirty-ring N       KVM only: use KVM's dirty ring of N entries (a power\n"
"                       of two, 1024-65536) instead of its dirty bitmap\n"
"  --multifd N          send RAM over N parallel channels (QEMU's multifd\n"
"                       capability and multifd-channels, 1-255, on both\n"
"                       sides before each attempt)\n"
"  --file               migrate through a file: the source saves to\n"
"                       WORKDIR/migration.img (file: URI, mapped-ram, so\n"
"                       each page has its place and unsent pages stay\n"
"                       holes), then the destination loads it; records\n"
"                       file_bytes and file_allocated_bytes (QEMU >= 9.0)\n"
"  --guest linux|sweeper  the Linux test guest (default), or the bare-metal\n"
"                       guest of guest/sweeper/ (boots where Linux cannot,\n"
"                       e.g. nested KVM; pvmig mode then uses the device's\n"
"                       test agent, see --x-sweeper-hints)\n"
"  --x-sweeper-hints N  test only, sweeper guest: in N epochs, have the guest\n"
"                       write its region R right after the bitmap sync, then\n"
"                       (mode pvmig) hint R as free; a device that does not\n"
"                       re-arm KVM's dirty log after the sync loses those\n"
"                       writes.  Mode none does the same writes, no hints\n"
"  --pvmig-opts OPTS    more properties for -device pvmig, e.g.\n"
"                       dest-ram-zeroed=off\n"
"  --qemu-arg ARG       one more argument for both QEMUs (repeat it), e.g.\n"
"                       --qemu-arg=-trace --qemu-arg='pvmig_*' (the trace\n"
"                       goes to each QEMU's log in the work directory)\n"
"  --x-stale-free       test only, for a guest booted with pvmig.stale_mb=N\n"
"                       (see guest/workload/pvmig-freeprobe.c): migrate at\n"
"                       --bandwidth until the first pass is over, have the\n"
"                       guest free its stale buffer, wait two bitmap syncs,\n"
"                       then lift the bandwidth and downtime limits\n"
"  --hops N             ping-pong: migrate N times in a row, each hop into a\n"
"                       fresh QEMU (A -> B -> C ...), each hop verified\n"
"                       (default 1)\n"
"Fault injection (test only; first hop; each fault ends one attempt, in\n"
"this order, and the migration is retried into a fresh destination):\n"
"  --x-cancel-after MS  migrate_cancel MS after the migration starts\n"
"  --x-kill-dst-after MS  SIGKILL the destination QEMU MS after the start\n"
"  --x-reset-after MS   system_reset the guest MS after the start of the\n"
"                       attempt that is meant to complete\n"
"  A fault that comes after the migration has finished is not injected\n"
"  (\"injected\": false in fault_events).  The source must stay up and\n"
"  running after each interrupted attempt.\n"
"\n"
"Exit status: 0 migrated and verified, 1 migrated but verification failed,\n"
"2 usage error, 3 infrastructure failure (QEMU died, timeout, missing files).\n");
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!*s || *s == '-')
		return false;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		OPT_QEMU = 256, OPT_KERNEL, OPT_INITRD, OPT_MEM, OPT_SMP, OPT_APPEND,
		OPT_MODE, OPT_SCENARIO, OPT_BW, OPT_DOWNTIME, OPT_DELAY, OPT_TIMEOUT,
		OPT_BOOT_TIMEOUT, OPT_CHECK_TIMEOUT, OPT_WORKDIR, OPT_JSON,
		OPT_NO_VERIFY, OPT_KEEP, OPT_QUIET, OPT_HELP, OPT_CORRUPT,
		OPT_HOPS, OPT_CANCEL, OPT_KILL_DST, OPT_RESET, OPT_STALE,
		OPT_PVMIG_OPTS, OPT_QEMU_ARG, OPT_ACCEL, OPT_DIRTY_RING, OPT_GUEST,
		OPT_SWEEPER_HINTS, OPT_MULTIFD, OPT_FILE,
	};
	static const struct option lo[] = {
		{ "qemu", required_argument, NULL, OPT_QEMU },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "bandwidth", required_argument, NULL, OPT_BW },
		{ "downtime", required_argument, NULL, OPT_DOWNTIME },
		{ "start-delay", required_argument, NULL, OPT_DELAY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
		{ "check-timeout", required_argument, NULL, OPT_CHECK_TIMEOUT },
		{ "workdir", required_argument, NULL, OPT_WORKDIR },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "x-corrupt-dst", required_argument, NULL, OPT_CORRUPT },
		{ "hops", required_argument, NULL, OPT_HOPS },
		{ "x-cancel-after", required_argument, NULL, OPT_CANCEL },
		{ "x-kill-dst-after", required_argument, NULL, OPT_KILL_DST },
		{ "x-reset-after", required_argument, NULL, OPT_RESET },
		{ "x-stale-free", no_argument, NULL, OPT_STALE },
		{ "pvmig-opts", required_argument, NULL, OPT_PVMIG_OPTS },
		{ "qemu-arg", required_argument, NULL, OPT_QEMU_ARG },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "dirty-ring", required_argument, NULL, OPT_DIRTY_RING },
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "x-sweeper-hints", required_argument, NULL, OPT_SWEEPER_HINTS },
		{ "multifd", required_argument, NULL, OPT_MULTIFD },
		{ "file", no_argument, NULL, OPT_FILE },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){
		.append = "", .scenario = "custom", .mode = MODE_NONE,
		.mem_mb = 2048, .smp = 1, .bandwidth_mibs = 4096,
		.downtime_ms = 300, .timeout_s = 600, .boot_timeout_s = 300,
		.check_timeout_s = 120, .verify = true, .corrupt_dst = -1,
		.cancel_after_ms = -1, .kill_dst_after_ms = -1,
		.reset_after_ms = -1, .hops = 1, .pvmig_opts = "",
	};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;
		bool ok = true;

		switch (c) {
		case OPT_QEMU: o->qemu = optarg; break;
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_APPEND: o->append = optarg; break;
		case OPT_SCENARIO: o->scenario = optarg; break;
		case OPT_WORKDIR: o->workdir = optarg; break;
		case OPT_JSON: o->json = optarg; break;
		case OPT_NO_VERIFY: o->verify = false; break;
		case OPT_KEEP: o->keep = true; break;
		case OPT_STALE: o->stale_free = true; break;
		case OPT_FILE: o->to_file = true; break;
		case OPT_PVMIG_OPTS: o->pvmig_opts = optarg; break;
		case OPT_QEMU_ARG: argv_add(&o->qemu_args, optarg); break;
		case OPT_ACCEL:
			ok = !strcmp(optarg, "tcg") || !strcmp(optarg, "kvm");
			o->kvm = !strcmp(optarg, "kvm");
			break;
		case OPT_DIRTY_RING:
			/* KVM takes a power of two of 1024 to 65536 entries. */
			ok = parse_ulong(optarg, 1024, 65536, &o->dirty_ring) &&
			     !(o->dirty_ring & (o->dirty_ring - 1));
			break;
		case OPT_GUEST:
			ok = !strcmp(optarg, "linux") || !strcmp(optarg, "sweeper");
			o->sweeper = !strcmp(optarg, "sweeper");
			break;
		case OPT_SWEEPER_HINTS:
			ok = parse_ulong(optarg, 1, 100, &o->sweeper_hints);
			break;
		case OPT_MULTIFD:
			/* QEMU takes 1 to 255 multifd-channels. */
			ok = parse_ulong(optarg, 1, 255, &o->multifd_channels);
			break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_MEM:
			ok = parse_ulong(optarg, 64, 1024 * 1024, &o->mem_mb);
			break;
		case OPT_SMP: ok = parse_ulong(optarg, 1, 64, &o->smp); break;
		case OPT_BW:
			ok = parse_ulong(optarg, 1, 1024 * 1024, &o->bandwidth_mibs);
			break;
		case OPT_DOWNTIME:
			/* QEMU caps downtime-limit at 2000 s. */
			ok = parse_ulong(optarg, 1, 2000000, &o->downtime_ms);
			break;
		case OPT_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->timeout_s);
			break;
		case OPT_BOOT_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->boot_timeout_s);
			break;
		case OPT_CHECK_TIMEOUT:
			ok = parse_ulong(optarg, 1, 86400, &o->check_timeout_s);
			break;
		case OPT_DELAY:
			errno = 0;
			o->start_delay_s = strtod(optarg, &end);
			ok = !errno && *optarg && !*end && o->start_delay_s >= 0 &&
			     o->start_delay_s <= 86400;
			break;
		case OPT_CORRUPT:
			errno = 0;
			o->corrupt_dst = strtoll(optarg, &end, 0);
			ok = !errno && *optarg && !*end && o->corrupt_dst >= 0;
			break;
		case OPT_HOPS: ok = parse_ulong(optarg, 1, 100, &o->hops); break;
		case OPT_CANCEL:
		case OPT_KILL_DST:
		case OPT_RESET: {
			unsigned long ms = 0;

			ok = parse_ulong(optarg, 0, 86400000, &ms);
			*(c == OPT_CANCEL ? &o->cancel_after_ms :
			  c == OPT_KILL_DST ? &o->kill_dst_after_ms :
			  &o->reset_after_ms) = (long)ms;
			break;
		}
		case OPT_MODE:
			ok = false;
			for (int m = 0; m < NR_MODES; m++) {
				if (!strcmp(optarg, mode_names[m])) {
					o->mode = (enum mode)m;
					ok = true;
				}
			}
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
		if (!ok) {
			fprintf(stderr, "pvmig-migrate: bad value for --%s: '%s'\n",
				lo[c - OPT_QEMU].name, optarg);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvmig-migrate: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		exit(EXIT_USAGE);
	}
	if (o->to_file && (o->hops > 1 || o->cancel_after_ms >= 0 ||
			   o->kill_dst_after_ms >= 0 || o->reset_after_ms >= 0)) {
		fprintf(stderr, "pvmig-migrate: --file takes no --hops or faults\n");
		exit(EXIT_USAGE);
	}
	if (o->dirty_ring && !o->kvm) {
		fprintf(stderr, "pvmig-migrate: --dirty-ring needs --accel kvm\n");
		exit(EXIT_USAGE);
	}
	if (o->sweeper_hints && !(o->sweeper && (o->mode == MODE_PVMIG ||
						 o->mode == MODE_NONE))) {
		fprintf(stderr, "pvmig-migrate: --x-sweeper-hints needs --guest "
			"sweeper and --mode pvmig or none\n");
		exit(EXIT_USAGE);
	}
	if (o->sweeper && (o->stale_free || *o->append)) {
		fprintf(stderr, "pvmig-migrate: --guest sweeper has no kernel: "
			"no --append or --x-stale-free\n");
		exit(EXIT_USAGE);
	}
	return 0;
}
