#!/usr/bin/env bash
# The verification must be able to fail: flip one byte of the paused
# destination's RAM (as a lost page would look) and expect the driver to
# report exactly one lost page and exit 1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
migrate corrupt --mode none --mem 512 --append "pvmig.hold_mb=16" \
	--x-corrupt-dst 0x2000000
rc=$?
echo "driver exit $rc, pages_lost $(field corrupt pages_lost), verified $(field corrupt verified)"
expect_val "driver exit status" "$rc" -eq 1
expect corrupt pages_lost = 1
expect corrupt verified = false
expect corrupt failure_class = lost_pages
