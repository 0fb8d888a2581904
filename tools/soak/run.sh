#!/usr/bin/env bash
# pvmig soak: N randomized migrations, each verified by pvmig-migrate (page
# by page RAM comparison + the guest's own data check), with faults.
#
#   tools/soak/run.sh                 N=20, master seed from the clock
#   N=200 SEED=12345 tools/soak/run.sh
#   SEED=<run seed> N=1 tools/soak/run.sh     replays one run exactly
#
# Run 1 uses SEED itself, run k+1 the seed that follows run k's, and every
# choice of a run (guest size, workload, timing, limits, mode, faults) is
# drawn from its own seed alone: any run replays on its own with N=1.
# The planning, running and summary are tools/pvmigtools (soak.py, plan.py,
# summary.py); this script only starts it.
#
# Environment:
#   N, SEED         runs and master seed
#   OUT             summary JSON (default bench/results/soak/<time>-seed<SEED>.json)
#   MEM_MIN/MEM_MAX guest size range in MiB (default 512/2048; sweeper
#                   64/512)
#   ACCEL=kvm       run under KVM (default tcg); --accel kvm needs /dev/kvm
#   GUEST=sweeper   the bare-metal guest (guest/sweeper/) with host-injected
#                   hints and a random dirty-log mode, for KVM where Linux
#                   does not boot (default linux)
#   RING_PCT        share of KVM sweeper runs on KVM's dirty ring (default
#                   40; the rest use its dirty bitmap)
#   IOF_PCT         share of Linux runs booted with init_on_free=1, whose
#                   destination must hand out zeroed fresh pages (default 25)
#   FAULTS=always   every run gets at least one driver-side fault
#   QEMU            QEMU binary (default: the driver's default)
#   HOSTILE         pvmig-hostile, whose --list gives the attacks a hostile
#                   run draws from (default build/guest/bin/pvmig-hostile)
#   KEEP_GOING=0    stop at the first failing run (default: go on)
#   DRY_RUN=1       print what each run would do, run nothing
#   STOP_AT=EPOCH   start no run after this time (date +%s); the summary
#                   then says stopped_early and how many runs were planned
# Exit status: 0 when every run verified with 0 lost pages and no crash,
# 1 otherwise, 2 on bad input.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m pvmigtools soak
