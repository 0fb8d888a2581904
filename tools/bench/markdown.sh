#!/usr/bin/env bash
# Prints the README's headline table from a bench result file: per scenario
# and guest size, the median total time and bytes sent of each mode over its
# verified runs ("k of n verified" when some failed), and the guest's in-use
# memory at migration start (the physical limit for bytes).
#   markdown.sh RESULTS.json
set -euo pipefail
json=${1:?usage: markdown.sh RESULTS.json}

jq -L "$(dirname "$0")" -r '
  include "stats";
  def tenths: . * 10 | round / 10 | tostring
    | if test("\\.") then . else . + ".0" end;
  def cell: map(select(.verified == true)) as $ok
    | if ($ok | length) == 0 then "0 of \(length) verified"
      else "\(($ok | map(.total_ms) | median) / 1000 | tenths) s, "
         + "\($ok | map(.transferred_bytes / 1048576) | median | round) MiB"
         + (if ($ok | length) < length
            then " (\($ok | length) of \(length) verified)" else "" end)
      end;
  ["none", "balloon", "pvmig"] as $modes
  | "| scenario | GB | " + ($modes | join(" | ")) + " | in use |",
    "|---|---|" + ($modes | map("---|") | join("")) + "---|",
    (. as $all | ["idle", "freed-dirty", "fragmented", "active"][]
     | . as $s | $all | map(select(.scenario == $s))
     | group_by(.guest_mb)[]
     | . as $runs
     | "| \(.[0].scenario) | \(.[0].guest_mb / 1024) | "
       + ($modes | map(. as $m | $runs | map(select(.mode == $m))
                       | if length == 0 then "-" else cell end)
          | join(" | "))
       + " | \($runs | map(used_mib) | median | round) MiB |")' "$json"
