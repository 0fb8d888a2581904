#!/usr/bin/env bash
# A verified pvmig migration with churn (as 30-pvmig-churn.sh) of a guest
# running Debian 13's 6.12 kernel with pvmig.ko built for it, on our QEMU.
# Builds the 6.12 image if needed (the first run fetches the kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
guest_6_12_args
migrate churn-6.12 --mode pvmig --mem 1024 --start-delay 1 "${guest_6_12[@]}" \
	--append "$(churn_append 1)"
expect_kernel churn-6.12 6.12.
expect churn-6.12 pages_lost = 0
expect churn-6.12 verified = true
expect churn-6.12 pages_hinted -gt 0
