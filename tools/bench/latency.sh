#!/usr/bin/env bash
# `make bench-latency`: how long the guest's answer takes, REQUEST to the
# last batch of epoch 1 applied, per guest size and scenario, in
# production runs (no hint log) and, for comparison, verified runs (whose
# hint log costs time on the same thread).  The device's counters give the
# parts: the guest's walk and the agent's whole answer (from its END), the
# setup notifier's wait, the hint log's own time.
#   SIZES (MiB, default "1024 2048 4096 8192" as far as the host's memory
#   allows), SCENARIOS (default "idle fragmented"), REPS (default 3).
#   results: bench/results/latency.{json,md}
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
reps=${REPS:-3}
scenarios=${SCENARIOS:-"idle fragmented"}
if [ -z "${SIZES:-}" ]; then
	sizes="1024 2048 4096"
	avail_mb=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	[ "$avail_mb" -gt 20000 ] && sizes="$sizes 8192"
else
	sizes=$SIZES
fi
results=${RESULTS:-$top/bench/results}
json=$results/latency.json
mkdir -p "$results"
rm -f "$json"

workload() {	# scenario guest_mb -> kernel parameters
	case "$1" in
	idle) echo "pvmig.hold_mb=16" ;;
	fragmented) echo "pvmig.frag_mb=$(($2 * 70 / 100))" ;;
	*) echo "bench-latency: unknown scenario $1 (idle, fragmented)" >&2; exit 2 ;;
	esac
}

failed=0
for ((rep = 1; rep <= reps; rep++)); do
	for mb in $sizes; do
		for scenario in $scenarios; do
			for variant in production verified; do
				echo "=== bench-latency: $scenario, $mb MiB, $variant, rep $rep"
				verify=()
				[ "$variant" = production ] && verify=(--no-verify)
				"$top/build/tools/pvmig-migrate" --quiet --mode pvmig \
					--mem "$mb" --scenario "$scenario" "${verify[@]}" \
					--append "$(workload "$scenario" "$mb")" \
					--start-delay 2 --json "$json" || failed=$((failed + 1))
			done
		done
	done
done

{
	echo "command: make bench-latency (REPS=$reps SIZES='$sizes' SCENARIOS='$scenarios')"
	echo
	PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" python3 -m pvmigtools latency "$json"
} | tee "$results/latency.md"
echo "$failed runs failed; results: $json"
[ "$failed" = 0 ]
