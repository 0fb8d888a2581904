#!/usr/bin/env bash
# `make bench`: pvmig against no hints, virtio-balloon free-page-hint and
# virtio-balloon free page reporting, same QEMU binary and guest kernel,
# modes interleaved in one run, REPS repetitions.  Every configuration runs
# twice: verified (the test-only hint log and the RAM comparison; failed
# runs are reported and kept out of the medians) and in production (no
# hint log, --no-verify: the timing a user gets), unless PRODUCTION=0.
# QUICK=1: 1 GB guests only.  ACCEL=kvm and
# DIRTY_RING=N pass --accel and --dirty-ring to every run (a Linux guest
# needs a KVM it can boot under: not this project's nested one).
# For KVM with the bare-metal guest see tools/bench/kvm.sh.
# DRIVER_ARGS: more pvmig-migrate options for every run, split at spaces,
# e.g. DRIVER_ARGS="--multifd 4" or "--file" (QEMU 10.0).
#   results: bench/results/latest.json, bench/results/*.png, a table
#   (bench/results/latest.txt, and latest.md for the README).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
quick=${QUICK:-}
reps=${REPS:-3}
modes=${MODES:-"none balloon reporting pvmig"}
case ${PRODUCTION:-1} in
1) variants="verified production" ;;
0) variants="verified" ;;
*) echo "bench: PRODUCTION must be 0 or 1" >&2; exit 2 ;;
esac
accel=(--accel "${ACCEL:-tcg}")
[ -n "${DIRTY_RING:-}" ] && accel+=(--dirty-ring "$DIRTY_RING")
read -r -a driver_args <<<"${DRIVER_ARGS:-}"
scenarios=${SCENARIOS:-"idle freed-dirty fragmented active"}
if [ -n "$quick" ]; then
	sizes=${SIZES:-"1024"}
else
	sizes=${SIZES:-"1024 2048 4096"}
	# 8 GB needs two 8 GB guests plus QEMU's own memory on this host.
	avail_mb=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	[ -z "${SIZES:-}" ] && [ "$avail_mb" -gt 20000 ] && sizes="$sizes 8192"
fi
results=${RESULTS:-$top/bench/results}
json=$results/latest.json
mkdir -p "$results"
rm -f "$json"

workload() {	# scenario guest_mb -> kernel parameters
	local mb=$2
	case "$1" in
	idle) echo "pvmig.hold_mb=16" ;;
	freed-dirty) echo "pvmig.fill_mb=$((mb * 60 / 100)) pvmig.hold_mb=16" ;;
	fragmented) echo "pvmig.frag_mb=$((mb * 70 / 100))" ;;
	active) echo "pvmig.hold_mb=$((mb / 16)) pvmig.write_kbps=4096 pvmig.churn_mb=$((mb / 8))" ;;
	*) echo "bench: unknown scenario $1" >&2; exit 2 ;;
	esac
}

n=$((reps * $(wc -w <<<"$scenarios") * $(wc -w <<<"$sizes") * $(wc -w <<<"$modes") *
	$(wc -w <<<"$variants")))
i=0 start=$SECONDS failed=0
for ((rep = 1; rep <= reps; rep++)); do
	for mb in $sizes; do
		for scenario in $scenarios; do
			for mode in $modes; do
			for variant in $variants; do
				i=$((i + 1))
				el=$((SECONDS - start))
				eta=$([ $i -gt 1 ] && echo $((el * (n - i + 1) / (i - 1))) || echo "?")
				printf '=== bench: run %d of %d (%s, %d MB, %s, %s, rep %d), elapsed %ds, estimate %ss left\n' \
					"$i" "$n" "$scenario" "$mb" "$mode" "$variant" "$rep" "$el" "$eta"
				verify=()
				[ "$variant" = production ] && verify=(--no-verify)
				"$top/build/tools/pvmig-migrate" --quiet --mode "$mode" "${accel[@]}" \
					${driver_args[@]+"${driver_args[@]}"} \
					--mem "$mb" --scenario "$scenario" "${verify[@]}" \
					--append "$(workload "$scenario" "$mb")" \
					--bandwidth "${BANDWIDTH:-4096}" --downtime "${DOWNTIME:-300}" \
					--start-delay "${START_DELAY:-2}" --json "$json" || failed=$((failed + 1))
			done
			done
		done
	done
done

echo
echo "command: make bench${quick:+ QUICK=1} (REPS=$reps SIZES='$sizes' MODES='$modes' PRODUCTION=${PRODUCTION:-1} START_DELAY=${START_DELAY:-2} ${accel[*]}${DRIVER_ARGS:+ DRIVER_ARGS='$DRIVER_ARGS'})"
PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" python3 -m pvmigtools report "$json" |
	tee "$results/latest.txt" || true
"$top/tools/bench/markdown.sh" "$json" >"$results/latest.md"
"$top/tools/bench/plot.sh" "$json" "$results"
echo "$failed of $n runs failed; results: $json, plots: $results/*.png"
