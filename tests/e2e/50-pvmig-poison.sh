#!/usr/bin/env bash
# Free-page contracts the device must refuse (docs/safety.md):
#  - page_poison=1: the guest checks a poison pattern on allocation, which
#    zero-filled skipped pages would break;
#  - a HELLO claiming init_on_free together with poisoning (no Linux does:
#    it turns init_on_free off when poisoning is on), from the hostile
#    guest, which then sends well-formed ranges.
# Either way no page may be hinted, and the migration must still be correct.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
migrate poison --mode pvmig --mem 1024 \
	--append "page_poison=1 pvmig.fill_mb=300 pvmig.hold_mb=32 pvmig.write_kbps=1024"
expect poison verified = true
expect poison pages_hinted = 0
expect poison pvmig.rejected_poison -ge 1

migrate contradict --mode pvmig --mem 512 \
	--append "pvmig.agent=0 pvmig.hostile=contradict pvmig.hold_mb=32"
expect contradict verified = true
expect contradict pages_cleared = 0
expect contradict pvmig.rejected_contract -ge 1
expect contradict pvmig.guest_caps = 7
