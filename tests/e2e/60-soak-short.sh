#!/usr/bin/env bash
# Issue 7, short: four randomized pvmig migrations from a fixed seed, each
# with at least one driver-side fault (cancel, destination killed, guest
# reset, ping-pong) and guest-side faults (agent killed/stopped, module
# unloaded, hostile guest), through tools/soak/run.sh.  Fails on any lost
# page, crash or unverified run, or if no fault was actually injected.
# The long soak is `make soak N=...`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
summary=$top/build/check/soak-short.json
rm -f "$summary"
N=4 SEED=2 MEM_MAX=1024 FAULTS=always OUT=$summary "$top/tools/soak/run.sh"
for key in runs failed lost_pages crashes; do
	declare "$key=$(jq -r ".$key" "$summary")"
done
expect_val "soak runs" "$runs" -eq 4
expect_val "soak runs failed" "$failed" -eq 0
expect_val "soak pages lost" "$lost_pages" -eq 0
expect_val "soak crashes" "$crashes" -eq 0
injected=$(jq '[.faults_injected | to_entries[] | .value] | add' "$summary")
echo "driver faults injected: $injected"
expect_val "faults injected" "$injected" -ge 2
