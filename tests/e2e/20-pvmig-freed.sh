#!/usr/bin/env bash
# Issue 5 (1): a guest that dirtied and freed most of its memory migrates
# with fewer bytes and in less time with hints than without, and the RAM
# comparison finds no in-use page lost.  Same guest scenario, same run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
args=(--mem 1024 --append "pvmig.fill_mb=640 pvmig.hold_mb=32 pvmig.write_kbps=1024")
migrate freed-none --mode none "${args[@]}"
migrate freed-pvmig --mode pvmig "${args[@]}"
for t in freed-none freed-pvmig; do
	expect $t pages_lost = 0 && expect $t verified = true
done
none_bytes=$(field freed-none transferred_bytes) pv_bytes=$(field freed-pvmig transferred_bytes)
none_ms=$(field freed-none total_ms) pv_ms=$(field freed-pvmig total_ms)
hinted=$(field freed-pvmig pages_hinted)
echo "none: ${none_bytes} bytes ${none_ms} ms; pvmig: ${pv_bytes} bytes ${pv_ms} ms, ${hinted} pages hinted"
expect_val "pages hinted" "$hinted" -gt 100000
expect_val "pvmig bytes (none: $none_bytes)" "$pv_bytes" -lt "$none_bytes"
expect_val "pvmig ms (none: $none_ms)" "$pv_ms" -lt "$none_ms"
