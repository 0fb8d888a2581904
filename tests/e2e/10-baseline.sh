#!/usr/bin/env bash
# A 1 GB guest that dirtied and freed 600 MB and keeps writing 32 MB of
# seeded data migrates without hints; the RAM comparison and the guest's
# own check must both pass.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
migrate baseline --mode none --mem 1024 \
	--append "pvmig.fill_mb=600 pvmig.hold_mb=32 pvmig.write_kbps=2048"
expect baseline pages_lost = 0
expect baseline verified = true
