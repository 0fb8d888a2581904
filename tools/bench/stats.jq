# Shared by plot.sh and markdown.sh (jq -L tools/bench, include "stats").

# Median of an array of numbers; null when empty.
def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# A run's guest memory in use at migration start, MiB (RAM minus free).
def used_mib: (.guest_mb * 1024 - .guest_free_kb) / 1024;
