#!/usr/bin/env bash
# pvmig.ko inside real TCG guests (1 and 2 GB, smp 2): coverage, safety
# against pages the test holds, lock-hold bound, lifecycle, bad input.
exec "$(dirname "$0")/../../guest/module/tests/run.sh"
