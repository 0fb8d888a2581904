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
  def show(f; unit): (ok | med(f)) as $v
    | if $v == null then "-" else "\($v | round)\(unit)" end;
  def count: "\(ok | length) of \(length)";
  "| dirty log | mode | verified | total time | sent | pages lost |",
  "|---|---|---|---:|---:|---:|",
  (map(select(.scenario == "modes")) | group_by([.dirty_log, .mode])[]
   | "| \(.[0].dirty_log) | \(.[0].mode) | \(count) | "
     + "\(show(.total_ms; " ms")) | "
     + "\(show(.transferred_bytes / 1048576; " MiB")) | "
     + "\(map(.pages_lost // 0) | add) |"),
  "",
  "| guest | verified | re-arms | re-arm (median per run) | longest re-arm | chunks per re-arm |",
  "|---:|---|---:|---:|---:|---:|",
  (map(select(.scenario == "rearm-cost")) | group_by(.guest_mb)[]
   | "| \(.[0].guest_mb) MiB | \(count) | \(show(.pvmig.rearms; "")) | "
     + "\(show(.pvmig.rearm_us / .pvmig.rearms; " us")) | "
     + "\(show(.pvmig.rearm_max_us; " us")) | "
     + "\(show(.pvmig.rearm_chunks / .pvmig.rearms; "")) |")' "$json"
