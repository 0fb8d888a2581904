#!/usr/bin/env bash
# KVM figures with the bare-metal sweeper guest (guest/sweeper/), the guest
# this project's nested KVM can run.  Both sets interleave their modes and
# write one JSON array, the driver's result objects (accel, dirty_log and
# the device's re-arm counters included):
#  1. none against pvmig under both dirty-log modes, 128 MiB, REPS each:
#     the guest writes region R in three epochs right after the sync, and
#     pvmig hints R then (tools/migrate/sweeper.c).  The hints save
#     nothing here by construction (R is rewritten after each hint, so it
#     must be resent); the set shows what correctness under KVM costs.
#  2. The re-arm per sync against guest size (SIZES), pvmig, manual log.
#
#   tools/bench/kvm.sh                  REPS=3 SIZES='64 256 1024 4096'
#   OUT=FILE                            default bench/results/kvm.json
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
driver=$top/build/tools/pvmig-migrate
REPS=${REPS:-3}
SIZES=${SIZES:-64 256 1024 4096}
OUT=${OUT:-$top/bench/results/kvm.json}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
echo '[]' >"$runs"

one() {	# one SCENARIO ARGS...: a verified run; failures are kept, not fatal
	local scenario=$1
	shift
	"$driver" --accel kvm --guest sweeper --x-sweeper-hints 3 \
		--bandwidth 256 --downtime 1 --quiet --scenario "$scenario" \
		--json "$runs" "$@" >/dev/null 2>&1 || true
	jq -r '.[-1] | "\(.scenario) \(.mode) \(.dirty_log) \(.guest_mb) MiB: " +
		"\(.total_ms) ms, \(.transferred_bytes) bytes, lost \(.pages_lost), " +
		"verified \(.verified), re-arms \(.pvmig.rearms // "-") " +
		"(\(.pvmig.rearm_us // "-") us)"' "$runs"
}

for rep in $(seq "$REPS"); do
	for mode in none pvmig; do
		one modes --mode "$mode" --mem 128
		one modes --mode "$mode" --mem 128 --dirty-ring 65536
	done
done
for rep in $(seq "$REPS"); do
	for mb in $SIZES; do
		one rearm-cost --mode pvmig --mem "$mb"
	done
done
mkdir -p "$(dirname "$OUT")"
cp "$runs" "$OUT"
echo "kvm bench: $(jq length "$OUT") runs in $OUT"
