#!/usr/bin/env bash
# Issue 5 (2): the guest keeps allocating, writing, verifying and freeing
# memory of every order while it migrates with hints; five migrations with
# different seeds, none may lose a page.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
for seed in 1 2 3 4 5; do
	migrate churn-$seed --mode pvmig --mem 1024 --start-delay 1 \
		--append "$(churn_append $seed)"
	expect churn-$seed pages_lost = 0
	expect churn-$seed verified = true
	expect churn-$seed pages_hinted -gt 0
done
