#!/usr/bin/env bash
# Combines the summaries of several soak sets (each written by
# tools/soak/run.sh, with its own command, seed and commit) into one report:
# totals over all runs, the sets as they were run, and every run tagged with
# its set, so each still replays with its own seed at its own commit.
#
#   tools/soak/combine.sh OUT SET.json...
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 OUT SET.json..." >&2; exit 2; }
out=$1
shift
for f; do
	jq -e '.per_run and .command' "$f" >/dev/null 2>&1 ||
		{ echo "combine: $f is not a soak summary" >&2; exit 2; }
done

jq -s '
def sum_objects: reduce .[] as $o ({}; reduce ($o | to_entries[]) as $e (.; .[$e.key] += $e.value));
def counts(f): map(f) | group_by(.) | map({key: .[0], value: length}) | from_entries;
[ to_entries[] | .key as $i | .value | . as $set |
  {set: ($i + 1), per_run: [.per_run[] | . + {set: ($i + 1)}],
   summary: ($set | del(.per_run))} ] as $sets |
[ $sets[].per_run[] ] as $per |
{
  sets: [ $sets[] | .summary + {set: .set} ],
  runs: ($per | length),
  passed: ($per | map(select(.result == "pass")) | length),
  failed: ($per | map(select(.result != "pass")) | length),
  lost_pages: ($per | map(.pages_lost // 0) | add // 0),
  crashes: ($per | map(select(.result == "crash")) | length),
  results: ($per | counts(.result)),
  modes: ($per | counts(.mode)),
  accel: ($per | counts(.accel // "tcg")),
  dirty_log: ($per | counts(.dirty_log // "tcg")),
  init_on_free_runs: ($per | map(select(.free_reads_zero == true)) | length),
  fresh_pages_checked: ($per | map(.fresh_pages_checked // 0) | add // 0),
  fresh_pages_nonzero: ($per | map(.fresh_pages_nonzero // 0) | add // 0),
  faults_injected: ([ $sets[].summary.faults_injected ] | sum_objects),
  guest_fault_runs: ([ $sets[].summary.guest_fault_runs ] | sum_objects),
  hostile_attacks: ([ $sets[].summary.hostile_attacks ] | sum_objects),
  guest_fault_counters: ([ $sets[].summary.guest_fault_counters // {} ] | sum_objects),
  faults_not_injected: ([ $sets[].summary.faults_not_injected ] | sum_objects),
  per_run: $per
}' "$@" >"$out.tmp"
mv "$out.tmp" "$out"
jq -r '"combine: \(.sets | length) sets, \(.runs) runs, \(.passed) passed, \(.failed) failed; lost pages \(.lost_pages); crashes \(.crashes); init_on_free runs \(.init_on_free_runs), fresh pages non-zero \(.fresh_pages_nonzero)"' "$out"
