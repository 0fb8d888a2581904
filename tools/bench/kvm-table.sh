#!/usr/bin/env bash
# The README's KVM tables from tools/bench/kvm.sh's result file: medians
# over verified runs of each mode and dirty-log mode, and the re-arm's cost
# per sync against guest size.
#   kvm-table.sh bench/results/kvm.json
set -euo pipefail
json=${1:?usage: kvm-table.sh KVM.json}

jq -L "$(dirname "$0")" -r '
  include "stats";
  def ok: map(select(.verified == true));
  def med(f): map(f) | median;
  def count: "\(ok | length) of \(length)";
  "| dirty log | mode | verified | total time | sent | pages lost |",
  "|---|---|---|---:|---:|---:|",
  (map(select(.scenario == "modes")) | group_by([.dirty_log, .mode])[]
   | "| \(.[0].dirty_log) | \(.[0].mode) | \(count) | "
     + "\(ok | med(.total_ms)) ms | "
     + "\(ok | med(.transferred_bytes / 1048576) | round) MiB | "
     + "\(map(.pages_lost // 0) | add) |"),
  "",
  "| guest | verified | syncs | re-arm per sync | longest re-arm | chunks per re-arm |",
  "|---:|---|---:|---:|---:|---:|",
  (map(select(.scenario == "rearm-cost")) | group_by(.guest_mb)[]
   | "| \(.[0].guest_mb) MiB | \(count) | \(ok | med(.pvmig.rearms)) | "
     + "\(ok | med(.pvmig.rearm_us / .pvmig.rearms) | round) us | "
     + "\(ok | med(.pvmig.rearm_max_us)) us | "
     + "\(ok | med(.pvmig.rearm_chunks / .pvmig.rearms) | round) |")' "$json"
