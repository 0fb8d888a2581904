#!/usr/bin/env bash
# Issue 5 (3): no agent, an agent killed and restarted at random moments,
# and a hostile guest that sends garbage and invalid ranges.  Each migration
# completes, loses nothing, and the device's counters say why hints were
# refused or dropped.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
common="pvmig.fill_mb=300 pvmig.hold_mb=32 pvmig.write_kbps=1024"

migrate no-agent --mode pvmig --mem 1024 --append "$common pvmig.agent=0"
expect no-agent verified = true
expect no-agent pages_hinted = 0
expect no-agent pvmig.rejected_no_agent -ge 1

migrate agent-chaos --mode pvmig --mem 1024 --append "$common pvmig.agent_chaos=1"
expect agent-chaos verified = true

migrate hostile --mode pvmig --mem 1024 --append "$common pvmig.agent=0 pvmig.hostile=all"
expect hostile verified = true
expect hostile pages_hinted = 0
rejected=$(field hostile 'pvmig.rejected_invalid')
stale=$(field hostile 'pvmig.stale_messages')
echo "hostile guest: $rejected messages rejected as invalid, $stale stale"
expect_val "rejected + stale messages" "$((rejected + stale))" -ge 1
