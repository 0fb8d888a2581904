#!/usr/bin/env bash
# Issue 5 (4): a guest booted with page_poison=1 checks a poison pattern on
# allocation, which zero-filled skipped pages would break: the device must
# refuse hints, and the migration must still be correct.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
migrate poison --mode pvmig --mem 1024 \
	--append "page_poison=1 pvmig.fill_mb=300 pvmig.hold_mb=32 pvmig.write_kbps=1024"
[ "$(field poison verified)" = true ]
[ "$(field poison pages_hinted)" = 0 ]
[ "$(field poison 'pvmig.rejected_poison')" -ge 1 ]
