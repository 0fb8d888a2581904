#!/usr/bin/env bash
# `make demo`: the main job.  A 2 GB guest dirties 1.2 GB, frees it, keeps
# 64 MB of live data that it rewrites during the migration, and migrates
# over loopback TCP once per mode, interleaved, REPS times.  Every run is
# verified (RAM comparison + the guest's own check).  Results: build/demo.json
# (one object per migration) and the table printed at the end.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
reps=${REPS:-1}
modes=${MODES:-"none pvmig"}
mem=${MEM:-2048}
json=$top/build/demo.json
workload="pvmig.fill_mb=1200 pvmig.hold_mb=64 pvmig.write_kbps=1024"

rm -f "$json"
fail=0
for ((rep = 1; rep <= reps; rep++)); do
	for mode in $modes; do
		echo "=== demo: mode $mode, run $rep of $reps"
		"$top/build/tools/pvmig-migrate" --mode "$mode" --mem "$mem" \
			--scenario freed-dirty --append "$workload" \
			--bandwidth 4096 --downtime 300 --json "$json" || fail=1
	done
done
echo
"$top/tools/report/pvmig-report" "$json" || fail=1
echo "results: $json"
exit $fail
