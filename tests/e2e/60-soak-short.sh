#!/usr/bin/env bash
# Issue 7, short: four randomized pvmig migrations from a fixed seed, each
# with at least one driver-side fault (cancel, destination killed, guest
# reset, ping-pong) and guest-side faults (agent killed/stopped, module
# unloaded, hostile guest), through tools/soak/run.sh.  Fails on any lost
# page, crash or unverified run, or if no fault was actually injected.
# The long soak is `make soak N=...`.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/check/soak-short.json
rm -f "$out"
N=4 SEED=2 MEM_MAX=1024 FAULTS=always OUT=$out "$top/tools/soak/run.sh"
jq -e '.runs == 4 and .failed == 0 and .lost_pages == 0 and .crashes == 0' "$out" >/dev/null
injected=$(jq '[.faults_injected | to_entries[] | .value] | add' "$out")
echo "driver faults injected: $injected"
[ "$injected" -ge 2 ]
