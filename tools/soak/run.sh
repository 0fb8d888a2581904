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
#   KEEP_GOING=0    stop at the first failing run (default: go on)
#   DRY_RUN=1       print what each run would do, run nothing
#   STOP_AT=EPOCH   start no run after this time (date +%s); the summary
#                   then says stopped_early and how many runs were planned
# Exit status: 0 when every run verified with 0 lost pages and no crash.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
driver=$top/build/tools/pvmig-migrate
N=${N:-20}
SEED=${SEED:-$(( $(date +%s%N) % 2147483647 ))}
ACCEL=${ACCEL:-tcg}
GUEST=${GUEST:-linux}
IOF_PCT=${IOF_PCT:-25}
RING_PCT=${RING_PCT:-40}
case $GUEST in
sweeper) MEM_MIN=${MEM_MIN:-64} MEM_MAX=${MEM_MAX:-512} ;;
*) MEM_MIN=${MEM_MIN:-512} MEM_MAX=${MEM_MAX:-2048} ;;
esac
FAULTS=${FAULTS:-random}
KEEP_GOING=${KEEP_GOING:-1}

die() { echo "soak: $*" >&2; exit 2; }
[[ $ACCEL == tcg || $ACCEL == kvm ]] || die "ACCEL must be tcg or kvm"
[[ $GUEST == linux || $GUEST == sweeper ]] || die "GUEST must be linux or sweeper"
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] || die "N must be a positive integer"
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer"
SEED=$((SEED % 2147483648))
stamp=$(date -u +%Y%m%d-%H%M%S)
# Each set keeps its own file; `make soak` then combines all of them into
# bench/results/soak.json (tools/soak/combine.sh).
OUT=${OUT:-$top/bench/results/soak/$stamp-seed$SEED.json}
[ -x "$driver" ] || die "$driver missing: run 'make tools'"
command -v jq >/dev/null || die "jq missing (apt-get install jq)"

work=$top/build/soak/$stamp-$SEED
mkdir -p "$work" "$(dirname "$OUT")"
runs_json=$work/runs.json	# the driver's result objects
meta_json=$work/meta.jsonl	# what the soak chose for each run, one per line
: >"$meta_json"
started=$(date -u +%FT%TZ)
# What ran: the commit, and hashes of the QEMU binary and the guest image
# (the driver also records each run's resolved paths).
sha() { sha256sum "$1" 2>/dev/null | cut -c1-16; }
commit=$(git -C "$top" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
qemu_sha=$(sha "$(readlink -f "${QEMU:-$top/build/qemu/qemu-system-x86_64}")")
kernel_sha=$(sha "$top/build/guest/vmlinuz")
initrd_sha=$(sha "$top/build/guest/initramfs.cpio.gz")
command_line="${QEMU:+QEMU=$QEMU }N=$N SEED=$SEED MEM_MIN=$MEM_MIN MEM_MAX=$MEM_MAX FAULTS=$FAULTS ACCEL=$ACCEL GUEST=$GUEST IOF_PCT=$IOF_PCT RING_PCT=$RING_PCT tools/soak/run.sh"

# ---------------------------------------------------------------- random
# A 31-bit LCG: small, the same in every bash, and enough for choosing
# test parameters.  rnd LO HI sets $R to a value in [LO, HI].
rng=0
# Seeds are mixed through a hash, so that one run's draws are never
# another's shifted by a step.
hash31() { echo $(( 0x$(printf '%s' "$1" | sha256sum | cut -c1-8) % 2147483648 )); }
next_seed() { hash31 "next-$1"; }
rnd() {
	rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
	R=$(( $1 + (rng >> 8) % ($2 - $1 + 1) ))
}
chance() { rnd 1 100; [ "$R" -le "$1" ]; }	# chance PERCENT
pick() { rnd 1 $#; R=${!R}; }			# pick WORD...

# ----------------------------------------------------------------- a run
# plan_sweeper SEED: the bare-metal guest writes region R in 1-5 epochs
# right after the sync (--x-sweeper-hints) and pvmig runs hint R then,
# under KVM's dirty bitmap (re-armed by the device) or its dirty ring.
plan_sweeper() {
	rng=$(hash31 "plan-$1")
	pick pvmig pvmig pvmig none
	mode=$R
	rnd $((MEM_MIN / 64)) $((MEM_MAX / 64)); mem=$((R * 64))
	smp=1 append= guest_faults=() fault_args=(--guest sweeper --accel "$ACCEL")
	workload="sweeper"
	if [ "$ACCEL" = kvm ] && chance "$RING_PCT"; then
		# 65536: a 4096-entry ring stalls this nested guest in migration,
		# and so did 65536 above 128 MiB (R not written in a minute: five
		# runs of set 20261201-210556, both 256 MiB runs of a set begun
		# after it); 128 MiB ran in every e2e and bench run.
		fault_args+=(--dirty-ring 65536); workload+=" ring"
		[ "$mem" -gt 128 ] && mem=128
	else
		workload+=" $([ "$ACCEL" = kvm ] && echo manual || echo tcg)"
	fi
	rnd 1 5; fault_args+=(--x-sweeper-hints "$R"); workload+=" rounds=$R"
	pick 0 0 0.5 1 2; delay=$R
	pick 64 128 256 512 1024; bw=$R
	downtime=1	# lifted once the rounds are done
	chance 20 && { rnd 100 3000; fault_args+=(--x-cancel-after "$R"); }
	chance 10 && { rnd 100 3000; fault_args+=(--x-kill-dst-after "$R"); }
	chance 15 && fault_args+=(--hops 2)
	return 0
}

# plan SEED: sets mode, mem, smp, append, bw, downtime, delay, fault args.
plan() {
	[ "$GUEST" = sweeper ] && { plan_sweeper "$1"; return; }
	rng=$(hash31 "plan-$1")
	pick pvmig pvmig pvmig pvmig pvmig pvmig pvmig pvmig none balloon
	mode=$R
	rnd $((MEM_MIN / 128)) $((MEM_MAX / 128)); mem=$((R * 128))
	[ "$mem" -lt "$MEM_MIN" ] && mem=$MEM_MIN
	smp=1
	chance 10 && smp=2
	local avail=$((mem - 128)) hold frag=0 fill churn=0 pc=0 wk=0
	rnd 16 96; hold=$R
	chance 30 && { rnd 32 $((avail / 6)); frag=$R; }
	rnd 0 $((avail * 6 / 10 - hold - frag)); fill=$R
	chance 50 && { rnd 16 $((avail / 6)); churn=$R; }
	chance 30 && { rnd 16 $((avail / 10)); pc=$R; }
	chance 60 && { pick 256 1024 4096 8192; wk=$R; }
	append="pvmig.seed=$1 pvmig.hold_mb=$hold pvmig.fill_mb=$fill"
	workload="hold=$hold fill=$fill"
	[ "$frag" -gt 0 ] && { append+=" pvmig.frag_mb=$frag"; workload+=" frag=$frag"; }
	[ "$churn" -gt 0 ] && { append+=" pvmig.churn_mb=$churn"; workload+=" churn=$churn"; }
	[ "$wk" -gt 0 ] && { append+=" pvmig.write_kbps=$wk"; workload+=" write=${wk}k"; }
	[ "$pc" -gt 0 ] && { append+=" pvmig.pagecache_mb=$pc"; workload+=" pagecache=$pc"; }
	chance 20 && { append+=" pvmig.forkstorm=1"; workload+=" forkstorm"; }
	# Free pages that must read as zero; the driver then has the
	# destination check its fresh pages.
	chance "$IOF_PCT" && { append+=" init_on_free=1"; workload+=" init_on_free"; }

	pick 0 0 0.5 1 2 3 5 8; delay=$R
	pick 64 128 256 512 1024 4096; bw=$R
	pick 50 100 300 300 1000; downtime=$R
	# A limit pair that cannot converge under a writing workload proves
	# nothing and ends in a timeout: let the final stop-and-copy move at
	# least 32 MiB within the downtime limit.
	[ $((bw * downtime)) -lt 32000 ] && downtime=$(((32000 + bw - 1) / bw))

	# Faults.  Guest side only where the agent runs (mode pvmig).
	guest_faults=() fault_args=()
	if [ "$mode" = pvmig ]; then
		if chance 12; then
			pick all all garbage oversized out-of-range overlap stale flood future wrap dribble truncate
			append+=" pvmig.agent=0 pvmig.hostile=$R"; guest_faults+=("hostile:$R")
		else
			chance 20 && { append+=" pvmig.agent_chaos=1"; guest_faults+=(agent_kill); }
			chance 20 && { append+=" pvmig.agent_stop=1"; guest_faults+=(agent_stop); }
			chance 20 && { append+=" pvmig.rmmod_chaos=1"; guest_faults+=(rmmod); }
		fi
	fi
	[ "$ACCEL" = kvm ] && fault_args+=(--accel kvm)
	local want_driver=0
	[ "$FAULTS" = always ] && want_driver=1
	chance 20 && { rnd 100 3000; fault_args+=(--x-cancel-after "$R"); }
	chance 20 && { rnd 100 3000; fault_args+=(--x-kill-dst-after "$R"); }
	chance 12 && { rnd 100 3000; fault_args+=(--x-reset-after "$R"); }
	chance 15 && { rnd 2 3; fault_args+=(--hops "$R"); }
	if [ "$want_driver" = 1 ] && [ ${#fault_args[@]} -eq 0 ]; then
		pick cancel kill reset hops
		case $R in
		cancel) rnd 100 3000; fault_args+=(--x-cancel-after "$R") ;;
		kill) rnd 100 3000; fault_args+=(--x-kill-dst-after "$R") ;;
		reset) rnd 100 3000; fault_args+=(--x-reset-after "$R") ;;
		hops) fault_args+=(--hops 2) ;;
		esac
	fi
}

quote() { local a out=; for a; do printf -v a '%q' "$a"; out+=" $a"; done; echo "${out# }"; }

# ------------------------------------------------------------- summary
summarize() {
	local finished=$1
	jq -n --slurpfile meta "$meta_json" --slurpfile runs <(if [ -s "$runs_json" ]; then cat "$runs_json"; else echo '[]'; fi) \
		--arg cmd "$command_line" --argjson seed "$SEED" --arg started "$started" \
		--arg finished "$finished" --arg qemu "${QEMU:-$(readlink -f "$top/build/qemu/qemu-system-x86_64")}" \
		--argjson planned "$N" --argjson early "${stopped_early:-false}" \
		--arg commit "$commit" --arg qemu_sha "$qemu_sha" --arg initrd_sha "$initrd_sha" \
		--arg kernel_sha "$kernel_sha" '
	($runs[0] // []) as $r |
	[ $meta[] as $m | ($r | map(select(.scenario == $m.scenario)) | .[0]) as $o |
	  $m + {
	    status: ($o.status // "no-result"),
	    verified: ($o.verified // false),
	    pages_lost: ($o.pages_lost // null),
	    pages_excused: ($o.pages_excused // null),
	    pages_hinted: ($o.pages_hinted // null),
	    guest_check: ($o.guest_check // null),
	    accel: ($o.accel // null), dirty_log: ($o.dirty_log // null),
	    free_reads_zero: ($o.free_reads_zero // null),
	    fresh_pages_checked: ($o.fresh_pages_checked // null),
	    fresh_pages_nonzero: ($o.fresh_pages_nonzero // null),
	    pages_zero_resend: ($o.pages_zero_resend // null),
	    rearms: ($o.pvmig.rearms // null),
	    total_ms: ($o.total_ms // null),
	    transferred_bytes: ($o.transferred_bytes // null),
	    attempts: ($o.attempts // null), hops_done: ($o.hops_done // null),
	    faults_injected: ($o.faults // {}),
	    fault_events: ($o.fault_events // []),
	    rejected: (if $o.pvmig then {invalid: $o.pvmig.rejected_invalid,
	        no_agent: $o.pvmig.rejected_no_agent, stale: $o.pvmig.stale_messages,
	        messages: $o.pvmig.rejected_messages} else null end),
	    guest_fault_counters: ($o.guest_faults // {}),
	    qemu_binary: ($o.qemu_binary // null),
	    guest_initrd: ($o.guest_initrd // null),
	    error: ($o.error // null),
	    workdir: ($o.workdir // null)
	  } ] as $per |
	{
	  command: $cmd, master_seed: $seed, started: $started, finished: $finished,
	  commit: $commit, qemu: $qemu, qemu_sha256: $qemu_sha,
	  guest_kernel_sha256: $kernel_sha, guest_initrd_sha256: $initrd_sha,
	  runs_planned: $planned, stopped_early: $early,
	  runs: ($per | length),
	  passed: ($per | map(select(.result == "pass")) | length),
	  failed: ($per | map(select(.result != "pass")) | length),
	  lost_pages: ($per | map(.pages_lost // 0) | add // 0),
	  init_on_free_runs: ($per | map(select(.free_reads_zero == true)) | length),
	  fresh_pages_checked: ($per | map(.fresh_pages_checked // 0) | add // 0),
	  fresh_pages_nonzero: ($per | map(.fresh_pages_nonzero // 0) | add // 0),
	  accel: ($per | group_by(.accel) | map({key: (.[0].accel // "unknown"), value: length}) | from_entries),
	  dirty_log: ($per | group_by(.dirty_log) | map({key: (.[0].dirty_log // "unknown"), value: length}) | from_entries),
	  crashes: ($per | map(select(.result == "crash")) | length),
	  results: ($per | group_by(.result) | map({key: .[0].result, value: length}) | from_entries),
	  modes: ($per | group_by(.mode) | map({key: .[0].mode, value: length}) | from_entries),
	  faults_injected: (
	    ($per | map(.faults_injected | to_entries[]) | group_by(.key)
	      | map({key: .[0].key, value: (map(.value) | add)}) | from_entries) +
	    {ping_pong_extra_hops: ($per | map(select((.hops_done // 0) > 1) | .hops_done - 1) | add // 0)}),
	  guest_fault_runs: ($per | map(.guest_faults[] | sub(":.*"; "")) | group_by(.)
	      | map({key: .[0], value: length}) | from_entries),
	  hostile_attacks: ($per | map(.guest_faults[] | select(startswith("hostile:")) | sub("hostile:"; ""))
	      | group_by(.) | map({key: .[0], value: length}) | from_entries),
	  guest_fault_counters: ($per | map(.guest_fault_counters | to_entries[]) | group_by(.key)
	      | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
	  faults_not_injected: ($per | map(.fault_events[] | select(.injected | not) | .kind)
	      | group_by(.) | map({key: .[0], value: length}) | from_entries),
	  per_run: $per
	}' >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
}

classify() {	# classify RC RESULT_OBJECT_JSON LOG -> pass|lost|guest-check|crash|source-stopped|timeout|infra
	local rc=$1 obj=$2 log=$3 err lost
	lost=$(jq -r '.pages_lost // 0' <<<"$obj" 2>/dev/null)
	err=$(jq -r '.error // ""' <<<"$obj" 2>/dev/null)
	if [ "$rc" = 0 ]; then echo pass
	elif [ "${lost:-0}" != 0 ] && [ "${lost:-0}" != null ]; then echo lost
	elif [[ $err == *"QEMU died"* ]] ||
	     grep -qE 'QEMU (exited|killed by signal|ended).*during the guest check' "$log"; then
		echo crash
	elif [ "$rc" = 1 ]; then echo guest-check
	elif [[ $err == *"not running, after"* ]]; then echo source-stopped
	elif [[ $err == *"timed out"* || $err == *"within"* ]]; then echo timeout
	else echo infra
	fi
}

# ------------------------------------------------------------------ main
echo "soak: master seed $SEED, $N runs, results $OUT (work files $work)"
echo "soak: command: $command_line"
printf '%-4s %-10s %-7s %5s %-44s %-30s %-12s %5s %7s\n' \
	run seed mode MiB workload faults result lost time_s
fail=0 seed=$SEED
stopped_early=false
for ((i = 1; i <= N; i++)); do
	if [ -n "${STOP_AT:-}" ] && [ "$(date +%s)" -ge "$STOP_AT" ]; then
		echo "soak: STOP_AT reached, $((i - 1)) of $N runs done"
		stopped_early=true
		break
	fi
	[ "$i" -gt 1 ] && seed=$(next_seed "$seed")
	plan "$seed"
	scenario="soak-$SEED-$i"
	args=(--mode "$mode" --mem "$mem" --smp "$smp" --append "$append"
	      --bandwidth "$bw" --downtime "$downtime" --start-delay "$delay"
	      --timeout 300 --check-timeout 180 --scenario "$scenario" --quiet
	      --json "$runs_json" "${fault_args[@]}")
	[ -n "${QEMU:-}" ] && args+=(--qemu "$QEMU")
	faults="${guest_faults[*]} ${fault_args[*]}"
	faults=${faults# }
	if [ "${DRY_RUN:-0}" = 1 ]; then
		printf '%-4s %-10s %-7s %5s %-44s %s\n' "$i" "$seed" "$mode" "$mem" \
			"${workload:0:44}" "$faults bw=$bw dt=$downtime delay=$delay"
		continue
	fi
	t0=$SECONDS
	"$driver" "${args[@]}" >"$work/run-$i.log" 2>&1
	rc=$?
	secs=$((SECONDS - t0))
	obj=$(jq -c --arg s "$scenario" 'map(select(.scenario == $s)) | .[0] // {}' "$runs_json" 2>/dev/null || echo '{}')
	result=$(classify "$rc" "$obj" "$work/run-$i.log")
	lost=$(jq -r '.pages_lost // "-"' <<<"$obj")
	replay="SEED=$seed N=1 tools/soak/run.sh"
	jq -nc --argjson run "$i" --argjson seed "$seed" --arg scenario "$scenario" \
		--arg mode "$mode" --argjson mem "$mem" --argjson smp "$smp" \
		--arg append "$append" --arg workload "$workload" \
		--argjson bw "$bw" --argjson downtime "$downtime" --arg delay "$delay" \
		--arg driver_faults "${fault_args[*]}" \
		--argjson guest_faults "$(printf '%s\n' "${guest_faults[@]}" | jq -R . | jq -sc 'map(select(. != ""))')" \
		--argjson rc "$rc" --arg result "$result" --argjson wall "$secs" \
		--arg replay "$replay" --arg cmd "$(quote "$driver" "${args[@]}")" '
		{run: $run, seed: $seed, scenario: $scenario, mode: $mode, guest_mb: $mem,
		 smp: $smp, workload: $workload, append: $append, bandwidth_mibs: $bw,
		 downtime_limit_ms: $downtime, start_delay_s: ($delay | tonumber),
		 driver_faults: $driver_faults, guest_faults: $guest_faults,
		 exit_code: $rc, result: $result, wall_s: $wall, replay: $replay,
		 driver_command: $cmd}' >>"$meta_json"
	printf '%-4s %-10s %-7s %5s %-44s %-30s %-12s %5s %7s\n' \
		"$i" "$seed" "$mode" "$mem" "${workload:0:44}" "${faults:0:30}" "$result" "$lost" "$secs"
	summarize ""
	if [ "$result" != pass ]; then
		fail=1
		echo "  FAILED run $i: $(jq -r '.error // .guest_failure // "see log"' <<<"$obj")"
		echo "  log: $work/run-$i.log"
		echo "  replay: $replay"
		[ "$KEEP_GOING" = 1 ] || break
	fi
done
[ "${DRY_RUN:-0}" = 1 ] && exit 0
summarize "$(date -u +%FT%TZ)"
jq -r '"soak: \(.runs) runs, \(.passed) passed, \(.failed) failed; lost pages \(.lost_pages); crashes \(.crashes)",
	"soak: init_on_free runs \(.init_on_free_runs): \(.fresh_pages_nonzero) of \(.fresh_pages_checked) fresh pages non-zero",
	"soak: accel \(.accel | to_entries | map("\(.key)=\(.value)") | join(" ")), dirty log \(.dirty_log | to_entries | map("\(.key)=\(.value)") | join(" "))",
	"soak: driver faults injected: \(.faults_injected | to_entries | map("\(.key)=\(.value)") | join(" "))",
	"soak: runs with guest-side faults: \(.guest_fault_runs | to_entries | map("\(.key)=\(.value)") | join(" "))",
	(if (.guest_fault_counters | length) > 0 then "soak: guest fault counters: \(.guest_fault_counters | to_entries | map("\(.key)=\(.value)") | join(" "))" else empty end),
	(if (.faults_not_injected | length) > 0 then "soak: faults planned but not injected (migration finished first): \(.faults_not_injected | to_entries | map("\(.key)=\(.value)") | join(" "))" else empty end)' "$OUT"
echo "soak: results in $OUT"
exit $fail
